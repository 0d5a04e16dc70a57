/* test_sdpa_validate.c: the SDPA front end's refusals and its event contract. Bad descriptors,
 * overflowing sizes, short and aliased buffers, impossible tiles and a naive problem whose score
 * matrix cannot be allocated must each return the right status with a message, and must leave
 * the caller's output buffers exactly as they were. A call waiting on a user event must not run
 * before the event completes, and its own event must complete with a correct result. */
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define B_   2
#define H_   4
#define HKV_ 2
#define S_   23
#define D_   32

static clattn_context *ctx;
static cl_mem bq, bk, bv, bm, bo, bl, small, tiny;
static float *hq, *hk, *hv, *hm;

static cl_mem buffer(int64_t n, const float *init) {
    cl_int err;
    cl_mem m = clCreateBuffer(clattn_context_cl_context(ctx),
                              CL_MEM_READ_WRITE | (init ? CL_MEM_COPY_HOST_PTR : 0),
                              (size_t)n * sizeof(float), (void *)init, &err);
    if (err != CL_SUCCESS) {
        printf("FAIL: clCreateBuffer %d\n", err);
        exit(1);
    }
    return m;
}

static void base_desc(clattn_sdpa_desc *d) {
    clattn_sdpa_desc_init(d, sizeof *d);
    d->batch = B_;
    d->heads = H_;
    d->kv_heads = HKV_;
    d->seq_q = d->seq_kv = S_;
    d->head_dim = D_;
}

/* Calls clattn_sdpa with the standard buffers and expects `want`. */
static void expect(const char *what, const clattn_sdpa_desc *d, cl_mem q, cl_mem k, cl_mem v,
                   cl_mem m, cl_mem o, cl_mem l, clattn_status want) {
    cl_event ev = NULL;
    clattn_status st = clattn_sdpa(ctx, d, q, k, v, m, o, l, 0, NULL, &ev);
    const char *msg = clattn_context_last_error(ctx);
    TU_CHECK(st == want && ev == NULL && (want == CLATTN_SUCCESS || msg[0]),
             "%s -> %s (want %s): %s", what, clattn_status_string(st), clattn_status_string(want),
             msg);
    if (ev) clReleaseEvent(ev);
}

static void bad_descriptors(void) {
    clattn_sdpa_desc d;
    const struct {
        const char *name;
        int field;
        int64_t value;
        clattn_status want;
    } sizes[] = {
        {"batch 0", 0, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"heads -1", 1, -1, CLATTN_ERROR_INVALID_ARGUMENT},
        {"kv_heads 0", 2, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"seq_q 0", 3, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"seq_kv -5", 4, -5, CLATTN_ERROR_INVALID_ARGUMENT},
        {"head_dim 0", 5, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"head_dim 257", 5, 257, CLATTN_ERROR_UNSUPPORTED},
        {"head_dim_v 300", 6, 300, CLATTN_ERROR_UNSUPPORTED},
        {"head_dim_v -1", 6, -1, CLATTN_ERROR_INVALID_ARGUMENT},
        {"kv_heads 3 (4 % 3 != 0)", 2, 3, CLATTN_ERROR_SHAPE_MISMATCH},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        base_desc(&d);
        switch (sizes[i].field) {
        case 0:
            d.batch = sizes[i].value;
            break;
        case 1:
            d.heads = sizes[i].value;
            break;
        case 2:
            d.kv_heads = sizes[i].value;
            break;
        case 3:
            d.seq_q = sizes[i].value;
            break;
        case 4:
            d.seq_kv = sizes[i].value;
            break;
        case 5:
            d.head_dim = sizes[i].value;
            break;
        default:
            d.head_dim_v = sizes[i].value;
            break;
        }
        expect(sizes[i].name, &d, bq, bk, bv, NULL, bo, bl, sizes[i].want);
    }
    base_desc(&d);
    d.scale = NAN;
    expect("scale NaN", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    d.scale = INFINITY;
    expect("scale inf", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    base_desc(&d);
    d.algo = (clattn_algo)7;
    expect("algo 7", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    base_desc(&d);
    d.flavour = (clattn_flavour)9;
    expect("flavour 9", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    base_desc(&d);
    d.block_q = -1;
    expect("block_q -1", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    base_desc(&d);
    d.has_mask = 1;
    d.mask_batch = 3;
    expect("mask_batch 3 of batch 2", &d, bq, bk, bv, bm, bo, bl, CLATTN_ERROR_SHAPE_MISMATCH);
    d.mask_batch = 1;
    d.mask_heads = 2;
    expect("mask_heads 2 of heads 4", &d, bq, bk, bv, bm, bo, bl, CLATTN_ERROR_SHAPE_MISMATCH);
    d.mask_heads = 1;
    expect("has_mask without a mask", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    d.has_mask = 0;
    expect("mask without has_mask", &d, bq, bk, bv, bm, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    base_desc(&d);
    d.q_strides[1] = -4;
    expect("negative q stride", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    base_desc(&d);
    d.k_strides[2] = D_ - 1;
    expect("k seq stride < D", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    base_desc(&d);
    d.out_strides[0] = H_ * S_ * D_;
    d.out_strides[1] = D_; /* heads and rows on top of each other */
    d.out_strides[2] = D_;
    expect("overlapping out strides", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    base_desc(&d);
    d.batch = INT64_MAX / 4;
    expect("batch INT64_MAX/4 overflows", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_OVERFLOW);
    base_desc(&d);
    /* q, k, v fit int64 but the mask [B, Hq, Sq, Skv] does not (4 * 2^62 elements); the mask's
       strides were once formed unchecked (UBSan found it through fuzz_api). */
    d.seq_q = d.seq_kv = (int64_t)1 << 31;
    d.has_mask = 1;
    expect("mask of 4 * 2^62 elements", &d, bq, bk, bv, bm, bo, bl, CLATTN_ERROR_OVERFLOW);
    base_desc(&d);
    /* A window with Skv = INT64_MAX: Sq + Skv (a window side's reach) once overflowed. */
    d.seq_kv = INT64_MAX;
    d.window = 1;
    d.window_left = 4;
    expect("window with seq_kv INT64_MAX", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_OVERFLOW);
    base_desc(&d);
    d.seq_q = d.seq_kv = (int64_t)1 << 40;
    clattn_sdpa_plan plan;
    clattn_status st = clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
    TU_CHECK(st == CLATTN_ERROR_OVERFLOW || st == CLATTN_ERROR_OUT_OF_MEMORY,
             "plan of 2^40 x 2^40 -> %s: %s", clattn_status_string(st),
             clattn_context_last_error(ctx));
    TU_CHECK(clattn_sdpa(NULL, &d, bq, bk, bv, NULL, bo, bl, 0, NULL, NULL) ==
                 CLATTN_ERROR_INVALID_ARGUMENT,
             "NULL context");
    expect("NULL desc", NULL, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    base_desc(&d);
    expect("NULL q", &d, NULL, bk, bv, NULL, bo, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    expect("out aliases q", &d, bq, bk, bv, NULL, bq, bl, CLATTN_ERROR_INVALID_ARGUMENT);
    expect("lse aliases out", &d, bq, bk, bv, NULL, bo, bo, CLATTN_ERROR_INVALID_ARGUMENT);
    st = clattn_sdpa(ctx, &d, bq, bk, bv, NULL, bo, bl, 1, NULL, NULL);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "num_wait 1 with no list -> %s",
             clattn_status_string(st));
}

static void short_buffers(void) {
    clattn_sdpa_desc d;
    base_desc(&d);
    d.has_mask = 1;
    expect("short q", &d, small, bk, bv, bm, bo, bl, CLATTN_ERROR_BUFFER_TOO_SMALL);
    expect("short k", &d, bq, small, bv, bm, bo, bl, CLATTN_ERROR_BUFFER_TOO_SMALL);
    expect("short v", &d, bq, bk, small, bm, bo, bl, CLATTN_ERROR_BUFFER_TOO_SMALL);
    expect("short mask", &d, bq, bk, bv, small, bo, bl, CLATTN_ERROR_BUFFER_TOO_SMALL);
    expect("short out", &d, bq, bk, bv, bm, small, bl, CLATTN_ERROR_BUFFER_TOO_SMALL);
    expect("short lse", &d, bq, bk, bv, bm, bo, tiny, CLATTN_ERROR_BUFFER_TOO_SMALL);
    /* the same strides make q one element longer than its buffer */
    d.q_strides[2] = D_ + 1;
    expect("q with padded rows in an unpadded buffer", &d, bq, bk, bv, bm, bo, bl,
           CLATTN_ERROR_BUFFER_TOO_SMALL);
}

static void impossible_plans(void) {
    clattn_sdpa_desc d;
    base_desc(&d);
    d.batch = d.heads = d.kv_heads = 1;
    d.seq_q = d.seq_kv = 65536;
    d.head_dim = 64;
    d.algo = CLATTN_ALGO_NAIVE;
    clattn_sdpa_plan plan;
    clattn_status st = clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
    const char *msg = clattn_context_last_error(ctx);
    TU_CHECK(st == CLATTN_ERROR_OUT_OF_MEMORY && strstr(msg, "17179869184"),
             "naive N=65536 refuses, naming the 16 GiB S: %s: %s", clattn_status_string(st), msg);
    d.algo = CLATTN_ALGO_FLASH2;
    st = clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
    TU_CHECK(st == CLATTN_SUCCESS && plan.scratch_bytes == 0, "flash2 N=65536 plans, no scratch");
    base_desc(&d);
    d.algo = CLATTN_ALGO_FLASH2;
    d.flavour = CLATTN_FLAVOUR_CPU;
    d.block_q = 5;
    expect("CPU flavour tile 5x64", &d, bq, bk, bv, NULL, bo, bl, CLATTN_ERROR_UNSUPPORTED);
}

/* The wait list holds the call back; the returned event completes with the right answer. */
static void events(clattn_algo algo, clattn_flavour fl) {
    clattn_sdpa_desc d;
    base_desc(&d);
    d.causal = 1;
    d.algo = algo;
    d.flavour = fl;
    cl_int err;
    cl_event user = clCreateUserEvent(clattn_context_cl_context(ctx), &err), ev = NULL;
    const int64_t no = B_ * H_ * S_ * D_, nl = B_ * H_ * S_;
    float *o = tu_alloc_floats(no), *l = tu_alloc_floats(nl);
    tu_poison(o, no);
    tu_poison(l, nl);
    cl_mem dout = buffer(no, o), dl = buffer(nl, l);
    clattn_status st = clattn_sdpa(ctx, &d, bq, bk, bv, NULL, dout, dl, 1, &user, &ev);
    TU_CHECK(st == CLATTN_SUCCESS && ev, "algo %d: enqueued behind a user event%s%s", (int)algo,
             st ? ": " : "", st ? clattn_context_last_error(ctx) : "");
    if (st == CLATTN_SUCCESS) {
        usleep(200000);
        cl_int state = CL_COMPLETE;
        clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL);
        TU_CHECK(state != CL_COMPLETE, "algo %d: not complete while the user event is pending",
                 (int)algo);
        clSetUserEventStatus(user, CL_COMPLETE);
        clWaitForEvents(1, &ev);
        clReleaseEvent(ev);
        cl_command_queue queue = clattn_context_queue(ctx);
        clEnqueueReadBuffer(queue, dout, CL_TRUE, 0, (size_t)no * 4, o, 0, NULL, NULL);
        clEnqueueReadBuffer(queue, dl, CL_TRUE, 0, (size_t)nl * 4, l, 0, NULL, NULL);
        sdpa_ref_problem rp = {
            B_,  H_,  HKV_, S_, S_, D_, D_,  1.0 / sqrt(D_), 1, hq,   hk, hv, NULL, {0}, {0},
            {0}, {0}, 0,    0,  0,  0,  0.0, NULL,           0, NULL, 0};
        sdpa_ref_contiguous(H_, S_, D_, rp.q_st);
        sdpa_ref_contiguous(HKV_, S_, D_, rp.k_st);
        sdpa_ref_contiguous(HKV_, S_, D_, rp.v_st);
        double *ro = malloc((size_t)no * sizeof(double)), *rl = malloc((size_t)nl * 8);
        sdpa_ref(&rp, ro, rl);
        TU_CHECK(tu_compare("out", o, ro, no, 2e-4, 1e-3) &&
                     tu_compare("lse", l, rl, nl, 1e-3, 1e-4),
                 "algo %d: result after the wait matches the reference", (int)algo);
        free(ro);
        free(rl);
    } else {
        clSetUserEventStatus(user, CL_COMPLETE);
    }
    clReleaseEvent(user);
    clReleaseMemObject(dout);
    clReleaseMemObject(dl);
    free(o);
    free(l);
}

int main(void) {
    tu_seed();
    ctx = tu_context();
    const int64_t nq = B_ * H_ * S_ * D_, nk = B_ * HKV_ * S_ * D_, nm = B_ * H_ * S_ * S_;
    hq = tu_alloc_floats(nq);
    hk = tu_alloc_floats(nk);
    hv = tu_alloc_floats(nk);
    hm = tu_alloc_floats(nm);
    tu_fill_normal(hq, nq, 1.0f);
    tu_fill_normal(hk, nk, 1.0f);
    tu_fill_normal(hv, nk, 1.0f);
    tu_fill_normal(hm, nm, 1.0f);
    float *ho = tu_alloc_floats(nq), *hl = tu_alloc_floats(B_ * H_ * S_);
    tu_fill_uniform(ho, nq, 5.0f, 6.0f); /* a pattern a failed call must leave alone */
    tu_fill_uniform(hl, B_ * H_ * S_, 5.0f, 6.0f);
    bq = buffer(nq, hq);
    bk = buffer(nk, hk);
    bv = buffer(nk, hv);
    bm = buffer(nm, hm);
    bo = buffer(nq, ho);
    bl = buffer(B_ * H_ * S_, hl);
    small = buffer(nk / 2, hk);
    tiny = buffer(1, hk);

    bad_descriptors();
    short_buffers();
    impossible_plans();

    float *after = tu_alloc_floats(nq);
    cl_command_queue queue = clattn_context_queue(ctx);
    clEnqueueReadBuffer(queue, bo, CL_TRUE, 0, (size_t)nq * 4, after, 0, NULL, NULL);
    int same = memcmp(after, ho, (size_t)nq * 4) == 0;
    clEnqueueReadBuffer(queue, bl, CL_TRUE, 0, (size_t)B_ * H_ * S_ * 4, after, 0, NULL, NULL);
    same &= memcmp(after, hl, (size_t)B_ * H_ * S_ * 4) == 0;
    TU_CHECK(same, "no failed call wrote out or lse");

    events(CLATTN_ALGO_NAIVE, CLATTN_FLAVOUR_AUTO);
    events(CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_AUTO);
    events(CLATTN_ALGO_FLASH1, CLATTN_FLAVOUR_AUTO);

    cl_mem all[] = {bq, bk, bv, bm, bo, bl, small, tiny};
    for (int i = 0; i < 8; i++) clReleaseMemObject(all[i]);
    free(hq);
    free(hk);
    free(hv);
    free(hm);
    free(ho);
    free(hl);
    free(after);
    clattn_context_destroy(ctx);
    return tu_finish();
}
