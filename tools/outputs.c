/* outputs.c: the output set of outputs.h. */
#include "outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cli_outputs_init(cli_outputs *s, const char *cmd) {
    memset(s, 0, sizeof *s);
    s->cmd = cmd;
}

void cli_outputs_add(cli_outputs *s, const char *opt, const char *path) {
    if (!path || s->n == CLI_MAX_OUTPUTS) return; /* the commands declare at most 8 */
    s->files[s->n].opt = opt;
    s->files[s->n++].path = path;
}

/* The same file: one inode, or (for names that do not exist yet) one resolved path. */
static int same_output(const clattn_outfile *a, const clattn_outfile *b) {
    if (a->exists && b->exists && a->dev == b->dev && a->ino == b->ino) return 1;
    return strcmp(a->target, b->target) == 0;
}

int cli_outputs_check(cli_outputs *s, const cli_file *in, int n_in) {
    char err[4352];
    for (int i = 0; i < s->n; i++) {
        if (clattn_outfile_resolve(&s->out[i], s->files[i].path, err, sizeof err)) {
            fprintf(stderr, "clattn %s: --%s: %s\n", s->cmd, s->files[i].opt, err);
            return 1;
        }
        for (int j = 0; j < i; j++)
            if (same_output(&s->out[i], &s->out[j])) {
                fprintf(stderr, "clattn %s: --%s %s and --%s %s are the same file\n", s->cmd,
                        s->files[j].opt, s->files[j].path, s->files[i].opt, s->files[i].path);
                return 1;
            }
    }
    /* An input that is also an output would be read and then replaced (or, with a failed
     * write, lost): refused by inode, which also catches hard links and symlinks. */
    for (int k = 0; k < n_in; k++) {
        struct stat st;
        if (!in[k].path || stat(in[k].path, &st) != 0) continue;
        for (int i = 0; i < s->n; i++)
            if (s->out[i].exists && s->out[i].dev == st.st_dev && s->out[i].ino == st.st_ino) {
                fprintf(stderr, "clattn %s: --%s %s is the input --%s %s\n", s->cmd,
                        s->files[i].opt, s->files[i].path, in[k].opt, in[k].path);
                return 1;
            }
    }
    return 0;
}

int cli_outputs_write(cli_outputs *s, const char *opt, clattn_npy_dtype dtype, int ndim,
                      const int64_t *shape, const void *data) {
    char err[4352];
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->files[i].opt, opt) != 0) continue;
        if (clattn_npy_write_temp(&s->out[i], s->files[i].path, dtype, ndim, shape, data, err,
                                  sizeof err) == CLATTN_SUCCESS)
            return 0;
        fprintf(stderr, "clattn %s: --%s: %s\n", s->cmd, opt, err);
        return 1;
    }
    return 0;
}

int cli_outputs_commit(cli_outputs *s) {
    char err[4352];
    for (int i = 0; i < s->n; i++)
        if (!s->out[i].tmp) {
            fprintf(stderr, "clattn %s: internal error: --%s was not written\n", s->cmd,
                    s->files[i].opt);
            return 1;
        }
    /* Each rename is atomic; the set is all or nothing as long as no rename fails after an
     * earlier one succeeded, which needs the directories changed under us between the two. */
    for (int i = 0; i < s->n; i++)
        if (clattn_outfile_commit(&s->out[i], s->files[i].path, err, sizeof err)) {
            fprintf(stderr, "clattn %s: --%s: %s\n", s->cmd, s->files[i].opt, err);
            return 1;
        }
    return 0;
}

void cli_outputs_free(cli_outputs *s) {
    for (int i = 0; i < CLI_MAX_OUTPUTS; i++) clattn_outfile_discard(&s->out[i]);
}
