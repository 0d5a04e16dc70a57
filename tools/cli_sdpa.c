/* cli_sdpa.c: the helpers of cli_sdpa.h: names, plans, shape and option parsing, and the host
 * side of the storage types (float32 to float16 / bfloat16 and back). */
#include "cli_sdpa.h"

#include "core/internal.h" /* clattn__mul64, clattn__prod64: the library's checked arithmetic */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *algo_names[] = {"auto", "naive", "flash1", "flash2", "decode"};
static const char *flavour_names[] = {"auto", "gpu", "cpu"};

int cli_sdpa_algo(const char *cmd, const char *s, clattn_algo *out) {
    *out = CLATTN_ALGO_AUTO;
    if (!s) return 0;
    for (int i = 0; i < 5; i++)
        if (strcmp(s, algo_names[i]) == 0) {
            *out = (clattn_algo)i;
            return 0;
        }
    fprintf(stderr, "clattn %s: --algo %s: expected auto, naive, flash1, flash2 or decode\n", cmd,
            s);
    return 2;
}

static const char *dtype_names[] = {"f32", "f16", "bf16"};

int cli_sdpa_dtype(const char *cmd, const char *opt, const char *s, clattn_dtype *out) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, dtype_names[i]) == 0) {
            *out = (clattn_dtype)i;
            return 0;
        }
    fprintf(stderr, "clattn %s: --%s %s: expected f32, f16 or bf16\n", cmd, opt, s);
    return 2;
}

const char *cli_sdpa_dtype_name(clattn_dtype t) {
    return (t >= 0 && t <= 2) ? dtype_names[t] : "?";
}

size_t cli_sdpa_dtype_size(clattn_dtype t) {
    return t == CLATTN_DTYPE_F32 ? sizeof(float) : sizeof(uint16_t);
}

/* float -> IEEE binary16, round to nearest even (subnormals, overflow to inf, NaN kept). */
static uint16_t to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00u | (uint16_t)((ax >> 13) & 0x3ffu);
    if (ax >= 0x477ff000u) return sign | 0x7c00u; /* from 65520 on: inf */
    if (ax < 0x38800000u) {                       /* below 2^-14: a multiple of 2^-24 */
        float a;
        memcpy(&a, &ax, sizeof a);
        return sign | (uint16_t)nearbyint((double)a * 16777216.0); /* exact; ties to even */
    }
    uint32_t m = ax - 0x38000000u; /* rebias the exponent from 127 to 15 */
    m += 0xfffu + ((m >> 13) & 1u);
    return sign | (uint16_t)(m >> 13);
}

/* float -> bfloat16, round to nearest even; a NaN stays a NaN (quiet bit set). */
static uint16_t to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if (isnan(f)) return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

void cli_sdpa_from_f32(const float *x, int64_t n, clattn_dtype t, void *dst) {
    uint16_t *w = dst;
    for (int64_t i = 0; i < n; i++) {
        if (t == CLATTN_DTYPE_F32)
            ((float *)dst)[i] = x[i];
        else
            w[i] = t == CLATTN_DTYPE_F16 ? to_half(x[i]) : to_bf16(x[i]);
    }
}

void cli_sdpa_to_f32(const void *src, int64_t n, clattn_dtype t, float *dst) {
    const uint16_t *w = src;
    for (int64_t i = 0; i < n; i++) {
        if (t == CLATTN_DTYPE_F32) {
            dst[i] = ((const float *)src)[i];
        } else if (t == CLATTN_DTYPE_F16) {
            dst[i] = clattn_npy_half_to_float(w[i]);
        } else {
            const uint32_t x = (uint32_t)w[i] << 16;
            memcpy(&dst[i], &x, sizeof x);
        }
    }
}

int cli_sdpa_flavour(const char *cmd, const char *s, clattn_flavour *out) {
    *out = CLATTN_FLAVOUR_AUTO;
    if (!s) return 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(s, flavour_names[i]) == 0) {
            *out = (clattn_flavour)i;
            return 0;
        }
    fprintf(stderr, "clattn %s: --flavour %s: expected auto, gpu or cpu\n", cmd, s);
    return 2;
}

const char *cli_sdpa_algo_name(clattn_algo a) {
    return (a >= 0 && a <= 4) ? algo_names[a] : "?";
}

const char *cli_sdpa_flavour_name(clattn_flavour f) {
    return (f >= 0 && f <= 2) ? flavour_names[f] : "?";
}

void cli_sdpa_print_plan(FILE *f, const clattn_sdpa_plan *p) {
    fprintf(f,
            "algo=%s flavour=%s block_q=%lld block_kv=%lld work_group=%lld local_mem_bytes=%lld "
            "scratch_bytes=%lld global=%lld,%lld",
            cli_sdpa_algo_name(p->algo), cli_sdpa_flavour_name(p->flavour), (long long)p->block_q,
            (long long)p->block_kv, (long long)p->work_group, (long long)p->local_mem_bytes,
            (long long)p->scratch_bytes, (long long)p->global_size[0],
            (long long)p->global_size[1]);
    if (p->algo == CLATTN_ALGO_DECODE) fprintf(f, " splits=%lld", (long long)p->splits);
}

void cli_sdpa_shape_opts(cli_sdpa_shape *s, const char *seq_name, cli_opt *opts) {
    memset(s, 0, sizeof *s);
    s->batch = 1;
    const cli_opt o[CLI_SDPA_SHAPE_OPTS] = {
        {"batch", OPT_INT, &s->batch, "batch size (default 1)"},
        {"heads", OPT_INT, &s->heads, "query heads (required)"},
        {"kv-heads", OPT_INT, &s->kv_heads, "key/value heads (default: heads)"},
        {seq_name, OPT_INT, &s->seq_q, "query length (required)"},
        {"seq-kv", OPT_INT, &s->seq_kv, "key/value length (default: the query length)"},
        {"dim", OPT_INT, &s->dim, "head dim of q and k (required)"},
        {"dim-v", OPT_INT, &s->dim_v, "head dim of v (default: dim)"},
        {"causal", OPT_FLAG, &s->causal, "causal mask: query i sees keys j <= i' (--causal-align)"},
        {"algo", OPT_STRING, &s->algo, "auto|naive|flash1|flash2|decode"},
        {"flavour", OPT_STRING, &s->flavour, "auto|gpu|cpu kernel flavour"},
        {"block-q", OPT_INT, &s->block_q, "force the query block (Br)"},
        {"block-kv", OPT_INT, &s->block_kv, "force the key block (Bc)"}};
    memcpy(opts, o, sizeof o);
}

int cli_sdpa_shape_desc(const char *cmd, const char *seq_name, const cli_sdpa_shape *s,
                        clattn_sdpa_desc *d) {
    if (!s->heads) return cli_missing(cmd, "heads");
    if (!s->seq_q) return cli_missing(cmd, seq_name);
    if (!s->dim) return cli_missing(cmd, "dim");
    clattn_sdpa_desc_init(d, sizeof *d);
    d->batch = s->batch;
    d->heads = s->heads;
    d->kv_heads = s->kv_heads ? s->kv_heads : s->heads;
    d->seq_q = s->seq_q;
    d->seq_kv = s->seq_kv ? s->seq_kv : s->seq_q;
    d->head_dim = s->dim;
    d->head_dim_v = s->dim_v ? s->dim_v : s->dim;
    d->causal = s->causal;
    d->block_q = s->block_q;
    d->block_kv = s->block_kv;
    if (cli_sdpa_algo(cmd, s->algo, &d->algo) || cli_sdpa_flavour(cmd, s->flavour, &d->flavour))
        return 2;
    return 0;
}

void cli_sdpa_file_opts(cli_sdpa_files *f, cli_opt *opts) {
    memset(f, 0, sizeof *f);
    const cli_opt x[CLI_SDPA_FILE_OPTS] = {
        {"q", OPT_STRING, &f->q, "queries [B, Hq, Sq, D] (required)"},
        {"k", OPT_STRING, &f->k, "keys [B, Hkv, Skv, D] (required)"},
        {"v", OPT_STRING, &f->v, "values [B, Hkv, Skv, Dv] (required)"},
        {"out", OPT_STRING, &f->out, "output [B, Hq, Sq, Dv] (required)"},
        {"lse", OPT_STRING, &f->lse, "output log-sum-exp [B, Hq, Sq]"},
        {"causal", OPT_FLAG, &f->causal, "causal mask: query i sees keys j <= i' (--causal-align)"},
        {"scale", OPT_FLOAT, &f->scale, "score scale (default 1/sqrt(D); 1 = plain dot product)"},
        {"algo", OPT_STRING, &f->algo, "auto|naive|flash1|flash2|decode"},
        {"flavour", OPT_STRING, &f->flavour, "auto|gpu|cpu kernel flavour"}};
    memcpy(opts, x, sizeof x);
}

int cli_sdpa_files_desc(const char *cmd, const cli_sdpa_files *f, clattn_sdpa_desc *d) {
    const char *req[4][2] = {{"q", f->q}, {"k", f->k}, {"v", f->v}, {"out", f->out}};
    for (int i = 0; i < 4; i++)
        if (!req[i][1]) return cli_missing(cmd, req[i][0]);
    d->causal = f->causal;
    d->scale = (float)f->scale;
    return cli_sdpa_algo(cmd, f->algo, &d->algo) || cli_sdpa_flavour(cmd, f->flavour, &d->flavour)
               ? 2
               : 0;
}

void cli_sdpa_option_opts(cli_sdpa_options *o, cli_opt *opts) {
    memset(o, 0, sizeof *o);
    o->softcap = NAN;
    const cli_opt x[CLI_SDPA_OPTION_OPTS] = {
        {"causal-align", OPT_STRING, &o->causal_align,
         "bottom-right (default: query i at key i+Skv-Sq) | top-left (at key i)"},
        {"window", OPT_STRING, &o->window,
         "L,R: sliding window, query i sees keys i'-L..i'+R; -1: unbounded side"},
        {"softcap", OPT_FLOAT, &o->softcap, "C > 0: scaled scores s become C*tanh(s/C)"},
        {"alibi", OPT_OPTIONAL, &o->alibi,
         "[SLOPES.npy] ALiBi; slopes [Hq] or [B, Hq] (no file: 2^(-8(h+1)/Hq))"}};
    memcpy(opts, x, sizeof x);
}

/* One side of --window: an integer >= -1 running to `stop` (',' or the end). */
static int window_side(const char *s, char stop, const char **end, int64_t *v) {
    if (!((*s >= '0' && *s <= '9') || *s == '-')) return 1;
    char *e = NULL;
    errno = 0;
    long long x = strtoll(s, &e, 10);
    if (errno || e == s || *e != stop || x < -1) return 1;
    *end = e;
    *v = x;
    return 0;
}

int cli_sdpa_options_desc(const char *cmd, const cli_sdpa_options *o, clattn_sdpa_desc *d) {
    if (o->causal_align) {
        if (strcmp(o->causal_align, "bottom-right") == 0) {
            d->causal_align = CLATTN_CAUSAL_BOTTOM_RIGHT;
        } else if (strcmp(o->causal_align, "top-left") == 0) {
            d->causal_align = CLATTN_CAUSAL_TOP_LEFT;
        } else {
            fprintf(stderr, "clattn %s: --causal-align %s: expected bottom-right or top-left\n",
                    cmd, o->causal_align);
            return 2;
        }
    }
    if (o->window) {
        const char *e = NULL;
        if (window_side(o->window, ',', &e, &d->window_left) ||
            window_side(e + 1, '\0', &e, &d->window_right)) {
            fprintf(stderr,
                    "clattn %s: --window %s: expected L,R: how many keys before and after the "
                    "query's position it sees, each an integer >= 0, or -1 for no bound on that "
                    "side (e.g. 1023,0)\n",
                    cmd, o->window);
            return 2;
        }
        d->window = 1;
    }
    if (!isnan(o->softcap)) {
        const float c = (float)o->softcap;
        if (!(c > 0.0f) || isinf(c)) {
            fprintf(stderr,
                    "clattn %s: --softcap %g: expected a number > 0 that a float holds (leave "
                    "the option out for no softcap)\n",
                    cmd, o->softcap);
            return 2;
        }
        d->softcap = c;
    }
    return 0;
}

int cli_sdpa_options_alibi(const char *cmd, cli_sdpa_options *o, clattn_sdpa_desc *d) {
    if (!o->alibi) return 0;
    const int64_t B = d->batch, H = d->heads;
    if (o->alibi == CLI_OPT_BARE) {
        size_t bytes;
        if (H < 1) return 0; /* the descriptor's own check names the bad head count */
        if (cli_bytes(cmd, "the ALiBi slopes", &H, 1, sizeof(float), &bytes)) return 1;
        if (!(o->standard = malloc(bytes))) {
            fprintf(stderr, "clattn %s: out of host memory\n", cmd);
            return 1;
        }
        for (int64_t h = 0; h < H; h++)
            o->standard[h] = (float)exp2(-8.0 * (double)(h + 1) / (double)H);
        d->alibi_slopes = o->standard;
        d->alibi_batch = 1;
        return 0;
    }
    char err[512];
    clattn_npy_array *a = &o->file;
    if (clattn_npy_read_f32(o->alibi, a, err, sizeof err) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --alibi: %s\n", cmd, err);
        return 1;
    }
    const int ok = (a->ndim == 1 && a->shape[0] == H) ||
                   (a->ndim == 2 && a->shape[1] == H && (a->shape[0] == 1 || a->shape[0] == B));
    if (!ok) {
        fprintf(stderr, "clattn %s: --alibi %s has shape [", cmd, o->alibi);
        for (int i = 0; i < a->ndim; i++)
            fprintf(stderr, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
        fprintf(stderr,
                "], expected [Hq] = [%lld] or [B, Hq] = [%lld, %lld] (one slope per query "
                "head)\n",
                (long long)H, (long long)B, (long long)H);
        clattn_npy_free(a);
        return 1;
    }
    const float *s = a->data;
    for (int64_t i = 0; i < a->count; i++)
        if (!isfinite(s[i])) {
            fprintf(stderr, "clattn %s: --alibi %s: slope %lld is %g; slopes must be finite\n", cmd,
                    o->alibi, (long long)i, (double)s[i]);
            clattn_npy_free(a);
            return 1;
        }
    d->alibi_slopes = s;
    d->alibi_batch = a->ndim == 2 ? a->shape[0] : 1;
    return 0;
}

const char *cli_sdpa_options_file(const cli_sdpa_options *o) {
    return o->alibi == CLI_OPT_BARE ? NULL : o->alibi;
}

void cli_sdpa_options_free(cli_sdpa_options *o) {
    clattn_npy_free(&o->file);
    free(o->standard);
    o->standard = NULL;
}

double cli_sdpa_visible_pairs(const clattn_sdpa_desc *d) {
    const int64_t off = d->causal_align == CLATTN_CAUSAL_TOP_LEFT ? 0 : d->seq_kv - d->seq_q;
    double pairs = 0.0;
    for (int64_t i = 0; i < d->seq_q; i++) {
        const int64_t at = i + off;
        int64_t lo = 0, hi = d->seq_kv - 1;
        if (d->causal && at < hi) hi = at;
        /* written so that no sum can overflow, whatever the window's sides are */
        if (d->window && d->window_left >= 0 && at - lo > d->window_left) lo = at - d->window_left;
        if (d->window && d->window_right >= 0 && hi - at > d->window_right)
            hi = at + d->window_right;
        if (hi >= lo) pairs += (double)(hi - lo + 1);
    }
    return pairs;
}

int cli_sdpa_read_kv_lens(const char *cmd, const char *path, int64_t batch, int64_t seq_kv,
                          int32_t **out) {
    char err[512];
    clattn_npy_array a;
    *out = NULL;
    if (clattn_npy_read(path, &a, err, sizeof err) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --kv-lens: %s\n", cmd, err);
        return 1;
    }
    int rc = 1;
    if (a.dtype != CLATTN_NPY_I32 && a.dtype != CLATTN_NPY_I64) {
        fprintf(stderr, "clattn %s: --kv-lens %s has dtype %s, expected int32 or int64\n", cmd,
                path, clattn_npy_dtype_descr(a.dtype));
        goto done;
    }
    if (a.ndim != 1 || a.shape[0] != batch) {
        fprintf(stderr, "clattn %s: --kv-lens %s has shape [", cmd, path);
        for (int i = 0; i < a.ndim; i++)
            fprintf(stderr, "%s%lld", i ? ", " : "", (long long)a.shape[i]);
        fprintf(stderr, "], expected [B] = [%lld] (one key length per sequence)\n",
                (long long)batch);
        goto done;
    }
    int32_t *lens = malloc((size_t)(batch > 0 ? batch : 1) * sizeof *lens);
    if (!lens) {
        fprintf(stderr, "clattn %s: out of host memory\n", cmd);
        goto done;
    }
    for (int64_t b = 0; b < batch; b++) {
        const int64_t x = a.dtype == CLATTN_NPY_I32 ? (int64_t)((const int32_t *)a.data)[b]
                                                    : ((const int64_t *)a.data)[b];
        if (x < 0 || x > seq_kv) {
            fprintf(stderr,
                    "clattn %s: --kv-lens %s: sequence %lld has length %lld, expected 0..%lld "
                    "(the keys' length Skv)\n",
                    cmd, path, (long long)b, (long long)x, (long long)seq_kv);
            free(lens);
            goto done;
        }
        lens[b] = (int32_t)x;
    }
    *out = lens;
    rc = 0;
done:
    clattn_npy_free(&a);
    return rc;
}

int64_t cli_sdpa_visible_keys(const clattn_sdpa_desc *d, int64_t kv_len) {
    const int64_t off = d->causal_align == CLATTN_CAUSAL_TOP_LEFT ? 0 : kv_len - d->seq_q;
    int64_t first = kv_len, last = -1;
    for (int64_t i = 0; i < d->seq_q; i++) {
        const int64_t at = i + off;
        int64_t lo = 0, hi = kv_len - 1;
        if (d->causal && at < hi) hi = at;
        if (d->window && d->window_left >= 0 && at - lo > d->window_left) lo = at - d->window_left;
        if (d->window && d->window_right >= 0 && hi - at > d->window_right)
            hi = at + d->window_right;
        if (hi < lo) continue;
        if (lo < first) first = lo;
        if (hi > last) last = hi;
    }
    return last >= first ? last - first + 1 : 0;
}

static const char *const layout_names[3] = {"bhsd", "bshd", "qkv"};

int cli_sdpa_layout(const char *cmd, const char *opt, const char *s, int *layout) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, layout_names[i]) == 0) {
            *layout = i;
            return 0;
        }
    fprintf(stderr, "clattn %s: --%s %s: expected bhsd, bshd or qkv\n", cmd, opt, s);
    return 2;
}

const char *cli_sdpa_layout_name(int layout) {
    return layout >= 0 && layout < 3 ? layout_names[layout] : "?";
}

int cli_sdpa_layout_strides(int layout, int kv, clattn_sdpa_desc *d, int64_t n[4]) {
    const int64_t B = d->batch, D = d->head_dim, Dv = d->head_dim_v ? d->head_dim_v : D;
    const int64_t H[4] = {d->heads, d->kv_heads, d->kv_heads, d->heads};
    const int64_t S[4] = {d->seq_q, d->seq_kv, d->seq_kv, d->seq_q};
    const int64_t dim[4] = {D, D, Dv, Dv};
    int64_t *st[4] = {d->q_strides, d->k_strides, d->v_strides, d->out_strides};
    int64_t row = 0, a = 0, b = 0;
    if (clattn__mul64(d->heads, D, &a) || clattn__mul64(d->kv_heads, D + Dv, &b) ||
        clattn__add64(a, b, &row))
        return 1;
    for (int i = 0; i < 4; i++) {
        n[i] = 0;
        if (!kv && (i == 1 || i == 2)) continue; /* the cache's */
        /* the elements between consecutive rows (queries or keys) of one head, but for bhsd */
        int64_t span = row, per_b = 0;
        if ((layout != CLI_LAYOUT_QKV || i == 3) && clattn__mul64(H[i], dim[i], &span)) return 1;
        if (clattn__mul64(S[i], span, &per_b) || clattn__mul64(B, per_b, &n[i])) return 1;
        if (layout != CLI_LAYOUT_BHSD) /* bhsd: the contiguous default (0), the same span */
            st[i][0] = per_b, st[i][1] = dim[i], st[i][2] = span;
    }
    return 0;
}
