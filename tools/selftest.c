/* selftest.c: `clattn selftest`: builds every embedded kernel family for the selected device
 * (through the program cache, so a second run loads binaries), then runs each registered check
 * against the CPU reference. One line per step; exit status 1 on any failure. */
#include "cli_util.h"
#include "commands.h"
#include "core/internal.h"
#include "selftest.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Checks registered by the kernel families (tools/selftest_*.c). */
/* One check per line (clang-format would pack the table into columns). */
/* clang-format off */
static const selftest_check checks[] = {
    {"additive", selftest_additive},
    {"gru", selftest_gru},
    {"softmax/naive", selftest_sdpa_naive},
    {"flash1_gpu", selftest_flash1_gpu},
    {"flash2_gpu", selftest_flash2_gpu},
    {"flash1_cpu", selftest_flash1_cpu},
    {"flash2_cpu", selftest_flash2_cpu},
    {NULL, NULL},
};
/* clang-format on */

void selftest_fill(float *x, size_t n, unsigned seed) {
    unsigned s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cmd_selftest(int argc, char **argv) {
    const cli_opt opts[] = {{NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, "[--device SEL]");
    if (rc) return rc == 1 ? 0 : rc;
    double t0 = now_s();
    clattn_context *ctx = cli_open_context();
    if (!ctx) return 1;
    clattn_device_caps caps;
    clattn_context_caps(ctx, &caps, sizeof caps);
    printf("device: %s (%s), local memory %lld bytes (%s)\n", caps.device_name, caps.platform_name,
           (long long)caps.local_mem_bytes,
           caps.local_mem_type == CLATTN_LOCAL_MEM_LOCAL ? "local" : "global");
    int passed = 0, failed = 0;
    for (int i = 0; i < clattn__kernel_family_count(); i++) {
        const char *name = clattn__kernel_family_name(i);
        if (clattn__kernel_is_prelude(name)) continue;
        cl_program p = NULL;
        double t = now_s();
        clattn_status st = clattn__program(ctx, name, "", &p);
        if (st == CLATTN_SUCCESS) {
            printf("ok    build %-20s %.2f s\n", name, now_s() - t);
            passed++;
        } else {
            printf("FAIL  build %-20s %s: %s\n", name, clattn_status_string(st),
                   clattn_context_last_error(ctx));
            failed++;
        }
    }
    for (const selftest_check *c = checks; c->name; c++) {
        char msg[512] = "";
        double t = now_s();
        int bad = c->run(ctx, msg, sizeof msg);
        printf("%s  check %-20s %s (%.2f s)\n", bad ? "FAIL" : "ok  ", c->name, msg, now_s() - t);
        if (bad)
            failed++;
        else
            passed++;
    }
    clattn_cache_stats cs;
    clattn_context_cache_stats(ctx, &cs, sizeof cs);
    printf("program cache: %lld built from source, %lld loaded from binary, %lld disk writes, "
           "%lld rejected entries\n",
           (long long)cs.builds_from_source, (long long)cs.loads_from_binary,
           (long long)cs.disk_writes, (long long)cs.disk_rejects);
    printf("selftest: %.2f s\n", now_s() - t0);
    printf("%d passed, %d failed\n", passed, failed);
    clattn_context_destroy(ctx);
    return failed ? 1 : 0;
}
