/* test_runtime.c: device selection, the CLATTN_LOCAL_MEM_* and CLATTN_VECTOR_WIDTH overrides,
 * CLBlast's CPU parameters given at context creation, status strings, OpenCL error names, checked
 * arithmetic, the kernel registry (embedded and CLATTN_KERNEL_DIR) and a kernel that fails to
 * build. */
#include "core/blas.h"
#include "core/internal.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_status_strings(void) {
    int distinct = 1;
    for (int a = 0; a <= CLATTN_ERROR_TRANSPORT; a++)
        for (int b = a + 1; b <= CLATTN_ERROR_TRANSPORT; b++)
            if (strcmp(clattn_status_string((clattn_status)a),
                       clattn_status_string((clattn_status)b)) == 0)
                distinct = 0;
    TU_CHECK(distinct, "every status has its own string");
    TU_CHECK(strstr(clattn_status_string(CLATTN_ERROR_SHAPE_MISMATCH), "SHAPE_MISMATCH") != NULL,
             "status string names the code");
    TU_CHECK(strstr(clattn_status_string((clattn_status)999), "UNKNOWN") != NULL,
             "unknown status has a string");
    TU_CHECK(CLATTN_SUCCESS == 0 && CLATTN_ERROR_BUILD_FAILED == 9 && CLATTN_ERROR_FORMAT == 12 &&
                 CLATTN_ERROR_TRANSPORT == 15,
             "status values are stable");
    TU_CHECK(strcmp(clattn__cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES") == 0,
             "CL_OUT_OF_RESOURCES is named, not -5");
    TU_CHECK(strcmp(clattn__cl_error_name(-12345), "CL_UNKNOWN_ERROR") == 0,
             "unknown CL error named");
    TU_CHECK(clattn_version_number() == CLATTN_VERSION_NUMBER &&
                 strcmp(clattn_version_string(), CLATTN_VERSION_STRING) == 0,
             "run-time version matches the header");
}

static void test_checked(void) {
    int64_t r = 0;
    TU_CHECK(clattn__mul64(INT64_MAX / 2, 3, &r) == 1, "mul64 detects overflow");
    TU_CHECK(clattn__mul64(1 << 20, 1 << 20, &r) == 0 && r == ((int64_t)1 << 40), "mul64 ok");
    TU_CHECK(clattn__add64(INT64_MAX, 1, &r) == 1, "add64 detects overflow");
    TU_CHECK(clattn__mul64(-1, 3, &r) == 1, "mul64 rejects negatives");
    int64_t shape[3] = {2, 3, 4}, strides[3] = {12, 4, 1};
    TU_CHECK(clattn__span_bytes(shape, strides, 3, 4, &r) == 0 && r == 96, "span of dense 2x3x4");
    int64_t strides2[3] = {40, 5, 1}; /* padded rows */
    TU_CHECK(clattn__span_bytes(shape, strides2, 3, 4, &r) == 0 && r == (40 + 10 + 3 + 1) * 4,
             "span of strided tensor");
    int64_t big[3] = {INT64_MAX / 4, 4, 4}, bst[3] = {16, 4, 1};
    TU_CHECK(clattn__span_bytes(big, bst, 3, 4, &r) == 1, "span detects overflow");
}

static void test_selection(void) {
    clattn_context *ctx = NULL;
    TU_CHECK(clattn_context_create(NULL, NULL) == CLATTN_ERROR_INVALID_ARGUMENT,
             "NULL out pointer rejected");
    TU_CHECK(clattn_context_create("0:0", &ctx) == CLATTN_SUCCESS && ctx, "select by p:d");
    clattn_device_caps caps;
    memset(&caps, 0, sizeof caps);
    clattn_context_caps(ctx, &caps, sizeof caps);
    TU_CHECK(caps.local_mem_bytes > 0 && caps.max_work_group_size > 0 && caps.compute_units > 0,
             "caps read: local %lld bytes, max wg %lld, %d CUs", (long long)caps.local_mem_bytes,
             (long long)caps.max_work_group_size, caps.compute_units);
    char sub[8];
    snprintf(sub, sizeof sub, "%.5s", caps.device_name);
    for (char *c = sub; *c; c++)
        if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A'); /* case-insensitive */
    clattn_context_destroy(ctx);
    ctx = NULL;
    TU_CHECK(clattn_context_create(sub, &ctx) == CLATTN_SUCCESS && ctx,
             "select by name substring \"%s\"", sub);
    clattn_context_destroy(ctx);
    ctx = NULL;
    clattn_status st = clattn_context_create("no-such-device-xyz", &ctx);
    TU_CHECK(st == CLATTN_ERROR_DEVICE_NOT_FOUND && ctx == NULL &&
                 strstr(clattn_context_create_error(), "no-such-device-xyz") != NULL,
             "unknown selector: DEVICE_NOT_FOUND with message \"%s\"",
             clattn_context_create_error());
    st = clattn_context_create("7:9", &ctx);
    TU_CHECK(st == CLATTN_ERROR_DEVICE_NOT_FOUND, "out-of-range p:d rejected");
    setenv("CLATTN_DEVICE", "no-such-device-xyz", 1);
    st = clattn_context_create(NULL, &ctx);
    TU_CHECK(st == CLATTN_ERROR_DEVICE_NOT_FOUND, "CLATTN_DEVICE is honoured");
    setenv("CLATTN_DEVICE", "0:0", 1);
    st = clattn_context_create(NULL, &ctx);
    TU_CHECK(st == CLATTN_SUCCESS, "CLATTN_DEVICE=0:0 selects");
    clattn_context_destroy(ctx);
    unsetenv("CLATTN_DEVICE");
    clattn_context_destroy(NULL); /* accepted */

    /* Wrapping an application's queue: clattn must leave the application's reference alone. */
    cl_int err;
    cl_platform_id plat;
    cl_device_id dev;
    clGetPlatformIDs(1, &plat, NULL);
    clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL);
    cl_context clctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    cl_command_queue q = clCreateCommandQueue(clctx, dev, 0, &err);
    cl_uint rc_before = 0, rc_after = 0;
    clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof rc_before, &rc_before, NULL);
    ctx = NULL;
    st = clattn_context_create_from_queue(q, &ctx);
    TU_CHECK(st == CLATTN_SUCCESS && clattn_context_queue(ctx) == q, "context from a queue");
    clattn_context_destroy(ctx);
    clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof rc_after, &rc_after, NULL);
    TU_CHECK(rc_after == rc_before, "the application's queue reference is untouched (%u, %u)",
             rc_before, rc_after);
    clReleaseCommandQueue(q);
    clReleaseContext(clctx);
    TU_CHECK(clattn_context_create_from_queue(NULL, &ctx) == CLATTN_ERROR_INVALID_ARGUMENT,
             "NULL queue rejected");
}

static void test_overrides(void) {
    clattn_context *ctx = NULL;
    clattn_device_caps real, c;
    clattn_context_create(NULL, &ctx);
    clattn_context_caps(ctx, &real, sizeof real);
    clattn_context_destroy(ctx);

    setenv("CLATTN_LOCAL_MEM_BYTES", "16384", 1);
    setenv("CLATTN_LOCAL_MEM_TYPE", "local", 1);
    clattn_context_create(NULL, &ctx);
    clattn_context_caps(ctx, &c, sizeof c);
    clattn_context_destroy(ctx);
    TU_CHECK(c.local_mem_bytes == 16384 && c.local_mem_type == CLATTN_LOCAL_MEM_LOCAL &&
                 c.real_local_mem_bytes == real.real_local_mem_bytes,
             "overrides: 16 KiB, local (real %lld)", (long long)c.real_local_mem_bytes);

    char big[64];
    snprintf(big, sizeof big, "%lld", (long long)real.real_local_mem_bytes * 4);
    setenv("CLATTN_LOCAL_MEM_BYTES", big, 1);
    setenv("CLATTN_LOCAL_MEM_TYPE", "global", 1);
    clattn_context_create(NULL, &ctx);
    clattn_context_caps(ctx, &c, sizeof c);
    clattn_context_destroy(ctx);
    TU_CHECK(c.local_mem_bytes == real.real_local_mem_bytes &&
                 c.local_mem_type == CLATTN_LOCAL_MEM_GLOBAL,
             "override never raises local memory above the real size");

    setenv("CLATTN_LOCAL_MEM_BYTES", "lots", 1);
    ctx = NULL;
    clattn_status st = clattn_context_create(NULL, &ctx);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT && !ctx &&
                 strstr(clattn_context_create_error(), "CLATTN_LOCAL_MEM_BYTES") != NULL,
             "malformed CLATTN_LOCAL_MEM_BYTES rejected: %s", clattn_context_create_error());
    unsetenv("CLATTN_LOCAL_MEM_BYTES");
    setenv("CLATTN_LOCAL_MEM_TYPE", "shared", 1);
    st = clattn_context_create(NULL, &ctx);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "malformed CLATTN_LOCAL_MEM_TYPE rejected");
    unsetenv("CLATTN_LOCAL_MEM_TYPE");

    /* the vector width: lowered, never raised */
    const int want8 = real.preferred_vector_width_float < 8 ? real.preferred_vector_width_float : 8;
    setenv("CLATTN_VECTOR_WIDTH", "8", 1);
    clattn_context_create(NULL, &ctx);
    clattn_context_caps(ctx, &c, sizeof c);
    clattn_context_destroy(ctx);
    TU_CHECK(c.preferred_vector_width_float == want8, "CLATTN_VECTOR_WIDTH=8: width %d (real %d)",
             c.preferred_vector_width_float, real.preferred_vector_width_float);
    setenv("CLATTN_VECTOR_WIDTH", "4096", 1);
    clattn_context_create(NULL, &ctx);
    clattn_context_caps(ctx, &c, sizeof c);
    clattn_context_destroy(ctx);
    TU_CHECK(c.preferred_vector_width_float == real.preferred_vector_width_float,
             "CLATTN_VECTOR_WIDTH never raises the width (%d)", c.preferred_vector_width_float);
    setenv("CLATTN_VECTOR_WIDTH", "wide", 1);
    ctx = NULL;
    st = clattn_context_create(NULL, &ctx);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT && !ctx &&
                 strstr(clattn_context_create_error(), "CLATTN_VECTOR_WIDTH") != NULL,
             "malformed CLATTN_VECTOR_WIDTH rejected: %s", clattn_context_create_error());
    unsetenv("CLATTN_VECTOR_WIDTH");
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_registry(void) {
    int n = clattn__kernel_family_count();
    TU_CHECK(n >= 1, "%d embedded kernel families", n);
    /* Every kernel file in cl/ of the source tree is embedded, non-empty and identical to the file.
     */
    const char *srcdir = getenv("CLATTN_SOURCE_DIR");
    clattn_context *ctx = tu_context();
    int seen_common = 0;
    for (int i = 0; i < n; i++) {
        const char *name = clattn__kernel_family_name(i);
        char *src = NULL;
        size_t len = 0;
        clattn_status st = clattn__kernel_source(ctx, name, &src, &len);
        int same = 1;
        if (srcdir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/cl/%s%s", srcdir, name, clattn__kernel_file_ext(name));
            FILE *f = fopen(path, "rb");
            same = 0;
            if (f) {
                char *disk = malloc(len + 2);
                size_t got = disk ? fread(disk, 1, len + 1, f) : 0;
                same = got == len && src && memcmp(disk, src, len) == 0;
                free(disk);
                fclose(f);
            }
        }
        TU_CHECK(st == CLATTN_SUCCESS && len > 0 && same, "embedded %s%s: %zu bytes%s", name,
                 clattn__kernel_file_ext(name), len, srcdir ? ", equal to the source file" : "");
        if (strcmp(name, "common") == 0) seen_common = 1;
        free(src);
    }
    TU_CHECK(seen_common, "common.cl is embedded");
    char *src = NULL;
    size_t len = 0;
    clattn_status st = clattn__kernel_source(ctx, "no_such_family", &src, &len);
    TU_CHECK(st == CLATTN_ERROR_KERNEL_NOT_FOUND &&
                 strstr(clattn_context_last_error(ctx), "no_such_family") != NULL,
             "missing family: KERNEL_NOT_FOUND naming it");
    st = clattn__kernel_source(ctx, "../etc/passwd", &src, &len);
    TU_CHECK(st == CLATTN_ERROR_KERNEL_NOT_FOUND, "path-like family names rejected");

    /* CLATTN_KERNEL_DIR: sources come from disk; a missing or empty file is an error. */
    char dir[] = "/tmp/clattn-kdir-XXXXXX";
    if (!mkdtemp(dir)) {
        TU_CHECK(0, "mkdtemp");
        clattn_context_destroy(ctx);
        return;
    }
    char path[256];
    /* Without the interface header every build fails, naming it. */
    snprintf(path, sizeof path, "%s/probe.cl", dir);
    write_file(path, "__kernel void probe(__global int *out) { out[get_global_id(0)] = "
                     "TEST_COMMON_VALUE * TEST_IFACE_VALUE * (int)get_global_id(0); }\n");
    setenv("CLATTN_KERNEL_DIR", dir, 1);
    cl_kernel k = NULL;
    st = clattn__kernel(ctx, "probe", "", "probe", &k);
    TU_CHECK(st == CLATTN_ERROR_KERNEL_NOT_FOUND &&
                 strstr(clattn_context_last_error(ctx), "kernel_iface.h") != NULL,
             "missing kernel_iface.h: %s", clattn_context_last_error(ctx));
    snprintf(path, sizeof path, "%s/kernel_iface.h", dir);
    write_file(path, "/* test interface */\n#define TEST_IFACE_VALUE 2\n");
    snprintf(path, sizeof path, "%s/common.cl", dir);
    write_file(path, "/* test common */\n#define TEST_COMMON_VALUE 3\n");
    snprintf(path, sizeof path, "%s/empty.cl", dir);
    write_file(path, "");
    snprintf(path, sizeof path, "%s/broken.cl", dir);
    write_file(path, "__kernel void broken(__global int *out) { out[0] = undeclared_symbol; }\n");
    setenv("CLATTN_KERNEL_DIR", dir, 1);
    st = clattn__kernel_source(ctx, "probe", &src, &len);
    TU_CHECK(st == CLATTN_SUCCESS && strstr(src, "TEST_COMMON_VALUE *") != NULL,
             "CLATTN_KERNEL_DIR overrides the embedded sources");
    free(src);
    st = clattn__kernel_source(ctx, "empty", &src, &len);
    TU_CHECK(st == CLATTN_ERROR_KERNEL_NOT_FOUND &&
                 strstr(clattn_context_last_error(ctx), "empty.cl") != NULL,
             "empty kernel file: %s", clattn_context_last_error(ctx));
    st = clattn__kernel_source(ctx, "absent", &src, &len);
    TU_CHECK(st == CLATTN_ERROR_KERNEL_NOT_FOUND &&
                 strstr(clattn_context_last_error(ctx), "absent.cl") != NULL,
             "missing kernel file names it");

    /* A kernel built from the directory (kernel_iface.h and common.cl prepended) runs. */
    st = clattn__kernel(ctx, "probe", "", "probe", &k);
    int ran = 0;
    if (st == CLATTN_SUCCESS) {
        cl_mem out = NULL;
        int host[8] = {0};
        size_t g = 8;
        if (clattn__alloc(ctx, sizeof host, CL_MEM_READ_WRITE, NULL, "probe out", &out) == 0 &&
            clattn__set_args(ctx, k, "probe", sizeof(cl_mem), &out, (size_t)0) == 0 &&
            clattn__launch(ctx, k, 1, &g, NULL, 0, NULL, NULL, "probe") == 0 &&
            clattn__download(ctx, out, host, sizeof host, 0, NULL, "probe") == 0)
            ran = host[5] == 30 && host[7] == 42;
        clattn__release_mem(&out);
        clReleaseKernel(k);
    }
    TU_CHECK(ran, "kernel from CLATTN_KERNEL_DIR with kernel_iface.h and common.cl prepended runs");
    st = clattn__kernel(ctx, "probe", "", "no_such_kernel", &k);
    TU_CHECK(st == CLATTN_ERROR_KERNEL_NOT_FOUND, "unknown kernel function name rejected");

    /* A kernel that fails to compile: BUILD_FAILED with the compiler's log in the message. */
    st = clattn__kernel(ctx, "broken", "-DSOMETHING=1", "broken", &k);
    const char *msg = clattn_context_last_error(ctx);
    TU_CHECK(st == CLATTN_ERROR_BUILD_FAILED && strstr(msg, "broken.cl") != NULL &&
                 strstr(msg, "undeclared_symbol") != NULL,
             "build failure returns BUILD_FAILED with the build log");
    unsetenv("CLATTN_KERNEL_DIR");
    snprintf(path, sizeof path, "rm -rf %s", dir);
    if (system(path) != 0) printf("note: could not remove %s\n", dir);
    clattn_context_destroy(ctx);
}

/* A new context gives CLBlast its device's parameters before any GEMM (core/blas.h says why):
 * nothing in this program runs a GEMM. */
static void test_blas_prepared(void) {
    clattn_context *ctx = tu_context();
    TU_CHECK(clattn__blas_tuned(ctx->device), "a new context's device has CLBlast's parameters");
    clattn_context_destroy(ctx);
}

int main(void) {
    test_blas_prepared();
    test_status_strings();
    test_checked();
    test_selection();
    test_overrides();
    test_registry();
    return tu_finish();
}
