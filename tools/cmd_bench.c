/* cmd_bench.c: `clattn bench`: times attention on random device-resident inputs, with the
 * options of cli_sdpa.h (causal alignment, sliding window, softcap, ALiBi). Warm-up calls
 * (kernel builds, CLBlast tuning, then the cores up to speed: --warmup-ms, default 200 ms; their
 * count is printed as warmup_calls=) then R timed calls; each is timed with OpenCL profiling
 * events (from a marker enqueued just before the call to the end of the call's event) and the
 * median is printed as gflops= and ms=, the fastest and slowest as min_ms= and max_ms= (their
 * spread is the steadiness: README, "Steady timings"), host_ms=: the same calls on the host
 * clock, enqueue to completion, as a cross-check; enqueue_ms=: the median time until clattn's
 * call returned, its host-side overhead; cpu_ms=: the process's CPU time per call, every thread,
 * which a shared machine disturbs far less than wall time), with the
 * device memory the call used: the inputs and outputs the benchmark allocated plus the scratch
 * the plan allocates inside the call. FLOPs: 2*B*Hq*Sq*Skv*(D + Dv), half when causal with
 * Sq = Skv (the usual 4*B*H*N^2*d for D = Dv); with --window, 2*B*Hq*(D + Dv) times the
 * (query, key) pairs that causality and the window leave (the work a kernel that skips the
 * others does). Softcap and ALiBi add no FLOPs to the count: their cost shows in ms=.
 * For decode, gbps= is the bytes of K and V the call must read, divided by the median time:
 * for each sequence, the span of keys its query rows see (its --kv-lens-random length, or Skv,
 * narrowed by causality and the window) x Hkv x (D + Dv) x the K/V element size; tokens_per_s= is B
 * / time (one token per sequence per step). --kv-lens-random draws ragged lengths uniformly
 * in 1..Skv from
 * --seed and prints them; --splits forces the decode path's split count.
 * --dtype f16|bf16 stores q, k, v and out in that type (the inputs rounded from the same random
 * floats); lse stays float32. --kv-dtype sets k and v's type alone, over --dtype; gbps= counts
 * the bytes of that type.
 * --paged PAGE runs the call through a KV cache (include/clattn_kv_cache.h) with pages of PAGE
 * tokens (0: a contiguous cache) of capacity Skv and B slots, in the K/V type, filled first with
 * the random K/V (each sequence to its --kv-lens-random length, or Skv), appended in chunks; only
 * the attention over the cache is timed. The plan line then names the cache:
 * cache=paged|contiguous, page_size=, pages= (held/pool) and cache_bytes=.
 * --layout sets where the tensors lie in their buffers (layout= on the timing line): bhsd
 * (contiguous [B, H, S, dim], the default), bshd ([B, S, H, dim], PyTorch's and most models'
 * order) or qkv (q, k and v with the row stride of a packed q/k/v projection, as the attention
 * layer's views; out as bshd): how a caller's layout costs, e.g. against bhsd in the same run. */
#include "cli_sdpa.h"
#include "cli_timing.h"
#include "cli_util.h"
#include "commands.h"
#include "core/internal.h"
#include "selftest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#define CMD "bench"

/* CPU time of the whole process (the host thread and the OpenCL runtime's worker threads): on
 * a shared machine the cycles a call burns vary far less than its wall time. */
static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* A device buffer of n random values in [-1, 1) stored as t, filled in slices to bound host
 * memory. */
static clattn_status random_buffer(clattn_context *ctx, int64_t n, clattn_dtype t, unsigned seed,
                                   cl_mem *out) {
    const int64_t e = (int64_t)cli_sdpa_dtype_size(t);
    clattn_status st = clattn__alloc(ctx, n * e, CL_MEM_READ_WRITE, NULL, "bench input", out);
    if (st != CLATTN_SUCCESS) return st;
    const int64_t slice = (int64_t)1 << 22;
    float *h = malloc((size_t)(n < slice ? n : slice) * sizeof(float));
    void *stored = t == CLATTN_DTYPE_F32 ? (void *)h : malloc((size_t)(n < slice ? n : slice) * 2);
    if (!h || !stored) {
        free(h);
        if (stored != h) free(stored);
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "bench: host memory");
    }
    for (int64_t at = 0; at < n && st == CLATTN_SUCCESS; at += slice) {
        const int64_t len = n - at < slice ? n - at : slice;
        selftest_fill(h, (size_t)len, seed + (unsigned)(at / slice));
        if (stored != h) cli_sdpa_from_f32(h, len, t, stored);
        cl_int err = clEnqueueWriteBuffer(ctx->queue, *out, CL_TRUE, (size_t)(at * e),
                                          (size_t)(len * e), stored, 0, NULL, NULL);
        if (err != CL_SUCCESS) st = clattn__cl_fail(ctx, err, "bench: writing inputs");
    }
    if (stored != h) free(stored);
    free(h);
    return st;
}

/* What one timed call runs: attention on the buffers b (q, k, v, out, lse), or over a KV cache
 * (b[1] and b[2] unused). */
typedef struct {
    clattn_context *ctx;
    const clattn_sdpa_desc *d;
    cl_mem *b;
    clattn_kv_cache *cache; /* NULL: plain attention */
    const int32_t *slots;
} bench_call;

static clattn_status call_once(const bench_call *c, cl_event *ev) {
    cl_mem *b = c->b;
    return c->cache ? clattn_kv_cache_attention(c->cache, c->d, c->slots, b[0], NULL, b[3], b[4], 0,
                                                NULL, ev)
                    : clattn_sdpa(c->ctx, c->d, b[0], b[1], b[2], NULL, b[3], b[4], 0, NULL, ev);
}

static clattn_status call_fn(const void *arg, cl_event *ev) {
    return call_once((const bench_call *)arg, ev);
}

/* --paged: a KV cache of B slots and capacity Skv (pages of `page` tokens; 0: contiguous), each
 * sequence filled to lens[b] (NULL: Skv) from random float32 K/V appended a chunk of tokens at a
 * time, so the float32 staging stays near 16 MiB whatever the cache's size. */
static clattn_status fill_cache(clattn_context *ctx, const clattn_sdpa_desc *d, clattn_dtype dt,
                                int64_t page, const int32_t *lens, int32_t *slots,
                                clattn_kv_cache **out) {
    clattn_kv_cache_desc cd;
    clattn_kv_cache_desc_init(&cd, sizeof cd);
    cd.slots = d->batch, cd.kv_heads = d->kv_heads, cd.capacity = d->seq_kv;
    cd.head_dim = d->head_dim, cd.head_dim_v = d->head_dim_v, cd.dtype = dt, cd.page_size = page;
    clattn_status st = clattn_kv_cache_create(ctx, &cd, out);
    if (st != CLATTN_SUCCESS) return st;
    const int64_t B = d->batch, Hkv = d->kv_heads, Skv = d->seq_kv;
    const int64_t D = d->head_dim, Dv = d->head_dim_v ? d->head_dim_v : D;
    int64_t chunk = ((int64_t)1 << 22) / (B * Hkv * (D > Dv ? D : Dv));
    chunk = chunk < 1 ? 1 : chunk > Skv ? Skv : chunk;
    cl_mem k = NULL, v = NULL;
    int32_t *counts = malloc((size_t)B * sizeof *counts);
    if (!counts) st = clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "bench: host memory");
    if (st == CLATTN_SUCCESS)
        st = random_buffer(ctx, B * Hkv * chunk * D, CLATTN_DTYPE_F32, 101u, &k);
    if (st == CLATTN_SUCCESS)
        st = random_buffer(ctx, B * Hkv * chunk * Dv, CLATTN_DTYPE_F32, 202u, &v);
    clattn_kv_append_desc ad;
    clattn_kv_append_desc_init(&ad, sizeof ad);
    ad.num_seqs = B, ad.slots = slots, ad.counts = counts, ad.seq = chunk;
    for (int64_t b = 0; b < B; b++) slots[b] = (int32_t)b;
    for (int64_t t0 = 0; t0 < Skv && st == CLATTN_SUCCESS; t0 += chunk) {
        for (int64_t b = 0; b < B; b++) {
            const int64_t left = (lens ? lens[b] : Skv) - t0;
            counts[b] = (int32_t)(left < 0 ? 0 : left > chunk ? chunk : left);
        }
        st = clattn_kv_cache_append(*out, &ad, k, v, 0, NULL, NULL);
    }
    clFinish(ctx->queue);
    free(counts);
    clattn__release_mem(&k);
    clattn__release_mem(&v);
    if (st != CLATTN_SUCCESS) {
        clattn_kv_cache_destroy(*out);
        *out = NULL;
    }
    return st;
}

int cmd_bench(int argc, char **argv) {
    cli_sdpa_shape shape;
    int64_t R = 5, splits = 0, seed = 1, page = -1, warmup_ms = 200;
    int ragged = 0, trace = 0;
    cli_sdpa_options xo;
    enum { NX = CLI_SDPA_SHAPE_OPTS + CLI_SDPA_OPTION_OPTS };
    cli_opt opts[NX + 11];
    cli_sdpa_shape_opts(&shape, "seq", opts);
    cli_sdpa_option_opts(&xo, opts + CLI_SDPA_SHAPE_OPTS);
    const char *dt_s = NULL, *kvdt_s = NULL, *layout_s = NULL;
    opts[NX] =
        (cli_opt){"repeat", OPT_INT, &R, "timed runs: min, median and max reported (default 5)"};
    opts[NX + 1] = (cli_opt){"kv-lens-random", OPT_FLAG, &ragged,
                             "ragged batch: key lengths uniform in 1..Skv (printed)"};
    opts[NX + 2] = (cli_opt){"seed", OPT_INT, &seed, "seed of --kv-lens-random (default 1)"};
    opts[NX + 3] = (cli_opt){"splits", OPT_INT, &splits, "decode: force the number of splits"};
    opts[NX + 4] = (cli_opt){"dtype", OPT_STRING, &dt_s, "f32|f16|bf16 storage of q, k, v, out"};
    opts[NX + 5] = (cli_opt){"kv-dtype", OPT_STRING, &kvdt_s,
                             "f32|f16|bf16 storage of k and v only (default: --dtype's)"};
    opts[NX + 6] = (cli_opt){"paged", OPT_INT, &page,
                             "through a KV cache with pages of PAGE tokens (0: contiguous)"};
    opts[NX + 7] = (cli_opt){"trace", OPT_FLAG, &trace,
                             "also print every timed call's ms, in call order (calls_ms=)"};
    opts[NX + 8] = (cli_opt){"warmup-ms", OPT_INT, &warmup_ms,
                             "untimed calls for at least this long first (default 200; at least "
                             "one call): idle cores take 0.1-0.3 s to come up to speed"};
    opts[NX + 9] = (cli_opt){"layout", OPT_STRING, &layout_s,
                             "bhsd|bshd|qkv: the tensors contiguous (default), [B, S, H, dim], or "
                             "q/k/v rows as far apart as in a packed q/k/v projection"};
    opts[NX + 10] = (cli_opt){NULL, OPT_FLAG, NULL, NULL};
    int rc =
        cli_parse(argc, argv, opts,
                  "--batch B --heads Hq --kv-heads Hkv --seq N [--seq-kv M] --dim D "
                  "[--causal] [--causal-align A] [--window L,R] [--softcap C] "
                  "[--alibi [SLOPES.npy]] [--algo A] [--repeat R] [--kv-lens-random [--seed S]] "
                  "[--splits N] [--dtype f32|f16|bf16] [--kv-dtype f32|f16|bf16] [--paged PAGE] "
                  "[--trace] [--warmup-ms MS] [--layout bhsd|bshd|qkv]");
    if (rc) return rc == 1 ? 0 : rc;
    if (R < 1 || R > 1000) {
        fprintf(stderr, "clattn %s: --repeat must be 1..1000\n", CMD);
        return 2;
    }
    if (warmup_ms < 0 || warmup_ms > 60000) {
        fprintf(stderr, "clattn %s: --warmup-ms must be 0..60000\n", CMD);
        return 2;
    }
    if (splits < 0 || splits > INT32_MAX) {
        fprintf(stderr,
                "clattn %s: --splits must be 1 or more, or 0 to let the dispatcher "
                "choose\n",
                CMD);
        return 2;
    }
    if (page < -1 || page > INT32_MAX) {
        fprintf(stderr, "clattn %s: --paged takes a page size in tokens (0: a contiguous cache)\n",
                CMD);
        return 2;
    }
    if (seed < 0 || seed > UINT32_MAX) {
        fprintf(stderr, "clattn %s: --seed must be 0..%lu\n", CMD, (unsigned long)UINT32_MAX);
        return 2;
    }
    clattn_sdpa_desc d;
    clattn_dtype dt = CLATTN_DTYPE_F32, kvdt;
    if (cli_sdpa_shape_desc(CMD, "seq", &shape, &d) || cli_sdpa_options_desc(CMD, &xo, &d) ||
        (dt_s && cli_sdpa_dtype(CMD, "dtype", dt_s, &dt)))
        return 2;
    kvdt = dt;
    if (kvdt_s && cli_sdpa_dtype(CMD, "kv-dtype", kvdt_s, &kvdt)) return 2;
    int layout = CLI_LAYOUT_BHSD;
    if (layout_s && cli_sdpa_layout(CMD, "layout", layout_s, &layout)) return 2;
    int64_t n[5]; /* elements of q, k, v, out (in their layout) and lse */
    if (cli_sdpa_layout_strides(layout, page < 0, &d, n) ||
        clattn__prod64((const int64_t[3]){d.batch, d.heads, d.seq_q}, 3, &n[4])) {
        fprintf(stderr, "clattn %s: the tensor sizes overflow\n", CMD);
        return 2;
    }
    d.decode_splits = splits;
    d.q_dtype = d.out_dtype = dt;
    d.kv_dtype = kvdt;
    if (cli_sdpa_options_alibi(CMD, &xo, &d)) return 1;
    const int64_t B = d.batch, H = d.heads, S = d.seq_q, D = d.head_dim;
    int32_t *lens = NULL;
    if (ragged && B >= 1 && d.seq_kv >= 1 && d.seq_kv <= INT32_MAX) {
        if (!(lens = malloc((size_t)B * sizeof *lens))) {
            fprintf(stderr, "clattn %s: out of host memory\n", CMD);
            cli_sdpa_options_free(&xo);
            return 1;
        }
        uint64_t x = 0x9E3779B97F4A7C15ull * ((uint64_t)seed + 1u);
        for (int64_t b = 0; b < B; b++) { /* xorshift64*, then a multiply-shift into 1..Skv */
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            const uint64_t r = (x * 0x2545F4914F6CDD1Dull) >> 32;
            lens[b] = (int32_t)(1 + (int64_t)((r * (uint64_t)d.seq_kv) >> 32));
        }
        d.kv_lens = lens;
    }
    clattn_context *ctx = cli_open_context();
    if (!ctx) {
        cli_sdpa_options_free(&xo);
        return 1;
    }
    clattn_sdpa_plan plan;
    cl_mem buf[5] = {NULL};
    double *times = calloc((size_t)R, sizeof(double));
    double *host = calloc((size_t)R, sizeof(double));
    double *enq = calloc((size_t)R, sizeof(double));
    int32_t *slots = calloc((size_t)(B > 0 ? B : 1), sizeof *slots);
    clattn_kv_cache *cache = NULL;
    clattn_kv_cache_info info;
    clattn_status st = clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
    rc = 1;
    if (st != CLATTN_SUCCESS || !times || !host || !enq || !slots) goto fail;
    if (page >= 0) { /* the cache holds the lengths: the call takes none */
        if ((st = fill_cache(ctx, &d, kvdt, page, lens, slots, &cache)) ||
            (st = clattn_kv_cache_get_info(cache, &info, sizeof info)))
            goto fail;
        d.kv_lens = NULL;
        if ((st = clattn_kv_cache_plan_get(cache, &d, slots, &plan, sizeof plan))) goto fail;
    }
    if (splits && plan.algo != CLATTN_ALGO_DECODE) {
        fprintf(stderr,
                "clattn %s: --splits applies to the decode path, but the plan is %s "
                "(add --algo decode)\n",
                CMD, cli_sdpa_algo_name(plan.algo));
        rc = 2;
        goto fail;
    }
    int64_t bytes, io_bytes = cache ? info.device_bytes : 0;
    const clattn_dtype types[4] = {dt, kvdt, kvdt, dt}; /* q, k, v, out */
    for (int i = 0; i < 5; i++) {
        if (cache && (i == 1 || i == 2)) continue; /* K and V are the cache's */
        const int64_t e = i < 4 ? (int64_t)cli_sdpa_dtype_size(types[i]) : 4; /* lse: float */
        if (clattn__mul64(n[i], e, &bytes) || clattn__add64(io_bytes, bytes, &io_bytes)) {
            st = clattn__fail(ctx, CLATTN_ERROR_OVERFLOW, "bench: the buffer sizes overflow");
            goto fail;
        }
        st = i < 3 ? random_buffer(ctx, n[i], types[i], 17u * (unsigned)i + 1u, &buf[i])
                   : clattn__alloc(ctx, bytes, CL_MEM_READ_WRITE, NULL, "bench output", &buf[i]);
        if (st != CLATTN_SUCCESS) goto fail;
    }
    const bench_call call = {ctx, &d, buf, cache, slots};
    cli_call_time ct;
    /* Warm-up: the first call builds kernels (and tunes CLBlast); more calls follow until
     * --warmup-ms have passed, because on the development VM the first 0.1-0.3 s of work after
     * an idle spell run slower (N=256 causal: 0.65-0.75 ms calls in a fresh process, 0.45-0.5 ms
     * once the cores have been busy; README, "Steady timings"), and a short --repeat would
     * otherwise time that ramp rather than the kernel. */
    int64_t warmup_calls = 0;
    for (double warm_s = 0.0;
         warmup_calls == 0 || (warm_s * 1e3 < (double)warmup_ms && warmup_calls < 10000);
         warmup_calls++) {
        if ((st = cli_timed_call(ctx, call_fn, &call, &ct)) != CLATTN_SUCCESS) goto fail;
        warm_s += ct.host_s;
    }
    const double cpu0 = cpu_s();
    for (int64_t r = 0; r < R; r++) {
        if ((st = cli_timed_call(ctx, call_fn, &call, &ct)) != CLATTN_SUCCESS) goto fail;
        times[r] = ct.device_s, host[r] = ct.host_s, enq[r] = ct.enqueue_s;
    }
    const double cpu_ms = (cpu_s() - cpu0) / (double)R * 1e3;
    if (trace) { /* in call order, before the medians sort the times: drift within the process */
        printf("calls_ms=");
        for (int64_t r = 0; r < R; r++) printf("%s%.3f", r ? "," : "", times[r] * 1e3);
        printf("\n");
    }
    const double med = cli_median(times, R), host_med = cli_median(host, R),
                 enq_med = cli_median(enq, R);
    double flops =
        2.0 * (double)B * (double)H * (double)S * (double)d.seq_kv * (double)(D + d.head_dim_v);
    if (d.window)
        flops =
            2.0 * (double)B * (double)H * cli_sdpa_visible_pairs(&d) * (double)(D + d.head_dim_v);
    else if (d.causal && S == d.seq_kv)
        flops *= 0.5;
    if (lens) { /* ragged: the pairs each sequence's own length leaves */
        flops = 0.0;
        for (int64_t b = 0; b < B; b++) {
            clattn_sdpa_desc one = d;
            one.seq_kv = lens[b];
            flops += 2.0 * (double)H * cli_sdpa_visible_pairs(&one) * (double)(D + d.head_dim_v);
        }
    }
    double kv_bytes = 0.0;
    for (int64_t b = 0; b < B; b++)
        kv_bytes += (double)cli_sdpa_visible_keys(&d, lens ? lens[b] : d.seq_kv);
    kv_bytes *= (double)d.kv_heads * (double)(D + d.head_dim_v) * (double)cli_sdpa_dtype_size(kvdt);
    cli_sdpa_print_plan(stdout, &plan);
    if (cache)
        printf(" cache=%s page_size=%lld pages=%lld/%lld cache_bytes=%lld",
               info.paged ? "paged" : "contiguous", (long long)info.page_size,
               (long long)(info.num_pages - info.free_pages), (long long)info.num_pages,
               (long long)info.device_bytes);
    printf(" gbps=%.2f tokens_per_s=%.1f", kv_bytes / med * 1e-9, (double)B / med);
    if (lens) {
        printf(" seed=%lld kv_lens=", (long long)seed);
        for (int64_t b = 0; b < B; b++) printf("%s%d", b ? "," : "", (int)lens[b]);
    }
    printf(" gflops=%.2f ms=%.3f min_ms=%.3f max_ms=%.3f host_ms=%.3f enqueue_ms=%.4f repeat=%lld "
           "timing=%s device_bytes=%lld io_bytes=%lld scratch_bytes=%lld cpu_ms=%.3f "
           "warmup_calls=%lld layout=%s\n",
           flops / med * 1e-9, med * 1e3, times[0] * 1e3, times[R - 1] * 1e3, host_med * 1e3,
           enq_med * 1e3, (long long)R, ctx->queue_profiling ? "events" : "host",
           (long long)(io_bytes + plan.scratch_bytes), (long long)io_bytes,
           (long long)plan.scratch_bytes, cpu_ms, (long long)warmup_calls,
           cli_sdpa_layout_name(layout));
    rc = 0;
fail:
    if (rc == 1) cli_fail(CMD, ctx, st);
    for (int i = 0; i < 5; i++) clattn__release_mem(&buf[i]);
    clattn_kv_cache_destroy(cache);
    free(slots);
    free(times);
    free(host);
    free(enq);
    free(lens);
    clattn_context_destroy(ctx);
    cli_sdpa_options_free(&xo);
    return rc;
}
