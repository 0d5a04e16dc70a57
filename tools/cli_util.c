/* cli_util.c: option parsing and context opening for the `clattn` subcommands. */
#include "cli_util.h"
#include "core/internal.h" /* clattn__prod64, clattn__mul64: the library's checked arithmetic */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cli_device_sel;
const char CLI_OPT_BARE[] = "";

const char *cli_device(void) {
    return cli_device_sel;
}

static void print_help(const char *cmd, const cli_opt *opts, const char *usage) {
    printf("usage: clattn %s %s\n\noptions:\n", cmd, usage ? usage : "[options]");
    for (const cli_opt *o = opts; o && o->name; o++)
        printf("  --%-16s %s\n", o->name, o->help ? o->help : "");
    printf("  --%-16s %s\n", "device SEL", "OpenCL device: p:d or a name substring");
    printf("  --%-16s %s\n", "help", "this text");
}

static int set_value(const char *cmd, const cli_opt *o, const char *val) {
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case OPT_STRING:
        *(const char **)o->target = val;
        return 0;
    case OPT_OPTIONAL:
        if (!*val) break; /* `--name=`: an empty value is no file name, and not the bare form */
        *(const char **)o->target = val;
        return 0;
    case OPT_INT: {
        long long v = strtoll(val, &end, 10);
        if (errno || !end || *end || end == val) break;
        *(int64_t *)o->target = v;
        return 0;
    }
    case OPT_FLOAT: {
        double v = strtod(val, &end);
        if (errno || !end || *end || end == val || !isfinite(v)) break;
        *(double *)o->target = v;
        return 0;
    }
    case OPT_FLAG:
        break;
    }
    fprintf(stderr, "clattn %s: invalid value \"%s\" for --%s\n", cmd, val, o->name);
    return 2;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, const char *usage) {
    const char *cmd = argv[0];
    cli_device_sel = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "clattn %s: unexpected argument \"%s\" (see --help)\n", cmd, a);
            return 2;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen == 4 && strncmp(a, "help", 4) == 0) {
            print_help(cmd, opts, usage);
            return 1;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (nlen == 6 && strncmp(a, "device", 6) == 0) {
            if (!val && i + 1 < argc) val = argv[++i];
            if (!val) {
                fprintf(stderr, "clattn %s: --device needs a value\n", cmd);
                return 2;
            }
            cli_device_sel = val;
            continue;
        }
        const cli_opt *o = opts;
        while (o && o->name && !(strlen(o->name) == nlen && strncmp(o->name, a, nlen) == 0)) o++;
        if (!o || !o->name) {
            fprintf(stderr, "clattn %s: unknown option --%.*s (see --help)\n", cmd, (int)nlen, a);
            return 2;
        }
        if (o->kind == OPT_FLAG) {
            if (val) {
                fprintf(stderr, "clattn %s: --%s takes no value\n", cmd, o->name);
                return 2;
            }
            *(int *)o->target = 1;
            continue;
        }
        if (o->kind == OPT_OPTIONAL && !val &&
            (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            *(const char **)o->target = CLI_OPT_BARE;
            continue;
        }
        if (!val && i + 1 < argc) val = argv[++i];
        if (!val) {
            fprintf(stderr, "clattn %s: --%s needs a value\n", cmd, o->name);
            return 2;
        }
        if (set_value(cmd, o, val)) return 2;
    }
    return 0;
}

clattn_context *cli_open_context(void) {
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(cli_device_sel, &ctx);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn: cannot open a device: %s: %s\n", clattn_status_string(st),
                clattn_context_create_error());
        return NULL;
    }
    return ctx;
}

int cli_fail(const char *cmd, clattn_context *ctx, clattn_status st) {
    const char *msg = ctx ? clattn_context_last_error(ctx) : "";
    fprintf(stderr, "clattn %s: %s%s%s\n", cmd, clattn_status_string(st), *msg ? ": " : "", msg);
    return 1;
}

int cli_missing(const char *cmd, const char *option) {
    fprintf(stderr, "clattn %s: --%s is required (see --help)\n", cmd, option);
    return 2;
}

int cli_bytes(const char *cmd, const char *what, const int64_t *dims, int n, size_t elem,
              size_t *bytes) {
    int64_t count, b;
    if (clattn__prod64(dims, n, &count) || clattn__mul64(count, (int64_t)elem, &b) ||
        (uint64_t)b > (uint64_t)SIZE_MAX) {
        fprintf(stderr, "clattn %s: the size of %s overflows (", cmd, what);
        for (int i = 0; i < n; i++) fprintf(stderr, "%s%lld", i ? " x " : "", (long long)dims[i]);
        fprintf(stderr, " elements of %zu bytes)\n", elem);
        return 1;
    }
    *bytes = (size_t)b;
    return 0;
}

int cli_sizes_in_range(const char *cmd, const int64_t *v, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (v[i] < 1 || v[i] > (1 << 20)) {
            fprintf(stderr, "clattn %s: --%s must be in 1..%d\n", cmd, names[i], 1 << 20);
            return 2;
        }
    return 0;
}

void cli_fill_tame(float *v, int64_t n, float scale) {
    uint64_t seed = 88172645463325252ull;
    for (int64_t i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        v[i] = scale * ((float)(seed >> 40) / 8388608.0f - 1.0f);
    }
}
