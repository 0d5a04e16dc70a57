/* cli_sdpa.h: what the attention subcommands (attention, plan, bench) share: names of
 * algorithms and flavours in both directions and the one-line key=value form of a plan. */
#ifndef CLATTN_CLI_SDPA_H
#define CLATTN_CLI_SDPA_H

#include "clattn.h"

#include <stdio.h>

/* "auto", "naive", "flash1", "flash2" (NULL gives auto). Returns 0, or 2 after printing a
 * usage error naming `cmd`. */
int cli_sdpa_algo(const char *cmd, const char *s, clattn_algo *out);
/* "auto", "gpu", "cpu" (NULL gives auto). */
int cli_sdpa_flavour(const char *cmd, const char *s, clattn_flavour *out);
const char *cli_sdpa_algo_name(clattn_algo a);
const char *cli_sdpa_flavour_name(clattn_flavour f);
/* algo= flavour= block_q= block_kv= work_group= local_mem_bytes= scratch_bytes= global=
 * (no newline). */
void cli_sdpa_print_plan(FILE *f, const clattn_sdpa_plan *p);

#endif
