/* outfile.c: the atomic file replacement declared in outfile.h: resolve the target, write a
 * temporary beside it, rename it into place. POSIX only, like the rest of tools/. */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static clattn_status of_fail(char *err, size_t errlen, clattn_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static clattn_status of_fail(char *err, size_t errlen, clattn_status st, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static const char *kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/* A new name: its directory must exist; the target is the directory's real path + the name. */
static clattn_status resolve_new(clattn_outfile *o, const char *path, char *err, size_t errlen) {
    size_t len = strlen(path);
    if (path[len - 1] == '/')
        return of_fail(err, errlen, CLATTN_ERROR_IO, "%s: no such directory", path);
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return of_fail(err, errlen, CLATTN_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    char *rdir = realpath(dir, NULL);
    int e = errno;
    struct stat st;
    if (!rdir || stat(rdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        clattn_status r = of_fail(err, errlen, CLATTN_ERROR_IO, "%s: cannot write in %s: %s", path,
                                  dir, rdir ? strerror(ENOTDIR) : strerror(e));
        free(dir), free(rdir);
        return r;
    }
    free(dir);
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(rdir) + 1 + strlen(base) + 1;
    if ((o->target = malloc(n)))
        snprintf(o->target, n, "%s%s%s", rdir, strcmp(rdir, "/") == 0 ? "" : "/", base);
    free(rdir);
    if (!o->target)
        return of_fail(err, errlen, CLATTN_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    return CLATTN_SUCCESS;
}

clattn_status clattn_outfile_resolve(clattn_outfile *o, const char *path, char *err,
                                     size_t errlen) {
    struct stat st;
    memset(o, 0, sizeof *o);
    if (!path || !*path) return of_fail(err, errlen, CLATTN_ERROR_IO, "empty output path");
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return resolve_new(o, path, err, errlen);
        return of_fail(err, errlen, CLATTN_ERROR_IO, "%s: %s", path, strerror(errno));
    }
    /* Following a link writes where the caller's link points, as fopen did, and keeps the link
     * itself; a dangling link is refused rather than guessed at. */
    if (S_ISLNK(st.st_mode) && stat(path, &st) != 0)
        return of_fail(err, errlen, CLATTN_ERROR_IO, "%s: a symbolic link to nothing (%s)", path,
                       strerror(errno));
    if (!S_ISREG(st.st_mode))
        return of_fail(err, errlen, CLATTN_ERROR_IO,
                       "%s: is %s; an output must be a regular file or a new name", path,
                       kind(st.st_mode));
    if (!(o->target = realpath(path, NULL)))
        return of_fail(err, errlen, CLATTN_ERROR_IO, "%s: %s", path, strerror(errno));
    o->exists = 1;
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    o->mode = st.st_mode & 07777;
    return CLATTN_SUCCESS;
}

clattn_status clattn_outfile_open(clattn_outfile *o, char *err, size_t errlen) {
    static unsigned counter; /* with the pid, unique within this machine's live processes */
    const char *slash = strrchr(o->target, '/');
    int dlen = (int)(slash - o->target);
    size_t n = strlen(o->target) + 64;
    if (!(o->tmp = malloc(n)))
        return of_fail(err, errlen, CLATTN_ERROR_OUT_OF_MEMORY, "%s: out of memory", o->target);
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        /* Hidden, and the name cut to 64 bytes so the suffix cannot pass NAME_MAX. */
        snprintf(o->tmp, n, "%.*s/.%.64s.%ld-%u.tmp", dlen, o->target, slash + 1, (long)getpid(),
                 counter++);
        /* open applies the umask to 0666, as for any new file; a replaced file keeps its mode. */
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, o->exists ? o->mode : 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        clattn_status r = of_fail(err, errlen, CLATTN_ERROR_IO, "%s: cannot create a temporary: %s",
                                  o->target, strerror(errno));
        free(o->tmp), o->tmp = NULL;
        return r;
    }
    if (o->exists) (void)fchmod(fd, o->mode); /* best effort: the umask may have cut bits */
    if (!(o->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        clattn_outfile_discard(o);
        return of_fail(err, errlen, CLATTN_ERROR_IO, "cannot open a temporary: %s", strerror(e));
    }
    return CLATTN_SUCCESS;
}

void clattn_outfile_abort(clattn_outfile *o) {
    if (o->f) fclose(o->f), o->f = NULL;
    if (o->tmp) unlink(o->tmp), free(o->tmp), o->tmp = NULL;
}

clattn_status clattn_outfile_close(clattn_outfile *o, const char *label, char *err, size_t errlen) {
    errno = 0;
    /* fsync before the rename: after a crash the name shows the old file or the whole new one. */
    int ok = fflush(o->f) == 0 && fsync(fileno(o->f)) == 0;
    int e = errno;
    if (fclose(o->f) != 0 && ok) ok = 0, e = errno;
    o->f = NULL;
    if (ok) return CLATTN_SUCCESS;
    clattn_outfile_abort(o);
    return of_fail(err, errlen, CLATTN_ERROR_IO, "%s: cannot write: %s", label,
                   e ? strerror(e) : "I/O error");
}

clattn_status clattn_outfile_commit(clattn_outfile *o, const char *label, char *err,
                                    size_t errlen) {
    struct stat st;
    /* Again just before the rename: what appeared at the name since resolve is not replaced
     * unless it is a regular file (the target has no symlinks left in it). */
    if (lstat(o->target, &st) == 0 && !S_ISREG(st.st_mode)) {
        clattn_outfile_abort(o);
        return of_fail(err, errlen, CLATTN_ERROR_IO,
                       "%s: is now %s; an output must be a regular file or a new name", label,
                       kind(st.st_mode));
    }
    if (rename(o->tmp, o->target) != 0) {
        int e = errno;
        clattn_outfile_abort(o);
        return of_fail(err, errlen, CLATTN_ERROR_IO, "%s: cannot rename into place: %s", label,
                       strerror(e));
    }
    free(o->tmp), o->tmp = NULL;
    return CLATTN_SUCCESS;
}

void clattn_outfile_discard(clattn_outfile *o) {
    if (!o) return;
    clattn_outfile_abort(o);
    free(o->target);
    memset(o, 0, sizeof *o);
}
