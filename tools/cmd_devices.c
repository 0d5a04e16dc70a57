/* cmd_devices.c: `clattn devices`, one row per OpenCL device with the limits the dispatcher
 * reads. With --device, only the selected device (with the CLATTN_LOCAL_MEM_* overrides). Under
 * a PoCL device, a line on POCL_AFFINITY (cli_affinity.c). */
#include "cli_util.h"
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>

static const char *type_name(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU) return "gpu";
    if (t & CL_DEVICE_TYPE_CPU) return "cpu";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

static void row(const clattn_device_caps *c) {
    printf("%d:%-4d %-28.28s %-48.48s %-5s %4d %10lld %-6s %6lld %-4s %s\n", c->platform_index,
           c->device_index, c->platform_name, c->device_name, type_name(c->type), c->compute_units,
           (long long)c->local_mem_bytes,
           c->local_mem_type == CLATTN_LOCAL_MEM_LOCAL ? "local" : "global",
           (long long)c->max_work_group_size, c->has_fp16 ? "yes" : "no",
           c->has_subgroups ? "yes" : "no");
}

int cmd_devices(int argc, char **argv) {
    const cli_opt opts[] = {{NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, "[--device SEL]");
    if (rc) return rc == 1 ? 0 : rc;
    printf("%-6s %-28s %-48s %-5s %4s %10s %-6s %6s %-4s %s\n", "id", "platform", "device", "type",
           "cu", "local_mem", "lmtype", "max_wg", "fp16", "subgroups");
    if (cli_device()) {
        clattn_context *ctx = cli_open_context();
        if (!ctx) return 1;
        clattn_device_caps c;
        clattn_context_caps(ctx, &c, sizeof c);
        row(&c);
        cli_affinity_note(stdout, cli_is_pocl(c.platform_name));
        clattn_context_destroy(ctx);
        return 0;
    }
    int n = 0;
    clattn_status st = clattn_device_list(NULL, 0, 0, &n);
    if (st != CLATTN_SUCCESS) return cli_fail("devices", NULL, st);
    if (n == 0) {
        fprintf(stderr, "clattn devices: no OpenCL device found\n");
        return 1;
    }
    clattn_device_caps *caps = calloc((size_t)n, sizeof *caps);
    if (!caps) return cli_fail("devices", NULL, CLATTN_ERROR_OUT_OF_MEMORY);
    const int capacity = n; /* n becomes the total, which may change between the calls */
    st = clattn_device_list(caps, sizeof *caps, capacity, &n);
    int pocl = 0;
    for (int i = 0; st == CLATTN_SUCCESS && i < n && i < capacity; i++) {
        row(&caps[i]);
        pocl |= cli_is_pocl(caps[i].platform_name);
    }
    cli_affinity_note(stdout, pocl);
    free(caps);
    return 0;
}
