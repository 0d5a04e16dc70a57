/* interleave.c: A/B timing of attention configurations call by call in one process.
 *
 * Why: on the shared development VM the speed of the same kernel drifts by up to 2x over 0.1-1 s
 * (README, "Steady timings"; bench/host_steady.c), so two configurations timed in separate
 * processes, or one after the other, compare the host's moods as much as the code. Here every
 * configuration gets its own context (its own program cache, so CLATTN_KERNEL_DIR variants of a
 * kernel build separately) and buffers, and round r runs each configuration once, in an order
 * rotated every round; each round's ratio compares calls made within milliseconds of each other.
 * The outputs are compared too, so a kernel variant that is fast because it is wrong shows.
 *
 *   interleave --batch B --heads Hq [--kv-heads Hkv] --seq N [--seq-kv M] --dim D [--causal]
 *              [--rounds R] [--device SEL] CONFIG [CONFIG ...]
 *
 * A CONFIG is "-" (the defaults: what the dispatcher picks) or comma-separated key=value pairs:
 *   algo=auto|naive|flash1|flash2|decode  flavour=auto|gpu|cpu  block_q=N  block_kv=N
 *   splits=N  dtype=f32|f16|bf16 (q, k, v, out)  kv_dtype=f32|f16|bf16  softcap=C (0: off)
 *   kernel_dir=PATH  layout=bhsd|bshd|qkv (where the tensors lie: tools/cli_sdpa.h; the same
 *   values in every layout, and the outputs compared in the logical order)
 * Per configuration it prints the median and fastest call (host clock, enqueue to finish), the
 * GFLOP/s of the median, the median over rounds of (first config's time / this one's) with the
 * middle half of those ratios, and the largest |out - first config's out|. Exit status 0, or 1
 * with a message naming the configuration that failed, 2 for a usage error. */
#define _POSIX_C_SOURCE 200809L
#include "cli_sdpa.h" /* the CLI's names and float32 <-> float16/bfloat16 conversions */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONFIGS 16
#define CMD         "interleave" /* the command name in the CLI helpers' messages */

typedef struct {
    const char *text;      /* as given */
    char kernel_dir[1024]; /* "" : the embedded kernels */
    clattn_sdpa_desc d;
    clattn_context *ctx;
    int layout;   /* CLI_LAYOUT_* */
    int64_t n[4]; /* elements q, k, v and out span in their buffers */
    cl_mem q, k, v, out;
    double *t; /* seconds per round */
} config;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-th quantile (0..1) of v[0..n), sorting a copy. */
static double quantile(const double *v, int n, double q) {
    double *c = malloc(sizeof(double) * (size_t)n);
    if (!c) return NAN;
    memcpy(c, v, sizeof(double) * (size_t)n);
    qsort(c, (size_t)n, sizeof(double), cmp_double);
    const double x = c[(int)(q * (n - 1) + 0.5)];
    free(c);
    return x;
}

/* Applies "key=value,..." to c (whose desc holds the shape already). 0 on a bad pair. */
static int parse_config(config *c, const char *text) {
    c->text = text;
    c->kernel_dir[0] = '\0';
    if (!strcmp(text, "-")) return 1;
    char buf[2048];
    if (strlen(text) >= sizeof buf) return 0;
    strcpy(buf, text);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) return 0;
        *eq = '\0';
        const char *key = kv, *val = eq + 1;
        char *end = NULL;
        int64_t *count = !strcmp(key, "block_q")    ? &c->d.block_q
                         : !strcmp(key, "block_kv") ? &c->d.block_kv
                         : !strcmp(key, "splits")   ? &c->d.decode_splits
                                                    : NULL;
        /* The names are the CLI's (cli_sdpa.c), which say what they expected on a bad value. */
        if (!strcmp(key, "algo")) {
            if (cli_sdpa_algo(CMD, val, &c->d.algo)) return 0;
        } else if (!strcmp(key, "flavour")) {
            if (cli_sdpa_flavour(CMD, val, &c->d.flavour)) return 0;
        } else if (count) {
            const long long n = strtoll(val, &end, 10);
            if (!*val || *end || n < 0) return 0;
            *count = n;
        } else if (!strcmp(key, "dtype")) {
            clattn_dtype t;
            if (cli_sdpa_dtype(CMD, key, val, &t)) return 0;
            c->d.q_dtype = c->d.kv_dtype = c->d.out_dtype = t;
        } else if (!strcmp(key, "kv_dtype")) {
            if (cli_sdpa_dtype(CMD, key, val, &c->d.kv_dtype)) return 0;
        } else if (!strcmp(key, "softcap")) {
            char *end = NULL;
            c->d.softcap = strtof(val, &end);
            if (end == val || *end || !(c->d.softcap >= 0.0f)) return 0;
        } else if (!strcmp(key, "layout")) {
            if (cli_sdpa_layout(CMD, key, val, &c->layout)) return 0;
        } else if (!strcmp(key, "kernel_dir")) {
            if (strlen(val) >= sizeof c->kernel_dir) return 0;
            strcpy(c->kernel_dir, val);
        } else {
            return 0;
        }
    }
    return 1;
}

/* Points CLATTN_KERNEL_DIR at the configuration's kernels (or unsets it) before its calls. */
static void use_kernels(const config *c) {
    if (c->kernel_dir[0])
        setenv("CLATTN_KERNEL_DIR", c->kernel_dir, 1);
    else
        unsetenv("CLATTN_KERNEL_DIR");
}

/* Copies between the logical [B, H, S, dim] `dense` and `strided`, whose (batch, head, seq)
 * strides are st (all 0: the contiguous default), towards `strided` when to_strided. */
static void relayout(float *dense, float *strided, int64_t B, int64_t H, int64_t S, int64_t dim,
                     const int64_t st[3], int to_strided) {
    const int64_t sb = st[0] ? st[0] : H * S * dim, sh = st[0] ? st[1] : S * dim,
                  ss = st[0] ? st[2] : dim;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < S; i++) {
                float *d = dense + ((b * H + h) * S + i) * dim,
                      *s = strided + b * sb + h * sh + i * ss;
                memcpy(to_strided ? s : d, to_strided ? d : s, (size_t)dim * sizeof(float));
            }
}

/* A device buffer of n elements of type t holding src (float32) converted. */
static cl_mem upload(clattn_context *ctx, const float *src, size_t n, clattn_dtype t) {
    const size_t es = cli_sdpa_dtype_size(t);
    void *host = t == CLATTN_DTYPE_F32 ? (void *)src : malloc(n * es);
    if (!host) return NULL;
    if (host != src) cli_sdpa_from_f32(src, (int64_t)n, t, host);
    cl_int err;
    cl_mem m = clCreateBuffer(clattn_context_cl_context(ctx),
                              CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * es, host, &err);
    if (host != src) free(host);
    return err == CL_SUCCESS ? m : NULL;
}

/* c's output as float32 (n elements: its span in c's layout), or NULL. */
static float *download(const config *c, size_t n) {
    const clattn_dtype t = c->d.out_dtype;
    float *f = malloc(n * sizeof(float));
    void *raw = t == CLATTN_DTYPE_F32 ? (void *)f : malloc(n * 2);
    if (!f || !raw ||
        clEnqueueReadBuffer(clattn_context_queue(c->ctx), c->out, CL_TRUE, 0,
                            n * cli_sdpa_dtype_size(t), raw, 0, NULL, NULL) != CL_SUCCESS) {
        if (raw != f) free(raw);
        free(f);
        return NULL;
    }
    if (raw != f) {
        cli_sdpa_to_f32(raw, (int64_t)n, t, f);
        free(raw);
    }
    return f;
}

/* c's output in the logical [B, H, S, D] order, or NULL. */
static float *logical_out(const config *c, int64_t B, int64_t H, int64_t S, int64_t D) {
    float *raw = download(c, (size_t)c->n[3]), *o = malloc((size_t)(B * H * S * D) * sizeof(float));
    if (raw && o) relayout(o, raw, B, H, S, D, c->d.out_strides, 0);
    free(raw);
    if (!raw) {
        free(o);
        return NULL;
    }
    return o;
}

/* One call of c, enqueue to finish on the host clock; < 0 on failure (message printed). */
static double timed_call(config *c) {
    use_kernels(c);
    cl_command_queue q = clattn_context_queue(c->ctx);
    clFinish(q);
    const double t0 = now_s();
    const clattn_status st =
        clattn_sdpa(c->ctx, &c->d, c->q, c->k, c->v, NULL, c->out, NULL, 0, NULL, NULL);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "interleave: config '%s': %s\n", c->text,
                clattn_context_last_error(c->ctx));
        return -1.0;
    }
    clFinish(q);
    return now_s() - t0;
}

static int usage(void) {
    fprintf(stderr, "usage: interleave --batch B --heads Hq [--kv-heads Hkv] --seq N [--seq-kv M] "
                    "--dim D [--causal] [--rounds R] [--device SEL] CONFIG [CONFIG ...]\n"
                    "  CONFIG: - or key=value,... with keys algo flavour block_q block_kv splits "
                    "dtype kv_dtype softcap kernel_dir layout\n");
    return 2;
}

int main(int argc, char **argv) {
    long long B = 1, H = 0, Hkv = 0, S = 0, Skv = 0, D = 0, R = 15;
    int causal = 0, nc = 0;
    const char *device = NULL, *texts[MAX_CONFIGS];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long long *target = !strcmp(a, "--batch")      ? &B
                            : !strcmp(a, "--heads")    ? &H
                            : !strcmp(a, "--kv-heads") ? &Hkv
                            : !strcmp(a, "--seq")      ? &S
                            : !strcmp(a, "--seq-kv")   ? &Skv
                            : !strcmp(a, "--dim")      ? &D
                            : !strcmp(a, "--rounds")   ? &R
                                                       : NULL;
        if (target) {
            char *end = NULL;
            if (i + 1 >= argc) return usage();
            *target = strtoll(argv[++i], &end, 10);
            if (!*argv[i] || *end) return usage();
        } else if (!strcmp(a, "--causal")) {
            causal = 1;
        } else if (!strcmp(a, "--device") && i + 1 < argc) {
            device = argv[++i];
        } else if (a[0] == '-' && a[1] == '-') {
            return usage();
        } else if (nc < MAX_CONFIGS) {
            texts[nc++] = a;
        } else {
            fprintf(stderr, "interleave: at most %d configurations\n", MAX_CONFIGS);
            return 2;
        }
    }
    /* As the CLI and the bench scripts do: PoCL's worker threads pinned, unless the user chose
     * (README, "Steady timings"); before the first OpenCL call, which is when PoCL reads it. */
    setenv("POCL_AFFINITY", "1", 0);
    if (!Hkv) Hkv = H;
    if (!Skv) Skv = S;
    if (B < 1 || H < 1 || Hkv < 1 || S < 1 || Skv < 1 || D < 1 || R < 1 || R > 100000 || nc < 1 ||
        B * H * S * D > ((long long)1 << 31) || B * Hkv * Skv * D > ((long long)1 << 31))
        return usage();

    /* Inputs: one float32 set shared by every configuration, uniform in [-1, 1). */
    const size_t nq = (size_t)(B * H * S * D), nkv = (size_t)(B * Hkv * Skv * D);
    float *hq = malloc(nq * sizeof(float)), *hk = malloc(nkv * sizeof(float)),
          *hv = malloc(nkv * sizeof(float));
    config *cf = calloc((size_t)nc, sizeof(config));
    float *ref = NULL;
    int rc = 1;
    if (!hq || !hk || !hv || !cf) {
        fprintf(stderr, "interleave: out of host memory\n");
        goto done;
    }
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    float *all[3] = {hq, hk, hv};
    const size_t lens[3] = {nq, nkv, nkv};
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < lens[a]; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            all[a][i] = (float)(seed >> 40) / 8388608.0f - 1.0f;
        }

    for (int c = 0; c < nc; c++) {
        config *x = &cf[c];
        clattn_sdpa_desc_init(&x->d, sizeof x->d);
        x->d.batch = B, x->d.heads = H, x->d.kv_heads = Hkv, x->d.seq_q = S, x->d.seq_kv = Skv;
        x->d.head_dim = D, x->d.causal = causal;
        if (!parse_config(x, texts[c])) {
            fprintf(stderr, "interleave: bad configuration '%s'\n", texts[c]);
            rc = 2;
            goto done;
        }
        x->t = malloc(sizeof(double) * (size_t)R);
        if (!x->t) goto done;
        if (clattn_context_create(device, &x->ctx) != CLATTN_SUCCESS) {
            fprintf(stderr, "interleave: %s\n", clattn_context_create_error());
            goto done;
        }
        if (cli_sdpa_layout_strides(x->layout, 1, &x->d, x->n)) goto done;
        /* the same values in the configuration's layout (the gaps zeros) */
        cl_mem *mem[3] = {&x->q, &x->k, &x->v};
        const int64_t heads[3] = {H, Hkv, Hkv}, seqs[3] = {S, Skv, Skv};
        const int64_t *strides[3] = {x->d.q_strides, x->d.k_strides, x->d.v_strides};
        for (int a = 0; a < 3; a++) {
            float *h = calloc((size_t)x->n[a], sizeof(float));
            if (!h) goto done;
            relayout(all[a], h, B, heads[a], seqs[a], D, strides[a], 1);
            *mem[a] = upload(x->ctx, h, (size_t)x->n[a], a ? x->d.kv_dtype : x->d.q_dtype);
            free(h);
        }
        cl_int err;
        x->out = clCreateBuffer(clattn_context_cl_context(x->ctx), CL_MEM_READ_WRITE,
                                (size_t)x->n[3] * cli_sdpa_dtype_size(x->d.out_dtype), NULL, &err);
        if (!x->q || !x->k || !x->v || err != CL_SUCCESS) {
            fprintf(stderr, "interleave: config '%s': device buffers\n", x->text);
            goto done;
        }
        if (timed_call(x) < 0) goto done; /* warm-up: builds its kernels */
    }
    for (long long r = 0; r < R; r++)
        for (int i = 0; i < nc; i++) {
            config *x = &cf[(i + r) % nc];
            if ((x->t[r] = timed_call(x)) < 0) goto done;
        }

    const double flops = 4.0 * (double)B * (double)H * (double)S * (double)Skv * (double)D *
                         (causal && S == Skv ? 0.5 : 1.0);
    ref = logical_out(&cf[0], B, H, S, D);
    double *ratio = malloc(sizeof(double) * (size_t)R);
    if (!ref || !ratio) {
        free(ratio);
        fprintf(stderr, "interleave: reading the first configuration's output\n");
        goto done;
    }
    printf("B=%lld Hq=%lld Hkv=%lld Sq=%lld Skv=%lld D=%lld%s, %lld rounds\n", B, H, Hkv, S, Skv, D,
           causal ? " causal" : "", R);
    for (int c = 0; c < nc; c++) {
        const config *x = &cf[c];
        for (long long r = 0; r < R; r++) ratio[r] = cf[0].t[r] / x->t[r];
        float *o = c ? logical_out(x, B, H, S, D) : ref;
        double diff = o ? 0.0 : NAN;
        for (size_t i = 0; o && i < nq; i++) {
            const double e = fabs((double)o[i] - (double)ref[i]);
            diff = e > diff || e != e ? e : diff;
        }
        if (o != ref) free(o);
        const double med = quantile(x->t, (int)R, 0.5);
        printf("%-40s ms=%.3f min_ms=%.3f gflops=%.1f speedup=%.3f (%.3f-%.3f) max_diff=%.2e\n",
               x->text, med * 1e3, quantile(x->t, (int)R, 0.0) * 1e3, flops / med * 1e-9,
               quantile(ratio, (int)R, 0.5), quantile(ratio, (int)R, 0.25),
               quantile(ratio, (int)R, 0.75), diff);
    }
    free(ratio);
    rc = 0;
done:
    for (int c = 0; cf && c < nc; c++) {
        config *x = &cf[c];
        if (x->q) clReleaseMemObject(x->q);
        if (x->k) clReleaseMemObject(x->k);
        if (x->v) clReleaseMemObject(x->v);
        if (x->out) clReleaseMemObject(x->out);
        if (x->ctx) clattn_context_destroy(x->ctx);
        free(x->t);
    }
    free(cf);
    free(ref);
    free(hq);
    free(hk);
    free(hv);
    return rc;
}
