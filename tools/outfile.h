/* outfile.h: replacing one file without ever leaving half of it (internal to clattn's tools,
 * built into the clattn_npy helper library with npy_write.c, which writes every .npy through
 * it).
 *
 * The rule: an output is either a new name in an existing directory or an existing regular
 * file; a symlink is followed to the regular file it names, which is replaced (the link stays a
 * link). Anything else that exists (directory, FIFO, device, socket, dangling symlink) is
 * refused before anything is created. The data goes to a new temporary file in the target's
 * own directory (so the final rename is atomic), created with the permissions a new file would
 * get, or the replaced file's; only the rename makes it visible. On failure the temporary is
 * removed and the target is untouched. Targets are never opened, truncated or removed: a FIFO
 * cannot block us and a device node cannot be deleted. */
#ifndef CLATTN_OUTFILE_H
#define CLATTN_OUTFILE_H

#include "clattn.h"

#include <stdio.h>
#include <sys/types.h>

typedef struct {
    char *target; /* absolute path, symlinks resolved: where the rename lands (malloc'ed) */
    char *tmp;    /* the temporary while it exists (malloc'ed), else NULL */
    FILE *f;      /* open on tmp between open and close */
    int exists;   /* the target existed at resolve time: dev/ino/mode are its own */
    dev_t dev;
    ino_t ino;
    mode_t mode;
} clattn_outfile;

/* Resolves `path` under the rule above. On failure returns CLATTN_ERROR_IO (or
 * CLATTN_ERROR_OUT_OF_MEMORY) with "path: reason" in err, and *o holds nothing. */
clattn_status clattn_outfile_resolve(clattn_outfile *o, const char *path, char *err, size_t errlen);
/* Creates the temporary next to the target and opens it (o->f) for writing. */
clattn_status clattn_outfile_open(clattn_outfile *o, char *err, size_t errlen);
/* Flushes, syncs and closes the temporary; on failure removes it. `label` starts messages. */
clattn_status clattn_outfile_close(clattn_outfile *o, const char *label, char *err, size_t errlen);
/* Checks the target is still what resolve saw (a regular file, or still absent or a regular
 * file now), then renames the closed temporary onto it. On failure the temporary is removed. */
clattn_status clattn_outfile_commit(clattn_outfile *o, const char *label, char *err, size_t errlen);
/* Closes and removes the temporary, if any; the resolved target stays. */
void clattn_outfile_abort(clattn_outfile *o);
/* Closes and removes any temporary and frees *o (all zero afterwards); accepts NULL. */
void clattn_outfile_discard(clattn_outfile *o);

#endif
