/* clfault.c: an LD_PRELOAD shim for fault-injection tests. It interposes six OpenCL entry points
 * (clCreateBuffer, clCreateKernel, clBuildProgram, clEnqueueNDRangeKernel, clEnqueueReadBuffer,
 * clEnqueueWriteBuffer), forwards every call to the real one found with dlsym(RTLD_NEXT), counts
 * the calls, and makes one chosen call fail:
 *   CLFAULT_FUNC=name|any  the function whose calls are counted for the fault ("any": all six)
 *   CLFAULT_N=n            the n-th such call (from 1) fails; every other call goes through
 *   CLFAULT_ERR=name       CL_OUT_OF_RESOURCES (default) or CL_MEM_OBJECT_ALLOCATION_FAILURE
 *   CLFAULT_COUNT=file     at exit, write "name count" per function and "any total" to file
 *   CLFAULT_LOG=file       when the fault fires, write one line to file: the function, its call
 *                          number, the error and the object that called it (dladdr), so a test
 *                          knows whether the program itself or a library under it saw the fault
 * A failing clCreateBuffer/clCreateKernel returns NULL and sets *errcode_ret; the others return
 * the error. The shim never writes to stdout or stderr, so the program's messages are its own. */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_CREATE_BUFFER, F_CREATE_KERNEL, F_BUILD_PROGRAM, F_ND_RANGE, F_READ, F_WRITE, F_COUNT };

static const char *const names[F_COUNT] = {"clCreateBuffer",      "clCreateKernel",
                                           "clBuildProgram",      "clEnqueueNDRangeKernel",
                                           "clEnqueueReadBuffer", "clEnqueueWriteBuffer"};

static atomic_long calls[F_COUNT];
static atomic_long calls_any;
static int target = -2; /* -2: not configured yet, -1: no fault, F_COUNT: any, else a function */
static long fault_n;
static cl_int fault_err = CL_OUT_OF_RESOURCES;
static void *real[F_COUNT];

static const char *err_name(cl_int e) {
    return e == CL_MEM_OBJECT_ALLOCATION_FAILURE ? "CL_MEM_OBJECT_ALLOCATION_FAILURE"
                                                 : "CL_OUT_OF_RESOURCES";
}

__attribute__((constructor)) static void configure(void) {
    for (int i = 0; i < F_COUNT; i++) real[i] = dlsym(RTLD_NEXT, names[i]);
    const char *func = getenv("CLFAULT_FUNC"), *n = getenv("CLFAULT_N");
    const char *err = getenv("CLFAULT_ERR");
    target = -1;
    if (err && strcmp(err, "CL_MEM_OBJECT_ALLOCATION_FAILURE") == 0)
        fault_err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    if (!func || !n || (fault_n = strtol(n, NULL, 10)) <= 0) return;
    if (strcmp(func, "any") == 0) target = F_COUNT;
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(func, names[i]) == 0) target = i;
}

__attribute__((destructor)) static void write_counts(void) {
    const char *path = getenv("CLFAULT_COUNT");
    FILE *f = path && *path ? fopen(path, "w") : NULL;
    if (!f) return;
    for (int i = 0; i < F_COUNT; i++) fprintf(f, "%s %ld\n", names[i], atomic_load(&calls[i]));
    fprintf(f, "any %ld\n", atomic_load(&calls_any));
    fclose(f);
}

/* Counts one call of function f; returns the error to inject, or CL_SUCCESS to forward it. */
static cl_int count_call(int f, const void *caller) {
    long own = atomic_fetch_add(&calls[f], 1) + 1;
    long any = atomic_fetch_add(&calls_any, 1) + 1;
    if (target == -2) configure(); /* called before our constructor ran */
    if (!((target == f && own == fault_n) || (target == F_COUNT && any == fault_n)))
        return CL_SUCCESS;
    const char *path = getenv("CLFAULT_LOG");
    FILE *log = path && *path ? fopen(path, "w") : NULL;
    if (log) {
        Dl_info info;
        const char *obj = dladdr(caller, &info) && info.dli_fname ? info.dli_fname : "?";
        fprintf(log, "%s %ld any %ld %s caller %s\n", names[f], own, any, err_name(fault_err), obj);
        fclose(log);
    }
    return fault_err;
}

/* The real entry point f, cast to the type of the wrapper `self`; NULL when it was not found. */
#define REAL(f, self) ((__typeof__(&self))real[f])

CL_API_ENTRY cl_mem CL_API_CALL clCreateBuffer(cl_context context, cl_mem_flags flags, size_t size,
                                               void *host_ptr, cl_int *errcode_ret) {
    cl_int e = count_call(F_CREATE_BUFFER, __builtin_return_address(0));
    if (e == CL_SUCCESS && !REAL(F_CREATE_BUFFER, clCreateBuffer)) e = CL_INVALID_OPERATION;
    if (e != CL_SUCCESS) {
        if (errcode_ret) *errcode_ret = e;
        return NULL;
    }
    return REAL(F_CREATE_BUFFER, clCreateBuffer)(context, flags, size, host_ptr, errcode_ret);
}

CL_API_ENTRY cl_kernel CL_API_CALL clCreateKernel(cl_program program, const char *kernel_name,
                                                  cl_int *errcode_ret) {
    cl_int e = count_call(F_CREATE_KERNEL, __builtin_return_address(0));
    if (e == CL_SUCCESS && !REAL(F_CREATE_KERNEL, clCreateKernel)) e = CL_INVALID_OPERATION;
    if (e != CL_SUCCESS) {
        if (errcode_ret) *errcode_ret = e;
        return NULL;
    }
    return REAL(F_CREATE_KERNEL, clCreateKernel)(program, kernel_name, errcode_ret);
}

CL_API_ENTRY cl_int CL_API_CALL clBuildProgram(cl_program program, cl_uint num_devices,
                                               const cl_device_id *device_list, const char *options,
                                               void(CL_CALLBACK *pfn_notify)(cl_program, void *),
                                               void *user_data) {
    cl_int e = count_call(F_BUILD_PROGRAM, __builtin_return_address(0));
    if (e != CL_SUCCESS) return e;
    if (!REAL(F_BUILD_PROGRAM, clBuildProgram)) return CL_INVALID_OPERATION;
    return REAL(F_BUILD_PROGRAM, clBuildProgram)(program, num_devices, device_list, options,
                                                 pfn_notify, user_data);
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueNDRangeKernel(
    cl_command_queue queue, cl_kernel kernel, cl_uint work_dim, const size_t *global_work_offset,
    const size_t *global_work_size, const size_t *local_work_size, cl_uint num_events,
    const cl_event *event_wait_list, cl_event *event) {
    cl_int e = count_call(F_ND_RANGE, __builtin_return_address(0));
    if (e != CL_SUCCESS) return e;
    if (!REAL(F_ND_RANGE, clEnqueueNDRangeKernel)) return CL_INVALID_OPERATION;
    return REAL(F_ND_RANGE, clEnqueueNDRangeKernel)(queue, kernel, work_dim, global_work_offset,
                                                    global_work_size, local_work_size, num_events,
                                                    event_wait_list, event);
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueReadBuffer(cl_command_queue queue, cl_mem buffer,
                                                    cl_bool blocking, size_t offset, size_t size,
                                                    void *ptr, cl_uint num_events,
                                                    const cl_event *event_wait_list,
                                                    cl_event *event) {
    cl_int e = count_call(F_READ, __builtin_return_address(0));
    if (e != CL_SUCCESS) return e;
    if (!REAL(F_READ, clEnqueueReadBuffer)) return CL_INVALID_OPERATION;
    return REAL(F_READ, clEnqueueReadBuffer)(queue, buffer, blocking, offset, size, ptr, num_events,
                                             event_wait_list, event);
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueWriteBuffer(cl_command_queue queue, cl_mem buffer,
                                                     cl_bool blocking, size_t offset, size_t size,
                                                     const void *ptr, cl_uint num_events,
                                                     const cl_event *event_wait_list,
                                                     cl_event *event) {
    cl_int e = count_call(F_WRITE, __builtin_return_address(0));
    if (e != CL_SUCCESS) return e;
    if (!REAL(F_WRITE, clEnqueueWriteBuffer)) return CL_INVALID_OPERATION;
    return REAL(F_WRITE, clEnqueueWriteBuffer)(queue, buffer, blocking, offset, size, ptr,
                                               num_events, event_wait_list, event);
}
