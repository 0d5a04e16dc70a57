/* cmd_convert_gqa.c: `clattn convert-gqa`: an attention layer's .npy weights (the file names
 * clattn_mha_layer_load reads) with their key and value projection heads mean-pooled into G groups
 * by clattn_mha_to_gqa (G = 1: MQA). The input is the split form, q_proj k_proj v_proj o_proj
 * (+ q_proj_bias k_proj_bias v_proj_bias together, + o_proj_bias), or nn.MultiheadAttention's
 * packed form, in_proj_weight out_proj_weight (+ in_proj_bias, + out_proj_bias), whichever
 * in_proj_weight.npy's presence says. The output is always the split form: a GQA layer has fewer
 * key/value rows than query rows, which in_proj_weight's [3 E, E] cannot hold. q_proj, o_proj and
 * their biases are copied unchanged (from the packed form: in_proj's first E rows, out_proj).
 * The head dims come from the shapes: D = q_proj rows / heads, Dv = v_proj rows / kv heads. */
#include "cli_util.h"
#include "commands.h"
#include "npy.h"
#include "outputs.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "convert-gqa"

/* The split form's files, which are also the outputs (in this order). */
enum { Q, K, V, O, QB, KB, VB, OB, NSPLIT };
static const char *const split_names[NSPLIT] = {"q_proj",      "k_proj",      "v_proj",
                                                "o_proj",      "q_proj_bias", "k_proj_bias",
                                                "v_proj_bias", "o_proj_bias"};
/* The packed form's. */
enum { IPW, OPW, IPB, OPB, NPACKED };
static const char *const packed_names[NPACKED] = {"in_proj_weight", "out_proj_weight",
                                                  "in_proj_bias", "out_proj_bias"};

/* DIR/<name>.npy as float32 (float16 widened) into *a, which must have `ndim` dimensions; an
 * optional file that does not exist leaves *a empty (data NULL). 0 or 1 (printed). */
static int load(const char *dir, const char *name, int ndim, int optional, clattn_npy_array *a) {
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    if (optional && access(path, F_OK) != 0) return 0;
    if (clattn_npy_read_f32(path, a, err, sizeof err) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --weights: %s\n", CMD, err);
        return 1;
    }
    if (a->ndim == ndim) return 0;
    fprintf(stderr, "clattn %s: %s has %d dimensions, expected %d\n", CMD, path, a->ndim, ndim);
    return 1;
}

/* a (when present) must be [d0] or [d0, d1]. 0 or 1 (printed). */
static int want_shape(const char *name, const clattn_npy_array *a, int64_t d0, int64_t d1) {
    if (!a->data || (a->shape[0] == d0 && (a->ndim == 1 || a->shape[1] == d1))) return 0;
    if (a->ndim == 1)
        fprintf(stderr, "clattn %s: %s is [%lld], expected [%lld]\n", CMD, name,
                (long long)a->shape[0], (long long)d0);
    else
        fprintf(stderr, "clattn %s: %s is [%lld, %lld], expected [%lld, %lld]\n", CMD, name,
                (long long)a->shape[0], (long long)a->shape[1], (long long)d0, (long long)d1);
    return 1;
}

/* `what` (rows) split into `parts` parts of *each >= 1 rows, exactly. 0 or 1 (printed). */
static int split_rows(const char *what, int64_t rows, int64_t parts, int64_t *each) {
    if (parts >= 1 && rows >= parts && rows % parts == 0) {
        *each = rows / parts;
        return 0;
    }
    fprintf(stderr, "clattn %s: %s has %lld rows, not a positive multiple of %lld\n", CMD, what,
            (long long)rows, (long long)parts);
    return 1;
}

/* The layer the input folder holds and the arrays the outputs are made of. */
typedef struct {
    clattn_mha_layer_desc desc;
    int packed, has_out_bias;
    int64_t E, Hkv, D, Dv;
    int64_t nk, nv;               /* elements of the input's k and v projections */
    const float *q, *o, *qb, *ob; /* copied unchanged */
    clattn_mha_weights w;         /* for clattn_mha_to_gqa */
} layer_in;

/* The split form: shapes from q_proj [H D, E], k_proj [Hkv D, E], v_proj [Hkv Dv, E]. */
static int read_split(const char *dir, int64_t H, clattn_npy_array *a, layer_in *l) {
    static const int ndim[NSPLIT] = {2, 2, 2, 2, 1, 1, 1, 1};
    for (int i = 0; i < NSPLIT; i++)
        if (load(dir, split_names[i], ndim[i], i >= QB, &a[i])) return 1;
    const int nb = !!a[QB].data + !!a[KB].data + !!a[VB].data;
    if (nb != 0 && nb != 3) {
        fprintf(stderr,
                "clattn %s: q_proj_bias, k_proj_bias and v_proj_bias come together; %s "
                "has %d of them\n",
                CMD, dir, nb);
        return 1;
    }
    l->E = a[Q].shape[1];
    if (split_rows("q_proj", a[Q].shape[0], H, &l->D) ||
        split_rows("k_proj", a[K].shape[0], l->D, &l->Hkv) ||
        split_rows("v_proj", a[V].shape[0], l->Hkv, &l->Dv))
        return 1;
    if (l->Dv > INT64_MAX / H) { /* o_proj's H * Dv columns (zero-size files claim any shape) */
        fprintf(stderr, "clattn %s: heads %lld x head_dim_v %lld overflows\n", CMD, (long long)H,
                (long long)l->Dv);
        return 1;
    }
    if (want_shape("k_proj", &a[K], l->Hkv * l->D, l->E) ||
        want_shape("v_proj", &a[V], l->Hkv * l->Dv, l->E) ||
        want_shape("o_proj", &a[O], l->E, H * l->Dv) ||
        want_shape("q_proj_bias", &a[QB], H * l->D, 0) ||
        want_shape("k_proj_bias", &a[KB], l->Hkv * l->D, 0) ||
        want_shape("v_proj_bias", &a[VB], l->Hkv * l->Dv, 0) ||
        want_shape("o_proj_bias", &a[OB], l->E, 0))
        return 1;
    l->desc.head_dim = l->D, l->desc.head_dim_v = l->Dv, l->desc.has_qkv_bias = nb == 3;
    l->q = a[Q].data, l->o = a[O].data, l->qb = a[QB].data, l->ob = a[OB].data;
    l->nk = a[K].count, l->nv = a[V].count;
    l->w.q_proj = a[Q].data, l->w.k_proj = a[K].data, l->w.v_proj = a[V].data;
    l->w.q_bias = a[QB].data, l->w.k_bias = a[KB].data, l->w.v_bias = a[VB].data;
    return 0;
}

/* The packed form: in_proj_weight [3 E, E], MHA with D = Dv = E / H. */
static int read_packed(const char *dir, int64_t H, clattn_npy_array *a, layer_in *l) {
    static const int ndim[NPACKED] = {2, 2, 1, 1};
    for (int i = 0; i < NPACKED; i++)
        if (load(dir, packed_names[i], ndim[i], i >= IPB, &a[i])) return 1;
    l->E = a[IPW].shape[1], l->Hkv = H;
    if (l->E > INT64_MAX / 3 || split_rows("embed_dim (in_proj_weight's columns)", l->E, H, &l->D))
        return 1;
    l->Dv = l->D;
    if (want_shape("in_proj_weight", &a[IPW], 3 * l->E, l->E) ||
        want_shape("out_proj_weight", &a[OPW], l->E, l->E) ||
        want_shape("in_proj_bias", &a[IPB], 3 * l->E, 0) ||
        want_shape("out_proj_bias", &a[OPB], l->E, 0))
        return 1;
    l->desc.has_qkv_bias = a[IPB].data != NULL;
    l->q = a[IPW].data, l->o = a[OPW].data, l->qb = a[IPB].data, l->ob = a[OPB].data;
    l->nk = l->nv = a[IPW].count / 3;
    l->w.in_proj_weight = a[IPW].data, l->w.in_proj_bias = a[IPB].data;
    return 0;
}

int cmd_convert_gqa(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    int64_t H = 0, G = 0;
    const cli_opt opts[] = {
        {"weights", OPT_STRING, &dir, "folder of the layer's .npy weights (required)"},
        {"heads", OPT_INT, &H, "query heads Hq of the layer (required)"},
        {"kv-heads", OPT_INT, &G,
         "key/value groups G to pool into, dividing the layer's (required)"},
        {"out", OPT_STRING, &out,
         "folder for the converted weights, created if missing (required)"},
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, "--weights DIR --heads H --kv-heads G --out DIR");
    if (rc) return rc == 1 ? 0 : rc;
    if (!dir) return cli_missing(CMD, "weights");
    if (!H) return cli_missing(CMD, "heads");
    if (!G) return cli_missing(CMD, "kv-heads");
    if (!out) return cli_missing(CMD, "out");
    if (H < 1 || G < 1) {
        fprintf(stderr, "clattn %s: --heads %lld and --kv-heads %lld must be >= 1\n", CMD,
                (long long)H, (long long)G);
        return 2;
    }

    clattn_npy_array a[NSPLIT];
    memset(a, 0, sizeof a);
    float *k = NULL, *v = NULL, *kb = NULL, *vb = NULL;
    clattn_context *ctx = NULL;
    cli_outputs outs;
    cli_outputs_init(&outs, CMD);
    int made_dir = 0;
    layer_in l;
    memset(&l, 0, sizeof l);
    clattn_mha_layer_desc_init(&l.desc, sizeof l.desc);
    rc = 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", dir, packed_names[IPW]);
    l.packed = access(path, F_OK) == 0;
    if (l.packed ? read_packed(dir, H, a, &l) : read_split(dir, H, a, &l)) goto done;
    l.has_out_bias = l.ob != NULL;
    l.w.o_proj = l.o, l.w.o_bias = l.ob; /* a whole layer, as clattn_mha_layer_create takes it */
    l.desc.embed_dim = l.E, l.desc.heads = H, l.desc.kv_heads = l.Hkv;
    l.desc.has_out_bias = l.has_out_bias;

    if (l.E < 1) {
        fprintf(stderr, "clattn %s: the weights have embed_dim %lld; it must be >= 1\n", CMD,
                (long long)l.E);
        goto done;
    }
    /* Sized as the input's k and v (G divides their heads or the conversion refuses it), so
     * nothing is computed from G before the library has checked it. */
    if (!(k = malloc((size_t)l.nk * sizeof(float))) ||
        !(v = malloc((size_t)l.nv * sizeof(float))) ||
        !(kb = malloc((size_t)(l.Hkv * l.D) * sizeof(float))) ||
        !(vb = malloc((size_t)(l.Hkv * l.Dv) * sizeof(float)))) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        goto done;
    }
    if (!(ctx = cli_open_context())) goto done;
    clattn_status st = clattn_mha_to_gqa(ctx, &l.desc, &l.w, G, k, v, kb, vb);
    if (st != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }

    /* The outputs: out/<split name>.npy, the biases only when the layer has them. */
    const int64_t E = l.E,
                  shape[NSPLIT][2] = {{H * l.D, E}, {G * l.D, E}, {G * l.Dv, E}, {E, H * l.Dv},
                                      {H * l.D},    {G * l.D},    {G * l.Dv},    {E}};
    const void *data[NSPLIT] = {l.q, k, v, l.o, l.qb, kb, vb, l.ob};
    const int bias = l.desc.has_qkv_bias;
    const int present[NSPLIT] = {1, 1, 1, 1, bias, bias, bias, l.has_out_bias};
    char opath[NSPLIT][4096], label[NSPLIT][32];
    for (int i = 0; i < NSPLIT; i++) {
        snprintf(opath[i], sizeof opath[i], "%s/%s.npy", out, split_names[i]);
        snprintf(label[i], sizeof label[i], "out %s", split_names[i]);
        if (present[i]) cli_outputs_add(&outs, label[i], opath[i]);
    }
    if (mkdir(out, 0777) == 0)
        made_dir = 1;
    else if (errno != EEXIST) {
        fprintf(stderr, "clattn %s: --out %s: %s\n", CMD, out, strerror(errno));
        goto done;
    }
    cli_file in[NSPLIT];
    char ipath[NSPLIT][4096];
    const int n_in = l.packed ? NPACKED : NSPLIT;
    for (int i = 0; i < n_in; i++) {
        snprintf(ipath[i], sizeof ipath[i], "%s/%s.npy", dir,
                 l.packed ? packed_names[i] : split_names[i]);
        in[i].opt = "weights", in[i].path = ipath[i];
    }
    if (cli_outputs_check(&outs, in, n_in)) goto done;
    for (int i = 0; i < NSPLIT; i++)
        if (present[i] &&
            cli_outputs_write(&outs, label[i], CLATTN_NPY_F32, i < QB ? 2 : 1, shape[i], data[i]))
            goto done;
    if (cli_outputs_commit(&outs)) goto done;
    made_dir = 0;
    printf("clattn %s: %s weights, embed_dim %lld, heads %lld, kv_heads %lld -> %lld, head_dim "
           "%lld, head_dim_v %lld, q/k/v biases %s, output bias %s: wrote %d files to %s\n",
           CMD, l.packed ? "packed (in_proj_weight)" : "split", (long long)E, (long long)H,
           (long long)l.Hkv, (long long)G, (long long)l.D, (long long)l.Dv,
           l.desc.has_qkv_bias ? "yes" : "no", l.has_out_bias ? "yes" : "no", outs.n, out);
    rc = 0;
done:
    cli_outputs_free(&outs);
    if (made_dir) rmdir(out); /* a folder this run created and left empty */
    clattn_context_destroy(ctx);
    free(k), free(v), free(kb), free(vb);
    for (int i = 0; i < NSPLIT; i++) clattn_npy_free(&a[i]);
    return rc;
}
