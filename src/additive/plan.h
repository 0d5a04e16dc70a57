/* plan.h (additive): the tile chooser of the fused additive-attention step kernel
 * (cl/additive.cl). Pure functions of the device caps and the problem, no OpenCL calls, so the
 * tests run them over every device profile without a device. */
#ifndef CLATTN_DISPATCH_ADDITIVE_H
#define CLATTN_DISPATCH_ADDITIVE_H

#include "clattn.h"

#include <stddef.h>

/* Local memory (bytes) one work-group of the GPU step kernel uses: the reduction scratch (wg
 * floats), the weight tile (block_t floats) and, when staged, W_s s and v (2A floats). Mirrors the
 * __local arrays and the __local argument of cl/additive.cl. */
int64_t clattn__additive_local_bytes(int64_t wg, int64_t block_t, int stage_query, int64_t A);

/* The plan for attention dim A. desc's flavour, block_t and work_group are honoured when set (a
 * forced choice that cannot fit is CLATTN_ERROR_UNSUPPORTED); otherwise:
 *  - flavour: GPU when local memory is on chip (CLATTN_LOCAL_MEM_LOCAL), else CPU;
 *  - GPU work-group: min(256, max work-group size) rounded down to a power of two, halved while the
 *    smallest tile does not fit; lanes = min(16, wg) work-items per scored position;
 *  - W_s s and v are staged when 2A floats fit beside the scratch and a 64-position tile;
 *  - block_t: the largest power of two <= 1024 that fits in what is left.
 * On failure `why` names the limit. */
clattn_status clattn__additive_dispatch(const clattn_device_caps *caps, int64_t A,
                                        const clattn_additive_desc *desc,
                                        clattn_additive_plan *plan, char *why, size_t why_len);

/* The -D options that build `plan` ("-DADDITIVE_CPU" or "-DWG=.. -DLANES=.. ..."). */
void clattn__additive_options(const clattn_additive_plan *plan, char *buf, size_t len);

#endif
