/* clattn.c: the `clattn` command-line program: a table of subcommands, each in its own
 * tools/cmd_<name>.c. */
#include "clattn.h"
#include "cli_util.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

#ifndef CLATTN_CLI_MPI
/* The ring commands need the MPI component (tools/mpi/): without it they only say so. */
static int no_mpi(int argc, char **argv) {
    (void)argc;
    fprintf(stderr,
            "clattn %s: this clattn was built without MPI (CLATTN_WITH_MPI=OFF: CMake found no "
            "MPI); install one (Debian: libopenmpi-dev openmpi-bin) and rebuild\n",
            argv[0]);
    return 2;
}
int cmd_ring_attention(int argc, char **argv) {
    return no_mpi(argc, argv);
}
int cmd_ring_bench(int argc, char **argv) {
    return no_mpi(argc, argv);
}
#endif

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"devices", cmd_devices, "list OpenCL devices and their limits"},
    {"selftest", cmd_selftest, "build every kernel and check each against the CPU reference"},
    {"attention", cmd_attention, "scaled dot-product attention (MHA/GQA/MQA) on .npy files"},
    {"plan", cmd_plan, "print the dispatcher's plan for an attention problem"},
    {"bench", cmd_bench, "time attention on random inputs (GFLOP/s, ms, device memory)"},
    {"additive", cmd_additive, "additive (Bahdanau) attention on .npy files"},
    {"birnn", cmd_birnn, "GRU/LSTM encoder (stacked, bidirectional) on .npy files"},
    {"bench-rnn", cmd_bench_rnn, "time the GRU/LSTM encoder on random inputs (ms, tokens/s)"},
    {"layer", cmd_layer, "an attention layer (projections, RoPE, attention) on .npy files"},
    {"bench-layer", cmd_bench_layer,
     "time an attention layer's forward on random inputs (ms, GFLOP/s, tokens/s)"},
    {"ring-attention", cmd_ring_attention,
     "attention with the sequence split across MPI ranks (mpirun -np R clattn ring-attention)"},
    {"ring-bench", cmd_ring_bench, "time ring attention across MPI ranks and its overlap"},
    {"convert-gqa", cmd_convert_gqa, "mean-pool an attention layer's k/v heads (MHA to GQA/MQA)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: clattn <command> [options]   (clattn <command> --help for its options)\n"
               "       clattn --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-15s %s\n", commands[i].name, commands[i].help);
    fprintf(f,
            "\nenvironment:\n  POCL_AFFINITY   clattn sets it to 1 unless it is set: PoCL (the CPU "
            "OpenCL driver)\n                  then pins its worker threads one per core, which "
            "keeps the\n                  speed of short calls from halving when two workers "
            "share a core;\n                  POCL_AFFINITY=0 leaves them to the scheduler\n");
}

int main(int argc, char **argv) {
    cli_affinity_default(); /* POCL_AFFINITY=1 unless set: cli_affinity.c says why */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("clattn %s\n", clattn_version_string());
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "clattn: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
