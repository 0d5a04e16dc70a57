/* outputs.h: the output set of one `clattn` command: every file it writes appears together, or
 * none changes. Outputs are declared and checked before any work (each a regular file or a new
 * name, per outfile.h; no two naming one file; none naming an input), written to temporaries
 * beside their targets, and renamed into place only once all were written. */
#ifndef CLATTN_CLI_OUTPUTS_H
#define CLATTN_CLI_OUTPUTS_H

#include "npy.h"
#include "outfile.h"

#define CLI_MAX_OUTPUTS 8 /* convert-gqa: four projections and four biases */

typedef struct {
    const char *opt, *path; /* the option name (without dashes) and its value */
} cli_file;

typedef struct {
    const char *cmd;
    int n;
    cli_file files[CLI_MAX_OUTPUTS];
    clattn_outfile out[CLI_MAX_OUTPUTS];
} cli_outputs;

void cli_outputs_init(cli_outputs *s, const char *cmd);
/* Declares an output; a NULL path (an optional output not asked for) is left out. */
void cli_outputs_add(cli_outputs *s, const char *opt, const char *path);
/* Resolves every output and refuses one that is not a regular file or a new name, two that are
 * the same file, and one that is the same file as an input (n_in inputs; NULL paths and inputs
 * that do not exist are skipped: loading them fails later). Prints the reason; returns 0 or 1. */
int cli_outputs_check(cli_outputs *s, const cli_file *in, int n_in);
/* Writes output `opt` (as declared; a left-out one is skipped) to its temporary. 0 or 1. */
int cli_outputs_write(cli_outputs *s, const char *opt, clattn_npy_dtype dtype, int ndim,
                      const int64_t *shape, const void *data);
/* Renames every written temporary into place. 0 or 1 (printed). */
int cli_outputs_commit(cli_outputs *s);
/* Removes whatever temporaries are left (all of them, unless commit ran) and frees. */
void cli_outputs_free(cli_outputs *s);

#endif
