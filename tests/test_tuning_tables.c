/* test_tuning_tables.c: the tuning tables against their own measurements (no device needed):
 * each CPU-flavour tile policy of src/sdpa/cpu_tiles.c (one per lane width: 16 for AVX-512, 8 for
 * AVX2 and NEON-class hosts) picks, on every problem measured on its host, a tile that was
 * measured and is within the noise of its measurements (5%, 10%) of the best measured one, and
 * only tiles the kernels accept; a
 * device gets the policy of its preferred vector width;
 * the CLBlast parameters of src/core/blas.c beat CLBlast's defaults on every measured shape. */
#include "core/blas.h"
#include "sdpa/cpu_tiles.h"
#include "sdpa/plan_cpu.h"
#include "testutil.h"

#include <stdint.h>

static const char *algo_name(clattn_algo a) {
    return a == CLATTN_ALGO_FLASH1 ? "flash1" : a == CLATTN_ALGO_FLASH2 ? "flash2" : "other";
}

static int same_problem(const clattn_cpu_tile_run *a, const clattn_cpu_tile_run *b) {
    return a->algo == b->algo && a->D == b->D && a->causal == b->causal && a->heads == b->heads &&
           a->Sq == b->Sq && a->Skv == b->Skv;
}

/* Every distinct problem of one table: the policy's tile must have been measured there, its
 * block_kv within the policy's noise (5% on the AVX-512 host, 10% on the AVX2 one)
 * of the best block_kv at its block_q and, for flash2, the tile within it of the best tile.
 * flash1's block_q is not held to the table: it takes flash2's rule, and its one block_q 64 row
 * (106) beats its block_q 32 rows (86). */
static void check_runs(const clattn_cpu_tile_policy *pol, const clattn_cpu_tile_table *tab) {
    const char *table = tab->name;
    const clattn_cpu_tile_run *runs = tab->runs;
    const size_t n = tab->n;
    for (size_t i = 0; i < n; i++) {
        const clattn_cpu_tile_run *p = &runs[i];
        int first = 1;
        for (size_t j = 0; j < i && first; j++) first = !same_problem(&runs[j], p);
        if (!first) continue;
        int64_t bq, bkv;
        clattn__sdpa_cpu_tiles(p->algo, pol->lanes, p->D, p->D, p->Sq, p->Skv, p->causal, &bq,
                               &bkv);
        double at = 0, best_kv = 0, best = 0;
        for (size_t j = i; j < n; j++) {
            const clattn_cpu_tile_run *r = &runs[j];
            if (!same_problem(r, p)) continue;
            if (r->gflops > best) best = r->gflops;
            if (r->block_q != bq) continue;
            if (r->gflops > best_kv) best_kv = r->gflops;
            if (r->block_kv == bkv) at = r->gflops;
        }
        const double keep = 1.0 - pol->noise;
        TU_CHECK(at > 0 && at >= keep * best_kv &&
                     (p->algo == CLATTN_ALGO_FLASH1 || at >= keep * best),
                 "%s: %s D=%lld%s heads %lld Sq=%lld Skv=%lld: policy %lldx%lld at %.0f, best "
                 "block_kv at that block_q %.0f, best tile %.0f",
                 table, algo_name(p->algo), (long long)p->D, p->causal ? " causal" : "",
                 (long long)p->heads, (long long)p->Sq, (long long)p->Skv, (long long)bq,
                 (long long)bkv, at, best_kv, best);
    }
}

static void check_policy_tiles(const clattn_cpu_tile_policy *pol) {
    static const int64_t dims[] = {1, 16, 17, 64, 100, 128, 200, 256};
    int bad = 0, n = 0;
    for (size_t q = 0; q < pol->n_block_q; q++)
        for (size_t k = 0; k < pol->n_block_kv; k++)
            for (size_t d = 0; d < sizeof dims / sizeof *dims; d++, n++)
                bad += !clattn__sdpa_cpu_valid_tiles(pol->block_kv[k].algo, dims[d], dims[d],
                                                     pol->block_q[q].block_q,
                                                     pol->block_kv[k].block_kv);
    TU_CHECK(n > 0 && bad == 0,
             "%d-lane policy: %d tiles (block_q rule x block_kv rule x D) are ones the "
             "kernels accept (%d refused)",
             pol->lanes, n, bad);

    /* every Sq finds a block_q rule that holds whatever K and V and the mask are */
    static const int64_t sqs[] = {INT64_MIN, 0, 1, 8, 9, 16, 17, 63, 64, 1 << 20, INT64_MAX};
    int covered = 0;
    for (size_t s = 0; s < sizeof sqs / sizeof *sqs; s++)
        for (size_t q = 0; q < pol->n_block_q; q++) {
            const clattn_cpu_block_q_rule *r = &pol->block_q[q];
            if (!r->streaming_only && r->keys == CLATTN_CPU_ANY_KEYS && r->skv_max == INT64_MAX &&
                sqs[s] >= r->sq_min && sqs[s] <= r->sq_max) {
                covered++;
                break;
            }
        }
    TU_CHECK(covered == (int)(sizeof sqs / sizeof *sqs),
             "%d-lane policy: the block_q rules cover every Sq", pol->lanes);
}

static void check_blas(void) {
    for (size_t i = 0; i < clattn__blas_cpu_runs_count; i++) {
        const clattn_blas_run *r = &clattn__blas_cpu_runs[i];
        TU_CHECK(r->gflops_tuned > r->gflops_default,
                 "CLBlast on PoCL, %s %lldx%lldx%lld%s x%lld: our parameters %.1f > defaults %.1f",
                 r->what, (long long)r->m, (long long)r->n, (long long)r->k, r->trans_b ? " T" : "",
                 (long long)r->batch, r->gflops_tuned, r->gflops_default);
    }
}

/* Which policy a device gets: the widest whose lanes its preferred float vector width reaches,
 * the narrowest for anything below. */
static void check_policy_choice(void) {
    static const int widths[] = {0, 1, 4, 8, 15, 16, 32};
    static const int lanes[] = {8, 8, 8, 8, 8, 16, 16};
    int ok = clattn__cpu_tile_policies_count == 2;
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++)
        ok &= clattn__cpu_tile_policy_for(widths[i])->lanes == lanes[i];
    TU_CHECK(ok, "two CPU tile policies, chosen by the device's preferred vector width");
}

int main(void) {
    TU_CHECK(clattn__cpu_tile_policies_count > 0 && clattn__blas_cpu_runs_count > 0,
             "the tables are not empty");
    check_policy_choice();
    for (size_t p = 0; p < clattn__cpu_tile_policies_count; p++) {
        const clattn_cpu_tile_policy *pol = &clattn__cpu_tile_policies[p];
        size_t rows = 0;
        for (size_t t = 0; t < pol->n_tables; t++) {
            check_runs(pol, &pol->tables[t]);
            rows += pol->tables[t].n;
        }
        TU_CHECK(rows > 0 && pol->host && pol->accumulators > 0, "%d-lane policy: %zu rows from %s",
                 pol->lanes, rows, pol->host ? pol->host : "(no host)");
        check_policy_tiles(pol);
    }
    check_blas();
    return tu_finish();
}
