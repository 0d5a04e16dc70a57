/* generate.c: a generation loop on clattn: a small decoder-only model with random weights
 * (generate_model.h: embedding, N blocks of RMSNorm + clattn_mha_layer with a KV cache + a
 * two-GEMM GELU MLP, final norm, LM head, greedy argmax) prefills a random prompt of --context
 * tokens, then generates --tokens tokens one decode step at a time through the caches, printing
 * each step's time and the caches' size. The model is drawn as MHA and converted to --kv-heads
 * groups with clattn_mha_to_gqa, so MHA, GQA and MQA runs with one seed are one model.
 *
 * --check then recomputes every step without the cache (the whole sequence so far through the
 * stack, attention over x alone) and compares its logits and chosen token with the cached run's:
 * the check that the cache path (append, RoPE at the right positions, attention over the cached
 * sequence) computes what the plain forward does. Exit status 1 when it does not.
 *
 * The last line, "summary: key=value ...", is what bench/generate_bench.py reads. */
#include "generate_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    gen_config c;
    int64_t context, tokens;
    const char *device;
    int check, quiet;
    double tol; /* 0: by the cache type */
} options;

static void usage(FILE *f) {
    fprintf(f, "usage: generate [options]\n"
               "  --embed E          model width (512)\n"
               "  --heads H          query heads (8)\n"
               "  --kv-heads G       key/value heads, dividing H: H is MHA, 1 MQA (2)\n"
               "  --head-dim D       per head (E / H)\n"
               "  --layers N         blocks (4)\n"
               "  --ffn F            MLP hidden width (4 E)\n"
               "  --vocab V          vocabulary (4096)\n"
               "  --context C        prompt tokens, prefilled at once (128)\n"
               "  --tokens T         tokens generated: the prefill's and T - 1 decode steps (16)\n"
               "  --cache-dtype T    f32, f16 or bf16 (f32)\n"
               "  --page-size P      a paged cache of P-token pages; 0: contiguous (0)\n"
               "  --rope-theta B     RoPE base; 0: none (10000)\n"
               "  --seed S           weights and prompt (1)\n"
               "  --device SEL       OpenCL device (clattn_context_create's selector)\n"
               "  --check            recompute each step without the cache and compare\n"
               "  --tol X            --check's tolerance on |logit error| / max |logit|\n"
               "                     (1e-4 for an f32 cache, 5e-3 for f16, 3e-2 for bf16)\n"
               "  --quiet            no line per token\n"
               "  --profile          also time the attention layers apart (waits around each)\n");
}

/* An integer option: its name, range and where it goes. */
typedef struct {
    const char *name;
    int64_t lo, hi;
    int64_t *target;
} int_opt;

static int parse_int(const char *name, const char *v, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*v && !*end && x >= lo && x <= hi) {
        *out = x;
        return 0;
    }
    fprintf(stderr, "generate: --%s %s: expected an integer in %lld..%lld\n", name, v,
            (long long)lo, (long long)hi);
    return 1;
}

static int parse(int argc, char **argv, options *o) {
    gen_config *c = &o->c;
    memset(o, 0, sizeof *o);
    c->embed = 512, c->heads = 8, c->kv_heads = 2, c->layers = 4, c->vocab = 4096;
    c->cache_dtype = CLATTN_DTYPE_F32, c->rope_theta = 10000.0, c->seed = 1;
    o->context = 128, o->tokens = 16;
    int64_t seed = 1;
    const int64_t big = INT32_MAX;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        int *flag = !strcmp(a, "--check")     ? &o->check
                    : !strcmp(a, "--quiet")   ? &o->quiet
                    : !strcmp(a, "--profile") ? &c->profile
                                              : NULL;
        if (flag) {
            *flag = 1;
            continue;
        }
        if (strncmp(a, "--", 2) || !v) {
            fprintf(stderr, "generate: %s%s\n", a, v ? ": unknown option" : " needs a value");
            usage(stderr);
            return 1;
        }
        i++;
        const char *n = a + 2;
        int bad = 0;
        const int_opt ints[] = {
            {"embed", 1, big, &c->embed},       {"heads", 1, big, &c->heads},
            {"kv-heads", 1, big, &c->kv_heads}, {"head-dim", 1, 256, &c->head_dim},
            {"layers", 1, 1024, &c->layers},    {"ffn", 1, big, &c->ffn},
            {"vocab", 1, big, &c->vocab},       {"context", 1, big / 2, &o->context},
            {"tokens", 1, big / 2, &o->tokens}, {"page-size", 0, big, &c->page_size},
            {"seed", 0, INT64_MAX, &seed}};
        const int_opt *io = NULL;
        for (size_t k = 0; k < sizeof ints / sizeof *ints; k++)
            if (!strcmp(n, ints[k].name)) io = &ints[k];
        if (io)
            bad = parse_int(n, v, io->lo, io->hi, io->target);
        else if (!strcmp(n, "device"))
            o->device = v;
        else if (!strcmp(n, "rope-theta") || !strcmp(n, "tol")) {
            char *end;
            const double x = strtod(v, &end);
            bad = !*v || *end || !(x >= 0.0) || !isfinite(x);
            if (bad) fprintf(stderr, "generate: --%s %s: expected a number >= 0\n", n, v);
            *(n[0] == 'r' ? &c->rope_theta : &o->tol) = x;
        } else if (!strcmp(n, "cache-dtype")) {
            static const char *const names[] = {"f32", "f16", "bf16"};
            static const clattn_dtype types[] = {CLATTN_DTYPE_F32, CLATTN_DTYPE_F16,
                                                 CLATTN_DTYPE_BF16};
            bad = 1;
            for (int k = 0; k < 3; k++)
                if (!strcmp(v, names[k])) c->cache_dtype = types[k], bad = 0;
            if (bad) fprintf(stderr, "generate: --cache-dtype %s: f32, f16 or bf16\n", v);
        } else {
            fprintf(stderr, "generate: unknown option %s\n", a);
            usage(stderr);
            return 1;
        }
        if (bad) return 1;
    }
    c->seed = (uint64_t)seed;
    if (!c->head_dim) c->head_dim = c->embed / c->heads;
    if (!c->ffn) c->ffn = 4 * c->embed;
    if (c->heads % c->kv_heads || c->head_dim < 1) {
        fprintf(stderr,
                "generate: --kv-heads %lld must divide --heads %lld, and --head-dim must "
                "be given when --heads exceeds --embed\n",
                (long long)c->kv_heads, (long long)c->heads);
        return 1;
    }
    c->capacity = o->context + o->tokens;
    /* Measured on the tests' tiny models (2-4 layers, 13-52 tokens): 2.5e-7..4.3e-7 (f32),
     * 7.6e-5..1.6e-4 (f16), 3.1e-4..7.7e-4 (bf16); a wrong position or token moves the logits
     * by far more (1e-1 and up). */
    static const double tol[] = {1e-4, 5e-3, 3e-2};
    if (!o->tol) o->tol = tol[c->cache_dtype];
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of x[0..n-1] (sorted in place); 0 for none. */
static double median(double *x, int64_t n) {
    if (n < 1) return 0.0;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Step t's cached logits against the recompute's: the largest error over the largest logit,
 * and the chosen token, which may differ only where the recompute's top two are within tol. */
static int check_step(int64_t t, const float *got, const float *ref, int64_t V, int32_t token,
                      double tol, double *worst) {
    double scale = 1.0, err = 0.0;
    int64_t best = 0;
    for (int64_t i = 0; i < V; i++) {
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
        const double e = fabs((double)got[i] - ref[i]);
        if (!(e <= err)) err = e; /* NaN sticks */
        if (ref[i] > ref[best]) best = i;
    }
    const double rel = err / scale;
    if (!(rel <= *worst)) *worst = rel;
    const int same = token == best || ref[best] - ref[token] <= 2.0 * tol * scale;
    if (rel <= tol && same) return 0;
    printf("check: step %lld: max |logit error| %.3e = %.3e of max |logit| %.3f (tol %.1e); "
           "cached token %d, recomputed %lld\n",
           (long long)t, err, rel, scale, tol, token, (long long)best);
    return 1;
}

int main(int argc, char **argv) {
    options o;
    if (parse(argc, argv, &o)) return 2;
    const gen_config *c = &o.c;
    const int64_t C = o.context, T = o.tokens, V = c->vocab;
    static const char *const dtype_names[] = {"f32", "f16", "bf16"};
    printf("generate: embed %lld heads %lld kv_heads %lld head_dim %lld layers %lld ffn %lld "
           "vocab %lld context %lld tokens %lld cache %s %s rope_theta %g seed %llu\n",
           (long long)c->embed, (long long)c->heads, (long long)c->kv_heads, (long long)c->head_dim,
           (long long)c->layers, (long long)c->ffn, (long long)V, (long long)C, (long long)T,
           dtype_names[c->cache_dtype], c->page_size ? "paged" : "contiguous", c->rope_theta,
           (unsigned long long)c->seed);

    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(o.device, &ctx);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "generate: no OpenCL context: %s: %s\n", clattn_status_string(st),
                clattn_context_create_error());
        return 1;
    }
    gen_model *m = NULL;
    int32_t *seq = malloc((size_t)(C + T) * sizeof *seq);
    double *ms = malloc((size_t)T * sizeof *ms), *attn = malloc((size_t)T * sizeof *attn);
    float *logits = o.check ? malloc((size_t)(T * V) * sizeof *logits) : NULL;
    float *ref = o.check ? malloc((size_t)V * sizeof *ref) : NULL;
    int rc = 1;
    if (!seq || !ms || !attn || (o.check && (!logits || !ref))) {
        fprintf(stderr, "generate: out of host memory\n");
        goto done;
    }
    if (gen_model_create(ctx, c, &m)) goto done;
    uint64_t r = c->seed * 0xD1B54A32D192ED03ull + 7; /* the prompt: its own stream */
    for (int64_t i = 0; i < C; i++) {
        r ^= r >> 12, r ^= r << 25, r ^= r >> 27;
        seq[i] = (int32_t)((r * 0x2545F4914F6CDD1Dull >> 33) % (uint64_t)V);
    }

    /* Token 0 comes from the prompt's prefill, token t > 0 from decode step t. */
    gen_sizes sz;
    for (int64_t t = 0; t < T; t++) {
        const double t0 = gen_now_ms();
        if (gen_model_run(m, t ? &seq[C + t - 1] : seq, t ? 1 : C, 1, &seq[C + t],
                          o.check ? &logits[t * V] : NULL))
            goto done;
        ms[t] = gen_now_ms() - t0, attn[t] = gen_model_attention_ms(m);
        if (gen_model_sizes(m, &sz)) goto done;
        char attn_s[48] = "";
        if (c->profile) snprintf(attn_s, sizeof attn_s, " (attention %.3f)", attn[t]);
        if (!o.quiet)
            printf("%s %3lld: id %6d  %9.3f ms%s  cache %lld tokens, %.3f MiB per layer\n",
                   t ? "token " : "prefill", (long long)t, seq[C + t], ms[t], attn_s,
                   (long long)sz.cache_tokens, (double)sz.cache_bytes_layer / 1048576.0);
    }

    /* The decode steps' times, and what each must read: every weight once and the caches'
     * tokens (the new one included) at the cache's element size. */
    const int64_t steps = T - 1;
    double mean = 0.0, cache_read = 0.0;
    const double elem = c->cache_dtype == CLATTN_DTYPE_F32 ? 4.0 : 2.0;
    for (int64_t t = 1; t < T; t++) {
        mean += ms[t] / (double)steps;
        cache_read +=
            (double)(c->layers * (C + t) * c->kv_heads * 2 * c->head_dim) * elem / (double)steps;
    }
    const double prefill = ms[0], med = median(ms + 1, steps), attn_med = median(attn + 1, steps);
    char attn_s[32] = "-"; /* without --profile, not measured */
    if (c->profile) snprintf(attn_s, sizeof attn_s, "%.3f", attn_med);
    const double bytes = (double)sz.weight_bytes + cache_read;
    const double attn_bytes = (double)sz.attn_weight_bytes + cache_read;

    if (o.check) {
        double worst = 0.0;
        int bad = 0;
        for (int64_t t = 0; t < T; t++) {
            int32_t tok;
            if (gen_model_run(m, seq, C + t, 0, &tok, ref)) goto done;
            bad += check_step(t, &logits[t * V], ref, V, seq[C + t], o.tol, &worst);
        }
        printf("check: %lld steps recomputed without the cache: %s (largest logit error %.2e of "
               "the largest logit, tol %.1e)\n",
               (long long)T, bad ? "FAILED" : "passed", worst, o.tol);
        if (bad) goto done;
    }
    printf("summary: kv_heads=%lld cache_dtype=%s context=%lld tokens=%lld prefill_ms=%.3f "
           "decode_ms_median=%.3f decode_ms_mean=%.3f attn_ms_median=%s cache_bytes_layer=%lld "
           "cache_bytes_total=%lld weight_bytes=%lld bytes_per_token=%.0f "
           "attn_bytes_per_token=%.0f gbps=%.3f\n",
           (long long)c->kv_heads, dtype_names[c->cache_dtype], (long long)C, (long long)T, prefill,
           med, mean, attn_s, (long long)sz.cache_bytes_layer, (long long)sz.cache_bytes_total,
           (long long)sz.weight_bytes, bytes, attn_bytes, med > 0 ? bytes / (med * 1e6) : 0.0);
    rc = 0;
done:
    gen_model_destroy(m);
    clattn_context_destroy(ctx);
    free(seq), free(ms), free(attn), free(logits), free(ref);
    return rc;
}
