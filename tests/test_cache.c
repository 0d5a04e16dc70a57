/* test_cache.c: the program cache. A second process loads programs from CLATTN_CACHE_DIR
 * instead of building them (counted, not timed); truncated, corrupted and foreign entries are
 * rejected, rebuilt and replaced; CLATTN_CACHE_DIR=off writes nothing; concurrent threads asking
 * for one program get one build. Kernels come from a temporary CLATTN_KERNEL_DIR so the test
 * does not depend on any production kernel. */
#include "core/internal.h"
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char self_path[4096]; /* this executable, run again as the "second process" */
static char kdir[] = "/tmp/clattn-cache-k-XXXXXX";
static char cdir[] = "/tmp/clattn-cache-c-XXXXXX";

typedef struct {
    long long builds, loads, writes, rejects, hits;
    int ok;
} child_stats;

/* Child mode: build the probe program once, check it runs, print the cache counters. */
static int child(void) {
    clattn_context *ctx = NULL;
    if (clattn_context_create(NULL, &ctx) != CLATTN_SUCCESS) return 1;
    cl_kernel k = NULL;
    int ok = 0;
    if (clattn__kernel(ctx, "probe", "-DFACTOR=7", "probe", &k) == CLATTN_SUCCESS) {
        cl_mem out = NULL;
        int host[4] = {0};
        size_t g = 4;
        if (clattn__alloc(ctx, sizeof host, CL_MEM_READ_WRITE, NULL, "out", &out) == 0 &&
            clattn__set_args(ctx, k, "probe", sizeof(cl_mem), &out, (size_t)0) == 0 &&
            clattn__launch(ctx, k, 1, &g, NULL, 0, NULL, NULL, "probe") == 0 &&
            clattn__download(ctx, out, host, sizeof host, 0, NULL, "probe") == 0)
            ok = host[3] == 21;
        clattn__release_mem(&out);
        clReleaseKernel(k);
    }
    clattn_cache_stats s;
    clattn_context_cache_stats(ctx, &s, sizeof s);
    printf("STATS %lld %lld %lld %lld %lld %d\n", (long long)s.builds_from_source,
           (long long)s.loads_from_binary, (long long)s.disk_writes, (long long)s.disk_rejects,
           (long long)s.memory_hits, ok);
    clattn_context_destroy(ctx);
    return 0;
}

static child_stats run_child(const char *cache_env) {
    child_stats s = {-1, -1, -1, -1, -1, 0};
    char cmd[4700];
    /* Under a timeout: a cache entry that blocks the loader (a FIFO) must fail the check, not
     * hang the test. */
    snprintf(cmd, sizeof cmd, "CLATTN_CACHE_DIR='%s' timeout 120 '%s' child", cache_env, self_path);
    FILE *p = popen(cmd, "r");
    if (!p) return s;
    char line[256];
    while (fgets(line, sizeof line, p))
        if (strncmp(line, "STATS ", 6) == 0)
            sscanf(line + 6, "%lld %lld %lld %lld %lld %d", &s.builds, &s.loads, &s.writes,
                   &s.rejects, &s.hits, &s.ok);
    pclose(p);
    return s;
}

/* The single cache entry in dir (path out), or 0 when there is not exactly one. */
static int only_entry(const char *dir, char *path, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        n++;
        snprintf(path, cap, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n == 1;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, len, f);
    fclose(f);
}

static void test_processes(void) {
    child_stats a = run_child(cdir);
    TU_CHECK(a.ok && a.builds == 1 && a.loads == 0 && a.writes == 1,
             "first process builds from source and writes the cache (built %lld, loaded %lld, "
             "wrote %lld)",
             a.builds, a.loads, a.writes);
    child_stats b = run_child(cdir);
    TU_CHECK(b.ok && b.builds == 0 && b.loads == 1 && b.rejects == 0,
             "second process loads the binary instead of building (built %lld, loaded %lld)",
             b.builds, b.loads);

    char path[1024];
    if (!TU_CHECK(only_entry(cdir, path, sizeof path), "exactly one cache file")) return;
    long size = file_size(path);
    /* Truncated: half the file. */
    if (truncate(path, size / 2) != 0) printf("note: truncate failed\n");
    child_stats c = run_child(cdir);
    TU_CHECK(c.ok && c.rejects == 1 && c.builds == 1 && c.writes == 1 && file_size(path) == size,
             "truncated entry rejected, rebuilt and replaced (rejects %lld, size %ld)", c.rejects,
             file_size(path));
    /* Corrupted: one byte of the binary flipped. */
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, size - 10, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, size - 10, SEEK_SET);
        fputc(ch ^ 0x5a, f);
        fclose(f);
    }
    child_stats d = run_child(cdir);
    TU_CHECK(d.ok && d.rejects == 1 && d.builds == 1 && d.writes == 1,
             "corrupted entry rejected and rebuilt");
    /* Foreign: somebody else's bytes under our name. */
    const char junk[] = "this is not a clattn program binary, just some foreign bytes......";
    write_file(path, junk, sizeof junk);
    child_stats e = run_child(cdir);
    TU_CHECK(e.ok && e.rejects == 1 && e.builds == 1 && file_size(path) == size,
             "foreign entry rejected and replaced");
    child_stats g = run_child(cdir);
    TU_CHECK(g.ok && g.loads == 1 && g.builds == 0, "replaced entry loads again");
    /* Empty file. */
    write_file(path, "", 0);
    child_stats h = run_child(cdir);
    TU_CHECK(h.ok && h.rejects == 1 && h.builds == 1, "empty entry rejected and rebuilt");
    /* A FIFO under the entry's name: opened without blocking, refused, replaced by a file. */
    struct stat st;
    remove(path);
    if (mkfifo(path, 0644) == 0) {
        child_stats i = run_child(cdir);
        TU_CHECK(i.ok && i.rejects == 1 && i.builds == 1 && stat(path, &st) == 0 &&
                     S_ISREG(st.st_mode) && st.st_size == size,
                 "FIFO entry neither waited on nor trusted: rejected, rebuilt, replaced by a file "
                 "(rejects %lld, builds %lld)",
                 i.rejects, i.builds);
    } else {
        TU_CHECK(0, "mkfifo %s", path);
    }
    /* A directory under the entry's name: refused, cannot be replaced, leaves no temporary. */
    remove(path);
    if (mkdir(path, 0755) == 0) {
        child_stats j = run_child(cdir);
        char only[1024];
        TU_CHECK(j.ok && j.rejects == 1 && j.builds == 1 && j.writes == 0 &&
                     only_entry(cdir, only, sizeof only) && stat(path, &st) == 0 &&
                     S_ISDIR(st.st_mode),
                 "directory entry rejected and left alone, no temporary left (rejects %lld, "
                 "writes %lld)",
                 j.rejects, j.writes);
        rmdir(path);
    } else {
        TU_CHECK(0, "mkdir %s", path);
    }
}

static void test_off(void) {
    char home[] = "/tmp/clattn-cache-h-XXXXXX";
    if (!mkdtemp(home)) return;
    char old_home[1024] = "";
    if (getenv("HOME")) snprintf(old_home, sizeof old_home, "%s", getenv("HOME"));
    setenv("HOME", home, 1);
    unsetenv("XDG_CACHE_HOME");
    child_stats s = run_child("off");
    char path[1200];
    DIR *d = opendir(home);
    int files = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') files++;
    if (d) closedir(d);
    TU_CHECK(s.ok && s.builds == 1 && s.writes == 0 && s.loads == 0 && files == 0,
             "CLATTN_CACHE_DIR=off builds and writes nothing (files under HOME: %d)", files);
    /* Without CLATTN_CACHE_DIR the default is $XDG_CACHE_HOME/clattn. */
    char xdg[1100];
    snprintf(xdg, sizeof xdg, "%s/xdg", home);
    setenv("XDG_CACHE_HOME", xdg, 1);
    char cmd[5500];
    snprintf(cmd, sizeof cmd, "env -u CLATTN_CACHE_DIR '%s' child >/dev/null", self_path);
    int rc = system(cmd);
    snprintf(path, sizeof path, "%s/clattn", xdg);
    char entry[1024];
    TU_CHECK(rc == 0 && only_entry(path, entry, sizeof entry),
             "default cache directory is $XDG_CACHE_HOME/clattn");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", old_home, 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    if (system(cmd) != 0) printf("note: could not remove %s\n", home);
}

typedef struct {
    clattn_context *ctx;
    cl_program prog;
    clattn_status st;
} thread_arg;

static void *builder(void *p) {
    thread_arg *a = p;
    a->st = clattn__program(a->ctx, "probe", "-DFACTOR=3 -DTHREADS", &a->prog);
    return NULL;
}

static void test_threads(void) {
    setenv("CLATTN_CACHE_DIR", "off", 1);
    clattn_context *ctx = tu_context();
    enum { N = 8 };
    pthread_t th[N];
    thread_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (thread_arg){ctx, NULL, CLATTN_ERROR_INTERNAL};
        pthread_create(&th[i], NULL, builder, &args[i]);
    }
    int same = 1;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        same = same && args[i].st == CLATTN_SUCCESS && args[i].prog == args[0].prog;
    }
    clattn_cache_stats s;
    clattn_context_cache_stats(ctx, &s, sizeof s);
    TU_CHECK(same && s.builds_from_source == 1 && s.memory_hits == N - 1,
             "%d threads asking for one program: %lld build, %lld memory hits", N,
             (long long)s.builds_from_source, (long long)s.memory_hits);
    /* Different options are a different program. */
    cl_program other = NULL;
    clattn__program(ctx, "probe", "-DFACTOR=4", &other);
    clattn_context_cache_stats(ctx, &s, sizeof s);
    TU_CHECK(other && other != args[0].prog && s.builds_from_source == 2,
             "build options are part of the cache key");
    clattn_context_destroy(ctx);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) return child();
    if (!realpath(argv[0], self_path)) snprintf(self_path, sizeof self_path, "%s", argv[0]);
    if (!mkdtemp(kdir) || !mkdtemp(cdir)) {
        printf("FAIL: mkdtemp\n0 passed, 1 failed\n");
        return 1;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/kernel_iface.h", kdir);
    const char *iface = "/* probe interface */\n";
    write_file(path, iface, strlen(iface));
    snprintf(path, sizeof path, "%s/common.cl", kdir);
    const char *common = "/* probe common */\n";
    write_file(path, common, strlen(common));
    snprintf(path, sizeof path, "%s/probe.cl", kdir);
    const char *probe = "__kernel void probe(__global int *out) {\n"
                        "    out[get_global_id(0)] = FACTOR * (int)get_global_id(0);\n}\n";
    write_file(path, probe, strlen(probe));
    setenv("CLATTN_KERNEL_DIR", kdir, 1);
    /* PoCL's own cache would hide nothing here (we count our builds), but keep runs honest. */
    setenv("POCL_KERNEL_CACHE", "0", 1);
    test_processes();
    test_off();
    test_threads();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", kdir, cdir);
    if (system(cmd) != 0) printf("note: could not clean up\n");
    return tu_finish();
}
