/* cmd_plan.c: `clattn plan`: prints the dispatcher's plan for an attention problem (shape and
 * the options of cli_sdpa.h) on the selected device as key=value pairs on one line, without
 * running anything. */
#include "cli_sdpa.h"
#include "cli_util.h"
#include "commands.h"

#include <stdio.h>

#define CMD "plan"

int cmd_plan(int argc, char **argv) {
    cli_sdpa_shape shape;
    cli_sdpa_options xo;
    cli_opt opts[CLI_SDPA_SHAPE_OPTS + CLI_SDPA_OPTION_OPTS + 1];
    cli_sdpa_shape_opts(&shape, "seq-q", opts);
    cli_sdpa_option_opts(&xo, opts + CLI_SDPA_SHAPE_OPTS);
    opts[CLI_SDPA_SHAPE_OPTS + CLI_SDPA_OPTION_OPTS] = (cli_opt){NULL, OPT_FLAG, NULL, NULL};
    int rc = cli_parse(argc, argv, opts,
                       "--batch B --heads Hq --kv-heads Hkv --seq-q Sq --seq-kv Skv --dim D "
                       "[--dim-v Dv] [--causal] [--causal-align A] [--window L,R] [--softcap C] "
                       "[--alibi [SLOPES.npy]] [--algo A] [--flavour F]");
    if (rc) return rc == 1 ? 0 : rc;
    clattn_sdpa_desc d;
    if (cli_sdpa_shape_desc(CMD, "seq-q", &shape, &d) || cli_sdpa_options_desc(CMD, &xo, &d))
        return 2;
    if (cli_sdpa_options_alibi(CMD, &xo, &d)) return 1;
    clattn_context *ctx = cli_open_context();
    if (!ctx) {
        cli_sdpa_options_free(&xo);
        return 1;
    }
    clattn_sdpa_plan plan;
    clattn_status st = clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
    if (st != CLATTN_SUCCESS) {
        rc = cli_fail(CMD, ctx, st);
    } else {
        cli_sdpa_print_plan(stdout, &plan);
        printf("\n");
    }
    clattn_context_destroy(ctx);
    cli_sdpa_options_free(&xo);
    return rc;
}
