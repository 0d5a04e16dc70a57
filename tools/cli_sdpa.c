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

void cli_sdpa_shape_opts(cli_sdpa_shape *s, const char *seq_name, cli_opt *opts) {
    memset(s, 0, sizeof *s);
    s->batch = 1;
    const cli_opt o[CLI_SDPA_SHAPE_OPTS] = {
        {"batch", OPT_INT, &s->batch, "batch size (default 1)"},
        {"heads", OPT_INT, &s->heads, "query heads (required)"},
        {"kv-heads", OPT_INT, &s->kv_heads, "key/value heads (default: heads)"},
        {seq_name, OPT_INT, &s->seq_q, "query length (required)"},
        {"seq-kv", OPT_INT, &s->seq_kv, "key/value length (default: the query length)"},
        {"dim", OPT_INT, &s->dim, "head dim of q and k (required)"},
        {"dim-v", OPT_INT, &s->dim_v, "head dim of v (default: dim)"},
        {"causal", OPT_FLAG, &s->causal, "bottom-right causal mask"},
        {"algo", OPT_STRING, &s->algo, "auto|naive|flash1|flash2"},
        {"flavour", OPT_STRING, &s->flavour, "auto|gpu|cpu kernel flavour"},
        {"block-q", OPT_INT, &s->block_q, "force the query block (Br)"},
        {"block-kv", OPT_INT, &s->block_kv, "force the key block (Bc)"}};
    memcpy(opts, o, sizeof o);
}

int cli_sdpa_shape_desc(const char *cmd, const char *seq_name, const cli_sdpa_shape *s,
                        clattn_sdpa_desc *d) {
    if (!s->heads) return cli_missing(cmd, "heads");
    if (!s->seq_q) return cli_missing(cmd, seq_name);
    if (!s->dim) return cli_missing(cmd, "dim");
    clattn_sdpa_desc_init(d, sizeof *d);
    d->batch = s->batch;
    d->heads = s->heads;
    d->kv_heads = s->kv_heads ? s->kv_heads : s->heads;
    d->seq_q = s->seq_q;
    d->seq_kv = s->seq_kv ? s->seq_kv : s->seq_q;
    d->head_dim = s->dim;
    d->head_dim_v = s->dim_v ? s->dim_v : s->dim;
    d->causal = s->causal;
    d->block_q = s->block_q;
    d->block_kv = s->block_kv;
    if (cli_sdpa_algo(cmd, s->algo, &d->algo) || cli_sdpa_flavour(cmd, s->flavour, &d->flavour))
        return 2;
    return 0;
}
