/* fuzz_api.c: libFuzzer target for clattn's public validation and planning entry points. Each
 * input is read as a recipe for an SDPA or additive descriptor: sizes (small, zero, negative,
 * huge), strides, flags, enums in and out of range, mask shapes, block sizes, algorithm and
 * flavour, the descriptor's struct_size (with or without bytes set past the known struct) and the
 * plan's output size. It calls clattn_sdpa_plan_get and clattn_additive_plan_get, and, only when
 * the problem is tiny, clattn_sdpa_host or clattn_sdpa on exactly sized (or one float too small)
 * buffers, so device work stays rare. One context, created on the first input, on the default
 * device. What it checks besides ASan/UBSan: every refusal is a known clattn_status with a
 * non-empty message from clattn_context_last_error; a refused plan call leaves the caller's plan
 * untouched; a successful one writes exactly `size` bytes (zeros past the struct) and a sane plan;
 * a tiny problem that plans also runs, writes no NaN, and a short buffer is refused as such. Any
 * broken promise aborts (a reported crash). */
#include "fuzz_util.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t byte(reader *r) {
    if (r->n == 0) return 0;
    r->n--;
    return *r->p++;
}

uint64_t raw64(reader *r) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | byte(r);
    return v;
}

/* A size or stride: mostly 0..9, sometimes a value at an edge, sometimes any 64-bit pattern. */
int64_t size_value(reader *r) {
    static const int64_t edges[] = {-1,
                                    -2,
                                    INT64_MIN,
                                    INT64_MAX,
                                    INT32_MAX,
                                    (int64_t)INT32_MAX + 1,
                                    (int64_t)1 << 31,
                                    (int64_t)1 << 32,
                                    (int64_t)1 << 40,
                                    (int64_t)1 << 62,
                                    (int64_t)3037000500, /* its square passes INT64_MAX */
                                    16,
                                    32,
                                    64,
                                    65,
                                    128,
                                    255,
                                    256,
                                    257,
                                    512,
                                    1023,
                                    1024,
                                    4096,
                                    1 << 20,
                                    (1 << 20) + 1};
    const uint8_t b = byte(r);
    if (b < 176) return b % 10;
    if (b == 255) return (int64_t)raw64(r);
    return edges[(b - 176) % (sizeof edges / sizeof edges[0])];
}

/* An enum field: usually in range, sometimes just outside it, sometimes anything. */
int enum_value(reader *r, int last) {
    const uint8_t b = byte(r);
    if (b < 200) return b % (last + 1);
    if (b < 220) return b % 2 ? -1 : last + 1;
    if (b < 240) return b % 2 ? INT_MIN : INT_MAX;
    return (int)(uint32_t)raw64(r);
}

/* A struct size for a struct of `full` bytes whose shortest accepted form is `min` bytes. */
size_t struct_size_value(reader *r, size_t min, size_t full) {
    const uint8_t b = byte(r);
    if (b < 192) return full;
    switch (b % 12) {
    case 0:
        return 0;
    case 1:
        return min - 1;
    case 2:
        return min;
    case 3:
        return min + (byte(r) % (full - min + 1)); /* an older caller's struct */
    case 4:
        return full + 8; /* a newer caller's */
    case 5:
        return full + 1 + byte(r);
    case 6:
        return CLATTN_MAX_STRUCT_SIZE;
    case 7:
        return CLATTN_MAX_STRUCT_SIZE + 1;
    case 8:
        return SIZE_MAX;
    case 9:
        return full - 1;
    default:
        return (size_t)raw64(r);
    }
}

/* libFuzzer's (and ASan's) handlers for deadly signals, as they were before the first input. The
 * OpenCL driver's LLVM installs handlers of its own that end the process on SIGABRT without
 * letting libFuzzer save the input, so they are put back after every call that may load or run
 * LLVM, and before aborting on a broken promise. */
static const int deadly[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
static struct sigaction fuzzer_handlers[sizeof deadly / sizeof deadly[0]];

static void save_handlers(void) {
    for (size_t i = 0; i < sizeof deadly / sizeof deadly[0]; i++)
        sigaction(deadly[i], NULL, &fuzzer_handlers[i]);
}

static void restore_handlers(void) {
    for (size_t i = 0; i < sizeof deadly / sizeof deadly[0]; i++)
        sigaction(deadly[i], &fuzzer_handlers[i], NULL);
}

void require(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_api: broken promise: %s\n", what);
        restore_handlers();
        abort();
    }
}

/* A refusal: a known status and a message for it on this thread. */
void check_refusal(clattn_context *ctx, clattn_status st, const char *call) {
    if (st >= CLATTN_ERROR_INVALID_ARGUMENT && st <= CLATTN_ERROR_TRANSPORT &&
        clattn_context_last_error(ctx)[0] != '\0')
        return;
    fprintf(stderr, "fuzz_api: %s returned %d with message \"%s\"\n", call, (int)st,
            clattn_context_last_error(ctx));
    require(0, "a refusal is a known clattn_status with a message");
}

clattn_context *ctx;
clattn_device_caps caps;

/* Descriptors and plans live in buffers as large as any struct_size or size the library may
 * accept, so every byte it is allowed to read or write exists; the rest is a sentinel. */
#define SENTINEL 0xa5
_Alignas(16) unsigned char desc_mem[ARENA];
static _Alignas(16) unsigned char plan_mem[ARENA];

/* Optionally sets one byte past the known struct (a newer caller's field), then struct_size. */
void finish_desc(reader *r, size_t min, size_t full) {
    const uint8_t b = byte(r);
    if (b >= 224) desc_mem[full + b % 64] = (unsigned char)(1 + byte(r) % 255);
    const size_t s = struct_size_value(r, min, full);
    memcpy(desc_mem, &s, sizeof s);
}

/* Before a plan call: the plan buffer is all sentinel. After: untouched on failure; on success
 * `size` bytes written, zeros past the struct, sentinel beyond. */
static void check_plan_bytes(clattn_status st, size_t size, size_t full) {
    size_t i = 0;
    if (st == CLATTN_SUCCESS) {
        require(size <= CLATTN_MAX_STRUCT_SIZE, "a plan of an accepted size");
        for (i = full; i < size; i++) require(plan_mem[i] == 0, "zeros past the known plan");
        i = size;
    }
    for (; i < ARENA; i++) require(plan_mem[i] == SENTINEL, "nothing written past size");
}

/* Elements spanned by a [B, H, S, dim] tensor with these (already resolved) strides. */
static int64_t span(const int64_t n[3], const int64_t st[3], int64_t dim) {
    return (n[0] - 1) * st[0] + (n[1] - 1) * st[1] + (n[2] - 1) * st[2] + dim;
}

/* The library's default for 0 strides: contiguous [B, H, S, dim]. */
static void resolve(const int64_t in[3], int64_t H, int64_t S, int64_t dim, int64_t out[3]) {
    out[2] = in[2] ? in[2] : dim;
    out[1] = in[1] ? in[1] : S * out[2];
    out[0] = in[0] ? in[0] : H * out[1];
}

float *floats(reader *r, int64_t n, int mask) {
    float *f = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    require(f != NULL, "malloc");
    for (int64_t i = 0; i < n; i++) {
        const uint8_t b = byte(r);
        f[i] = mask && b >= 224 ? -INFINITY : (float)((int)b - 128) / 32.0f;
    }
    return f;
}

static cl_mem buffer(int64_t floats_needed, const float *init, int short_by_one) {
    cl_int err;
    const size_t bytes = sizeof(float) * (size_t)(floats_needed - (short_by_one ? 1 : 0));
    cl_mem m = clCreateBuffer(clattn_context_cl_context(ctx),
                              CL_MEM_READ_WRITE | (init ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                              (void *)init, &err);
    require(m != NULL && err == CL_SUCCESS, "clCreateBuffer");
    return m;
}

/* A tiny problem that planned: run it on host arrays or device buffers of exactly the size its
 * shape and strides span (or, on request, one buffer a float short, which must be refused). */
static void run_tiny(reader *r, const clattn_sdpa_desc *d) {
    const int64_t B = d->batch, Hq = d->heads, Hkv = d->kv_heads, Sq = d->seq_q, Skv = d->seq_kv;
    const int64_t D = d->head_dim, Dv = d->head_dim_v ? d->head_dim_v : D;
    int64_t qs[3], ks[3], vs[3], os[3];
    resolve(d->q_strides, Hq, Sq, D, qs);
    resolve(d->k_strides, Hkv, Skv, D, ks);
    resolve(d->v_strides, Hkv, Skv, Dv, vs);
    resolve(d->out_strides, Hq, Sq, Dv, os);
    const int64_t qn[3] = {B, Hq, Sq}, kn[3] = {B, Hkv, Skv};
    const int64_t nq = span(qn, qs, D), nk = span(kn, ks, D), nv = span(kn, vs, Dv);
    const int64_t no = span(qn, os, Dv), nl = B * Hq * Sq;
    const int64_t nm = d->has_mask ? (d->mask_batch ? d->mask_batch : B) *
                                         (d->mask_heads ? d->mask_heads : Hq) * Sq * Skv
                                   : 0;
    if (nq + nk + nv + no + nm > 8192) return;
    const uint8_t how = byte(r);
    float *q = floats(r, nq, 0), *k = floats(r, nk, 0), *v = floats(r, nv, 0);
    float *mask = d->has_mask ? floats(r, nm, 1) : NULL;
    /* out starts as a finite sentinel (host array and device buffer alike): the elements the
     * output's rows cover must come back without NaN, the gaps strides leave between them
     * exactly as they were (a device buffer made without it held whatever memory was there). */
    float *out = malloc(sizeof(float) * (size_t)no), *lse = calloc((size_t)nl, sizeof(float));
    unsigned char *covered = calloc((size_t)no, 1);
    require(out && lse && covered, "calloc");
    for (int64_t i = 0; i < no; i++) out[i] = -7.0f;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t s = 0; s < Sq; s++)
                memset(covered + b * os[0] + h * os[1] + s * os[2], 1, (size_t)Dv);
    const int with_lse = how & 1;
    clattn_status st;
    if (how & 2) {
        st = clattn_sdpa_host(ctx, d, q, k, v, mask, out, with_lse ? lse : NULL);
    } else {
        /* Device buffers; with `how` bit 2 set, one of them a float short. */
        int short_one = how & 4 ? 1 + (how >> 3) % 6 : 0;
        const int64_t counts[7] = {0, nq, nk, nv, no, with_lse ? nl : 0, nm};
        if (counts[short_one] < 2) short_one = 0; /* none to shorten, or no room to */
        cl_mem bq = buffer(nq, q, short_one == 1), bk = buffer(nk, k, short_one == 2);
        cl_mem bv = buffer(nv, v, short_one == 3), bo = buffer(no, out, short_one == 4);
        cl_mem bl = with_lse ? buffer(nl, NULL, short_one == 5) : NULL;
        cl_mem bm = mask ? buffer(nm, mask, short_one == 6) : NULL;
        cl_event ev = (cl_event)&ev; /* must come back NULL on failure */
        st = clattn_sdpa(ctx, d, bq, bk, bv, bm, bo, bl, 0, NULL, &ev);
        if (short_one) {
            require(st == CLATTN_ERROR_BUFFER_TOO_SMALL, "a buffer a float short is refused");
            require(ev == NULL, "no event on failure");
        }
        if (st == CLATTN_SUCCESS) {
            require(ev != NULL, "an event on success");
            require(clEnqueueReadBuffer(clattn_context_queue(ctx), bo, CL_TRUE, 0,
                                        sizeof(float) * (size_t)no, out, 1, &ev,
                                        NULL) == CL_SUCCESS,
                    "read out");
            if (with_lse)
                require(clEnqueueReadBuffer(clattn_context_queue(ctx), bl, CL_TRUE, 0,
                                            sizeof(float) * (size_t)nl, lse, 0, NULL,
                                            NULL) == CL_SUCCESS,
                        "read lse");
            clReleaseEvent(ev);
        }
        clReleaseMemObject(bq), clReleaseMemObject(bk), clReleaseMemObject(bv);
        clReleaseMemObject(bo);
        if (bl) clReleaseMemObject(bl);
        if (bm) clReleaseMemObject(bm);
    }
    if (st != CLATTN_SUCCESS) {
        check_refusal(ctx, st, "clattn_sdpa");
        /* Validation passed in plan_get, so only a too-short buffer may refuse it. */
        require(st == CLATTN_ERROR_BUFFER_TOO_SMALL, "a call that planned runs");
    } else if (fabsf(d->scale) <= 1e6f) {
        /* Inputs are finite and small, so out and lse hold no NaN. Not checked for huge finite
         * scales: a scale near FLT_MAX overflows the scores to inf and the softmax to NaN (a
         * known limit: the library takes any finite scale and does not guard that overflow). */
        for (int64_t i = 0; i < no; i++)
            require(covered[i] ? !isnan(out[i]) : out[i] == -7.0f,
                    covered[i] ? "no NaN in out" : "gaps between output rows untouched");
        for (int64_t i = 0; with_lse && i < nl; i++) require(!isnan(lse[i]), "no NaN in lse");
    }
    free(q), free(k), free(v), free(mask), free(out), free(lse), free(covered);
}

static void fuzz_sdpa(reader *r) {
    memset(desc_mem, 0, sizeof desc_mem);
    clattn_sdpa_desc *d = (clattn_sdpa_desc *)desc_mem;
    require(clattn_sdpa_desc_init(d, sizeof *d) == CLATTN_SUCCESS, "sdpa desc init");
    d->batch = size_value(r), d->heads = size_value(r), d->kv_heads = size_value(r);
    d->seq_q = size_value(r), d->seq_kv = size_value(r), d->head_dim = size_value(r);
    const uint8_t flags = byte(r);
    d->head_dim_v = flags & 1 ? size_value(r) : 0;
    d->causal = flags >> 1 & 1;
    d->has_mask = flags >> 2 & 1;
    if (d->has_mask) d->mask_batch = size_value(r), d->mask_heads = size_value(r);
    if (flags & 8) {
        int64_t *st[4] = {d->q_strides, d->k_strides, d->v_strides, d->out_strides};
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 3; i++) st[t][i] = byte(r) < 128 ? 0 : size_value(r);
    }
    if (flags & 16) {
        uint32_t bits = (uint32_t)raw64(r);
        memcpy(&d->scale, &bits, sizeof bits); /* any float: NaN, inf, denormal */
    }
    d->algo = (clattn_algo)enum_value(r, CLATTN_ALGO_FLASH2);
    d->flavour = (clattn_flavour)enum_value(r, CLATTN_FLAVOUR_CPU);
    if (flags & 32) d->block_q = size_value(r), d->block_kv = size_value(r);
    if (flags & 64) { /* the options: any window sides, softcap bits, alignment, ALiBi, offset */
        static const float slopes[64] = {0.5f, 0.25f, 0.125f, 0.0625f}; /* the rest 0 */
        const uint8_t o = byte(r);
        d->causal_align = (clattn_causal_align)enum_value(r, CLATTN_CAUSAL_TOP_LEFT);
        d->window = o & 1;
        if (o & 1) d->window_left = size_value(r), d->window_right = size_value(r);
        if (o & 2) {
            uint32_t bits = (uint32_t)raw64(r);
            memcpy(&d->softcap, &bits, sizeof bits);
        }
        /* Slopes are read for [alibi_batch, Hq]: only offered when that fits the array. */
        if ((o & 4) && d->heads >= 1 && d->heads <= 8 && d->batch >= 1 && d->batch <= 8) {
            d->alibi_slopes = slopes;
            d->alibi_batch = o & 8 ? d->batch : 0;
        }
        if (o & 16) {
            d->position_offset = size_value(r);
            if ((o & 32) && d->position_offset != INT64_MIN) d->position_offset *= -1;
        }
    }
    finish_desc(r, CLATTN_SDPA_DESC_MIN_SIZE, sizeof *d);
    const size_t size =
        byte(r) < 224 ? sizeof(clattn_sdpa_plan)
                      : struct_size_value(r, CLATTN_SDPA_PLAN_MIN_SIZE, sizeof(clattn_sdpa_plan));
    const int null_arg = (flags >> 6) % 3; /* 1: NULL desc, 2: NULL plan */

    memset(plan_mem, SENTINEL, sizeof plan_mem);
    clattn_status st = clattn_sdpa_plan_get(
        ctx, null_arg == 1 ? NULL : d, null_arg == 2 ? NULL : (clattn_sdpa_plan *)plan_mem, size);
    check_plan_bytes(st, null_arg == 2 ? 0 : size, sizeof(clattn_sdpa_plan));
    if (st != CLATTN_SUCCESS) {
        check_refusal(ctx, st, "clattn_sdpa_plan_get");
        return;
    }
    require(null_arg == 0, "NULL arguments are refused");
    if (size < sizeof(clattn_sdpa_plan)) return; /* an older caller's plan: fields cut short */
    clattn_sdpa_plan plan;
    memcpy(&plan, plan_mem, sizeof plan);
    require(plan.algo >= CLATTN_ALGO_NAIVE && plan.algo <= CLATTN_ALGO_DECODE, "plan algo");
    /* The forced fields count only when the caller's struct reaches them (else: automatic). */
    const int full = d->struct_size >= sizeof *d;
    require(!full || d->algo == CLATTN_ALGO_AUTO || plan.algo == d->algo, "a forced algo is kept");
    require(plan.flavour == CLATTN_FLAVOUR_GPU || plan.flavour == CLATTN_FLAVOUR_CPU, "flavour");
    if (plan.algo == CLATTN_ALGO_NAIVE) {
        require(plan.block_q == 0 && plan.block_kv == 0, "naive has no tiles");
    } else if (plan.algo == CLATTN_ALGO_DECODE) {
        /* rows per kv head (capacity; clattn_sdpa.h: at most 32) and keys per split; tiles cannot
           be forced */
        require(plan.block_q >= 1 && plan.block_q <= 32 && plan.block_kv >= 1 && plan.splits >= 1,
                "decode rows, split size and splits");
        require(!full || (d->block_q == 0 && d->block_kv == 0), "decode with forced tiles refused");
    } else {
        require(plan.block_q >= 1 && plan.block_kv >= 1, "flash tiles >= 1");
        require(!full || d->block_q == 0 || plan.block_q == d->block_q, "forced block_q kept");
        require(!full || d->block_kv == 0 || plan.block_kv == d->block_kv, "forced block_kv kept");
    }
    require(plan.work_group >= 1 && plan.work_group <= caps.max_work_group_size, "work_group");
    require(plan.local_mem_bytes >= 0 && plan.local_mem_bytes <= caps.local_mem_bytes,
            "local memory within the device's");
    require(plan.scratch_bytes >= 0, "scratch >= 0");
    require(plan.global_size[0] >= 1 && plan.global_size[1] >= 1, "global size >= 1");

    /* Device work only for tiny problems of a descriptor the caller sized in full. */
    const int64_t dims[7] = {d->batch,  d->heads,    d->kv_heads,  d->seq_q,
                             d->seq_kv, d->head_dim, d->head_dim_v};
    int tiny = d->struct_size == sizeof *d;
    for (int i = 0; i < 7; i++) tiny = tiny && dims[i] <= 8;
    const int64_t *st3[4] = {d->q_strides, d->k_strides, d->v_strides, d->out_strides};
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 3; i++) tiny = tiny && st3[t][i] <= 256;
    if (tiny) {
        run_tiny(r, d);
        restore_handlers();
    }
}

static void fuzz_additive(reader *r) {
    memset(desc_mem, 0, sizeof desc_mem);
    clattn_additive_desc *d = (clattn_additive_desc *)desc_mem;
    require(clattn_additive_desc_init(d, sizeof *d) == CLATTN_SUCCESS, "additive desc init");
    d->batch = size_value(r), d->seq = size_value(r), d->key_dim = size_value(r);
    d->query_dim = size_value(r), d->attn_dim = size_value(r);
    const uint8_t flags = byte(r);
    if (flags & 1) d->steps = size_value(r);
    d->lengths_type = (clattn_lengths_type)enum_value(r, CLATTN_LENGTHS_INT64);
    d->flavour = (clattn_flavour)enum_value(r, CLATTN_FLAVOUR_CPU);
    if (flags & 2) d->block_t = size_value(r);
    if (flags & 4) d->work_group = size_value(r);
    finish_desc(r, CLATTN_ADDITIVE_DESC_MIN_SIZE, sizeof *d);
    const size_t size = byte(r) < 224 ? sizeof(clattn_additive_plan)
                                      : struct_size_value(r, CLATTN_ADDITIVE_PLAN_MIN_SIZE,
                                                          sizeof(clattn_additive_plan));
    const int null_arg = (flags >> 6) % 3;

    memset(plan_mem, SENTINEL, sizeof plan_mem);
    clattn_status st =
        clattn_additive_plan_get(ctx, null_arg == 1 ? NULL : d,
                                 null_arg == 2 ? NULL : (clattn_additive_plan *)plan_mem, size);
    check_plan_bytes(st, null_arg == 2 ? 0 : size, sizeof(clattn_additive_plan));
    if (st != CLATTN_SUCCESS) {
        check_refusal(ctx, st, "clattn_additive_plan_get");
        return;
    }
    require(null_arg == 0, "NULL arguments are refused");
    if (size < sizeof(clattn_additive_plan)) return;
    clattn_additive_plan plan;
    memcpy(&plan, plan_mem, sizeof plan);
    require(plan.flavour == CLATTN_FLAVOUR_GPU || plan.flavour == CLATTN_FLAVOUR_CPU, "flavour");
    const int full = d->struct_size >= sizeof *d; /* else flavour is AUTO whatever it holds */
    require(!full || d->flavour == CLATTN_FLAVOUR_AUTO || plan.flavour == d->flavour,
            "a forced flavour is kept");
    require(plan.block_t >= 1 && plan.lanes >= 1, "block_t and lanes >= 1");
    require(plan.work_group >= 1 && plan.work_group <= caps.max_work_group_size, "work_group");
    require(plan.flavour == CLATTN_FLAVOUR_GPU || plan.work_group == 1, "CPU flavour: wg 1");
    require(plan.local_mem_bytes >= 0 && plan.local_mem_bytes <= caps.local_mem_bytes,
            "local memory within the device's");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ctx) {
        save_handlers();
        if (clattn_context_create(NULL, &ctx) != CLATTN_SUCCESS) {
            fprintf(stderr, "fuzz_api: no context: %s\n", clattn_context_create_error());
            abort();
        }
        require(clattn_context_caps(ctx, &caps, sizeof caps) == CLATTN_SUCCESS, "caps");
        restore_handlers();
    }
    reader r = {data, size};
    /* The first byte picks the entry points: odd additive, 2 mod 8 the KV cache, 4 mod 8 the
       LSE combine, else SDPA (the seeds' 0 and 1 keep their meaning). */
    const uint8_t which = byte(&r);
    if (which & 1)
        fuzz_additive(&r);
    else if (which % 8 == 2)
        fuzz_kv_cache(&r);
    else if (which % 8 == 4)
        fuzz_combine(&r);
    else
        fuzz_sdpa(&r);
    return 0;
}
