/* cli_sdpa.h: what the attention subcommands (attention, plan, bench) share: names of
 * algorithms and flavours in both directions, the one-line key=value form of a plan, and the
 * attention options (causal alignment, sliding window, softcap, ALiBi). */
#ifndef CLATTN_CLI_SDPA_H
#define CLATTN_CLI_SDPA_H

#include "clattn.h"
#include "cli_util.h"
#include "npy.h"

#include <stdio.h>

/* The problem-shape options `plan` and `bench` share, parsed into one place. */
typedef struct {
    int64_t batch, heads, kv_heads, seq_q, seq_kv, dim, dim_v, block_q, block_kv;
    int causal;
    const char *algo, *flavour;
} cli_sdpa_shape;

#define CLI_SDPA_SHAPE_OPTS 12
/* Writes the CLI_SDPA_SHAPE_OPTS shape options into opts (the query length is named
 * `seq_name`: "seq-q" for plan, "seq" for bench) and sets their defaults in *s. */
void cli_sdpa_shape_opts(cli_sdpa_shape *s, const char *seq_name, cli_opt *opts);
/* Checks the required options and fills a descriptor. Returns 0, or 2 after a usage error. */
int cli_sdpa_shape_desc(const char *cmd, const char *seq_name, const cli_sdpa_shape *s,
                        clattn_sdpa_desc *d);

/* The files and switches `attention` and `ring-attention` share, as given: --q, --k, --v, --out
 * (required), --lse, --causal, --scale, --algo, --flavour. */
typedef struct {
    const char *q, *k, *v, *out, *lse, *algo, *flavour;
    int causal;
    double scale;
} cli_sdpa_files;
#define CLI_SDPA_FILE_OPTS 9
/* Writes the CLI_SDPA_FILE_OPTS option entries into opts and clears *f. */
void cli_sdpa_file_opts(cli_sdpa_files *f, cli_opt *opts);
/* Checks that the required files are named and sets algo, flavour, causal and scale in *d
 * (which clattn_sdpa_desc_init filled). Returns 0, or 2 after a usage error naming `cmd`. */
int cli_sdpa_files_desc(const char *cmd, const cli_sdpa_files *f, clattn_sdpa_desc *d);

/* The options of clattn_sdpa_desc that attention, plan and bench share, as given:
 *   --causal-align bottom-right|top-left   where query i sits among the keys (i' below)
 *   --window L,R        keys i' - L ... i' + R; -1 leaves that side unbounded
 *   --softcap C         C > 0: every scaled score s becomes C * tanh(s / C)
 *   --alibi [SLOPES.npy] ALiBi: -slope * |i' - j| added to the scores; slopes from a float32
 *                       file of shape [Hq] or [B, Hq] (or [1, Hq]), or without a file the
 *                       standard ones, 2^(-8 (h + 1) / Hq) for head h = 0 ... Hq - 1 */
typedef struct {
    const char *causal_align, *window, *alibi; /* alibi: a path, CLI_OPT_BARE or NULL */
    double softcap;                            /* NAN: not given */
    clattn_npy_array file;                     /* the slopes read from the file */
    float *standard;                           /* the standard slopes, when no file */
} cli_sdpa_options;

#define CLI_SDPA_OPTION_OPTS 4
/* Writes the CLI_SDPA_OPTION_OPTS option entries into opts and clears *o. */
void cli_sdpa_option_opts(cli_sdpa_options *o, cli_opt *opts);
/* Checks the values of --causal-align, --window and --softcap and sets them in *d (which
 * clattn_sdpa_desc_init filled). Returns 0, or 2 after printing a usage error naming `cmd`. */
int cli_sdpa_options_desc(const char *cmd, const cli_sdpa_options *o, clattn_sdpa_desc *d);
/* With --alibi: reads or makes the slopes for d->batch and d->heads (set before this call) and
 * points d->alibi_slopes at them (they live in *o until cli_sdpa_options_free). A file of the
 * wrong shape, dtype or with a non-finite slope is refused. Returns 0, or 1 after a message
 * (and then holds nothing). */
int cli_sdpa_options_alibi(const char *cmd, cli_sdpa_options *o, clattn_sdpa_desc *d);
/* The file --alibi names (NULL when there is none), for the check that no output is an input. */
const char *cli_sdpa_options_file(const cli_sdpa_options *o);
void cli_sdpa_options_free(cli_sdpa_options *o);
/* How many (query, key) pairs one head attends to once causality and the window (not the mask)
 * have removed keys: the work a kernel that skips removed keys must do. */
double cli_sdpa_visible_pairs(const clattn_sdpa_desc *d);

/* Where q, k, v and out lie in their buffers (bench's --layout, interleave's layout=):
 *   bhsd  contiguous [B, H, S, dim], the default strides;
 *   bshd  [B, S, H, dim], PyTorch's and most models' order;
 *   qkv   q, k and v each at column 0 of a buffer shaped as a packed q/k/v projection,
 *         [B, S, Hq*D + Hkv*D + Hkv*Dv], so their rows are as far apart as the attention layer's
 *         views of one such buffer; out [B, S, Hq, Dv]. */
enum { CLI_LAYOUT_BHSD, CLI_LAYOUT_BSHD, CLI_LAYOUT_QKV };
/* The layout named s; 0, or 2 after a usage error naming cmd and --opt. */
int cli_sdpa_layout(const char *cmd, const char *opt, const char *s, int *layout);
const char *cli_sdpa_layout_name(int layout);
/* Sets d's strides (its shape set) for `layout`, for q and out only when `kv` is 0 (a cache's
 * K/V lie as it keeps them), and writes the elements each of q, k, v and out spans in its buffer
 * (n[0..3]; 0 for K/V without kv). Returns 1 when a size overflows. */
int cli_sdpa_layout_strides(int layout, int kv, clattn_sdpa_desc *d, int64_t n[4]);

/* Reads --kv-lens: a .npy of int32 or int64, shape [B], every value 0..seq_kv, into a new
 * int32 array (*out, to free). Returns 0, or 1 after a message naming `cmd` and the problem. */
int cli_sdpa_read_kv_lens(const char *cmd, const char *path, int64_t batch, int64_t seq_kv,
                          int32_t **out);
/* The keys one sequence of length kv_len must read under d's causality and window: the span
 * from the first to the last key any of its query rows sees (0 when none). */
int64_t cli_sdpa_visible_keys(const clattn_sdpa_desc *d, int64_t kv_len);
/* Storage types (--dtype, --mask-dtype): "f32", "f16", "bf16". Returns 0, or 2 after printing
 * a usage error naming `cmd` and `opt`. */
int cli_sdpa_dtype(const char *cmd, const char *opt, const char *s, clattn_dtype *out);
const char *cli_sdpa_dtype_name(clattn_dtype t);
size_t cli_sdpa_dtype_size(clattn_dtype t); /* 4 or 2 */
/* n floats into elements of t at dst, rounded to nearest even (dst may be x for F32 only). */
void cli_sdpa_from_f32(const float *x, int64_t n, clattn_dtype t, void *dst);
/* n elements of t at src widened (exactly) to floats at dst. */
void cli_sdpa_to_f32(const void *src, int64_t n, clattn_dtype t, float *dst);

/* "auto", "naive", "flash1", "flash2" (NULL gives auto). Returns 0, or 2 after printing a
 * usage error naming `cmd`. */
int cli_sdpa_algo(const char *cmd, const char *s, clattn_algo *out);
/* "auto", "gpu", "cpu" (NULL gives auto). */
int cli_sdpa_flavour(const char *cmd, const char *s, clattn_flavour *out);
const char *cli_sdpa_algo_name(clattn_algo a);
const char *cli_sdpa_flavour_name(clattn_flavour f);
/* algo= flavour= block_q= block_kv= work_group= local_mem_bytes= scratch_bytes= global=
 * (no newline). */
void cli_sdpa_print_plan(FILE *f, const clattn_sdpa_plan *p);

#endif
