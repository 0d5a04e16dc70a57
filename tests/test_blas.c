/* test_blas.c: clattn's GEMM wrapper (src/core/blas.c) at offsets and strides, on shapes whose
 * sizes are whole tiles of the CPU parameters and large enough for CLBlast's indirect kernel:
 * there, CLBlast 1.5.3's strided-batched GEMM reads and writes an operand it does not copy from
 * the buffer's start with the packed stride, whatever the caller's offset and stride (the
 * backward GRU projection overwrote the forward one at B T = 1440). Every element of every
 * entry against a float64 product, outputs poisoned, the bytes between entries checked
 * untouched; then the bidirectional GRU at B = 120, T = 12 (the shape examples/bahdanau hit)
 * against the float64 reference. */
#include "core/blas.h"
#include "gru_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row-major C_i = A_i B_i^T (trans_b) or A_i B_i for `count` entries at the given offsets and
 * strides; C's buffer holds `c_len` floats, of which those outside the entries must keep their
 * poison. */
static void check_gemm(clattn_context *ctx, const char *name, int trans_b, int64_t m, int64_t n,
                       int64_t k, int64_t count, int64_t a_off, int64_t a_stride, int64_t b_off,
                       int64_t b_stride, int64_t c_off, int64_t c_stride) {
    const int64_t a_len = a_off + (count - 1) * a_stride + m * k;
    const int64_t b_len = b_off + (count - 1) * b_stride + n * k;
    const int64_t c_len = c_off + (count - 1) * c_stride + m * n + 17;
    float *a = tu_alloc_floats(a_len), *b = tu_alloc_floats(b_len), *c = tu_alloc_floats(c_len);
    double *ref = tu_alloc_zeroed(sizeof(double) * (size_t)(m * n));
    tu_fill_normal(a, a_len, 1.0f);
    tu_fill_normal(b, b_len, 1.0f);
    tu_poison(c, c_len);
    cl_mem da = NULL, db = NULL, dc = NULL;
    clattn_status st = clattn__upload(ctx, a, a_len * 4, "a", &da);
    if (!st) st = clattn__upload(ctx, b, b_len * 4, "b", &db);
    if (!st)
        st = clattn__alloc(ctx, c_len * 4, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, c, "c", &dc);
    clattn_gemm g = {0};
    g.trans_b = trans_b, g.m = m, g.n = n, g.k = k, g.alpha = 1.0f, g.count = count;
    g.a = da, g.a_off = a_off, g.lda = k, g.a_stride = a_stride;
    g.b = db, g.b_off = b_off, g.ldb = trans_b ? k : n, g.b_stride = b_stride;
    g.c = dc, g.c_off = c_off, g.ldc = n, g.c_stride = c_stride;
    if (!st) st = clattn__sgemm_batched(ctx, &g, 0, NULL, name);
    if (!st) st = clattn__download(ctx, dc, c, c_len * 4, 0, NULL, "c");
    if (TU_CHECK(st == CLATTN_SUCCESS, "%s: runs (%s)", name, clattn_context_last_error(ctx))) {
        int ok = 1;
        for (int64_t e = 0; e < count; e++) {
            const float *ae = a + a_off + e * a_stride, *be = b + b_off + e * b_stride;
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t l = 0; l < k; l++)
                        s += (double)ae[i * k + l] * (trans_b ? be[j * k + l] : be[l * n + j]);
                    ref[i * n + j] = s;
                }
            char what[128];
            snprintf(what, sizeof what, "%s entry %lld", name, (long long)e);
            ok &= tu_compare(what, c + c_off + e * c_stride, ref, m * n, 1e-4, 1e-5);
        }
        /* Everything outside the entries keeps its poison (NaN). */
        int64_t touched = 0;
        for (int64_t i = 0; i < c_len; i++) {
            const int64_t rel = i - c_off;
            const int inside = rel >= 0 && rel % c_stride < m * n && rel / c_stride < count;
            touched += !inside && !isnan(c[i]);
        }
        TU_CHECK(ok && touched == 0,
                 "%s: %lldx%lldx%lld x%lld, every element; %lld written "
                 "outside the entries",
                 name, (long long)m, (long long)n, (long long)k, (long long)count,
                 (long long)touched);
    }
    clattn__release_mem(&da), clattn__release_mem(&db), clattn__release_mem(&dc);
    free(a), free(b), free(c), free(ref);
}

static void check_birnn(clattn_context *ctx, int64_t B, int64_t T, int64_t Din, int64_t H) {
    float *x = tu_alloc_floats(B * T * Din), *out = tu_alloc_floats(B * T * 2 * H);
    float *w[2][4];
    const int64_t sizes[4] = {3 * H * Din, 3 * H * H, 3 * H, 3 * H};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 4; i++) {
            w[d][i] = tu_alloc_floats(sizes[i]);
            tu_fill_normal(w[d][i], sizes[i], 0.3f);
        }
    tu_fill_normal(x, B * T * Din, 1.0f);
    tu_poison(out, B * T * 2 * H);
    double *ref = tu_alloc_zeroed(sizeof(double) * (size_t)(B * T * 2 * H));
    clattn_gru_desc d;
    clattn_gru_desc_init(&d, sizeof d);
    d.batch = B, d.seq = T, d.input_dim = Din, d.hidden = H;
    const clattn_gru_host_weights fw = {w[0][0], w[0][1], w[0][2], w[0][3]},
                                  bw = {w[1][0], w[1][1], w[1][2], w[1][3]};
    clattn_status st = clattn_birnn_gru_host(ctx, &d, x, &fw, &bw, NULL, out);
    const float *const rf[4] = {w[0][0], w[0][1], w[0][2], w[0][3]};
    const float *const rb[4] = {w[1][0], w[1][1], w[1][2], w[1][3]};
    if (TU_CHECK(st == CLATTN_SUCCESS, "birnn B=%lld T=%lld runs", (long long)B, (long long)T) &&
        TU_CHECK(ref_birnn_gru(B, T, Din, H, x, rf, rb, NULL, ref) == 0, "reference")) {
        char what[96];
        snprintf(what, sizeof what, "birnn B=%lld T=%lld Din=%lld H=%lld (B T a multiple of 32)",
                 (long long)B, (long long)T, (long long)Din, (long long)H);
        tu_compare(what, out, ref, B * T * 2 * H, 1e-5, 1e-5);
    }
    for (int dd = 0; dd < 2; dd++)
        for (int i = 0; i < 4; i++) free(w[dd][i]);
    free(x), free(out), free(ref);
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    /* The GRU's two input projections: single GEMMs into one buffer, the second at an offset
     * (strides as the packed sizes: CLBlast refuses 0 even for one entry). */
    const int64_t M = 1440, N = 96, K = 16;
    check_gemm(ctx, "single, C at 0", 1, M, N, K, 1, 0, M * K, 0, N * K, 0, M * N);
    check_gemm(ctx, "single, C at an offset", 1, M, N, K, 1, 0, M * K, 0, N * K, M * N, M * N);
    check_gemm(ctx, "single, A and B at offsets", 1, M, N, K, 1, 64, M * K, 32, N * K, 0, M * N);
    /* Batches: packed from 0 (CLBlast's batched call), then with offsets and gaps (one call per
     * entry), both on whole tiles past the indirect threshold. */
    check_gemm(ctx, "batch, packed", 1, 256, 96, 128, 3, 0, 256 * 128, 0, 96 * 128, 0, 256 * 96);
    check_gemm(ctx, "batch, offsets and gaps", 1, 256, 96, 128, 3, 128, 256 * 128 + 64, 96 * 128,
               96 * 128, 256 * 96, 256 * 96 + 32);
    check_gemm(ctx, "batch, B not transposed, C strided", 0, 256, 96, 128, 2, 0, 256 * 128, 0,
               96 * 128, 0, 2 * 256 * 96);
    check_birnn(ctx, 120, 12, 16, 32);
    clattn_context_destroy(ctx);
    return tu_finish();
}
