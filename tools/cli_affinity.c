/* cli_affinity.c: the CLI's default for PoCL's worker-thread pinning (POCL_AFFINITY) and the note
 * `clattn devices` and `--help` print about it. Why: unpinned, PoCL's worker threads are woken
 * together for every kernel and two of them often land on one core; a call of a few milliseconds
 * then ends before the scheduler spreads them and runs at half speed (README, "Steady timings").
 * Pinning is a process-wide decision, so the library leaves it to the program; the CLI, being the
 * program, makes it. */
#include "cli_util.h"

#include <stdlib.h>
#include <string.h>

static const char *user_value; /* POCL_AFFINITY as the user set it, NULL when unset */

void cli_affinity_default(void) {
    user_value = getenv("POCL_AFFINITY");
    setenv("POCL_AFFINITY", "1", 0); /* before any OpenCL call: PoCL reads it at start-up */
}

void cli_affinity_note(FILE *f, int pocl) {
    if (!pocl) return;
    if (!user_value)
        fprintf(f, "PoCL: POCL_AFFINITY=1 (set by clattn; it was unset): ");
    else
        fprintf(
            f, "PoCL: POCL_AFFINITY=%s (yours; clattn sets 1 only when it is unset): ", user_value);
    fprintf(f, "1 pins PoCL's worker threads one per core. Unpinned, two workers often share a "
               "core and calls of a few ms run at half speed in some processes. Programs linking "
               "libclattn: export POCL_AFFINITY=1 before the first OpenCL call.\n");
}

int cli_is_pocl(const char *platform_name) {
    return platform_name && strstr(platform_name, "Portable Computing Language") != NULL;
}
