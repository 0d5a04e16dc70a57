/* linear.c: enqueueing cl/layer.cl's layer_linear (y = x W over weights in panels, the products
 * of CPU devices) and its packing kernel, for every product that runs it (linear.h). The shape
 * of a work-item follows the lanes and m (at most 3 builds per lane width):
 *   16 lanes  4 rows x 4 vectors of one 64-column panel (16 accumulators), fewer rows for 1 or 2;
 *   8 lanes   6 rows x 2 vectors of one 16-column panel (12 accumulators: with the 2 weight
 *             vectors and the broadcast, 15 of AVX2's 16 registers); 1 or 2 rows (a decode step
 *             of one or two sequences) x 2 panels.
 * The 8-lane shape, measured on the 2-core AVX2 host (2026-12-02, x [m, 2048] W [2048, 6144],
 * kernel variants alternated call by call in one process, medians of 15-41, six runs): against
 * the earlier 2 rows x 4 vectors of 32-column panels (8 accumulators: bench/reg_block.c's loop
 * of that many ran at 0.76-0.91 of 12's rate in the host's slow state), 6 x 2 ran 1.07-1.22x
 * faster at m = 512-2048 (m = 512: 122-183 against 108-165 GFLOP/s), 1.11-1.39x at 64 and
 * 0.90-1.11x at 16; 4 rows x 3 vectors (24-column panels) came within a few percent of 6 x 2;
 * 3 x 4 spilled (the whole layer at 0.7x). The narrower panels alone cost the decode step 0-16%
 * (twice the work-items); two panels a work-item, as many work-items as before, took it
 * 1.09-1.17x faster than before (m = 1 and 2, n = 6144 and 2048: two weight streams). */
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
    const int64_t most = lanes >= 16 ? 4 : 6;
    return m >= most ? most : m >= 2 ? 2 : 1;
}

/* layer_linear's panels per work-item (LINEAR_WP) for m rows. */
static int64_t linear_wp(int lanes, int64_t m) {
    return lanes < 16 && linear_rows(lanes, m) <= 2 ? 2 : 1;
}

clattn_status clattn__linear_kernel(clattn_context *ctx, int lanes, int64_t m, const char *name,
                                    cl_kernel *out) {
    char opts[96];
    snprintf(opts, sizeof opts, "-DLINEAR_VW=%d -DLINEAR_ROWS=%d -DLINEAR_NQ=%d -DLINEAR_WP=%d",
             lanes, (int)linear_rows(lanes, m), (int)clattn__linear_nq(lanes),
             (int)linear_wp(lanes, m));
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
    const int64_t wp = linear_wp(lanes, m), panels = (n + panel - 1) / panel;
    const size_t global[2] = {(size_t)((m + rows - 1) / rows), (size_t)((panels + wp - 1) / wp)};
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
