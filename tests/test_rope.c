/* test_rope.c: rotary position embeddings (include/clattn_rope.h) against the reference in
 * tests/ref/rope_ref.c (angles in long double).
 *   - clattn_rope and clattn_rope_host: both pairings, rotary_dim < head_dim (the tail copied),
 *     in place and out of place, contiguous, projection [B, S, H, D] and padded layouts (the
 *     gaps must come back bit for bit), f32/f16/bf16 storage (the reference on the rounded
 *     inputs), positions [seq] and [batch, seq], negative, up to +-2^20 and near +-2^31, theta
 *     and position_scale other than the defaults; head dims 2, 6, 64, 128, 256, seq 1, 59,
 *     heads 3. Outputs poisoned, every element checked; on the case with positions to 2^20 a
 *     plain float32 angle is shown to miss the tolerance (so the test can tell).
 *   - refusals: every bad input of the header with its status, a message, and the output
 *     buffer unchanged.
 * The KV cache's rotating append (the same angle routine in cl/kv_cache.cl) is checked in
 * tests/test_kv_cache.c, on caches whose host shadow holds K rotated by this reference. */
#include "rope_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { CONTIG, PROJ, PADDED };      /* layouts of in and out */
enum { POS_SEQ, POS_2_20, POS_31 }; /* positions: around 0, to +-2^20, near +-2^31 */

typedef struct {
    const char *name;
    int64_t B, H, S, D, R;
    clattn_rope_style style;
    clattn_dtype dtype;
    int in_layout, out_layout, in_place, per_batch, pos_kind;
    double theta, scale;
    int device; /* the cl_mem form behind a user event (else the host form) */
} rope_case;

static const rope_case cases[] = {
    {"NEOX f32 D128 out of place, positions -29..29", 2, 3, 59, 128, 0, CLATTN_ROPE_NEOX,
     CLATTN_DTYPE_F32, CONTIG, CONTIG, 0, 0, POS_SEQ, 10000.0, 1.0, 0},
    {"GPTJ f32 D64 R32 in place, projection layout, [batch, seq] positions to +-2^20", 2, 3, 17, 64,
     32, CLATTN_ROPE_GPTJ, CLATTN_DTYPE_F32, PROJ, PROJ, 1, 1, POS_2_20, 10000.0, 1.0, 1},
    {"NEOX f16 D256 R192 projection in, contiguous out, positions to +-2^20, theta 5e5", 1, 2, 7,
     256, 192, CLATTN_ROPE_NEOX, CLATTN_DTYPE_F16, PROJ, CONTIG, 0, 0, POS_2_20, 500000.0, 1.0, 0},
    {"GPTJ bf16 D6 R4 in place, padded, seq 1", 3, 3, 1, 6, 4, CLATTN_ROPE_GPTJ, CLATTN_DTYPE_BF16,
     PADDED, PADDED, 1, 0, POS_2_20, 10000.0, 1.0, 0},
    {"NEOX f32 D2 heads 3 seq 59, padded out, [batch, seq] positions, scale 0.25", 2, 3, 59, 2, 0,
     CLATTN_ROPE_NEOX, CLATTN_DTYPE_F32, CONTIG, PADDED, 0, 1, POS_SEQ, 10000.0, 0.25, 1},
    {"GPTJ f32 D128 positions near +-2^31", 1, 1, 16, 128, 0, CLATTN_ROPE_GPTJ, CLATTN_DTYPE_F32,
     CONTIG, CONTIG, 0, 0, POS_31, 10000.0, 1.0, 0},
    {"NEOX bf16 D6 projection in, padded out, [batch, seq] positions", 2, 3, 5, 6, 6,
     CLATTN_ROPE_NEOX, CLATTN_DTYPE_BF16, PROJ, PADDED, 0, 1, POS_2_20, 10000.0, 1.0, 1},
    {"GPTJ f16 D128 R64 in place, [batch, seq] positions near +-2^31", 2, 2, 9, 128, 64,
     CLATTN_ROPE_GPTJ, CLATTN_DTYPE_F16, CONTIG, CONTIG, 1, 1, POS_31, 10000.0, 1.0, 1},
    {"NEOX f32 D6 R2 theta 1.5 scale 3, positions to +-2^20", 1, 3, 11, 6, 2, CLATTN_ROPE_NEOX,
     CLATTN_DTYPE_F32, PROJ, PROJ, 0, 0, POS_2_20, 1.5, 3.0, 0},
};

static int64_t elem_bytes(clattn_dtype t) {
    return t == CLATTN_DTYPE_F32 ? 4 : 2;
}

/* Element i of a buffer of storage type t. */
static void put(clattn_dtype t, void *buf, int64_t i, float x) {
    if (t == CLATTN_DTYPE_F32) {
        memcpy((char *)buf + 4 * i, &x, 4);
    } else {
        const uint16_t h = t == CLATTN_DTYPE_F16 ? tu_f2h(x) : tu_f2b(x);
        memcpy((char *)buf + 2 * i, &h, 2);
    }
}

static float get(clattn_dtype t, const void *buf, int64_t i) {
    if (t == CLATTN_DTYPE_F32) {
        float x;
        memcpy(&x, (const char *)buf + 4 * i, 4);
        return x;
    }
    uint16_t h;
    memcpy(&h, (const char *)buf + 2 * i, 2);
    return t == CLATTN_DTYPE_F16 ? tu_h2f(h) : tu_b2f(h);
}

/* Element strides of (batch, head, token) of a layout; the span in elements. */
static int64_t layout(int kind, const rope_case *c, int64_t st[3]) {
    if (kind == PROJ) {
        st[0] = c->S * c->H * c->D, st[1] = c->D, st[2] = c->H * c->D;
    } else if (kind == PADDED) { /* gaps after every row, head and batch entry */
        st[2] = c->D + 3, st[1] = c->S * st[2] + 2, st[0] = c->H * st[1] + 5;
    } else {
        st[0] = c->H * c->S * c->D, st[1] = c->S * c->D, st[2] = c->D;
    }
    return (c->B - 1) * st[0] + (c->H - 1) * st[1] + (c->S - 1) * st[2] + c->D;
}

static void fill_positions(const rope_case *c, int32_t *pos, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const int64_t t = i % c->S, b = i / c->S;
        if (c->pos_kind == POS_SEQ) {
            pos[i] = (int32_t)(t - c->S / 2 + 7 * b);
        } else if (c->pos_kind == POS_2_20) { /* both ends, then random */
            pos[i] = i == 0   ? (1 << 20)
                     : i == 1 ? -(1 << 20)
                              : (int32_t)(tu_uniform() * 0x1p21) - (1 << 20);
        } else {
            static const int32_t ends[] = {INT32_MAX,  INT32_MIN, INT32_MAX - 1,
                                           -INT32_MAX, 1000000,   999999999};
            pos[i] = i < 6 ? ends[i] : (int32_t)(int64_t)(tu_uniform() * 0x1p32 - 0x1p31);
        }
    }
}

/* The largest error of a plain float32 angle, (float)p * (float)f, on the same rows: what the
 * table of turns avoids. */
static double naive_error(const rope_case *c, const float *x, const int64_t st[3],
                          const int32_t *pos, const double *ref) {
    const int64_t R = c->R ? c->R : c->D;
    double worst = 0.0;
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->H; h++)
            for (int64_t t = 0; t < c->S; t++) {
                const float *row = x + b * st[0] + h * st[1] + t * st[2];
                const double *r = ref + ((b * c->H + h) * c->S + t) * c->D;
                const float p = (float)pos[(c->per_batch ? b * c->S : 0) + t];
                for (int64_t i = 0; i < R / 2; i++) {
                    const int64_t e0 = c->style ? 2 * i : i, e1 = c->style ? 2 * i + 1 : i + R / 2;
                    const float f = (float)(c->scale * pow(c->theta, -2.0 * (double)i / (double)R));
                    const float a = p * f, y0 = row[e0] * cosf(a) - row[e1] * sinf(a);
                    worst = fmax(worst, fabs(y0 - r[e0]));
                }
            }
    return worst;
}

/* clattn_rope on device copies of in, out and positions, behind a user event. */
static clattn_status run_device(clattn_context *ctx, const clattn_rope_desc *d, void *in,
                                int64_t in_bytes, void *out, int64_t out_bytes, int in_place,
                                const int32_t *pos, int64_t npos) {
    cl_context clc = clattn_context_cl_context(ctx);
    cl_int err;
    const cl_mem_flags f = CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR;
    cl_mem din = clCreateBuffer(clc, f, (size_t)in_bytes, in, &err);
    cl_mem dout = in_place ? din : clCreateBuffer(clc, f, (size_t)out_bytes, out, &err);
    cl_mem dpos = clCreateBuffer(clc, f, (size_t)npos * 4, (void *)pos, &err);
    cl_event gate = clCreateUserEvent(clc, &err), done = NULL;
    clattn_status st = clattn_rope(ctx, d, din, dout, dpos, 1, &gate, &done);
    clSetUserEventStatus(gate, CL_COMPLETE);
    if (st == CLATTN_SUCCESS && !done) st = CLATTN_ERROR_INTERNAL; /* no event given back */
    if (done) clWaitForEvents(1, &done);
    clEnqueueReadBuffer(clattn_context_queue(ctx), dout, CL_TRUE, 0, (size_t)out_bytes, out, 0,
                        NULL, NULL);
    if (done) clReleaseEvent(done);
    clReleaseEvent(gate);
    clReleaseMemObject(din);
    if (!in_place) clReleaseMemObject(dout);
    clReleaseMemObject(dpos);
    return st;
}

static void check_case(clattn_context *ctx, const rope_case *c) {
    const clattn_dtype t = c->dtype;
    const int64_t es = elem_bytes(t), R = c->R ? c->R : c->D, n = c->B * c->H * c->S * c->D;
    int64_t ist[3], ost[3];
    const int64_t in_n = layout(c->in_layout, c, ist), out_n = layout(c->out_layout, c, ost);
    float *x = tu_alloc_floats(in_n); /* the inputs as stored, for the reference */
    tu_fill_uniform(x, in_n, -1.0f, 1.0f);
    unsigned char *in = tu_alloc_zeroed((size_t)(in_n * es));
    for (int64_t i = 0; i < in_n; i++) {
        x[i] = tu_round_to(t, x[i]);
        put(t, in, i, x[i]);
    }
    const int64_t npos = (c->per_batch ? c->B : 1) * c->S;
    int32_t *pos = tu_alloc_zeroed((size_t)npos * sizeof *pos);
    fill_positions(c, pos, npos);
    /* out: poisoned (all bits set: NaN in every type), or in itself; `before` for the gaps */
    unsigned char *out = c->in_place ? in : tu_alloc_zeroed((size_t)(out_n * es));
    if (!c->in_place) memset(out, 0xff, (size_t)(out_n * es));
    unsigned char *before = tu_alloc_zeroed((size_t)(out_n * es));
    memcpy(before, out, (size_t)(out_n * es));

    clattn_rope_desc d;
    clattn_rope_desc_init(&d, sizeof d);
    d.batch = c->B, d.heads = c->H, d.seq = c->S, d.head_dim = c->D, d.rotary_dim = c->R;
    d.style = c->style, d.dtype = t, d.theta = c->theta, d.position_scale = c->scale;
    d.positions_per_batch = c->per_batch;
    if (c->in_layout != CONTIG) memcpy(d.in_strides, ist, sizeof ist);
    if (c->out_layout != CONTIG) memcpy(d.out_strides, ost, sizeof ost);
    const clattn_status st =
        c->device ? run_device(ctx, &d, in, in_n * es, out, out_n * es, c->in_place, pos, npos)
                  : clattn_rope_host(ctx, &d, in, c->in_place ? in : out, pos);
    if (!TU_CHECK(st == CLATTN_SUCCESS, "%s (%s form): %s %s", c->name,
                  c->device ? "device" : "host", clattn_status_string(st),
                  st ? clattn_context_last_error(ctx) : ""))
        goto done;
    float *got = tu_alloc_floats(n);
    double *ref = tu_alloc_zeroed((size_t)n * sizeof *ref);
    unsigned char *row_of =
        tu_alloc_zeroed((size_t)out_n); /* 1 where out has an element of the shape */
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->H; h++)
            for (int64_t s = 0; s < c->S; s++) {
                const int64_t r = ((b * c->H + h) * c->S + s) * c->D;
                const int64_t o = b * ost[0] + h * ost[1] + s * ost[2];
                rope_ref_row(c->D, R, c->style == CLATTN_ROPE_GPTJ, c->theta, c->scale,
                             pos[(c->per_batch ? b * c->S : 0) + s],
                             x + b * ist[0] + h * ist[1] + s * ist[2], ref + r);
                for (int64_t e = 0; e < c->D; e++) {
                    got[r + e] = get(t, out, o + e);
                    row_of[o + e] = 1;
                }
            }
    /* float32: about 4 ulps of 1 (inputs in [-1, 1]; sin and cos within an ulp, two products
     * and a sum rounded; seen: up to 1.6e-7); near 2^31 also the frequency's rounding to double,
     * 2^-53 relative, which is up to 2^31 * 2^-53 rad = 2.4e-7 there. The narrow types add
     * half an ulp of the result. */
    const double atol = c->pos_kind == POS_31 ? 8e-7 : 5e-7;
    const double rtol = t == CLATTN_DTYPE_F16 ? 0x1p-11 : t == CLATTN_DTYPE_BF16 ? 0x1p-8 : 0.0;
    double worst = 0.0; /* the largest error past the storage rounding, for the log */
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(got[i] - ref[i]) - rtol * fabs(ref[i]));
    TU_CHECK(tu_compare("out", got, ref, n, atol, rtol * (1.0 + 1e-6)),
             "%s: every element matches the reference (largest error %.3g%s, tolerance %.3g)",
             c->name, worst, rtol > 0 ? " past half an ulp of the type" : "", atol);
    int64_t gaps = 0, kept = 0;
    for (int64_t i = 0; i < out_n; i++)
        if (!row_of[i]) {
            gaps++;
            kept += memcmp(out + i * es, before + i * es, (size_t)es) == 0;
        }
    TU_CHECK(kept == gaps, "%s: %lld of %lld elements between the rows left as they were", c->name,
             (long long)kept, (long long)gaps);
    if (c->pos_kind == POS_2_20 && t == CLATTN_DTYPE_F32 && c->D >= 64) {
        const double e = naive_error(c, x, ist, pos, ref);
        TU_CHECK(e > 100 * atol, "%s: a float32 angle p * f would be off by %.3g here", c->name, e);
    }
    free(got), free(ref), free(row_of);
done:
    free(x), free(pos), free(before);
    if (!c->in_place) free(out);
    free(in);
}

/* ---- Refusals ---- */

/* A valid call the refusals each break one thing of: B 2, H 3, S 5, D 8, contiguous f32. */
typedef struct {
    clattn_context *ctx;
    cl_mem in, out, pos, small;
    float poison[2 * 3 * 5 * 8];
} refusal_bench;

static void refuse(refusal_bench *rb, const char *what, const clattn_rope_desc *d, cl_mem in,
                   cl_mem out, cl_mem pos, cl_uint nw, const cl_event *wl, clattn_status want) {
    clattn_status st = clattn_rope(rb->ctx, d, in, out, pos, nw, wl, NULL);
    float now[2 * 3 * 5 * 8];
    clEnqueueReadBuffer(clattn_context_queue(rb->ctx), rb->out, CL_TRUE, 0, sizeof now, now, 0,
                        NULL, NULL);
    const char *msg = clattn_context_last_error(rb->ctx);
    TU_CHECK(st == want && msg[0] && memcmp(now, rb->poison, sizeof now) == 0,
             "refused, %s: %s (want %s), out unchanged: %s", what, clattn_status_string(st),
             clattn_status_string(want), msg);
}

static void check_refusals(clattn_context *ctx) {
    enum { B = 2, H = 3, S = 5, D = 8 };
    refusal_bench rb;
    rb.ctx = ctx;
    cl_context clc = clattn_context_cl_context(ctx);
    cl_int err;
    float x[B * H * S * D];
    int32_t pos[B * S];
    tu_fill_uniform(x, B * H * S * D, -1, 1);
    for (int i = 0; i < B * S; i++) pos[i] = i;
    tu_poison(rb.poison, B * H * S * D);
    const cl_mem_flags f = CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR;
    rb.in = clCreateBuffer(clc, f, sizeof x, x, &err);
    rb.out = clCreateBuffer(clc, f, sizeof x, rb.poison, &err);
    rb.pos = clCreateBuffer(clc, f, sizeof(int32_t) * S, pos, &err);
    rb.small = clCreateBuffer(clc, f, sizeof(float) * S * D, x, &err);
    clattn_rope_desc ok, d;
    clattn_rope_desc_init(&ok, sizeof ok);
    ok.batch = B, ok.heads = H, ok.seq = S, ok.head_dim = D;
    const clattn_status INV = CLATTN_ERROR_INVALID_ARGUMENT, SMALL = CLATTN_ERROR_BUFFER_TOO_SMALL;
#define BAD(field, value, want)                                                                    \
    do {                                                                                           \
        d = ok;                                                                                    \
        d.field = value;                                                                           \
        refuse(&rb, #field " = " #value, &d, rb.in, rb.out, rb.pos, 0, NULL, want);                \
    } while (0)
    BAD(struct_size, 0, INV);
    BAD(batch, 0, INV);
    BAD(heads, -1, INV);
    BAD(seq, 0, INV);
    BAD(head_dim, 7, INV);
    BAD(head_dim, 0, INV);
    BAD(head_dim, 258, INV);
    BAD(rotary_dim, 3, INV);
    BAD(rotary_dim, 10, INV);
    BAD(rotary_dim, -2, INV);
    BAD(theta, 0.0, INV);
    BAD(theta, -1.0, INV);
    BAD(theta, NAN, INV);
    BAD(theta, INFINITY, INV);
    BAD(position_scale, 0.0, INV);
    BAD(position_scale, -2.0, INV);
    BAD(position_scale, NAN, INV);
    BAD(position_scale, INFINITY, INV);
    BAD(style, (clattn_rope_style)2, INV);
    BAD(dtype, (clattn_dtype)7, INV);
    BAD(positions_per_batch, 2, INV);
    BAD(in_strides[1], -1, INV);
    BAD(out_strides[2], D - 1, INV);    /* rows shorter than head_dim */
    BAD(out_strides[0], 1, INV);        /* out rows overlapping: a write race */
    BAD(positions_per_batch, 1, SMALL); /* positions holds [seq], not [batch, seq] */
    BAD(batch, INT64_MAX / 4, CLATTN_ERROR_OVERFLOW);
    BAD(in_strides[0], 2 * H * S * D, SMALL);
    d = ok;
    d.theta = 1e-300, d.position_scale = 1e300; /* the last pair's frequency overflows */
    refuse(&rb, "a frequency past double", &d, rb.in, rb.out, rb.pos, 0, NULL, INV);
    refuse(&rb, "desc NULL", NULL, rb.in, rb.out, rb.pos, 0, NULL, INV);
    refuse(&rb, "in NULL", &ok, NULL, rb.out, rb.pos, 0, NULL, INV);
    refuse(&rb, "out NULL", &ok, rb.in, NULL, rb.pos, 0, NULL, INV);
    refuse(&rb, "positions NULL", &ok, rb.in, rb.out, NULL, 0, NULL, INV);
    refuse(&rb, "num_wait 1, wait_list NULL", &ok, rb.in, rb.out, rb.pos, 1, NULL, INV);
    refuse(&rb, "in too small", &ok, rb.small, rb.out, rb.pos, 0, NULL, SMALL);
    d = ok;
    memcpy(d.out_strides, (int64_t[3]){S * H * D, D, H * D}, sizeof d.out_strides);
    refuse(&rb, "in place with other out strides", &d, rb.out, rb.out, rb.pos, 0, NULL, INV);
    TU_CHECK(clattn_rope(rb.ctx, &ok, rb.in, rb.small, rb.pos, 0, NULL, NULL) == SMALL,
             "refused: out too small");
    TU_CHECK(clattn_rope(NULL, &ok, rb.in, rb.out, rb.pos, 0, NULL, NULL) == INV,
             "refused: NULL context");
    float host_out[B * H * S * D];
    memcpy(host_out, rb.poison, sizeof host_out);
    TU_CHECK(clattn_rope_host(ctx, &ok, x, host_out, NULL) == INV &&
                 memcmp(host_out, rb.poison, sizeof host_out) == 0,
             "host form refused: positions NULL, out unchanged");
    d = ok;
    d.head_dim = 9;
    TU_CHECK(clattn_rope_host(ctx, &d, x, host_out, pos) == INV &&
                 memcmp(host_out, rb.poison, sizeof host_out) == 0,
             "host form refused: odd head_dim, out unchanged");
    TU_CHECK(clattn_rope_desc_init(&d, CLATTN_ROPE_DESC_MIN_SIZE - 1) == INV &&
                 clattn_rope_desc_init(NULL, sizeof d) == INV,
             "desc init refuses a short size and NULL");
    clattn_rope_desc_init(&d, sizeof d);
    TU_CHECK(d.theta == 10000.0 && d.position_scale == 1.0 && d.style == CLATTN_ROPE_NEOX &&
                 d.rotary_dim == 0 && d.dtype == CLATTN_DTYPE_F32 && d.positions_per_batch == 0,
             "desc init: theta 10000, scale 1, NEOX, all dims, f32, positions [seq]");
#undef BAD
    clReleaseMemObject(rb.in);
    clReleaseMemObject(rb.out);
    clReleaseMemObject(rb.pos);
    clReleaseMemObject(rb.small);
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(ctx, &cases[i]);
    check_refusals(ctx);
    clattn_context_destroy(ctx);
    return tu_finish();
}
