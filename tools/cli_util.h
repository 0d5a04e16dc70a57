/* cli_util.h: option parsing and context opening shared by the subcommands of `clattn`.
 * Options are GNU-style long options: `--name value` or `--name=value`; flags take no value;
 * an OPT_OPTIONAL option takes a value when one follows (the next argument, unless it starts
 * with "--", or `--name=value`) and stands alone otherwise. */
#ifndef CLATTN_CLI_UTIL_H
#define CLATTN_CLI_UTIL_H

#include "clattn.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { OPT_FLAG, OPT_STRING, OPT_INT, OPT_FLOAT, OPT_OPTIONAL } cli_opt_kind;

typedef struct {
    const char *name; /* without the leading dashes */
    cli_opt_kind kind;
    void *target;     /* int* for FLAG (set to 1), const char** for STRING, int64_t* for INT,
                         double* for FLOAT, const char** for OPTIONAL (CLI_OPT_BARE alone) */
    const char *help; /* one line; "(required)" in it is only documentation */
} cli_opt;

/* What an OPT_OPTIONAL option given without a value points its target at (compare the pointer:
 * an empty `--name=` is refused, so no value given on the command line is this string). */
extern const char CLI_OPT_BARE[];

/* Parses argv[1..] against opts (terminated by a {NULL} entry). --device and --help are
 * handled for every subcommand. Returns 0 on success, 2 on a usage error (already printed),
 * 1 when --help was printed. */
int cli_parse(int argc, char **argv, const cli_opt *opts, const char *usage);
/* The --device value seen by the last cli_parse (NULL: the default selection). */
const char *cli_device(void);
/* Opens a context on cli_device(); prints the reason and returns NULL on failure. */
clattn_context *cli_open_context(void);
/* Prints "clattn <cmd>: <status>: <context message>" to stderr and returns 1. */
int cli_fail(const char *cmd, clattn_context *ctx, clattn_status st);
/* Bytes of an array of n int64 dimensions of elem-byte elements, checked: on overflow of int64_t
 * or size_t prints "clattn <cmd>: the size of <what> overflows" and returns 1, else 0. */
int cli_bytes(const char *cmd, const char *what, const int64_t *dims, int n, size_t elem,
              size_t *bytes);
/* cli_affinity.c: sets POCL_AFFINITY=1 unless the user set it (call before any OpenCL call);
 * prints to f what the setting does and where it came from when pocl is set (cli_is_pocl: the
 * platform name is PoCL's). */
void cli_affinity_default(void);
void cli_affinity_note(FILE *f, int pocl);
int cli_is_pocl(const char *platform_name);
/* Each of the n sizes v[i] (option --names[i]) in 1..2^20, else prints which is not and returns
 * 2 (the bench commands' sizes). */
int cli_sizes_in_range(const char *cmd, const int64_t *v, const char *const *names, int n);
/* v[0..n) filled with tame pseudo-random values in [-scale, scale) (a fixed xorshift sequence: the
 * bench commands time, they check nothing). */
void cli_fill_tame(float *v, int64_t n, float scale);
/* Complains about a missing required option; returns 2. */
int cli_missing(const char *cmd, const char *option);

#endif
