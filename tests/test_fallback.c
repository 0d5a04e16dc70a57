/* test_fallback.c: the CPU-flavour launcher's fallback to a smaller tile. A device that cannot
 * build a tile is simulated with CLATTN_KERNEL_DIR: a copy of cl/ whose flash_cpu.cl refuses to
 * compile with a query block above 16, as a driver out of registers or private memory would.
 * flash2 and flash1 must still give the reference's answer, from the 16-row tile, whether the
 * forced block was 64 (refused at 64, 32 and 24) or 24 (the 8-lane block, which halving would
 * have turned into 12, a block the kernels do not have). */
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { B = 1, HQ = 4, HKV = 2, SQ = 113, SKV = 203, D = 40 };

/* Copies $CLATTN_SOURCE_DIR/cl into dir, putting a guard in front of flash_cpu.cl. */
static int make_kernel_dir(const char *dir) {
    const char *src = getenv("CLATTN_SOURCE_DIR");
    if (!src) return 0;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s'/cl/*.cl '%s'/cl/*.h '%s'/", src, src, dir);
    if (system(cmd) != 0) return 0;
    char path[1024], *body = NULL;
    snprintf(path, sizeof path, "%s/flash_cpu.cl", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    body = malloc((size_t)n + 1);
    int ok = body && fread(body, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    f = ok ? fopen(path, "wb") : NULL;
    if (f) {
        fputs("#if defined(BR) && BR > 16\n#error \"test: this device cannot hold BR > 16\"\n"
              "#endif\n",
              f);
        fwrite(body, 1, (size_t)n, f);
        fclose(f);
    }
    free(body);
    return f != NULL;
}

/* Removes the kernel directory, also when making it failed half-way. */
static void remove_kernel_dir(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", dir);
}

int main(void) {
    char dir[] = "/tmp/clattn-fallback-XXXXXX";
    const int have_dir = mkdtemp(dir) != NULL;
    if (!TU_CHECK(have_dir && make_kernel_dir(dir), "kernel directory with a BR > 16 guard")) {
        if (have_dir) remove_kernel_dir(dir);
        return tu_finish();
    }
    setenv("CLATTN_KERNEL_DIR", dir, 1);
    setenv("CLATTN_LOCAL_MEM_TYPE", "global", 1); /* the CPU flavour, whatever the device */
    clattn_context *ctx = tu_context();

    const int64_t nq = B * HQ * SQ * D, nk = B * HKV * SKV * D, no = B * HQ * SQ * D;
    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nk);
    float *out = tu_alloc_floats(no), *lse = tu_alloc_floats(B * HQ * SQ);
    double *rout = malloc(sizeof(double) * (size_t)no),
           *rlse = malloc(sizeof(double) * B * HQ * SQ);
    tu_fill_normal(q, nq, 1.0f), tu_fill_normal(k, nk, 1.0f), tu_fill_normal(v, nk, 1.0f);
    sdpa_ref_problem p = {B,   HQ,  HKV, SQ, SKV, D, D, 1.0 / sqrt(D), 1,    q, k,    v, NULL, {0},
                          {0}, {0}, {0}, 0,  0,   0, 0, 0.0,           NULL, 0, NULL, 0};
    sdpa_ref_contiguous(HQ, SQ, D, p.q_st);
    sdpa_ref_contiguous(HKV, SKV, D, p.k_st);
    sdpa_ref_contiguous(HKV, SKV, D, p.v_st);
    TU_CHECK(rout && rlse && sdpa_ref(&p, rout, rlse) == 0, "float64 reference");

    const clattn_algo algos[2] = {CLATTN_ALGO_FLASH2, CLATTN_ALGO_FLASH1};
    const int64_t forced[2] = {64, 24}; /* above what the "device" can build */
    for (int t = 0; t < 4; t++) {
        const int a = t % 2;
        clattn_sdpa_desc d;
        clattn_sdpa_desc_init(&d, sizeof d);
        d.batch = B, d.heads = HQ, d.kv_heads = HKV, d.seq_q = SQ, d.seq_kv = SKV;
        d.head_dim = D, d.causal = 1, d.algo = algos[a], d.flavour = CLATTN_FLAVOUR_CPU;
        d.block_q = forced[t / 2];
        tu_poison(out, no);
        tu_poison(lse, B * HQ * SQ);
        clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, NULL, out, lse);
        TU_CHECK(st == CLATTN_SUCCESS && tu_compare("out", out, rout, no, 2e-5, 2e-4) &&
                     tu_compare("lse", lse, rlse, B * HQ * SQ, 2e-5, 2e-5),
                 "%s, block_q %lld refused by the build: falls back and matches the reference "
                 "(%s)",
                 a ? "flash1" : "flash2", (long long)d.block_q, clattn_status_string(st));
    }
    /* 64, 32 and 24 were refused, then 16 built: for each algorithm. */
    clattn_cache_stats cs;
    clattn_context_cache_stats(ctx, &cs, sizeof cs);
    TU_CHECK(cs.builds_from_source >= 3, "the refused tiles were really tried (%lld builds)",
             (long long)cs.builds_from_source);
    clattn_context_destroy(ctx);
    free(q), free(k), free(v), free(out), free(lse), free(rout), free(rlse);
    remove_kernel_dir(dir);
    return tu_finish();
}
