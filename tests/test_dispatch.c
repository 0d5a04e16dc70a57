/* test_dispatch.c: the pure SDPA dispatcher over every device profile of
 * shared/device-profiles.csv (no device needed): every plan must fit the profile's local memory
 * and work-group size, follow the FlashAttention tile rule, cover every query block, and pick the
 * CPU flavour exactly for global-local-memory (CPU) profiles. Also: the unsupported and
 * out-of-memory refusals with their messages, forced tiles, the shrink sequence the GPU
 * launcher falls back through, and the float32 staging copies of narrow tensors in scratch_bytes.
 * CPU profiles are also run at 16 lanes (AVX-512) besides the file's 8, and cpu_lanes checks that
 * each width gets its own tile policy and register blocking. */
#include "kernel_iface.h"
#include "sdpa/cpu_tiles.h"
#include "sdpa/plan.h"
#include "sdpa/plan_cpu.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[64];
    clattn_device_caps caps;
} profile;

static int load_profiles(profile *out, int cap) {
    /* The team's shared table beside the checkout wins; tests/data/ holds a snapshot of it
     * for checkouts without shared/. */
    const char *src = getenv("CLATTN_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/../shared/device-profiles.csv", src ? src : ".");
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(path, sizeof path, "%s/tests/data/device-profiles.csv", src ? src : ".");
        f = fopen(path, "r");
    }
    if (!f) {
        printf("FAIL: cannot open %s (set CLATTN_SOURCE_DIR to the repository root)\n", path);
        return 0;
    }
    printf("device profiles: %s\n", path);
    char line[512];
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char name[64], vendor[64], type[16];
        long long local, wg, cu, sg, fp16;
        if (sscanf(line, "%63[^,],%63[^,],%15[^,],%lld,%lld,%lld,%lld,%lld", name, vendor, type,
                   &local, &wg, &cu, &sg, &fp16) != 8) {
            printf("FAIL: malformed profile line: %s", line);
            continue;
        }
        profile *p = &out[n++];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", name);
        clattn_device_caps *c = &p->caps;
        c->type = strcmp(type, "cpu") == 0 ? CL_DEVICE_TYPE_CPU : CL_DEVICE_TYPE_GPU;
        c->local_mem_bytes = c->real_local_mem_bytes = local;
        c->local_mem_type =
            strcmp(type, "cpu") == 0 ? CLATTN_LOCAL_MEM_GLOBAL : CLATTN_LOCAL_MEM_LOCAL;
        c->max_work_group_size = wg;
        c->compute_units = (int)cu;
        c->global_mem_bytes = (int64_t)16 << 30;
        c->max_alloc_bytes = (int64_t)4 << 30;
        c->preferred_vector_width_float = 8;
    }
    fclose(f);
    return n;
}

static clattn_sdpa_problem problem(int64_t B, int64_t Hq, int64_t Hkv, int64_t Sq, int64_t Skv,
                                   int64_t D, int64_t Dv, int causal) {
    clattn_sdpa_problem p = {0};
    p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Sq = Sq, p.Skv = Skv, p.D = D, p.Dv = Dv;
    p.group = Hq / Hkv;
    p.scale = 0.125f;
    p.causal = causal;
    p.q_st[2] = D, p.q_st[1] = Sq * D, p.q_st[0] = Hq * Sq * D;
    p.k_st[2] = D, p.k_st[1] = Skv * D, p.k_st[0] = Hkv * Skv * D;
    p.v_st[2] = Dv, p.v_st[1] = Skv * Dv, p.v_st[0] = Hkv * Skv * Dv;
    p.o_st[2] = Dv, p.o_st[1] = Sq * Dv, p.o_st[0] = Hq * Sq * Dv;
    return p;
}

static int64_t cdiv(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/* Checks one GPU-flavour plan against the device and the rules; returns 1 when all hold. */
static int gpu_plan_ok(const clattn_device_caps *c, const clattn_sdpa_problem *p,
                       const clattn_sdpa_plan *pl, char *why, size_t n) {
    const int64_t dc = clattn__gpu_dim_cap(p->D), dvc = clattn__gpu_dim_cap(p->Dv);
    const int64_t dmax = dc > dvc ? dc : dvc;
    const int64_t local = pl->algo == CLATTN_ALGO_FLASH1
                              ? clattn__flash1_gpu_local_bytes(pl->block_q, pl->block_kv, dc, dvc)
                              : clattn__flash2_gpu_local_bytes(pl->block_q, pl->block_kv, dc, dvc);
    const int64_t rule_bc = cdiv(c->local_mem_bytes / 4, 4 * dmax);
    const int64_t groups = pl->global_size[0] / (pl->work_group ? pl->work_group : 1);
    if (pl->flavour != CLATTN_FLAVOUR_GPU) return snprintf(why, n, "flavour %d", pl->flavour), 0;
    if (pl->local_mem_bytes != local || local > c->local_mem_bytes)
        return snprintf(why, n, "local %lld (function %lld) > %lld", (long long)pl->local_mem_bytes,
                        (long long)local, (long long)c->local_mem_bytes),
               0;
    if (pl->work_group > c->max_work_group_size || pl->work_group % pl->block_q)
        return snprintf(why, n, "work-group %lld (max %lld, Br %lld)", (long long)pl->work_group,
                        (long long)c->max_work_group_size, (long long)pl->block_q),
               0;
    if (pl->block_kv > rule_bc || pl->block_q > pl->block_kv || pl->block_q > dmax ||
        pl->block_q < 1)
        return snprintf(why, n, "tile %lldx%lld breaks Bc <= ceil(M/4d) = %lld, Br <= min(Bc, d)",
                        (long long)pl->block_q, (long long)pl->block_kv, (long long)rule_bc),
               0;
    if (pl->global_size[0] % pl->work_group)
        return snprintf(why, n, "global %lld not a multiple of the work-group",
                        (long long)pl->global_size[0]),
               0;
    const int64_t nqb = cdiv(p->Sq, pl->block_q), heads = p->B * p->Hq;
    if (pl->algo == CLATTN_ALGO_FLASH2 && groups != nqb * heads)
        return snprintf(why, n, "%lld work-groups for %lld query blocks", (long long)groups,
                        (long long)(nqb * heads)),
               0;
    if (pl->algo == CLATTN_ALGO_FLASH1) {
        const int64_t chunks = groups / heads;
        if (groups % heads || chunks < 1 || chunks > nqb || pl->scratch_bytes != 8 * heads * p->Sq)
            return snprintf(why, n, "flash1 chunks %lld of %lld blocks, scratch %lld",
                            (long long)chunks, (long long)nqb, (long long)pl->scratch_bytes),
                   0;
    }
    return 1;
}

static void sweep_profile(const profile *pr) {
    static const int64_t dims[][2] = {{16, 16},  {40, 40},   {59, 111},  {64, 64},   {96, 96},
                                      {128, 64}, {128, 128}, {160, 160}, {256, 128}, {256, 256}};
    static const int64_t seqs[][2] = {{1, 4096}, {113, 113}, {2048, 2048}, {4096, 59}};
    const clattn_device_caps *c = &pr->caps;
    int bad = 0, plans = 0;
    char why[256], detail[512] = "";
    for (int a = 0; a < 2; a++)
        for (int fl = 0; fl < 2; fl++)
            for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
                for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; s++) {
                    clattn_sdpa_problem p = problem(2, 8, 2, seqs[s][0], seqs[s][1], dims[d][0],
                                                    dims[d][1], (int)(s & 1));
                    clattn_sdpa_request req = {a ? CLATTN_ALGO_FLASH1 : CLATTN_ALGO_AUTO,
                                               fl ? CLATTN_FLAVOUR_GPU : CLATTN_FLAVOUR_AUTO, 0, 0,
                                               0};
                    clattn_sdpa_plan pl;
                    clattn_status st = clattn__sdpa_dispatch(c, &p, &req, &pl, why, sizeof why);
                    plans++;
                    int ok = st == CLATTN_SUCCESS;
                    if (!ok) {
                        snprintf(detail, sizeof detail, "D=%lld: %s", (long long)p.D, why);
                    } else if (pl.algo == CLATTN_ALGO_DECODE) {
                        /* AUTO on a decode shape (Sq 1 x group 4 rows): decode_profile checks
                         * those plans; here only that AUTO chose it for such shapes only. */
                        ok = !a && p.Sq * p.group <= 16;
                        if (!ok)
                            snprintf(detail, sizeof detail, "decode for Sq %lld", (long long)p.Sq);
                    } else if (pl.algo != (a ? CLATTN_ALGO_FLASH1 : CLATTN_ALGO_FLASH2)) {
                        ok = 0;
                        snprintf(detail, sizeof detail, "algo %d", pl.algo);
                    } else if (!fl && c->local_mem_type == CLATTN_LOCAL_MEM_GLOBAL) {
                        ok = pl.flavour == CLATTN_FLAVOUR_CPU && pl.work_group == 1 &&
                             clattn__sdpa_cpu_valid_tiles(pl.algo, p.D, p.Dv, pl.block_q,
                                                          pl.block_kv);
                        if (!ok)
                            snprintf(detail, sizeof detail, "CPU plan for D=%lld", (long long)p.D);
                    } else if (!gpu_plan_ok(c, &p, &pl, why, sizeof why)) {
                        ok = 0;
                        snprintf(detail, sizeof detail, "D=%lld Dv=%lld S=%lldx%lld: %s",
                                 (long long)p.D, (long long)p.Dv, (long long)p.Sq, (long long)p.Skv,
                                 why);
                    }
                    bad += !ok;
                }
    TU_CHECK(bad == 0, "%-22s local %7lld, wg %4lld: %d plans fit and follow the rules %s",
             pr->name, (long long)c->local_mem_bytes, (long long)c->max_work_group_size,
             plans - bad, detail);
    /* the GPU tile for d=64 as the CLI shows it, for the log */
    clattn_sdpa_problem p = problem(1, 8, 8, 2048, 2048, 64, 64, 0);
    clattn_sdpa_request req = {CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_GPU, 0, 0, 0};
    clattn_sdpa_plan pl;
    if (clattn__sdpa_dispatch(c, &p, &req, &pl, why, sizeof why) == CLATTN_SUCCESS)
        printf("      %s d=64 flash2 GPU tile %lldx%lld, %lld work-items, %lld bytes local\n",
               pr->name, (long long)pl.block_q, (long long)pl.block_kv, (long long)pl.work_group,
               (long long)pl.local_mem_bytes);
}

static void refusals(const clattn_device_caps *gpu) {
    char why[256];
    clattn_sdpa_plan pl;
    clattn_device_caps tiny = *gpu;
    tiny.local_mem_bytes = 2048; /* below a 1x1 tile at d=256 (3 KiB) */
    clattn_sdpa_problem p = problem(1, 1, 1, 64, 64, 256, 256, 0);
    clattn_sdpa_request req = {CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_GPU, 0, 0, 0};
    clattn_status st = clattn__sdpa_dispatch(&tiny, &p, &req, &pl, why, sizeof why);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && strstr(why, "local memory"),
             "D=256 on 2 KiB of local memory: unsupported, naming the limit: %s", why);
    p = problem(1, 1, 1, 64, 64, 64, 64, 0);
    st = clattn__sdpa_dispatch(&tiny, &p, &req, &pl, why, sizeof why);
    TU_CHECK(st == CLATTN_SUCCESS && pl.local_mem_bytes <= 2048,
             "D=64 on 2 KiB still finds a tile (%lldx%lld)", (long long)pl.block_q,
             (long long)pl.block_kv);
    req.block_q = req.block_kv = 64;
    p = problem(1, 1, 1, 64, 64, 256, 256, 0);
    st = clattn__sdpa_dispatch(gpu, &p, &req, &pl, why, sizeof why);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && strstr(why, "local memory"),
             "forced 64x64 at D=256: unsupported: %s", why);
    req.block_q = 8;
    req.block_kv = 16;
    st = clattn__sdpa_dispatch(gpu, &p, &req, &pl, why, sizeof why);
    TU_CHECK(st == CLATTN_SUCCESS && pl.block_q == 8 && pl.block_kv == 16,
             "forced 8x16 at D=256 is honoured");
    req.block_kv = 0;
    st = clattn__sdpa_dispatch(gpu, &p, &req, &pl, why, sizeof why);
    TU_CHECK(st == CLATTN_SUCCESS && pl.block_q == 8 && pl.block_kv > 0,
             "forced block_q only keeps the chosen block_kv (%lld)", (long long)pl.block_kv);

    /* naive: S of B*Hq*Sq*Skv floats against the largest allocation */
    clattn_sdpa_request nreq = {CLATTN_ALGO_NAIVE, CLATTN_FLAVOUR_AUTO, 0, 0, 0};
    p = problem(1, 1, 1, 65536, 65536, 64, 64, 0);
    st = clattn__sdpa_dispatch(gpu, &p, &nreq, &pl, why, sizeof why);
    TU_CHECK(st == CLATTN_ERROR_OUT_OF_MEMORY && strstr(why, "17179869184"),
             "naive N=65536: out of memory, naming 17179869184 bytes: %s", why);
    p = problem(2, 4, 2, 1000, 3000, 64, 64, 1);
    st = clattn__sdpa_dispatch(gpu, &p, &nreq, &pl, why, sizeof why);
    TU_CHECK(st == CLATTN_SUCCESS && pl.scratch_bytes == 4LL * 8 * 1000 * 3000 &&
                 pl.work_group <= gpu->max_work_group_size &&
                 pl.global_size[0] == 8 * 1000 * pl.work_group,
             "naive plan: S bytes as scratch, one softmax work-group per row");
}

/* The fallback sequence strictly shrinks and ends in UNSUPPORTED. */
static void shrink_sequence(const clattn_device_caps *gpu) {
    clattn_sdpa_problem p = problem(1, 4, 4, 512, 512, 128, 128, 1);
    clattn_sdpa_request req = {CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_GPU, 0, 0, 0};
    clattn_sdpa_plan pl, next;
    char why[256];
    clattn__sdpa_dispatch(gpu, &p, &req, &pl, why, sizeof why);
    clattn_status st = clattn__sdpa_gpu_shrink(gpu, &p, &pl, 64, &next, why, sizeof why);
    TU_CHECK(st == CLATTN_SUCCESS && next.work_group <= 64,
             "a kernel limited to 64 work-items gets a plan of %lld", (long long)next.work_group);
    int steps = 0, monotone = 1;
    int64_t prev = pl.local_mem_bytes;
    while ((st = clattn__sdpa_gpu_shrink(gpu, &p, &pl, gpu->max_work_group_size, &next, why,
                                         sizeof why)) == CLATTN_SUCCESS &&
           steps < 10000) {
        monotone &= next.local_mem_bytes < prev;
        prev = next.local_mem_bytes;
        pl = next;
        steps++;
    }
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && monotone && steps > 0 && pl.block_q == 1,
             "shrinking ends after %d strictly smaller tiles at %lldx%lld: %s", steps,
             (long long)pl.block_q, (long long)pl.block_kv, why);
}

/* The decode path on a profile: AUTO picks it for decode shapes (GQA/MQA one token, up to 32
 * rows per kv head) unless the GPU kernel's rows do not fit the local memory, the splits are a sane
 * pure function (>= 1, covering Skv, no split below the flavour's minimum unless forced, more
 * work-groups for more compute units), the GPU tiles fit the local memory, and too many rows are
 * refused with a message. */
static void decode_profile(const profile *pr) {
    static const int64_t shapes[][4] = {/* Hq, Hkv, Sq, Skv */
                                        {32, 8, 1, 32768}, {32, 32, 1, 4096}, {16, 1, 1, 65536},
                                        {32, 1, 1, 4096},  {12, 3, 4, 1000},  {8, 8, 2, 1},
                                        {8, 2, 1, 7}};
    const clattn_device_caps *c = &pr->caps;
    int bad = 0;
    char why[256], detail[512] = "";
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int64_t B = 1; B <= 16; B *= 16) {
            clattn_sdpa_problem p =
                problem(B, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], 128, 128, 1);
            clattn_sdpa_request req = {CLATTN_ALGO_AUTO, CLATTN_FLAVOUR_AUTO, 0, 0, 0};
            clattn_sdpa_plan plan;
            clattn_status st = clattn__sdpa_dispatch(c, &p, &req, &plan, why, sizeof why);
            const int gpu = plan.flavour == CLATTN_FLAVOUR_GPU;
            /* A device whose local memory cannot hold the GPU kernel's rows (32 rows on a tiny
             * embedded GPU) runs the prefill path instead: decode refuses it on its own. */
            clattn_sdpa_plan alone;
            char why2[256];
            if (st == CLATTN_SUCCESS && plan.algo != CLATTN_ALGO_DECODE && gpu &&
                clattn__sdpa_decode_plan(c, &p, CLATTN_FLAVOUR_GPU, 0, &alone, why2, sizeof why2) ==
                    CLATTN_ERROR_UNSUPPORTED &&
                strstr(why2, "local memory"))
                continue;
            const int ok = st == CLATTN_SUCCESS && plan.algo == CLATTN_ALGO_DECODE &&
                           plan.splits >= 1 && plan.splits * plan.block_kv >= p.Skv &&
                           (plan.splits == 1 || plan.block_kv >= (gpu ? 64 : 256) ||
                            plan.splits * 64 > p.Skv) &&
                           (!gpu || (plan.local_mem_bytes <= c->local_mem_bytes &&
                                     plan.work_group <= c->max_work_group_size));
            if (!ok && !bad++)
                snprintf(detail, sizeof detail,
                         " (first: B%lld %lld/%lld Sq%lld Skv%lld -> %s algo %d splits %lld of "
                         "%lld, local %lld)",
                         (long long)B, (long long)p.Hq, (long long)p.Hkv, (long long)p.Sq,
                         (long long)p.Skv, clattn_status_string(st), (int)plan.algo,
                         (long long)plan.splits, (long long)plan.block_kv,
                         (long long)plan.local_mem_bytes);
        }
    const int64_t few = clattn__decode_splits(2, 1, 8, 32768, 1);
    const int64_t many = clattn__decode_splits(132, 1, 8, 32768, 1);
    TU_CHECK(!bad && many > few && clattn__decode_splits(132, 1, 8, 63, 1) == 1,
             "%s: decode plans sane for every shape%s; splits grow with compute units (%lld -> "
             "%lld)",
             pr->name, detail, (long long)few, (long long)many);
    clattn_sdpa_problem p = problem(1, 64, 1, 1, 1024, 128, 128, 0); /* 64 rows per kv head */
    clattn_sdpa_request req = {CLATTN_ALGO_DECODE, CLATTN_FLAVOUR_AUTO, 0, 0, 0};
    clattn_sdpa_plan plan;
    clattn_status st = clattn__sdpa_dispatch(c, &p, &req, &plan, why, sizeof why);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && strstr(why, "32"),
             "%s: decode with 64 rows per kv head refused: %s", pr->name, why);
    /* Forced splits: more than the keys is allowed (empty splits), past the cap is refused
     * before any size arithmetic (INT64_MAX splits overflowed Skv + splits - 1; fuzz_api). */
    p = problem(1, 8, 2, 1, 7, 64, 64, 0);
    req.splits = 16;
    st = clattn__sdpa_dispatch(c, &p, &req, &plan, why, sizeof why);
    const int empty_ok = st == CLATTN_SUCCESS && plan.splits == 16 && plan.block_kv == 1;
    req.splits = INT64_MAX;
    st = clattn__sdpa_dispatch(c, &p, &req, &plan, why, sizeof why);
    TU_CHECK(empty_ok && st == CLATTN_ERROR_INVALID_ARGUMENT && strstr(why, "splits"),
             "%s: 16 splits of 7 keys planned; INT64_MAX splits refused: %s", pr->name, why);
    /* A forced GPU tile of INT64_MAX keys: refused as not fitting the local memory, before the
     * tile products overflowed (fuzz_api). */
    for (int a = 0; a < 2; a++) {
        const clattn_sdpa_request big = {a ? CLATTN_ALGO_FLASH1 : CLATTN_ALGO_FLASH2,
                                         CLATTN_FLAVOUR_GPU, 16, INT64_MAX, 0};
        p = problem(1, 8, 2, 33, 65, 64, 64, 0);
        st = clattn__sdpa_dispatch(c, &p, &big, &plan, why, sizeof why);
        TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && strstr(why, "local memory"),
                 "%s: a forced %s GPU tile of INT64_MAX keys refused: %s", pr->name,
                 a ? "flash1" : "flash2", why);
    }
}

/* Narrow storage: the float32 copies a path makes of narrow tensors (naive: q, k, v and out;
 * flash1: out; flash2: k and v on the CPU flavour where they pay, else none: its kernels widen
 * as they load) count in scratch_bytes on both
 * flavours; a copy past the largest allocation, or scratch past the global memory, is
 * OUT_OF_MEMORY naming the bytes, and a float32 problem keeps the plain scratch. */
static void staging(const clattn_device_caps *gpu, const clattn_device_caps *cpu) {
    clattn_sdpa_problem p = problem(2, 4, 2, 100, 300, 256, 128, 0);
    p.q_dtype = CLATTN_STORAGE_F16;
    p.kv_dtype = CLATTN_STORAGE_BF16;
    p.o_dtype = CLATTN_STORAGE_F16;
    const int64_t q = 4LL * 2 * 4 * 100 * 256, k = 4LL * 2 * 2 * 300 * 256;
    const int64_t v = 4LL * 2 * 2 * 300 * 128, o = 4LL * 2 * 4 * 100 * 128;
    const int64_t s = 4LL * 2 * 4 * 100 * 300, ml = 2 * 4LL * 2 * 4 * 100;
    const clattn_device_caps *caps[2] = {gpu, cpu};
    char why[512];
    for (int c = 0; c < 2; c++) {
        const char *fl = c ? "CPU" : "GPU";
        clattn_sdpa_plan pl;
        clattn_sdpa_request req = {CLATTN_ALGO_NAIVE, CLATTN_FLAVOUR_AUTO, 0, 0, 0};
        clattn_status st = clattn__sdpa_dispatch(caps[c], &p, &req, &pl, why, sizeof why);
        TU_CHECK(st == CLATTN_SUCCESS && pl.scratch_bytes == s + q + k + v + o,
                 "%s naive f16 q/out, bf16 k/v: scratch %lld = S + float32 q, k, v, out", fl,
                 (long long)pl.scratch_bytes);
        req.algo = CLATTN_ALGO_FLASH1;
        req.flavour = c ? CLATTN_FLAVOUR_CPU : CLATTN_FLAVOUR_GPU;
        st = clattn__sdpa_dispatch(caps[c], &p, &req, &pl, why, sizeof why);
        TU_CHECK(st == CLATTN_SUCCESS && pl.scratch_bytes == ml + o,
                 "%s flash1: scratch %lld = m, l + float32 out", fl, (long long)pl.scratch_bytes);
        /* GPU flash2 widens narrow inputs as it loads them; CPU flash2 runs these 200 rows per
         * kv head (several query blocks) on float32 copies of K and V (clattn__cpu_stage_kv). */
        req.algo = CLATTN_ALGO_FLASH2;
        st = clattn__sdpa_dispatch(caps[c], &p, &req, &pl, why, sizeof why);
        TU_CHECK(st == CLATTN_SUCCESS && pl.scratch_bytes == (c ? k + v : 0),
                 "%s flash2: scratch %lld = %s", fl, (long long)pl.scratch_bytes,
                 c ? "float32 k, v" : "none");
        if (c) {
            /* Few rows per kv head: the copies would not pay, the tiles widen. */
            clattn_sdpa_problem few = p;
            few.Sq = 20;
            st = clattn__sdpa_dispatch(caps[c], &few, &req, &pl, why, sizeof why);
            TU_CHECK(st == CLATTN_SUCCESS && pl.scratch_bytes == 0 &&
                         !clattn__cpu_stage_kv(caps[c], &few),
                     "CPU flash2, 40 rows per kv head: no copies (scratch %lld)",
                     (long long)pl.scratch_bytes);
            /* The copies may take an eighth of the global memory, and no more. */
            clattn_device_caps mem = *caps[c];
            mem.global_mem_bytes = CLATTN_CPU_STAGE_KV_MEM_SHARE * (k + v);
            st = clattn__sdpa_dispatch(&mem, &p, &req, &pl, why, sizeof why);
            const int at = st == CLATTN_SUCCESS && pl.scratch_bytes == k + v;
            mem.global_mem_bytes--;
            st = clattn__sdpa_dispatch(&mem, &p, &req, &pl, why, sizeof why);
            TU_CHECK(at && st == CLATTN_SUCCESS && pl.scratch_bytes == 0,
                     "CPU flash2: K/V copies up to 1/%d of the global memory, tiles past it",
                     CLATTN_CPU_STAGE_KV_MEM_SHARE);
        }
        /* The largest copy (k) one byte past the largest allocation; S still fits. */
        clattn_device_caps small = *caps[c];
        small.max_alloc_bytes = k - 1;
        req.algo = CLATTN_ALGO_NAIVE;
        st = clattn__sdpa_dispatch(&small, &p, &req, &pl, why, sizeof why);
        TU_CHECK(st == CLATTN_ERROR_OUT_OF_MEMORY && strstr(why, "float32 copies") &&
                     strstr(why, "1228800"),
                 "%s naive: a copy past the largest allocation is out of memory: %s", fl, why);
        req.algo = CLATTN_ALGO_FLASH2;
        st = clattn__sdpa_dispatch(&small, &p, &req, &pl, why, sizeof why);
        TU_CHECK(st == CLATTN_SUCCESS && pl.scratch_bytes == 0,
                 "%s flash2 plans under the same limit, widening in tiles (scratch %lld)", fl,
                 (long long)pl.scratch_bytes);
        small.max_alloc_bytes = o - 1;
        req.algo = CLATTN_ALGO_FLASH1;
        st = clattn__sdpa_dispatch(&small, &p, &req, &pl, why, sizeof why);
        TU_CHECK(st == CLATTN_ERROR_OUT_OF_MEMORY && strstr(why, "409600"),
                 "%s flash1: its out copy past the largest allocation: %s", fl, why);
        small = *caps[c];
        small.global_mem_bytes = s + q + k + v + o - 1;
        req.algo = CLATTN_ALGO_NAIVE;
        st = clattn__sdpa_dispatch(&small, &p, &req, &pl, why, sizeof why);
        TU_CHECK(st == CLATTN_ERROR_OUT_OF_MEMORY && strstr(why, "global memory"),
                 "%s naive: S and the copies past the global memory: %s", fl, why);
        clattn_sdpa_problem f = p;
        f.q_dtype = f.kv_dtype = f.o_dtype = CLATTN_STORAGE_F32;
        req.algo = CLATTN_ALGO_FLASH1;
        st = clattn__sdpa_dispatch(caps[c], &f, &req, &pl, why, sizeof why);
        TU_CHECK(st == CLATTN_SUCCESS && pl.scratch_bytes == ml, "%s flash1 float32: m, l only",
                 fl);
    }
}

/* Float32 K/V whose rows are not packed: CPU flash2 runs on contiguous copies of them from the
 * tile policy's stage_f32_rows query rows per kv head, or stage_f32_wide_rows where the keys are
 * stage_f32_wide_stride bytes apart or more (cpu_tiles.c says why), each lane width by its own
 * policy; packed rows, fewer rows, a paged cache, a GPU and copies past an eighth of the memory
 * get none. */
static void staging_f32(const clattn_device_caps *gpu, const clattn_device_caps *cpu_profile) {
    char why[512];
    clattn_sdpa_plan pl;
    clattn_sdpa_request req = {CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_AUTO, 0, 0, 0};
    /* [B, S, H, D] K/V, 2 kv heads of 64: keys 512 bytes apart; MQA-like group of 16 */
    clattn_sdpa_problem p = problem(1, 32, 2, 128, 300, 64, 40, 1);
    const int64_t k = 4LL * 2 * 300 * 64, v = 4LL * 2 * 300 * 40, kv = k + v;
    for (int lanes = 8; lanes <= 16; lanes += 8) {
        clattn_device_caps cpu_caps = *cpu_profile;
        cpu_caps.preferred_vector_width_float = lanes;
        const clattn_device_caps *cpu = &cpu_caps;
        const clattn_cpu_tile_policy *pol = clattn__cpu_tile_policy_for(lanes);
        /* The rules' row counts in query positions (16 rows each), the wide stride in floats. */
        const int64_t rows = pol->stage_f32_rows / 16, wide = pol->stage_f32_wide_rows / 16;
        const int64_t ws = pol->stage_f32_wide_stride / 4;
        TU_CHECK(pol->stage_f32_rows % 16 == 0 && pol->stage_f32_wide_rows % 16 == 0 &&
                     pol->stage_f32_wide_rows <= pol->stage_f32_rows && ws > 128,
                 "%d lanes: staging rules %lld / %lld rows from %lld bytes, as this test needs",
                 lanes, (long long)pol->stage_f32_rows, (long long)pol->stage_f32_wide_rows,
                 (long long)pol->stage_f32_wide_stride);
        struct {
            const char *what;
            int64_t sq, k_ss, v_ss; /* a seq stride of dim: [B, H, S, D], rows packed */
            int staged;
            int64_t scratch; /* the copies of the strided ones */
        } cases[] = {
            {"the rule's rows per kv head, keys 512 bytes apart", rows, 128, 80, 1, kv},
            {"16 rows fewer, keys 512 bytes apart", rows - 1, 128, 80, 0, 0},
            {"the wide rule's rows, keys the wide stride apart", wide, ws, 80, 1, kv},
            {"the wide rule's rows, values alone the wide stride apart", wide, 64, ws, 1, v},
            {"the wide rule's rows, keys 4 bytes short of the wide stride", wide, ws - 1, 80,
             wide >= rows, wide >= rows ? kv : 0},
            {"16 rows fewer than the wide rule's, keys the wide stride apart", wide - 1, ws, 80, 0,
             0},
            {"the rule's rows, packed rows", rows, 64, 40, 0, 0},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            clattn_sdpa_problem c = p;
            c.Sq = cases[i].sq;
            c.k_st[2] = cases[i].k_ss, c.v_st[2] = cases[i].v_ss;
            c.k_st[1] = c.k_st[2] == c.D ? c.Skv * c.D : c.D; /* [B, H, S, D] or heads in a row */
            c.v_st[1] = c.v_st[2] == c.Dv ? c.Skv * c.Dv : c.Dv;
            c.k_st[0] = c.Skv * c.k_st[2] * (c.k_st[2] == c.D ? c.Hkv : 1);
            c.v_st[0] = c.Skv * c.v_st[2] * (c.v_st[2] == c.Dv ? c.Hkv : 1);
            clattn_status st = clattn__sdpa_dispatch(cpu, &c, &req, &pl, why, sizeof why);
            TU_CHECK(st == CLATTN_SUCCESS && pl.algo == CLATTN_ALGO_FLASH2 &&
                         pl.scratch_bytes == cases[i].scratch &&
                         clattn__cpu_stage_kv(cpu, &c) == cases[i].staged,
                     "CPU (%d lanes) flash2 float32, %lld rows, %s: %s (scratch %lld)", lanes,
                     (long long)(c.Sq * 16), cases[i].what,
                     cases[i].staged ? "contiguous K/V copies" : "read in place",
                     (long long)pl.scratch_bytes);
            if (!cases[i].staged) continue;
            /* the same problem on a GPU, through a paged cache, and with too little memory */
            st = clattn__sdpa_dispatch(gpu, &c, &req, &pl, why, sizeof why);
            TU_CHECK(st == CLATTN_SUCCESS && pl.scratch_bytes == 0,
                     "GPU flash2 float32, %s: no copies (scratch %lld)", cases[i].what,
                     (long long)pl.scratch_bytes);
            clattn_sdpa_problem paged = c;
            paged.page_size = 16, paged.pages_per_seq = 19;
            TU_CHECK(!clattn__cpu_stage_kv(cpu, &paged), "%s, paged K/V: no copies", cases[i].what);
            clattn_device_caps mem = *cpu;
            mem.global_mem_bytes = CLATTN_CPU_STAGE_KV_MEM_SHARE * cases[i].scratch;
            const int at = clattn__cpu_stage_kv(&mem, &c);
            mem.global_mem_bytes--;
            TU_CHECK(at && !clattn__cpu_stage_kv(&mem, &c),
                     "%s: copies up to 1/%d of the global memory, none past it", cases[i].what,
                     CLATTN_CPU_STAGE_KV_MEM_SHARE);
        }
    }
    /* The two policies differ where they were measured to: 1024 rows of keys 512 bytes apart
     * are copied on 8 lanes (AVX2), read in place on 16 (AVX-512). */
    TU_CHECK(clattn__cpu_tile_policy_for(8)->stage_f32_rows == 1024 &&
                 clattn__cpu_tile_policy_for(16)->stage_f32_rows == 2048 &&
                 clattn__cpu_tile_policy_for(8)->stage_f32_wide_rows == 512 &&
                 clattn__cpu_tile_policy_for(16)->stage_f32_wide_rows == 1024,
             "staging rules: 8 lanes from 1024 rows (512 wide), 16 lanes from 2048 (1024 wide)");
}

/* A CPU profile at both lane widths the CPU tile policies serve (16: AVX-512, 8: AVX2 and
 * NEON-class): on B=1, H=8, d=64 and 128, N from 256 to 2048, plain and causal, the plan takes the
 * tile of the policy for the device's width (not the other's), a tile the kernels accept, and
 * the kernels get that width's lanes and register blocking. */
static void cpu_lanes(const profile *pr) {
    static const int64_t ns[] = {256, 512, 1024, 2048}, ds[] = {64, 128};
    int bad = 0, plans = 0, differ = 0;
    char why[256], detail[256] = "";
    int64_t bq_at[2] = {0, 0};
    for (int w = 0; w < 2; w++) {
        clattn_device_caps c = pr->caps;
        c.preferred_vector_width_float = w ? 16 : 8;
        for (size_t n = 0; n < sizeof ns / sizeof *ns; n++)
            for (size_t d = 0; d < sizeof ds / sizeof *ds; d++)
                for (int causal = 0; causal < 2; causal++) {
                    clattn_sdpa_problem p = problem(1, 8, 8, ns[n], ns[n], ds[d], ds[d], causal);
                    clattn_sdpa_request req = {CLATTN_ALGO_AUTO, CLATTN_FLAVOUR_AUTO, 0, 0, 0};
                    clattn_sdpa_plan pl;
                    int64_t bq = 0, bkv = 0, other_q = 0, other_kv = 0;
                    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, c.preferred_vector_width_float, p.D,
                                           p.Dv, p.Sq, p.Skv, causal, &bq, &bkv);
                    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, w ? 8 : 16, p.D, p.Dv, p.Sq, p.Skv,
                                           causal, &other_q, &other_kv);
                    differ += bq != other_q || bkv != other_kv;
                    const clattn_status st =
                        clattn__sdpa_dispatch(&c, &p, &req, &pl, why, sizeof why);
                    const int64_t vw =
                        clattn__cpu_vector_width(c.preferred_vector_width_float, pl.block_q);
                    const int64_t jb =
                        clattn__cpu_reg_block(c.preferred_vector_width_float, pl.block_q);
                    const int ok = st == CLATTN_SUCCESS && pl.flavour == CLATTN_FLAVOUR_CPU &&
                                   pl.algo == CLATTN_ALGO_FLASH2 && pl.block_q == bq &&
                                   pl.block_kv == bkv &&
                                   clattn__sdpa_cpu_valid_tiles(pl.algo, p.D, p.Dv, bq, bkv) &&
                                   vw == (w && bq % 16 == 0 ? 16 : 8) && jb >= 1 && jb <= 8 &&
                                   jb * (bq / vw) <= (w ? 16 : 12);
                    if (!ok)
                        snprintf(detail, sizeof detail,
                                 "(lanes %d N=%lld d=%lld causal %d: plan %lldx%lld, policy "
                                 "%lldx%lld, VW %lld, JB %lld)",
                                 c.preferred_vector_width_float, (long long)p.Sq, (long long)p.D,
                                 causal, (long long)pl.block_q, (long long)pl.block_kv,
                                 (long long)bq, (long long)bkv, (long long)vw, (long long)jb);
                    if (ns[n] == 2048 && ds[d] == 64 && !causal) bq_at[w] = pl.block_q;
                    bad += !ok;
                    plans++;
                }
    }
    TU_CHECK(bad == 0 && plans == 32,
             "%s at 8 and 16 lanes: %d plans take their width's policy tile, lanes and register "
             "blocking %s",
             pr->name, plans - bad, detail);
    /* the two policies are not one table under two names: they differ somewhere (d=64, N=2048:
     * block_q %lld at 8 lanes, %lld at 16) */
    TU_CHECK(differ > 0 || clattn__cpu_reg_block(8, 32) != clattn__cpu_reg_block(16, 32),
             "%s: the 8- and 16-lane policies differ in tiles or register blocking (d=64, N=2048: "
             "block_q %lld and %lld)",
             pr->name, (long long)bq_at[0], (long long)bq_at[1]);
}

/* float16/bfloat16 K/V on a CPU profile: at 8 lanes block_q rises to the policy's
 * narrow_kv_block_q (24) where a GQA problem's few query positions (Sq <= 16, an f32 block_q of
 * 8 or 16) stack into rows that fill it but are too few for float32 copies of K/V
 * (24 <= Sq * group < 8 x block_q), and stays where they do not fill it, where the copies are
 * made (flash2 then runs the float32 tile) or the f32 choice is already as large (from 17
 * query positions; 16 lanes); float32 K/V keep the f32 choice. */
static void cpu_narrow_kv(const profile *pr) {
    static const struct {
        int lanes, kv_dtype;
        int64_t Hq, Hkv, Sq, want; /* want 0: the f32 plan's block_q */
    } cases[] = {
        {8, CLATTN_DTYPE_F16, 8, 2, 8, 24},    {8, CLATTN_DTYPE_BF16, 8, 1, 4, 24},
        {8, CLATTN_DTYPE_F16, 8, 4, 16, 24},   {8, CLATTN_DTYPE_F16, 8, 8, 12, 0},
        {8, CLATTN_DTYPE_F16, 8, 8, 4096, 0},  {8, CLATTN_DTYPE_BF16, 8, 2, 512, 0},
        {8, CLATTN_DTYPE_F16, 8, 8, 40, 0},    {8, CLATTN_DTYPE_F32, 8, 2, 8, 0},
        {16, CLATTN_DTYPE_F16, 8, 8, 4096, 0},
    };
    int bad = 0;
    char detail[160] = "";
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        clattn_device_caps c = pr->caps;
        c.preferred_vector_width_float = cases[i].lanes;
        clattn_sdpa_problem p = problem(1, cases[i].Hq, cases[i].Hkv, cases[i].Sq, 4096, 64, 64, 0),
                            p32 = p;
        p.kv_dtype = cases[i].kv_dtype;
        clattn_sdpa_request req = {CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_CPU, 0, 0, 0};
        clattn_sdpa_plan pl, pl32;
        char why[256];
        const int ok = clattn__sdpa_dispatch(&c, &p, &req, &pl, why, sizeof why) == 0 &&
                       clattn__sdpa_dispatch(&c, &p32, &req, &pl32, why, sizeof why) == 0 &&
                       pl.block_q == (cases[i].want ? cases[i].want : pl32.block_q) &&
                       pl.block_kv == pl32.block_kv;
        if (!ok)
            snprintf(detail, sizeof detail, "(case %zu: block_q %lld, f32 plan %lld)", i,
                     (long long)pl.block_q, (long long)pl32.block_q);
        bad += !ok;
    }
    TU_CHECK(bad == 0,
             "%s: narrow K/V raise block_q to 24 at 8 lanes where the rows fill it and no float32 "
             "copies are made %s",
             pr->name, detail);
}

int main(void) {
    profile prof[64];
    const int n = load_profiles(prof, 64);
    TU_CHECK(n >= 10, "read %d device profiles", n);
    for (int i = 0; i < n; i++) sweep_profile(&prof[i]);
    for (int i = 0; i < n; i++) {
        if (prof[i].caps.local_mem_type != CLATTN_LOCAL_MEM_GLOBAL) continue;
        cpu_lanes(&prof[i]);
        cpu_narrow_kv(&prof[i]);
        profile wide = prof[i]; /* the same host with AVX-512 */
        wide.caps.preferred_vector_width_float = 16;
        snprintf(wide.name, sizeof wide.name, "%.40s, 16 lanes", prof[i].name);
        sweep_profile(&wide);
    }
    for (int i = 0; i < n; i++) decode_profile(&prof[i]);
    for (int i = 0; i < n; i++)
        if (prof[i].caps.local_mem_type == CLATTN_LOCAL_MEM_LOCAL &&
            prof[i].caps.local_mem_bytes == 49152) {
            refusals(&prof[i].caps);
            shrink_sequence(&prof[i].caps);
            for (int j = 0; j < n; j++)
                if (prof[j].caps.local_mem_type == CLATTN_LOCAL_MEM_GLOBAL) {
                    staging(&prof[i].caps, &prof[j].caps);
                    staging_f32(&prof[i].caps, &prof[j].caps);
                    break;
                }
            break;
        }
    return tu_finish();
}
