#!/usr/bin/env bash
# run.sh: one oclgrind test process: runs gpu_check FAMILY under
#   oclgrind --data-races --check-api --local-mem-size BYTES --max-wgsize WG
# and fails when gpu_check fails (a numerical mismatch, a status, a wrong device) or when anything
# at all appears on stderr. gpu_check and clattn print nothing on stderr, so every stderr line is
# oclgrind's: a data race, an invalid or out-of-bounds access, an uninitialised value, an API
# misuse, a kernel build message. Nothing is filtered (CLBlast's GEMM kernels, which the naive,
# additive and gru families run, drew no report when this was written, so nothing needs to be).
#
#   run.sh OCLGRIND GPU_CHECK FAMILY LOCAL_BYTES MAX_WG LOG
# The whole stderr goes to LOG (flash1's race alone is 14,000 lines); the first lines are shown.
# OCLGRIND_THREADS (default 2: CI runs the tests one at a time on 2 cores) sets oclgrind's
# worker threads.
set -u
if [ $# -ne 6 ]; then
    echo "usage: run.sh OCLGRIND GPU_CHECK FAMILY LOCAL_BYTES MAX_WG LOG" >&2
    exit 2
fi
OCLGRIND=$1 EXE=$2 FAMILY=$3 LOCAL=$4 WG=$5 LOG=$6
mkdir -p "$(dirname "$LOG")"
start=$(date +%s%N)
"$OCLGRIND" --data-races --check-api --num-threads "${OCLGRIND_THREADS:-2}" \
    --local-mem-size "$LOCAL" --max-wgsize "$WG" \
    "$EXE" "$FAMILY" --expect-local "$LOCAL" --expect-wg "$WG" 2>"$LOG"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
fails=0
if [ "$rc" != 0 ]; then
    echo "FAIL: gpu_check $FAMILY exited with $rc under oclgrind"
    fails=1
fi
if [ -s "$LOG" ]; then
    # A report starts at column 0; its details follow on indented lines.
    reports=$(grep -c '^[^[:space:]]' "$LOG")
    echo "FAIL: oclgrind wrote $(wc -l <"$LOG") lines on stderr ($reports report headers);" \
        "full log: $LOG; first lines:"
    head -n 40 "$LOG"
    echo "report kinds (count, first line without addresses):"
    grep '^[^[:space:]]' "$LOG" | sed -E 's/0x[0-9a-fA-F]+/ADDR/g' | sort | uniq -c | sort -rn |
        head -n 10
    echo "kernels named in reports:"
    grep -E '^[[:space:]]*Kernel:' "$LOG" | sort | uniq -c | sort -rn | head -n 10
    fails=1
else
    echo "ok  : no oclgrind report on stderr"
fi
echo "oclgrind $FAMILY local=$LOCAL wg=$WG: $((ms / 1000)).$((ms % 1000 / 100)) s"
exit $fails
