/* cli_sdpa.h: what the attention subcommands (attention, plan, bench) share: names of
 * algorithms and flavours in both directions and the one-line key=value form of a plan. */
#ifndef CLATTN_CLI_SDPA_H
#define CLATTN_CLI_SDPA_H

#include "clattn.h"
#include "cli_util.h"

#include <stdio.h>

/* The problem-shape options `plan` and `bench` share, parsed into one place. */
typedef struct {
    int64_t batch, heads, kv_heads, seq_q, seq_kv, dim, dim_v, block_q, block_kv;
    int causal;
    const char *algo, *flavour;
} cli_sdpa_shape;

#define CLI_SDPA_SHAPE_OPTS 12
/* Writes the CLI_SDPA_SHAPE_OPTS shape options into opts (the query length is named
 * `seq_name`: "seq-q" for plan, "seq" for bench) and sets their defaults in *s. */
void cli_sdpa_shape_opts(cli_sdpa_shape *s, const char *seq_name, cli_opt *opts);
/* Checks the required options and fills a descriptor. Returns 0, or 2 after a usage error. */
int cli_sdpa_shape_desc(const char *cmd, const char *seq_name, const cli_sdpa_shape *s,
                        clattn_sdpa_desc *d);

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
