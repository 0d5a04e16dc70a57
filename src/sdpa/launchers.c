/* launchers.c: which launcher runs a plan: one row per algorithm, one column per kernel flavour.
 * The naive path is the same on both flavours (CLBlast plus one softmax kernel). */
#include "kernel_iface.h"
#include "sdpa/sdpa_internal.h"

#include <stdio.h>
#include <string.h>

static const clattn_sdpa_launcher launchers[][3] = {
    /*                      AUTO  GPU                      CPU */
    [CLATTN_ALGO_NAIVE] = {NULL, clattn__sdpa_naive, clattn__sdpa_naive},
    [CLATTN_ALGO_FLASH1] = {NULL, clattn__sdpa_flash_gpu, clattn__sdpa_flash_cpu},
    [CLATTN_ALGO_FLASH2] = {NULL, clattn__sdpa_flash_gpu, clattn__sdpa_flash_cpu},
    [CLATTN_ALGO_DECODE] = {NULL, clattn__sdpa_decode, clattn__sdpa_decode},
};

clattn_sdpa_launcher clattn__sdpa_launcher(clattn_algo algo, clattn_flavour flavour) {
    const int rows = (int)(sizeof launchers / sizeof launchers[0]);
    if ((int)algo < 0 || (int)algo >= rows || (int)flavour < 0 || (int)flavour > 2) return NULL;
    return launchers[algo][flavour];
}

int64_t clattn__storage_bytes(int storage) {
    switch (storage) {
    case CLATTN_STORAGE_F32:
        return (int64_t)sizeof(cl_float);
    case CLATTN_STORAGE_F16:
    case CLATTN_STORAGE_BF16:
        return (int64_t)sizeof(cl_ushort);
    default:
        return 0;
    }
}

void clattn__sdpa_dtype_options(const clattn_sdpa_problem *p, int with_out, char *s, size_t n) {
    const struct {
        const char *name;
        int dtype;
    } t[4] = {{"Q", p->q_dtype},
              {"KV", p->kv_dtype},
              {"O", with_out ? p->o_dtype : CLATTN_STORAGE_F32},
              {"M", p->has_mask ? p->m_dtype : CLATTN_STORAGE_F32}};
    size_t len = strlen(s);
    for (int i = 0; i < 4; i++) {
        if (t[i].dtype == CLATTN_STORAGE_F32 || len >= n) continue;
        const int w = snprintf(s + len, n - len, " -D%s_DTYPE=%d", t[i].name, t[i].dtype);
        if (w > 0) len += (size_t)w;
    }
}
