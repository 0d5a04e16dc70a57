/* commands.h: the subcommands of the `clattn` program; each lives in tools/cmd_<name>.c and is
 * listed in the table in tools/clattn.c. argv[0] is the subcommand's name. */
#ifndef CLATTN_COMMANDS_H
#define CLATTN_COMMANDS_H

int cmd_devices(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_additive(int argc, char **argv);
int cmd_birnn(int argc, char **argv);
int cmd_bench_rnn(int argc, char **argv);
int cmd_bench_layer(int argc, char **argv);
int cmd_attention(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_layer(int argc, char **argv);
/* tools/mpi/: only in a build with the MPI component (CLATTN_CLI_MPI); else clattn.c's stub. */
int cmd_ring_attention(int argc, char **argv);
int cmd_ring_bench(int argc, char **argv);
int cmd_convert_gqa(int argc, char **argv);

#endif
