/* linear.c: enqueueing cl/layer.cl's layer_linear (y = x W over weights in panels, the products
 * of CPU devices) and its packing kernel, for every product that runs it (linear.h). Rows per
 * work-item follow m: 4 x 4 vectors of accumulators with 16 lanes, 2 x 4 with 8 (about half the
 * vector registers), fewer for 1 or 2 rows (a decode step of one or two sequences): at most 3
 * builds per lane width. */
#include "core/linear.h"

#include <stdio.h>

int clattn__linear_lanes(const clattn_context *ctx) {
    if (!(ctx->caps.type & CL_DEVICE_TYPE_CPU) ||
        ctx->caps.local_mem_type != CLATTN_LOCAL_MEM_GLOBAL)
        return 0;
    return ctx->caps.preferred_vector_width_float >= 16 ? 16 : 8;
}

/* layer_linear's rows per work-item (LINEAR_ROWS) for m rows. */
static int64_t linear_rows(int lanes, int64_t m) {
    const int64_t most = lanes >= 16 ? 4 : 2;
    return m >= most ? most : m >= 2 ? 2 : 1;
}

clattn_status clattn__linear_kernel(clattn_context *ctx, int lanes, int64_t m, const char *name,
                                    cl_kernel *out) {
    char opts[48];
    snprintf(opts, sizeof opts, "-DLINEAR_VW=%d -DLINEAR_ROWS=%d", lanes,
             (int)linear_rows(lanes, m));
    return clattn__kernel(ctx, "layer", opts, name, out);
}

clattn_status clattn__linear_launch(clattn_context *ctx, cl_kernel kernel, int lanes, cl_mem x,
                                    cl_mem w, cl_mem y, int64_t m, int64_t k, int64_t n,
                                    cl_uint num_wait, const cl_event *wait, cl_event *event,
                                    const char *what) {
    const cl_long ml = m, kl = k, nl = n;
    clattn_status st =
        clattn__set_args(ctx, kernel, what, sizeof(cl_mem), &x, sizeof(cl_mem), &w, sizeof(cl_mem),
                         &y, sizeof ml, &ml, sizeof kl, &kl, sizeof nl, &nl, (size_t)0);
    const int64_t rows = linear_rows(lanes, m), panel = clattn__linear_panel(lanes);
    const size_t global[2] = {(size_t)((m + rows - 1) / rows), (size_t)((n + panel - 1) / panel)};
    return st ? st : clattn__launch(ctx, kernel, 2, global, NULL, num_wait, wait, event, what);
}

clattn_status clattn__linear_pack(clattn_context *ctx, int lanes, int64_t m, cl_mem w, int64_t n,
                                  int64_t k, cl_mem panels, cl_uint num_wait, const cl_event *wait,
                                  cl_event *event) {
    cl_kernel kern;
    clattn_status st = clattn__linear_kernel(ctx, lanes, m, "layer_linear_pack", &kern);
    if (st != CLATTN_SUCCESS) return st;
    const cl_long kl = k, nl = n;
    st = clattn__set_args(ctx, kern, "layer_linear_pack", sizeof(cl_mem), &w, sizeof(cl_mem),
                          &panels, sizeof kl, &kl, sizeof nl, &nl, (size_t)0);
    const int64_t panel = clattn__linear_panel(lanes);
    const size_t global[3] = {(size_t)panel, (size_t)k, (size_t)((n + panel - 1) / panel)};
    if (st == CLATTN_SUCCESS)
        st = clattn__launch(ctx, kern, 3, global, NULL, num_wait, wait, event, "layer_linear_pack");
    clReleaseKernel(kern);
    return st;
}
