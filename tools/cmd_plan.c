/* cmd_plan.c: `clattn plan`: prints the dispatcher's plan for an attention problem on the
 * selected device as key=value pairs on one line, without running anything. */
#include "cli_sdpa.h"
#include "cli_util.h"
#include "commands.h"

#include <stdio.h>

#define CMD "plan"

int cmd_plan(int argc, char **argv) {
    int64_t B = 1, H = 0, Hkv = 0, Sq = 0, Skv = 0, D = 0, Dv = 0, bq = 0, bkv = 0;
    int causal = 0;
    const char *algo_s = NULL, *fl_s = NULL;
    const cli_opt opts[] = {{"batch", OPT_INT, &B, "batch size (default 1)"},
                            {"heads", OPT_INT, &H, "query heads (required)"},
                            {"kv-heads", OPT_INT, &Hkv, "key/value heads (default: heads)"},
                            {"seq-q", OPT_INT, &Sq, "query length (required)"},
                            {"seq-kv", OPT_INT, &Skv, "key/value length (default: seq-q)"},
                            {"dim", OPT_INT, &D, "head dim of q and k (required)"},
                            {"dim-v", OPT_INT, &Dv, "head dim of v (default: dim)"},
                            {"causal", OPT_FLAG, &causal, "bottom-right causal mask"},
                            {"algo", OPT_STRING, &algo_s, "auto|naive|flash1|flash2"},
                            {"flavour", OPT_STRING, &fl_s, "auto|gpu|cpu kernel flavour"},
                            {"block-q", OPT_INT, &bq, "force the query block (Br)"},
                            {"block-kv", OPT_INT, &bkv, "force the key block (Bc)"},
                            {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts,
                       "--batch B --heads Hq --kv-heads Hkv --seq-q Sq --seq-kv Skv --dim D "
                       "[--dim-v Dv] [--causal] [--algo A] [--flavour F]");
    if (rc) return rc == 1 ? 0 : rc;
    if (!H) return cli_missing(CMD, "heads");
    if (!Sq) return cli_missing(CMD, "seq-q");
    if (!D) return cli_missing(CMD, "dim");
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d);
    d.batch = B;
    d.heads = H;
    d.kv_heads = Hkv ? Hkv : H;
    d.seq_q = Sq;
    d.seq_kv = Skv ? Skv : Sq;
    d.head_dim = D;
    d.head_dim_v = Dv;
    d.causal = causal;
    d.block_q = bq;
    d.block_kv = bkv;
    if (cli_sdpa_algo(CMD, algo_s, &d.algo) || cli_sdpa_flavour(CMD, fl_s, &d.flavour)) return 2;
    clattn_context *ctx = cli_open_context();
    if (!ctx) return 1;
    clattn_sdpa_plan plan;
    clattn_status st = clattn_sdpa_plan_get(ctx, &d, &plan);
    if (st != CLATTN_SUCCESS) {
        rc = cli_fail(CMD, ctx, st);
    } else {
        cli_sdpa_print_plan(stdout, &plan);
        printf("\n");
    }
    clattn_context_destroy(ctx);
    return rc;
}
