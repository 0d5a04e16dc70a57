/* linear.h: y = x W on CPU devices through cl/layer.cl's layer_linear, over weights stored in
 * panels ([ceil(n / panel)][k][panel], zeros past column n - 1): the attention layer's
 * projections (src/layer/) and the additive key projection (src/additive/). On GPUs those stay
 * CLBlast's GEMMs. See linear.c. */
#ifndef CLATTN_CORE_LINEAR_H
#define CLATTN_CORE_LINEAR_H

#include "core/internal.h"

/* layer_linear's lanes on ctx's device (16 or 8: its preferred float vector width, 8 below 16),
 * or 0 where products stay CLBlast's: everywhere but CPU devices treated as such (local memory
 * in global memory; the tests' GPU-flavour contexts on PoCL are not). */
int clattn__linear_lanes(const clattn_context *ctx);

/* Vectors per panel row at `lanes` lanes (cl/layer.cl's LINEAR_NQ): 4 with 16 lanes, 2 with 8
 * (linear.c says why). */
static inline int64_t clattn__linear_nq(int lanes) {
    return lanes >= 16 ? 4 : 2;
}

/* Columns per panel at `lanes` lanes (cl/layer.cl's LINEAR_PANEL): 64 or 16. */
static inline int64_t clattn__linear_panel(int lanes) {
    return clattn__linear_nq(lanes) * (int64_t)lanes;
}

/* Builds layer_linear (and layer_linear_pack, same options) for `lanes` lanes and m rows. */
clattn_status clattn__linear_kernel(clattn_context *ctx, int lanes, int64_t m, const char *name,
                                    cl_kernel *out);

/* Enqueues y [m, n] = x [m, k] W [k, n], W in panels, with `kernel` from clattn__linear_kernel
 * for the same lanes and m. */
clattn_status clattn__linear_launch(clattn_context *ctx, cl_kernel kernel, int lanes, cl_mem x,
                                    cl_mem w, cl_mem y, int64_t m, int64_t k, int64_t n,
                                    cl_uint num_wait, const cl_event *wait, cl_event *event,
                                    const char *what);

/* Enqueues the panels of W^T from a row-major nn.Linear weight `w` [n, k] on the device into
 * `panels`: k x n rounded up to whole panels floats. m is the rows of the product that will read
 * them, so the packing kernel comes from that product's build (only the lanes matter to it). */
clattn_status clattn__linear_pack(clattn_context *ctx, int lanes, int64_t m, cl_mem w, int64_t n,
                                  int64_t k, cl_mem panels, cl_uint num_wait, const cl_event *wait,
                                  cl_event *event);

#endif /* CLATTN_CORE_LINEAR_H */
