/* cli_sdpa.c: the helpers of cli_sdpa.h. */
#include "cli_sdpa.h"

#include <string.h>

static const char *algo_names[] = {"auto", "naive", "flash1", "flash2"};
static const char *flavour_names[] = {"auto", "gpu", "cpu"};

int cli_sdpa_algo(const char *cmd, const char *s, clattn_algo *out) {
    *out = CLATTN_ALGO_AUTO;
    if (!s) return 0;
    for (int i = 0; i < 4; i++)
        if (strcmp(s, algo_names[i]) == 0) {
            *out = (clattn_algo)i;
            return 0;
        }
    fprintf(stderr, "clattn %s: --algo %s: expected auto, naive, flash1 or flash2\n", cmd, s);
    return 2;
}

int cli_sdpa_flavour(const char *cmd, const char *s, clattn_flavour *out) {
    *out = CLATTN_FLAVOUR_AUTO;
    if (!s) return 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(s, flavour_names[i]) == 0) {
            *out = (clattn_flavour)i;
            return 0;
        }
    fprintf(stderr, "clattn %s: --flavour %s: expected auto, gpu or cpu\n", cmd, s);
    return 2;
}

const char *cli_sdpa_algo_name(clattn_algo a) {
    return (a >= 0 && a <= 3) ? algo_names[a] : "?";
}

const char *cli_sdpa_flavour_name(clattn_flavour f) {
    return (f >= 0 && f <= 2) ? flavour_names[f] : "?";
}

void cli_sdpa_print_plan(FILE *f, const clattn_sdpa_plan *p) {
    fprintf(f,
            "algo=%s flavour=%s block_q=%lld block_kv=%lld work_group=%lld local_mem_bytes=%lld "
            "scratch_bytes=%lld global=%lld,%lld",
            cli_sdpa_algo_name(p->algo), cli_sdpa_flavour_name(p->flavour), (long long)p->block_q,
            (long long)p->block_kv, (long long)p->work_group, (long long)p->local_mem_bytes,
            (long long)p->scratch_bytes, (long long)p->global_size[0],
            (long long)p->global_size[1]);
}
