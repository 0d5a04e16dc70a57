/* fuzz_util.h: what the API fuzzer's parts share (fuzz_api.c holds the reader, the checks and
 * the SDPA and additive recipes; fuzz_kv.c the KV cache and LSE combine ones): the input reader,
 * value pickers with edge cases, the promise checks and the one context. */
#ifndef CLATTN_FUZZ_UTIL_H
#define CLATTN_FUZZ_UTIL_H

#include "clattn.h"

#include <stddef.h>
#include <stdint.h>

/* The input, consumed front to back; past its end every read gives zeros. */
typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

uint8_t byte(reader *r);
uint64_t raw64(reader *r);
/* A size or stride: mostly 0..9, sometimes a value at an edge, sometimes any 64-bit pattern. */
int64_t size_value(reader *r);
/* An enum field: usually in range, sometimes just outside it, sometimes anything. */
int enum_value(reader *r, int last);
/* A struct size for a struct of `full` bytes whose shortest accepted form is `min` bytes. */
size_t struct_size_value(reader *r, size_t min, size_t full);
/* Sets struct_size of the descriptor in desc_mem (and maybe a byte past the known struct). */
void finish_desc(reader *r, size_t min, size_t full);
/* n floats in [-4, 4) from the input (with `mask`, some -inf); the caller frees them. */
float *floats(reader *r, int64_t n, int mask);
/* Aborts (a reported crash) when a promise is broken. */
void require(int cond, const char *what);
/* A refusal: a known status and a message for it on this thread. */
void check_refusal(clattn_context *ctx, clattn_status st, const char *call);

/* Descriptors live in a buffer as large as any struct_size the library may accept. */
#define ARENA (CLATTN_MAX_STRUCT_SIZE + 256)
extern _Alignas(16) unsigned char desc_mem[ARENA];
extern clattn_context *ctx;
extern clattn_device_caps caps;

void fuzz_kv_cache(reader *r);
void fuzz_combine(reader *r);

#endif
