/* kernel_registry.c: where kernel sources come from: the table that cmake/embed_kernels.cmake
 * generates at build time, or files under $CLATTN_KERNEL_DIR for kernel development. */
#include "core/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clattn_embedded_kernel {
    const char *name;
    const char *source;
    size_t length;
};
extern const struct clattn_embedded_kernel clattn_embedded_kernels[];
extern const int clattn_embedded_kernel_count;

int clattn__kernel_family_count(void) {
    return clattn_embedded_kernel_count;
}

const char *clattn__kernel_family_name(int i) {
    if (i < 0 || i >= clattn_embedded_kernel_count) return NULL;
    return clattn_embedded_kernels[i].name;
}

int clattn__kernel_is_prelude(const char *name) {
    return name &&
           (strcmp(name, CLATTN_KERNEL_IFACE) == 0 || strcmp(name, CLATTN_KERNEL_COMMON) == 0);
}

const char *clattn__kernel_file_ext(const char *name) {
    return name && strcmp(name, CLATTN_KERNEL_IFACE) == 0 ? ".h" : ".cl";
}

static int clattn__valid_family(const char *family) {
    if (!family || !*family || strlen(family) > 64) return 0;
    for (const char *c = family; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return 0;
    return 1;
}

static clattn_status clattn__read_kernel_file(clattn_context *ctx, const char *dir,
                                              const char *family, char **src, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, family, clattn__kernel_file_ext(family));
    FILE *f = fopen(path, "rb");
    if (!f)
        return clattn__fail(ctx, CLATTN_ERROR_KERNEL_NOT_FOUND,
                            "kernel %s%s not found in CLATTN_KERNEL_DIR: %s: %s", family,
                            clattn__kernel_file_ext(family), path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "reading %s", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return clattn__fail(ctx, CLATTN_ERROR_IO, "error reading kernel file %s", path);
    }
    if (n == 0) {
        free(buf);
        return clattn__fail(ctx, CLATTN_ERROR_KERNEL_NOT_FOUND, "kernel file %s is empty", path);
    }
    buf[n] = '\0';
    *src = buf;
    *len = n;
    return CLATTN_SUCCESS;
}

clattn_status clattn__kernel_source(clattn_context *ctx, const char *family, char **src,
                                    size_t *len) {
    *src = NULL;
    *len = 0;
    if (!clattn__valid_family(family))
        return clattn__fail(ctx, CLATTN_ERROR_KERNEL_NOT_FOUND, "invalid kernel family name '%s'",
                            family ? family : "(null)");
    const char *dir = getenv("CLATTN_KERNEL_DIR");
    if (dir && *dir) return clattn__read_kernel_file(ctx, dir, family, src, len);
    for (int i = 0; i < clattn_embedded_kernel_count; i++) {
        const struct clattn_embedded_kernel *k = &clattn_embedded_kernels[i];
        if (strcmp(k->name, family) != 0) continue;
        if (k->length == 0 || !k->source)
            return clattn__fail(ctx, CLATTN_ERROR_KERNEL_NOT_FOUND,
                                "embedded kernel %s.cl is empty", family);
        char *copy = malloc(k->length + 1);
        if (!copy) return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "copying %s.cl", family);
        memcpy(copy, k->source, k->length);
        copy[k->length] = '\0';
        *src = copy;
        *len = k->length;
        return CLATTN_SUCCESS;
    }
    return clattn__fail(ctx, CLATTN_ERROR_KERNEL_NOT_FOUND, "kernel %s.cl is not embedded", family);
}
