/* test_npy.c: the .npy reader (src/npy/) and writer (tools/npy_write.c): exact float16 conversion,
 * round trips of every dtype over many shapes, byte-identity with numpy's np.save and reading
 * numpy's own files (when /usr/bin/python3 has numpy), and a table of malformed files each rejected
 * with CLATTN_ERROR_FORMAT and a message naming the file; writes replace only regular files, and
 * atomically (a failed write leaves the old file and no temporary). Needs no OpenCL device. */
#include "npy.h"
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/clattn-npy-XXXXXX";

static const char *tmp(const char *name) {
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static int write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = (n == 0 || fwrite(b, 1, n, f) == n);
    return fclose(f) == 0 && ok;
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static int zeroed(const clattn_npy_array *a) {
    static const clattn_npy_array zero;
    return memcmp(a, &zero, sizeof zero) == 0;
}

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- float16 ---- */

static void test_half(void) {
    static const struct {
        uint16_t h;
        float f;
    } table[] = {
        {0x0000, 0.0f},
        {0x3c00, 1.0f},
        {0xbc00, -1.0f},
        {0x3800, 0.5f},
        {0xc000, -2.0f},
        {0x4248, 3.140625f},
        {0x3555, 0.333251953125f},
        {0x7bff, 65504.0f},
        {0x0400, 6.103515625e-05f},           /* smallest normal, 2^-14 */
        {0x0001, 5.9604644775390625e-08f},    /* smallest subnormal, 2^-24 */
        {0x03ff, 6.0975551605224609375e-05f}, /* largest subnormal, 1023 * 2^-24 */
        {0x8001, -5.9604644775390625e-08f},
        {0x0200, 3.0517578125e-05f}, /* 2^-15 */
        {0x7c00, INFINITY},
        {0xfc00, -INFINITY},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (clattn_npy_half_to_float(table[i].h) != table[i].f) {
            printf("  half 0x%04x -> %.9g, expected %.9g\n", table[i].h,
                   clattn_npy_half_to_float(table[i].h), table[i].f);
            bad++;
        }
    TU_CHECK(bad == 0, "float16 hand-computed table (normals, subnormals, inf)");
    float nz = clattn_npy_half_to_float(0x8000);
    TU_CHECK(nz == 0.0f && signbit(nz), "float16 -0 keeps its sign");
    uint32_t bits;
    float nan = clattn_npy_half_to_float(0x7e01);
    memcpy(&bits, &nan, 4);
    TU_CHECK(isnan(nan) && bits == 0x7fc02000u, "float16 NaN keeps its payload (0x%08x)", bits);
    nan = clattn_npy_half_to_float(0xfd00);
    memcpy(&bits, &nan, 4);
    TU_CHECK(isnan(nan) && bits == 0xffa00000u, "float16 signalling -NaN stays NaN (0x%08x)", bits);
    /* Every finite half against the definition, computed in double: (-1)^s 2^(e-25) (1024+m). */
    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t e = (h >> 10) & 31, m = h & 1023;
        if (e == 31) continue;
        double v = e == 0 ? ldexp((double)m, -24) : ldexp(1024.0 + m, (int)e - 25);
        if (h & 0x8000) v = -v;
        if ((double)clattn_npy_half_to_float((uint16_t)h) != v) bad++;
    }
    TU_CHECK(bad == 0, "all 63488 finite float16 values exact (%d wrong)", bad);
}

/* ---- round trips ---- */

static void fill_random(void *data, size_t bytes, clattn_npy_dtype dt) {
    unsigned char *b = data;
    if (dt == CLATTN_NPY_F32) {
        tu_fill_uniform(data, (int64_t)(bytes / 4), -3.0f, 3.0f);
        return;
    }
    for (size_t i = 0; i < bytes; i++) b[i] = (unsigned char)(tu_uniform() * 256.0);
}

static void test_round_trips(void) {
    static const struct {
        int ndim;
        int64_t shape[8];
    } shapes[] = {{0, {0}},         {1, {1}},       {1, {7}},
                  {2, {3, 4}},      {3, {2, 3, 5}}, {2, {0, 5}},
                  {2, {1023, 203}}, {1, {59}},      {8, {1, 2, 1, 3, 1, 2, 1, 2}},
                  {4, {1, 1, 1, 1}}};
    for (int dt = CLATTN_NPY_F32; dt <= CLATTN_NPY_F64; dt++) {
        const char *descr = clattn_npy_dtype_descr((clattn_npy_dtype)dt);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int64_t count = 1;
            for (int i = 0; i < shapes[s].ndim; i++) count *= shapes[s].shape[i];
            size_t bytes = (size_t)count * clattn_npy_dtype_size((clattn_npy_dtype)dt);
            void *src = malloc(bytes + 1);
            fill_random(src, bytes, (clattn_npy_dtype)dt);
            const char *path = tmp("rt.npy");
            char err[512];
            clattn_npy_array a, m;
            clattn_status ws = clattn_npy_write(path, (clattn_npy_dtype)dt, shapes[s].ndim,
                                                shapes[s].shape, src, err, sizeof err);
            clattn_status rs = clattn_npy_read(path, &a, err, sizeof err);
            size_t flen = 0;
            unsigned char *file = read_bytes(path, &flen);
            clattn_status ps = clattn_npy_parse(file, flen, "rt", &m, err, sizeof err);
            int ok = ws == CLATTN_SUCCESS && rs == CLATTN_SUCCESS && ps == CLATTN_SUCCESS &&
                     a.dtype == (clattn_npy_dtype)dt && a.ndim == shapes[s].ndim &&
                     a.count == count && a.data != NULL && memcmp(a.data, src, bytes) == 0 &&
                     m.count == count && memcmp(m.data, src, bytes) == 0 &&
                     (flen - bytes) % 64 == 0;
            for (int i = 0; ok && i < shapes[s].ndim; i++)
                ok = a.shape[i] == shapes[s].shape[i] && m.shape[i] == shapes[s].shape[i];
            TU_CHECK(ok, "round trip %s ndim %d count %lld (header %zu bytes) %s", descr,
                     shapes[s].ndim, (long long)count, flen - bytes, ok ? "" : err);
            clattn_npy_free(&a);
            clattn_npy_free(&m);
            free(file);
            free(src);
            remove(path);
        }
    }
}

/* ---- hand-built files: a table of valid variants and one of malformed ones ---- */

/* magic, version major.minor, little-endian length, dict, then data_len bytes of 0x3c. */
static size_t build(unsigned char *b, int major, int minor, const char *dict, size_t data_len) {
    size_t d = strlen(dict), off = major == 1 ? 10 : 12;
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major, b[7] = (unsigned char)minor;
    for (size_t i = 0; i < off - 8; i++) b[8 + i] = (unsigned char)(d >> (8 * i));
    memcpy(b + off, dict, d);
    memset(b + off + d, 0x3c, data_len);
    return off + d + data_len;
}

#define F4 "{'descr': '<f4', 'fortran_order': False, 'shape': "

static void test_valid_variants(void) {
    static const struct {
        int major;
        const char *dict;
        size_t data;
        int ndim;
        int64_t d0;
    } ok[] = {
        {2, F4 "(2, 3), }\n", 24, 2, 2},
        {3, F4 "(5,), }      \n", 20, 1, 5},
        {1, "{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"<f2\"}", 8, 1, 4},
        {1, " {'descr':'<i8','fortran_order':False,'shape':(3L,2L)}\t\r\n", 48, 2, 3},
        {1, F4 "( 3 , )\n}", 12, 1, 3},
        {1, F4 "()}", 4, 0, 0},
        {2, F4 "(0, 4)}", 0, 2, 0},
    };
    unsigned char b[512];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n = build(b, ok[i].major, 0, ok[i].dict, ok[i].data);
        clattn_npy_array a;
        char err[512] = "";
        clattn_status st = clattn_npy_parse(b, n, "variant.npy", &a, err, sizeof err);
        TU_CHECK(st == CLATTN_SUCCESS && a.ndim == ok[i].ndim &&
                     (a.ndim == 0 || a.shape[0] == ok[i].d0),
                 "valid variant %zu (version %d.0) accepted %s", i, ok[i].major, err);
        clattn_npy_free(&a);
    }
    /* Version 2.0 through the file reader as well, with float16 data checked value by value. */
    size_t n = build(b, 2, 0, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", 6);
    static const uint16_t halves[3] = {0x0001, 0x7c00, 0xc000};
    memcpy(b + n - 6, halves, 6);
    const char *path = tmp("v2.npy");
    write_bytes(path, b, n);
    clattn_npy_array a;
    char err[512] = "";
    clattn_status st = clattn_npy_read_f32(path, &a, err, sizeof err);
    const float *f = a.data;
    TU_CHECK(st == CLATTN_SUCCESS && a.dtype == CLATTN_NPY_F32 && a.count == 3 &&
                 f[0] == 5.9604644775390625e-08f && f[1] == INFINITY && f[2] == -2.0f,
             "version 2.0 float16 file read as float32 %s", err);
    clattn_npy_free(&a);
    remove(path);
}

static void test_malformed(void) {
    static const struct {
        int major, minor;
        const char *dict;
        size_t data; /* bytes of data after the dict */
        const char *why, *in_msg;
    } bad[] = {
        {4, 0, F4 "(1,)}", 4, "version 4.0", "version"},
        {1, 1, F4 "(1,)}", 4, "version 1.1", "version"},
        {0, 0, F4 "(1,)}", 4, "version 0.0", "version"},
        {1, 0, "[1, 2]", 0, "header a list", "not a dict"},
        {1, 0, "", 0, "empty header", "not a dict"},
        {1, 0, "{}", 0, "empty dict", "no 'descr'"},
        {1, 0, "{'descr': '<f4', 'fortran_order': False}", 0, "no shape", "no 'shape'"},
        {1, 0, F4 "(1,), 'descr': '<f4'}", 4, "duplicate descr", "twice"},
        {1, 0, F4 "(1,), 'foo': 1}", 4, "extra key", "unexpected key 'foo'"},
        {1, 0, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", 16, "fortran",
         "C order"},
        {1, 0, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4, "fortran 0", "True or"},
        {1, 0, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", 8, "<c8", "'<c8'"},
        {1, 0, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", 4, ">f4", "'>f4'"},
        {1, 0, "{'descr': '|b1', 'fortran_order': False, 'shape': (1,)}", 1, "|b1", "'|b1'"},
        {1, 0, "{'descr': '=f4', 'fortran_order': False, 'shape': (1,)}", 4, "=f4", "'=f4'"},
        {1, 0, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", 4, "struct",
         "structured"},
        {1, 0, F4 "(-1, 3)}", 0, "negative dim", "negative"},
        {1, 0, F4 "(2.5,)}", 0, "float dim", "expected ','"},
        {1, 0, F4 "('a',)}", 0, "string dim", "integers"},
        {1, 0, F4 "3}", 0, "shape an int", "tuple"},
        {1, 0, F4 "(3)}", 12, "shape (3)", "not a tuple"},
        {1, 0, F4 "[3]}", 12, "shape a list", "tuple"},
        {1, 0, F4 "(1, 1, 1, 1, 1, 1, 1, 1, 1)}", 4, "9 dims", "more than 8"},
        {1, 0, F4 "(99999999999999999999,)}", 0, "dim > int64", "2^63"},
        {1, 0, F4 "(4294967296, 4294967296)}", 0, "count overflow", "too large"},
        {1, 0, F4 "(2305843009213693952,)}", 0, "bytes overflow", "too large"},
        {1, 0, F4 "(0, 4294967296, 4294967296)}", 0, "overflow behind a 0", "too large"},
        {1, 0, F4 "(10,)}", 39, "truncated", "expected 40 bytes of data, found 39"},
        {1, 0, F4 "(1099511627776,)}", 4, "huge claim", "expected 4398046511104 bytes"},
        {1, 0, F4 "(10,)}", 41, "trailing byte", "1 bytes of trailing"},
        {1, 0, "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", 4, "quotes",
         "not supported"},
        {1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4, "unclosed", "'}'"},
        {1, 0, F4 "(1,)} x", 4, "garbage after dict", "after the dict"},
        {1, 0, "{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}", 4, "colon", "':'"},
        {1, 0, "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", 4, "comma", "','"},
        {1, 0, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}", 4, "escape",
         "escape"},
        {1, 0, "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (1,)}", 4, "Falsey", "True"},
        {1, 0, "{'descr': '<f4',, 'fortran_order': False, 'shape': (1,)}", 4, ",,", "key"},
        {1, 0, F4 "(1,,)}", 4, "(1,,)", "integers"},
        {2, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\n", 3, "v2 short", "4"},
    };
    unsigned char b[512];
    char name[64], err[512], need[128];
    int disk_ok = 0, nbad = (int)(sizeof bad / sizeof bad[0]);
    for (int i = 0; i < nbad; i++) {
        size_t n = build(b, bad[i].major, bad[i].minor, bad[i].dict, bad[i].data);
        clattn_npy_array a;
        memset(&a, 0x5a, sizeof a);
        snprintf(name, sizeof name, "bad%02d.npy", i);
        clattn_status st = clattn_npy_parse(b, n, name, &a, err, sizeof err);
        snprintf(need, sizeof need, "%s: ", name);
        TU_CHECK(st == CLATTN_ERROR_FORMAT && zeroed(&a) && starts_with(err, need) &&
                     strstr(err, bad[i].in_msg),
                 "malformed %02d (%s) rejected: %s", i, bad[i].why, err);
        /* The same bytes on disk, through the file reader. */
        const char *path = tmp(name);
        write_bytes(path, b, n);
        memset(&a, 0x5a, sizeof a);
        st = clattn_npy_read_f32(path, &a, err, sizeof err);
        disk_ok += st == CLATTN_ERROR_FORMAT && zeroed(&a) && starts_with(err, path) &&
                   strstr(err, bad[i].in_msg) != NULL;
        if (st != CLATTN_ERROR_FORMAT || !starts_with(err, path)) printf("  disk: %s\n", err);
        remove(path);
    }
    TU_CHECK(disk_ok == nbad, "%d of %d malformed files rejected from disk too", disk_ok, nbad);

    /* Broken preambles that build() cannot make. */
    static const struct {
        const char *bytes;
        size_t len;
        const char *in_msg;
    } raw[] = {{"", 0, "too short"},
               {"\x93NUMPY\x01", 7, "too short"},
               {"\x93NUMPX\x01\x00\x00\x00", 10, "bad magic"},
               {"\x93NUMPY\x02\x00\x00\x00", 10, "header length"},
               {"\x93NUMPY\x01\x00\xff\xff{}", 12, "past the end"},
               {"\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14, "past the end"},
               {"\x93NUMPY\x01\x00\x03\x00{\0}", 13, "expected"}};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        clattn_npy_array a;
        clattn_status st =
            clattn_npy_parse(raw[i].bytes, raw[i].len, "raw.npy", &a, err, sizeof err);
        TU_CHECK(st == CLATTN_ERROR_FORMAT && zeroed(&a) && starts_with(err, "raw.npy: ") &&
                     strstr(err, raw[i].in_msg),
                 "broken preamble %zu rejected: %s", i, err);
    }
    clattn_npy_array a;
    clattn_npy_parse(raw[2].bytes, raw[2].len, NULL, &a, err, sizeof err);
    TU_CHECK(starts_with(err, "(memory): "), "unnamed buffer labelled: %s", err);
}

/* ---- files written by numpy, and byte-identity with np.save ---- */

static const char numpy_script[] =
    "import sys, numpy as np\n"
    "d = sys.argv[1]\n"
    "shapes = [(), (1,), (7,), (3, 5), (2, 3, 4), (113, 59), (0, 3), (1, 2, 1, 3, 1, 2, 1, 2)]\n"
    "for k, s in enumerate(shapes):\n"
    "    n = int(np.prod(s))\n"
    "    for t in ('f4', 'f2', 'i4', 'i8', 'f8'):\n"
    "        a = (np.arange(n) * 0.37 - 5.0) if t[0] == 'f' else np.arange(n) * 7919 - 12345\n"
    "        a = a.astype('<' + t).reshape(s)\n"
    "        np.save('%s/np_%s_%d.npy' % (d, t, k), a)\n"
    "        np.save('%s/np_%s_%d_as_f8.npy' % (d, t, k), a.astype('<f8'))\n"
    "a = np.linspace(-1, 1, 12).astype('<f4').reshape(3, 4)\n"
    "for v in ((2, 0), (3, 0)):\n"
    "    with open('%s/np_v%d.npy' % (d, v[0]), 'wb') as f:\n"
    "        np.lib.format.write_array(f, a, version=v)\n"
    "np.save(d + '/np_fortran.npy', np.asfortranarray(a))\n"
    "np.save(d + '/np_big.npy', a.astype('>f4'))\n"
    "np.save(d + '/np_c8.npy', a.astype('<c8'))\n"
    "np.save(d + '/np_bool.npy', a > 0)\n";

static int have_numpy(void) {
    if (access("/usr/bin/python3", X_OK) != 0) return 0;
    return system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

/* Reads an '<f8' reference numpy wrote (its bytes, not through the reader under test). */
static double *read_f8(const char *path, int64_t count) {
    size_t n = 0;
    unsigned char *b = read_bytes(path, &n);
    if (!b || n < (size_t)count * 8) return free(b), NULL;
    double *d = malloc((size_t)count * 8 + 8);
    memcpy(d, b + n - (size_t)count * 8, (size_t)count * 8);
    free(b);
    return d;
}

static double as_double(const clattn_npy_array *a, int64_t i) {
    switch (a->dtype) {
    case CLATTN_NPY_F32:
        return ((const float *)a->data)[i];
    case CLATTN_NPY_F16:
        return clattn_npy_half_to_float(((const uint16_t *)a->data)[i]);
    case CLATTN_NPY_I32:
        return ((const int32_t *)a->data)[i];
    case CLATTN_NPY_I64:
        return (double)((const int64_t *)a->data)[i];
    case CLATTN_NPY_F64:
        return ((const double *)a->data)[i];
    }
    return NAN;
}

static void test_numpy(void) {
    if (!have_numpy()) {
        printf("note: /usr/bin/python3 with numpy not found: numpy fixture checks skipped\n");
        return;
    }
    const char *script = tmp("gen.py");
    write_bytes(script, numpy_script, sizeof numpy_script - 1);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script, tmpdir);
    if (!TU_CHECK(system(cmd) == 0, "numpy generated the fixtures")) return;
    static const char *const types[] = {"f4", "f2", "i4", "i8", "f8"};
    int files = 0, values = 0, identical = 0, expected_identical = 0;
    char path[600], ref[600], mine[600], err[512];
    for (int k = 0; k < 8; k++)
        for (int t = 0; t < 5; t++) {
            snprintf(path, sizeof path, "%s/np_%s_%d.npy", tmpdir, types[t], k);
            snprintf(ref, sizeof ref, "%s/np_%s_%d_as_f8.npy", tmpdir, types[t], k);
            clattn_npy_array a;
            clattn_status st = clattn_npy_read(path, &a, err, sizeof err);
            if (st != CLATTN_SUCCESS) {
                printf("  %s\n", err);
                continue;
            }
            files += a.dtype == (clattn_npy_dtype)t;
            double *r = read_f8(ref, a.count);
            int same = r != NULL;
            for (int64_t i = 0; same && i < a.count; i++) same = as_double(&a, i) == r[i];
            values += same;
            /* Our writer must produce numpy's bytes exactly. */
            snprintf(mine, sizeof mine, "%s/mine.npy", tmpdir);
            expected_identical++;
            if (clattn_npy_write(mine, a.dtype, a.ndim, a.shape, a.data, err, sizeof err) ==
                CLATTN_SUCCESS) {
                size_t n1 = 0, n2 = 0;
                unsigned char *b1 = read_bytes(path, &n1), *b2 = read_bytes(mine, &n2);
                identical += b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0;
                free(b1);
                free(b2);
            }
            remove(mine);
            free(r);
            clattn_npy_free(&a);
        }
    TU_CHECK(files == 40, "%d of 40 numpy files read with the right dtype", files);
    TU_CHECK(values == 40, "%d of 40 numpy files hold the values numpy computed", values);
    /* float64 to float32: rounded to nearest, as C converts */
    snprintf(path, sizeof path, "%s/np_f8_5.npy", tmpdir);
    clattn_npy_array wide, narrow;
    int rounded = clattn_npy_read(path, &wide, err, sizeof err) == CLATTN_SUCCESS &&
                  clattn_npy_read_f32(path, &narrow, err, sizeof err) == CLATTN_SUCCESS &&
                  narrow.dtype == CLATTN_NPY_F32 && narrow.count == wide.count;
    for (int64_t i = 0; rounded && i < wide.count; i++)
        rounded = ((const float *)narrow.data)[i] == (float)((const double *)wide.data)[i];
    TU_CHECK(rounded, "float64 file read as float32, each value rounded to nearest %s", err);
    clattn_npy_free(&wide);
    clattn_npy_free(&narrow);
    TU_CHECK(identical == expected_identical, "%d of %d files written byte-identical to np.save",
             identical, expected_identical);
    for (int v = 2; v <= 3; v++) {
        snprintf(path, sizeof path, "%s/np_v%d.npy", tmpdir, v);
        clattn_npy_array a;
        clattn_status st = clattn_npy_read_f32(path, &a, err, sizeof err);
        const float *f = a.data;
        TU_CHECK(st == CLATTN_SUCCESS && a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 4 &&
                     f[0] == -1.0f && f[11] == 1.0f,
                 "numpy version %d.0 file read %s", v, err);
        clattn_npy_free(&a);
    }
    static const char *const rejected[][2] = {{"np_fortran.npy", "fortran_order"},
                                              {"np_big.npy", "'>f4'"},
                                              {"np_c8.npy", "'<c8'"},
                                              {"np_bool.npy", "'|b1'"}};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, rejected[i][0]);
        clattn_npy_array a;
        clattn_status st = clattn_npy_read(path, &a, err, sizeof err);
        TU_CHECK(st == CLATTN_ERROR_FORMAT && zeroed(&a) && starts_with(err, path) &&
                     strstr(err, rejected[i][1]),
                 "numpy %s rejected: %s", rejected[i][0], err);
    }
    snprintf(cmd, sizeof cmd, "rm -f %s/np_*.npy", tmpdir);
    if (system(cmd) != 0) printf("note: could not clean %s\n", tmpdir);
    remove(script);
}

/* ---- I/O errors and bad arguments ---- */

static void test_io_errors(void) {
    char err[512];
    clattn_npy_array a;
    const char *missing = tmp("does-not-exist.npy");
    memset(&a, 0x5a, sizeof a);
    clattn_status st = clattn_npy_read(missing, &a, err, sizeof err);
    TU_CHECK(st == CLATTN_ERROR_IO && zeroed(&a) && starts_with(err, missing) &&
                 strstr(err, "No such file"),
             "missing file: %s", err);
    st = clattn_npy_read(tmpdir, &a, err, sizeof err);
    TU_CHECK(st == CLATTN_ERROR_IO && zeroed(&a) && starts_with(err, tmpdir), "a directory: %s",
             err);
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int64_t shape[2] = {2, 3};
    const char *nodir = tmp("no-such-dir/out.npy");
    st = clattn_npy_write(nodir, CLATTN_NPY_F32, 2, shape, x, err, sizeof err);
    TU_CHECK(st == CLATTN_ERROR_IO && starts_with(err, nodir), "write into a missing dir: %s", err);
    if (access("/dev/full", W_OK) == 0) { /* a device is refused, and never removed */
        st = clattn_npy_write("/dev/full", CLATTN_NPY_F32, 2, shape, x, err, sizeof err);
        TU_CHECK(st == CLATTN_ERROR_IO && starts_with(err, "/dev/full") &&
                     access("/dev/full", W_OK) == 0,
                 "/dev/full refused and still there: %s", err);
    } /* the write-error path itself is test_atomic_write's, on a file size limit */

    /* Bad arguments leave an existing file untouched. */
    const char *keep = tmp("keep.npy");
    clattn_npy_write(keep, CLATTN_NPY_F32, 2, shape, x, err, sizeof err);
    const int64_t neg[2] = {2, -3}, huge[2] = {INT64_MAX / 2, 3}, nine[9] = {1};
    TU_CHECK(clattn_npy_write(keep, CLATTN_NPY_F32, 2, neg, x, err, sizeof err) ==
                 CLATTN_ERROR_INVALID_ARGUMENT,
             "write: negative dim: %s", err);
    TU_CHECK(clattn_npy_write(keep, CLATTN_NPY_F32, 2, huge, x, err, sizeof err) ==
                 CLATTN_ERROR_OVERFLOW,
             "write: overflowing shape: %s", err);
    TU_CHECK(clattn_npy_write(keep, CLATTN_NPY_F32, 9, nine, x, err, sizeof err) ==
                 CLATTN_ERROR_INVALID_ARGUMENT,
             "write: 9 dims: %s", err);
    TU_CHECK(clattn_npy_write(keep, CLATTN_NPY_F32, 2, shape, NULL, err, sizeof err) ==
                 CLATTN_ERROR_INVALID_ARGUMENT,
             "write: NULL data: %s", err);
    TU_CHECK(clattn_npy_write(keep, (clattn_npy_dtype)7, 2, shape, x, err, sizeof err) ==
                 CLATTN_ERROR_INVALID_ARGUMENT,
             "write: bad dtype: %s", err);
    st = clattn_npy_read(keep, &a, err, sizeof err);
    TU_CHECK(st == CLATTN_SUCCESS && a.count == 6 && memcmp(a.data, x, sizeof x) == 0,
             "failed writes left the existing file alone");
    clattn_npy_free(&a);
    clattn_npy_free(&a); /* freeing twice is harmless: free zeroes */
    clattn_npy_free(NULL);

    /* read_f32 refuses integers, leaving *out zeroed. */
    const int32_t ints[3] = {1, -2, 3};
    const int64_t three = 3;
    clattn_npy_write(keep, CLATTN_NPY_I32, 1, &three, ints, err, sizeof err);
    memset(&a, 0x5a, sizeof a);
    st = clattn_npy_read_f32(keep, &a, err, sizeof err);
    TU_CHECK(st == CLATTN_ERROR_FORMAT && zeroed(&a) && starts_with(err, keep) &&
                 strstr(err, "<i4"),
             "read_f32 rejects int32: %s", err);
    remove(keep);
    /* A tiny error buffer is never overrun and is terminated. */
    char small[8];
    memset(small, 'x', sizeof small);
    clattn_npy_read(missing, &a, small, 5);
    TU_CHECK(small[4] == '\0' && small[5] == 'x', "error message truncated to the buffer");
    TU_CHECK(clattn_npy_read(missing, &a, NULL, 0) == CLATTN_ERROR_IO, "NULL error buffer ok");
}

/* ---- Atomic replacement ---- */

static int entries(const char *dir) { /* files in dir, to see that no temporary is left */
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void test_atomic_write(void) {
    char err[512];
    const float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {6, 5, 4, 3, 2, 1};
    const int64_t shape[2] = {2, 3};
    clattn_npy_array a;
    const char *keep = tmp("atomic.npy"), *link = tmp("link.npy"), *fifo = tmp("fifo");
    TU_CHECK(clattn_npy_write(keep, CLATTN_NPY_F32, 2, shape, x, err, sizeof err) == 0, "%s", err);
    const int before = entries(tmpdir);

    /* A write that fails half way (the file size limit: EFBIG) keeps the old file whole. */
    struct rlimit old, lim;
    void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
    if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
        lim = old;
        lim.rlim_cur = 100; /* inside the 128-byte header */
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            clattn_status st = clattn_npy_write(keep, CLATTN_NPY_F32, 2, shape, y, err, sizeof err);
            setrlimit(RLIMIT_FSIZE, &old);
            TU_CHECK(st == CLATTN_ERROR_IO && starts_with(err, keep), "EFBIG: %s", err);
            TU_CHECK(clattn_npy_read(keep, &a, err, sizeof err) == 0 &&
                         memcmp(a.data, x, sizeof x) == 0,
                     "a failed write left the old file whole");
            clattn_npy_free(&a);
            TU_CHECK(entries(tmpdir) == before, "no temporary left after a failed write");
        }
    }
    signal(SIGXFSZ, old_xfsz);

    /* A symlink is followed: the file it names is replaced, the link stays a link. */
    struct stat st;
    TU_CHECK(symlink(keep, link) == 0, "symlink");
    TU_CHECK(clattn_npy_write(link, CLATTN_NPY_F32, 2, shape, y, err, sizeof err) == 0, "%s", err);
    TU_CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link is still a link");
    TU_CHECK(clattn_npy_read(keep, &a, err, sizeof err) == 0 && memcmp(a.data, y, sizeof y) == 0,
             "written through the link");
    clattn_npy_free(&a);
    remove(link);

    /* Not regular files: refused without opening them (a FIFO would block an open). */
    TU_CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    clattn_status s = clattn_npy_write(fifo, CLATTN_NPY_F32, 2, shape, x, err, sizeof err);
    TU_CHECK(s == CLATTN_ERROR_IO && strstr(err, "FIFO") && lstat(fifo, &st) == 0 &&
                 S_ISFIFO(st.st_mode),
             "a FIFO is refused and kept: %s", err);
    remove(fifo);
    s = clattn_npy_write(tmpdir, CLATTN_NPY_F32, 2, shape, x, err, sizeof err);
    TU_CHECK(s == CLATTN_ERROR_IO && strstr(err, "directory"), "a directory is refused: %s", err);
    TU_CHECK(entries(tmpdir) == before, "nothing left behind by the refusals");
    remove(keep);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        printf("FAIL: cannot create a temporary directory\n");
        return 1;
    }
    tu_seed();
    test_half();
    test_round_trips();
    test_valid_variants();
    test_malformed();
    test_numpy();
    test_io_errors();
    test_atomic_write();
    rmdir(tmpdir);
    return tu_finish();
}
