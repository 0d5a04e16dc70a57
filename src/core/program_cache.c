/* program_cache.c: OpenCL programs built once per (kernel family, build options) and context.
 * Two levels: an in-memory table (threads asking for the same program wait for one build) and a
 * disk cache of the device's program binaries under $CLATTN_CACHE_DIR, keyed by a hash of the
 * source, the options, the device, driver and platform versions and a format version. A disk
 * entry that is unreadable, truncated, foreign or rejected by the driver is rebuilt from source
 * and replaced: it is never trusted. */
#include "core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLATTN_CACHE_FORMAT 1
static const char clattn__cache_magic[8] = {'C', 'L', 'A', 'T', 'T', 'N', 'P', 'C'};

/* The fixed-size header in front of every binary on disk. */
typedef struct {
    char magic[8];
    uint32_t format;
    uint32_t reserved;
    uint64_t key[2];
    uint64_t binary_len;
    uint64_t binary_hash;
} clattn_cache_header;

typedef enum { ENTRY_BUILDING, ENTRY_READY } entry_state;

typedef struct clattn_cache_entry {
    struct clattn_cache_entry *next;
    char *family, *options;
    cl_program program;
    entry_state state;
} clattn_cache_entry;

struct clattn_program_cache {
    pthread_mutex_t lock;
    pthread_cond_t built; /* signalled whenever an entry leaves ENTRY_BUILDING */
    clattn_cache_entry *entries;
    clattn_cache_stats stats;
};

/* ---- hashing: FNV-1a 64 with two offsets gives a 128-bit key; not cryptographic, but a key
 * collision would also have to pass the driver's own binary check to do harm. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void cache_key(const clattn_context *ctx, const char *src, size_t len, const char *options,
                      uint64_t key[2]) {
    const char *parts[5] = {options, ctx->caps.device_name, ctx->caps.driver_version,
                            ctx->caps.platform_version, ctx->caps.vendor};
    uint32_t fmt = CLATTN_CACHE_FORMAT;
    for (int k = 0; k < 2; k++) {
        uint64_t h = k == 0 ? 0xcbf29ce484222325ull : 0x84222325cbf29ce4ull;
        h = fnv1a(h, &fmt, sizeof fmt);
        h = fnv1a(h, src, len);
        for (int i = 0; i < 5; i++) h = fnv1a(h, parts[i], strlen(parts[i]) + 1);
        key[k] = h;
    }
}

/* The cache directory, or NULL when disabled. */
static int cache_dir(char *out, size_t cap) {
    const char *env = getenv("CLATTN_CACHE_DIR");
    if (env && strcmp(env, "off") == 0) return 0;
    if (env && *env) {
        snprintf(out, cap, "%s", env);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(out, cap, "%s/clattn", xdg);
        else if (home && *home)
            snprintf(out, cap, "%s/.cache/clattn", home);
        else
            return 0;
    }
    return 1;
}

static int mkdir_p(const char *dir) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

static void entry_path(char *out, size_t cap, const char *dir, const uint64_t key[2]) {
    snprintf(out, cap, "%s/%016llx%016llx.clbin", dir, (unsigned long long)key[0],
             (unsigned long long)key[1]);
}

/* Opens a disk entry for reading only if it is a regular file: O_NONBLOCK so that a FIFO (or a
 * device) under the entry's name is never waited on, then fstat on the descriptor itself (no
 * race between the check and the open). Returns NULL with *present = 1 when something unusable
 * is there, NULL with *present = 0 when nothing is. */
static FILE *open_entry(const char *path, int *present) {
    *present = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *present = errno != ENOENT;
        return NULL;
    }
    *present = 1;
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) f = fdopen(fd, "rb");
    if (!f) close(fd);
    return f;
}

/* Tries the disk entry; returns a built program or NULL (and counts a reject when something was
 * there but unusable: a truncated, corrupted or foreign file, or no regular file at all). */
static cl_program load_binary(clattn_context *ctx, const char *path, const uint64_t key[2],
                              const char *options) {
    int present = 0;
    FILE *f = open_entry(path, &present);
    if (!f) {
        if (present) {
            pthread_mutex_lock(&ctx->cache->lock);
            ctx->cache->stats.disk_rejects++;
            pthread_mutex_unlock(&ctx->cache->lock);
        }
        return NULL;
    }
    clattn_cache_header h;
    unsigned char *bin = NULL;
    cl_program prog = NULL;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, clattn__cache_magic, 8) != 0 ||
        h.format != CLATTN_CACHE_FORMAT || h.key[0] != key[0] || h.key[1] != key[1] ||
        h.binary_len == 0 || h.binary_len > ((uint64_t)1 << 31))
        goto reject;
    bin = malloc((size_t)h.binary_len + 1);
    if (!bin) goto reject;
    if (fread(bin, 1, (size_t)h.binary_len, f) != h.binary_len) goto reject;
    if (fgetc(f) != EOF) goto reject; /* trailing bytes: not a file we wrote */
    if (fnv1a(0xcbf29ce484222325ull, bin, (size_t)h.binary_len) != h.binary_hash) goto reject;
    {
        size_t blen = (size_t)h.binary_len;
        const unsigned char *bins[1] = {bin};
        cl_int bstatus = CL_SUCCESS, err = CL_SUCCESS;
        prog = clCreateProgramWithBinary(ctx->cl_ctx, 1, &ctx->device, &blen, bins, &bstatus, &err);
        if (err != CL_SUCCESS || bstatus != CL_SUCCESS || !prog) goto reject;
        if (clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) goto reject;
    }
    free(bin);
    fclose(f);
    return prog;
reject:
    if (prog) clReleaseProgram(prog);
    free(bin);
    fclose(f);
    pthread_mutex_lock(&ctx->cache->lock);
    ctx->cache->stats.disk_rejects++;
    pthread_mutex_unlock(&ctx->cache->lock);
    return NULL;
}

/* Writes the program's binary next to its final name and renames it into place, so a reader
 * never sees a half-written entry. Failures only cost a rebuild next time. */
static void store_binary(clattn_context *ctx, const char *dir, const char *path,
                         const uint64_t key[2], cl_program prog) {
    size_t blen = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof blen, &blen, NULL) != CL_SUCCESS ||
        blen == 0)
        return;
    unsigned char *bin = malloc(blen);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) {
        free(bin);
        return;
    }
    if (mkdir_p(dir) != 0) {
        free(bin);
        return;
    }
    clattn_cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, clattn__cache_magic, 8);
    h.format = CLATTN_CACHE_FORMAT;
    h.key[0] = key[0];
    h.key[1] = key[1];
    h.binary_len = blen;
    h.binary_hash = fnv1a(0xcbf29ce484222325ull, bin, blen);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%p", path, (long)getpid(), (void *)&h);
    /* A new file of our own (O_EXCL): never an existing FIFO or device planted at that name.
     * The rename below replaces whatever non-directory is at the entry's name. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !f) close(fd);
    int ok = f && fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, blen, f) == blen;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) == 0) {
        pthread_mutex_lock(&ctx->cache->lock);
        ctx->cache->stats.disk_writes++;
        pthread_mutex_unlock(&ctx->cache->lock);
    } else if (fd >= 0) {
        remove(tmp); /* ours; a name we could not create is not ours to remove */
    }
    free(bin);
}

static clattn_status build_from_source(clattn_context *ctx, const char *family, const char *src,
                                       size_t len, const char *options, cl_program *out) {
    cl_int err = CL_SUCCESS;
    const char *srcs[1] = {src};
    cl_program prog = clCreateProgramWithSource(ctx->cl_ctx, 1, srcs, &len, &err);
    if (err != CL_SUCCESS || !prog)
        return clattn__cl_fail(ctx, err, "clCreateProgramWithSource(%s) failed", family);
    err = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
    pthread_mutex_lock(&ctx->cache->lock);
    ctx->cache->stats.builds_from_source++;
    pthread_mutex_unlock(&ctx->cache->lock);
    if (err != CL_SUCCESS) {
        size_t log_len = 0;
        char *log = NULL;
        if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_len) ==
                CL_SUCCESS &&
            log_len > 0 && (log = malloc(log_len + 1)) != NULL) {
            if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, log_len, log,
                                      NULL) != CL_SUCCESS)
                log[0] = '\0';
            log[log_len] = '\0';
        }
        /* A driver out of resources while compiling (registers, private memory for a large
         * tile) is out of memory like a failed allocation: launchers then try a smaller tile. */
        const clattn_status kind = err == CL_BUILD_PROGRAM_FAILURE ? CLATTN_ERROR_BUILD_FAILED
                                   : (err == CL_OUT_OF_RESOURCES || err == CL_OUT_OF_HOST_MEMORY ||
                                      err == CL_MEM_OBJECT_ALLOCATION_FAILURE)
                                       ? CLATTN_ERROR_OUT_OF_MEMORY
                                       : CLATTN_ERROR_OPENCL;
        clattn_status st = clattn__fail(
            ctx, kind, "clBuildProgram: kernel %s.cl failed to build with options \"%s\" (%s):\n%s",
            family, options, clattn__cl_error_name(err), log ? log : "(no build log)");
        free(log);
        clReleaseProgram(prog);
        return st;
    }
    *out = prog;
    return CLATTN_SUCCESS;
}

/* Source of kernel_iface.h, common.cl and <family>.cl in that order; #line keeps build-log
 * line numbers true. */
static clattn_status assemble_source(clattn_context *ctx, const char *family, char **out,
                                     size_t *out_len) {
    const char *names[3] = {CLATTN_KERNEL_IFACE, CLATTN_KERNEL_COMMON, family};
    char *part[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0}, cap = 1;
    clattn_status st = CLATTN_SUCCESS;
    for (int i = 0; i < 3 && st == CLATTN_SUCCESS; i++) {
        st = clattn__kernel_source(ctx, names[i], &part[i], &len[i]);
        cap += len[i] + 128;
    }
    char *all = st == CLATTN_SUCCESS ? malloc(cap) : NULL;
    if (st == CLATTN_SUCCESS && !all)
        st = clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "assembling %s.cl", family);
    size_t n = 0;
    for (int i = 0; i < 3 && st == CLATTN_SUCCESS; i++) {
        n += (size_t)snprintf(all + n, cap - n, "#line 1 \"%s%s\"\n", names[i],
                              clattn__kernel_file_ext(names[i]));
        memcpy(all + n, part[i], len[i]);
        n += len[i];
        all[n++] = '\n';
    }
    for (int i = 0; i < 3; i++) free(part[i]);
    if (st != CLATTN_SUCCESS) {
        free(all);
        return st;
    }
    all[n] = '\0';
    *out = all;
    *out_len = n;
    return CLATTN_SUCCESS;
}

static clattn_status obtain_program(clattn_context *ctx, const char *family, const char *options,
                                    cl_program *out) {
    char *src = NULL;
    size_t len = 0;
    clattn_status st = assemble_source(ctx, family, &src, &len);
    if (st != CLATTN_SUCCESS) return st;
    uint64_t key[2];
    cache_key(ctx, src, len, options, key);
    char dir[4000], path[4100];
    int use_disk = cache_dir(dir, sizeof dir);
    if (use_disk) {
        entry_path(path, sizeof path, dir, key);
        cl_program prog = load_binary(ctx, path, key, options);
        if (prog) {
            pthread_mutex_lock(&ctx->cache->lock);
            ctx->cache->stats.loads_from_binary++;
            pthread_mutex_unlock(&ctx->cache->lock);
            free(src);
            *out = prog;
            return CLATTN_SUCCESS;
        }
    }
    st = build_from_source(ctx, family, src, len, options, out);
    free(src);
    if (st == CLATTN_SUCCESS && use_disk) store_binary(ctx, dir, path, key, *out);
    return st;
}

clattn_status clattn__program(clattn_context *ctx, const char *family, const char *options,
                              cl_program *out) {
    *out = NULL;
    if (!options) options = "";
    struct clattn_program_cache *c = ctx->cache;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        clattn_cache_entry *e = c->entries;
        while (e && (strcmp(e->family, family) != 0 || strcmp(e->options, options) != 0))
            e = e->next;
        if (!e) break;
        if (e->state == ENTRY_READY) {
            c->stats.memory_hits++;
            *out = e->program;
            pthread_mutex_unlock(&c->lock);
            return CLATTN_SUCCESS;
        }
        pthread_cond_wait(&c->built, &c->lock); /* another thread is building it */
    }
    /* Claim the entry, then build without holding the lock. */
    clattn_cache_entry *e = calloc(1, sizeof *e);
    char *fam = e ? strdup(family) : NULL, *opt = e ? strdup(options) : NULL;
    if (!e || !fam || !opt) {
        pthread_mutex_unlock(&c->lock);
        free(e);
        free(fam);
        free(opt);
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "program cache entry");
    }
    e->family = fam;
    e->options = opt;
    e->state = ENTRY_BUILDING;
    e->next = c->entries;
    c->entries = e;
    pthread_mutex_unlock(&c->lock);

    cl_program prog = NULL;
    clattn_status st = obtain_program(ctx, family, options, &prog);

    pthread_mutex_lock(&c->lock);
    if (st == CLATTN_SUCCESS) {
        e->program = prog;
        e->state = ENTRY_READY;
    } else { /* unlink so a later call retries */
        clattn_cache_entry **pp = &c->entries;
        while (*pp != e) pp = &(*pp)->next;
        *pp = e->next;
        free(e->family);
        free(e->options);
        free(e);
    }
    pthread_cond_broadcast(&c->built);
    pthread_mutex_unlock(&c->lock);
    *out = prog;
    return st;
}

clattn_status clattn__kernel(clattn_context *ctx, const char *family, const char *options,
                             const char *kernel_name, cl_kernel *out) {
    *out = NULL;
    cl_program prog = NULL;
    clattn_status st = clattn__program(ctx, family, options, &prog);
    if (st != CLATTN_SUCCESS) return st;
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(prog, kernel_name, &err);
    if (err != CL_SUCCESS || !k) {
        if (err == CL_INVALID_KERNEL_NAME)
            return clattn__fail(ctx, CLATTN_ERROR_KERNEL_NOT_FOUND,
                                "kernel function %s not found in %s.cl", kernel_name, family);
        return clattn__cl_fail(ctx, err, "clCreateKernel(%s) failed", kernel_name);
    }
    *out = k;
    return CLATTN_SUCCESS;
}

clattn_status clattn__cache_create(clattn_context *ctx) {
    struct clattn_program_cache *c = calloc(1, sizeof *c);
    if (!c) return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "program cache");
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->built, NULL);
    ctx->cache = c;
    return CLATTN_SUCCESS;
}

void clattn__cache_destroy(clattn_context *ctx) {
    struct clattn_program_cache *c = ctx->cache;
    if (!c) return;
    for (clattn_cache_entry *e = c->entries, *n; e; e = n) {
        n = e->next;
        if (e->program) clReleaseProgram(e->program);
        free(e->family);
        free(e->options);
        free(e);
    }
    pthread_cond_destroy(&c->built);
    pthread_mutex_destroy(&c->lock);
    free(c);
    ctx->cache = NULL;
}

clattn_status clattn_context_cache_stats(const clattn_context *ctx, clattn_cache_stats *stats,
                                         size_t size) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    /* The message goes to this thread's own table: the context itself is not modified. */
    clattn_status st = clattn__struct_out_check((clattn_context *)ctx, "clattn_cache_stats", stats,
                                                size, CLATTN_CACHE_STATS_MIN_SIZE);
    if (st != CLATTN_SUCCESS) return st;
    pthread_mutex_lock(&ctx->cache->lock);
    const clattn_cache_stats copy = ctx->cache->stats;
    pthread_mutex_unlock(&ctx->cache->lock);
    clattn__struct_out(stats, size, &copy, sizeof copy);
    return CLATTN_SUCCESS;
}
