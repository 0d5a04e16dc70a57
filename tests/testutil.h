/* testutil.h: helpers every test executable shares: a seeded random generator, poisoning,
 * comparison against float64 references with a per-element report, a pass/fail tally that ends
 * each executable with the plain "N passed, N failed" line, and host storage-type conversions. */
#ifndef CLATTN_TESTUTIL_H
#define CLATTN_TESTUTIL_H

#include "clattn.h"

#include <stdint.h>
#include <stdio.h>

extern int tu_passed, tu_failed;

/* Records one check; prints "ok"/"FAIL" with the formatted name. Returns cond. */
int tu_check(int cond, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The condition is evaluated before the message's arguments (the sequence point of ?:), so a
 * message may print what the condition's calls wrote; as one call's arguments their order was
 * unspecified, and a message printed a plan before the dispatch in the condition had filled it. */
#define TU_CHECK(cond, ...) ((cond) ? tu_check(1, __VA_ARGS__) : tu_check(0, __VA_ARGS__))
/* Prints the tally and returns the process exit code (0 only when nothing failed and something
 * was checked). */
int tu_finish(void);

/* xorshift64* seeded from $CLATTN_TEST_SEED or the clock; the seed is printed once. */
uint64_t tu_seed(void);
double tu_uniform(void); /* [0, 1) */
void tu_fill_uniform(float *x, int64_t n, float lo, float hi);
void tu_fill_normal(float *x, int64_t n, float scale);
float *tu_alloc_floats(int64_t n);   /* malloc that aborts the test (not the library) on failure */
void *tu_alloc_zeroed(size_t bytes); /* the same for calloc */
/* Fills with a NaN bit pattern so an element the library never wrote fails every comparison. */
void tu_poison(float *x, int64_t n);

/* Compares got[i] with ref[i]: |got - ref| <= atol + rtol * |ref|, every element, NaN and Inf
 * in got failing unless ref is the same infinity or NaN (a NaN still carrying tu_poison's
 * payload always fails: the element was never written). Prints the worst element. Returns 1
 * when all pass. */
int tu_compare(const char *what, const float *got, const double *ref, int64_t n, double atol,
               double rtol);

/* Creates the context the tests use ($CLATTN_DEVICE or the default); exits the test with a
 * failure message when there is none. */
clattn_context *tu_context(void);
/* A context on the same device that plans the GPU flavour (CLATTN_LOCAL_MEM_TYPE=local) with
 * local_bytes of local memory, so the GPU kernels run on PoCL too. */
clattn_context *tu_gpu_context(int64_t local_bytes);

/* Host conversions to and from the 16-bit storage types, written independently of the kernels':
 * float -> binary16 and -> bfloat16 round to nearest even (subnormals, overflow to inf, NaN
 * kept quiet); the widenings are exact. tu_round_to(t, x) is x as type t stores it. */
uint16_t tu_f2h(float f);
float tu_h2f(uint16_t h);
uint16_t tu_f2b(float f);
float tu_b2f(uint16_t w);
float tu_round_to(clattn_dtype t, float x);

#endif
