/* bahdanau.c: the attention loop of "Neural Machine Translation by Jointly Learning to Align and
 * Translate" on the device, with a trained model: a small encoder-decoder that reverses strings
 * of 5-12 digits (trained by examples/train_bahdanau.py, weights in examples/bahdanau_model/ as
 * PyTorch's state_dict .npy files). The model and the decode are in bahdanau_model.c.
 *
 * It decodes fresh random digit strings greedily and reports the accuracy (exact match of the
 * digits and the EOS after them, and per token), and how much of the attention lies on the
 * anti-diagonal (output step i on source position len-1-i, the right alignment for reversal).
 * --plot PREFIX saves the attention of the first four strings for examples/plot_alignment.py.
 *
 * --check (the ctest test) also decodes the test set that train_bahdanau.py saved with PyTorch's
 * outputs, following PyTorch's greedy tokens, and compares every logit and attention weight; it
 * fails when one differs by more than the tolerance, when a greedy choice differs where PyTorch's
 * top two logits are further apart than the tolerance, or when the accuracy on the fixed random
 * set (--seed) is under --min-exact.
 *
 * usage: bahdanau [--model DIR] [--samples N] [--seed S] [--plot PREFIX] [--check]
 *                 [--min-exact F]
 */
#include "bahdanau_model.h"
#include "npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MIN_LEN = 5, MAX_LEN = 12, STEPS = MAX_LEN + 1, PLOTTED = 4 };

/* Tolerances of --check against PyTorch's float32 outputs; why these values: README.md
 * ("A trained example"). Logits are compared relative to the largest |logit| of the set. */
#define TOL_LOGIT_REL 1e-5
#define TOL_ALPHA     1e-5

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) { /* xorshift64*, uniform enough in 0..n-1 for small n */
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32) % n;
}

/* Exact match over the len+1 positions of the target (the reversed digits, then EOS), per-token
 * accuracy over the same positions, and the attention on the anti-diagonal over the len digit
 * steps: the share of steps whose largest weight is at len-1-i, and the mean weight there. */
typedef struct {
    double exact, per_token, diag_argmax, diag_weight;
} scores;

static scores score(int64_t B, const int32_t *src, const int32_t *len, const int32_t *tok,
                    const float *alpha) {
    int64_t exact = 0, right = 0, total = 0, diag = 0, steps = 0;
    double wsum = 0;
    for (int64_t b = 0; b < B; b++) {
        int all = 1;
        for (int i = 0; i <= len[b]; i++) {
            const int32_t want = i < len[b] ? src[b * MAX_LEN + len[b] - 1 - i] : BM_EOS;
            const int ok = tok[b * STEPS + i] == want;
            right += ok, all &= ok, total++;
        }
        exact += all;
        for (int i = 0; i < len[b]; i++) {
            const float *a = alpha + (b * STEPS + i) * MAX_LEN;
            int best = 0;
            for (int j = 1; j < len[b]; j++)
                if (a[j] > a[best]) best = j;
            diag += best == len[b] - 1 - i, wsum += a[len[b] - 1 - i], steps++;
        }
    }
    return (scores){(double)exact / B, (double)right / total, (double)diag / steps, wsum / steps};
}

static int write_npy(const char *prefix, const char *what, clattn_npy_dtype dt, int ndim,
                     const int64_t *shape, const void *data) {
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s_%s.npy", prefix, what);
    if (clattn_npy_write(path, dt, ndim, shape, data, err, sizeof err) == CLATTN_SUCCESS) return 0;
    fprintf(stderr, "bahdanau: %s\n", err);
    return 1;
}

/* Largest |a - b| over n elements, and the number above tol. */
static double max_err(const float *a, const float *b, int64_t n, double tol, int64_t *over) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        if (d > worst || d != d) worst = d != d ? INFINITY : d;
        *over += !(d <= tol);
    }
    return worst;
}

/* The test set against PyTorch's outputs. Returns 0 when every element is within tolerance. */
static int check_pytorch(clattn_context *ctx, const bm_model *m, const char *dir) {
    int64_t shape[3] = {0};
    int32_t *src = bm_read_npy(dir, "test_src", CLATTN_NPY_I32, 2, (int64_t[]){0, MAX_LEN}, shape);
    const int64_t N = src ? shape[0] : 1;
    int32_t *len = bm_read_npy(dir, "test_lengths", CLATTN_NPY_I32, 1, (int64_t[]){N}, NULL);
    int32_t *feed = bm_read_npy(dir, "test_tokens", CLATTN_NPY_I32, 2, (int64_t[]){N, STEPS}, NULL);
    float *lg_ref =
        bm_read_npy(dir, "test_logits", CLATTN_NPY_F32, 3, (int64_t[]){N, STEPS, m->V}, NULL);
    float *al_ref =
        bm_read_npy(dir, "test_alpha", CLATTN_NPY_F32, 3, (int64_t[]){N, STEPS, MAX_LEN}, NULL);
    int32_t *tok = malloc(sizeof(int32_t) * N * STEPS);
    float *lg = malloc(sizeof(float) * N * STEPS * m->V);
    float *al = malloc(sizeof(float) * N * STEPS * MAX_LEN);
    int rc = 1;
    if (!src || !len || !feed || !lg_ref || !al_ref || !tok || !lg || !al) goto done;
    for (int64_t b = 0; b < N; b++)
        if (len[b] < 1 || len[b] > MAX_LEN) {
            fprintf(stderr, "bahdanau: %s/test_lengths.npy: length %d out of 1..%d\n", dir, len[b],
                    MAX_LEN);
            goto done;
        }
    /* Poisoned, so an element the decode fails to write cannot pass. */
    for (int64_t i = 0; i < N * STEPS * m->V; i++) lg[i] = NAN;
    for (int64_t i = 0; i < N * STEPS * MAX_LEN; i++) al[i] = NAN;
    if (bm_decode(ctx, m, N, MAX_LEN, src, len, STEPS, feed, tok, lg, al)) goto done;
    double big = 0;
    for (int64_t i = 0; i < N * STEPS * m->V; i++) big = fmax(big, fabs(lg_ref[i]));
    const double tol_lg = TOL_LOGIT_REL * big;
    int64_t over_lg = 0, over_al = 0, choice = 0, compared = 0;
    const double e_lg = max_err(lg, lg_ref, N * STEPS * m->V, tol_lg, &over_lg);
    const double e_al = max_err(al, al_ref, N * STEPS * MAX_LEN, TOL_ALPHA, &over_al);
    /* Greedy choices, where PyTorch's choice is not within rounding of a tie. */
    for (int64_t r = 0; r < N * STEPS; r++) {
        const float *l = lg_ref + r * m->V;
        float second = -INFINITY;
        for (int64_t k = 0; k < m->V; k++)
            if (k != feed[r]) second = fmaxf(second, l[k]);
        if (l[feed[r]] - second > 2 * tol_lg) compared++, choice += tok[r] != feed[r];
    }
    printf("check against PyTorch (%lld strings, %d steps): logits max |diff| %.2e (tolerance "
           "%.1e = %.0e x the largest |logit| %.1f; %lld over), attention max |diff| %.2e "
           "(tolerance %.0e; %lld over), greedy choices %lld of %lld differ\n",
           (long long)N, STEPS, e_lg, tol_lg, TOL_LOGIT_REL, big, (long long)over_lg, e_al,
           TOL_ALPHA, (long long)over_al, (long long)choice, (long long)compared);
    rc = over_lg || over_al || choice ? 1 : 0;
done:
    free(src), free(len), free(feed), free(lg_ref), free(al_ref), free(tok), free(lg), free(al);
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = "examples/bahdanau_model", *plot = NULL;
    long samples = 1000;
    double min_exact = 0;
    int check = 0, seeded = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--check"))
            check = 1;
        else if (val && !strcmp(a, "--model"))
            dir = val, i++;
        else if (val && !strcmp(a, "--plot"))
            plot = val, i++;
        else if (val && !strcmp(a, "--samples") && (samples = strtol(val, NULL, 10)) > 0)
            i++;
        else if (val && !strcmp(a, "--seed"))
            rng_state = strtoull(val, NULL, 10), seeded = 1, i++;
        else if (val && !strcmp(a, "--min-exact"))
            min_exact = strtod(val, NULL), i++;
        else {
            fprintf(stderr, "usage: bahdanau [--model DIR] [--samples N>0] [--seed S] "
                            "[--plot PREFIX] [--check] [--min-exact F]\n");
            return 2;
        }
    }
    if (!seeded) rng_state = (uint64_t)time(NULL);
    const uint64_t seed = rng_state;
    rng_state = rng_state * 0x9E3779B97F4A7C15ull + 1; /* xorshift needs a non-zero state */

    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(NULL, &ctx);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "bahdanau: no OpenCL device: %s\n", clattn_status_string(st));
        return 1;
    }
    bm_model m;
    int rc = 1;
    if (bm_load(ctx, dir, &m)) goto out;
    printf("model %s: embedding %lld, encoder 2 x %lld, decoder %lld, attention %lld\n", dir,
           (long long)m.E, (long long)m.H, (long long)m.Ds, (long long)m.A);
    if (check && check_pytorch(ctx, &m, dir)) goto out_model;

    /* Fresh random strings of MIN_LEN..MAX_LEN digits, zero padded. */
    const int64_t B = samples;
    int32_t *src = calloc((size_t)B * MAX_LEN, sizeof(int32_t)), *len = malloc(sizeof(int32_t) * B);
    int32_t *tok = malloc(sizeof(int32_t) * B * STEPS);
    float *alpha = malloc(sizeof(float) * B * STEPS * MAX_LEN);
    if (!src || !len || !tok || !alpha) {
        fprintf(stderr, "bahdanau: out of memory\n");
        goto out_arrays;
    }
    for (int64_t b = 0; b < B; b++) {
        len[b] = MIN_LEN + (int32_t)rnd(MAX_LEN - MIN_LEN + 1);
        for (int t = 0; t < len[b]; t++) src[b * MAX_LEN + t] = (int32_t)rnd(10);
    }
    if (bm_decode(ctx, &m, B, MAX_LEN, src, len, STEPS, NULL, tok, NULL, alpha)) goto out_arrays;
    const scores s = score(B, src, len, tok, alpha);
    printf("reversal of %lld random strings of %d-%d digits (seed %llu), greedy on the device: "
           "exact %.4f, per token %.4f\nattention on the anti-diagonal (step i on position "
           "len-1-i): largest weight there in %.4f of the steps, mean weight %.3f\n",
           (long long)B, MIN_LEN, MAX_LEN, (unsigned long long)seed, s.exact, s.per_token,
           s.diag_argmax, s.diag_weight);
    for (int64_t b = 0; b < (B < 3 ? B : 3); b++) {
        printf("  ");
        for (int t = 0; t < len[b]; t++) printf("%d", src[b * MAX_LEN + t]);
        printf(" -> ");
        for (int i = 0; i < STEPS && tok[b * STEPS + i] != BM_EOS; i++)
            printf("%d", tok[b * STEPS + i]);
        printf("\n");
    }
    if (plot) {
        const int64_t P = B < PLOTTED ? B : PLOTTED;
        const int64_t sa[3] = {P, STEPS, MAX_LEN}, sl[1] = {P}, ss[2] = {P, MAX_LEN},
                      so[2] = {P, STEPS};
        if (write_npy(plot, "alpha", CLATTN_NPY_F32, 3, sa, alpha) ||
            write_npy(plot, "lengths", CLATTN_NPY_I32, 1, sl, len) ||
            write_npy(plot, "src", CLATTN_NPY_I32, 2, ss, src) ||
            write_npy(plot, "out", CLATTN_NPY_I32, 2, so, tok))
            goto out_arrays;
        printf("wrote %s_alpha.npy [%lld, %d, %d], %s_lengths.npy, %s_src.npy, %s_out.npy\n", plot,
               (long long)P, STEPS, MAX_LEN, plot, plot, plot);
    }
    rc = s.exact >= min_exact ? 0 : 1;
    if (rc) fprintf(stderr, "bahdanau: exact match %.4f is under %.4f\n", s.exact, min_exact);
out_arrays:
    free(src), free(len), free(tok), free(alpha);
out_model:
    bm_free(&m);
out:
    clattn_context_destroy(ctx);
    return rc;
}
