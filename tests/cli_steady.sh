#!/usr/bin/env bash
# cli_steady.sh: issue 15's CLI side. The program sets POCL_AFFINITY=1 when it is unset and
# leaves a value the user set alone; on PoCL that really pins the driver's worker threads (a
# thread of a running `clattn bench` allowed on one CPU only), and POCL_AFFINITY=0 leaves them
# free; `clattn devices` and `--help` say so; `clattn bench` prints min_ms <= ms <= max_ms and an
# enqueue_ms within the call's host time, and with --trace every call's time in call order; its
# warm-up runs for --warmup-ms.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_steady

"$CLI" --help | grep -q "POCL_AFFINITY" && pass "--help names POCL_AFFINITY" ||
    fail "--help does not mention POCL_AFFINITY"

devs=$(env -u POCL_AFFINITY "$CLI" devices)
pocl=0
grep -q "Portable Computing Language" <<<"$devs" && pocl=1
if [ "$pocl" = 1 ]; then
    grep -q "POCL_AFFINITY=1 (set by clattn" <<<"$devs" && pass "devices: set by clattn when unset" ||
        fail "devices without POCL_AFFINITY: $devs"
    POCL_AFFINITY=0 "$CLI" devices | grep -q "POCL_AFFINITY=0 (yours" &&
        pass "devices: the user's POCL_AFFINITY=0 kept" || fail "devices with POCL_AFFINITY=0"
else
    grep -q "POCL_AFFINITY" <<<"$devs" && fail "devices names POCL_AFFINITY without PoCL" ||
        pass "no PoCL device: no POCL_AFFINITY line"
fi

# The most threads of a running bench allowed on exactly one CPU (PoCL pins its workers).
pinned_threads() {
    env "$@" "$CLI" bench --batch 1 --heads 8 --seq 1024 --dim 64 --repeat 30 >"$T/bench.txt" &
    local pid=$! most=0
    for _ in $(seq 1 100); do
        sleep 0.05
        kill -0 "$pid" 2>/dev/null || break
        local n=0
        for s in /proc/"$pid"/task/*/status; do
            local cpus
            cpus=$(awk '/^Cpus_allowed_list/ {print $2}' "$s" 2>/dev/null)
            [[ -n "$cpus" && "$cpus" != *[,-]* ]] && n=$((n + 1))
        done
        [ "$n" -gt "$most" ] && most=$n
    done
    wait "$pid"
    echo "$most"
}
if [ "$pocl" = 1 ] && [ "$(nproc)" -gt 1 ] &&
    ! grep -q "," <<<"$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)"; then
    on=$(pinned_threads -u POCL_AFFINITY)
    [ "$on" -ge 2 ] && pass "POCL_AFFINITY unset: $on threads pinned to one CPU each" ||
        fail "POCL_AFFINITY unset: $on threads pinned (expected PoCL's workers, 2 or more)"
    off=$(pinned_threads POCL_AFFINITY=0)
    # fewer than PoCL's 2 workers: one run saw a single thread on one CPU for one sample
    [ "$off" -lt 2 ] && pass "POCL_AFFINITY=0: the workers not pinned ($off threads on one CPU)" ||
        fail "POCL_AFFINITY=0: $off threads pinned"
else
    echo "skip: pinning check (no PoCL device, one CPU, or a CPU list this check does not read)"
fi

out=$("$CLI" bench --batch 1 --heads 2 --seq 64 --dim 32 --repeat 7) || fail "bench failed"
$PY - "$out" <<'PY' && pass "bench: min_ms <= ms <= max_ms, enqueue_ms <= host_ms" || fail "bench: $out"
import re, sys
kv = dict(re.findall(r"(\w+)=([^\s]+)", sys.argv[1]))
lo, med, hi, enq, host = (float(kv[k]) for k in ("min_ms", "ms", "max_ms", "enqueue_ms", "host_ms"))
sys.exit(0 if 0 < lo <= med <= hi and 0 < enq <= host else 1)
PY

# --trace: the repeat's call times in call order, on a line of their own before the summary;
# their min, median and max are the summary's.
out=$("$CLI" bench --batch 1 --heads 2 --seq 64 --dim 32 --repeat 6 --trace) || fail "bench --trace"
$PY - "$out" <<'PY' && pass "bench --trace: 6 call times, matching min_ms/ms/max_ms" ||
import re, statistics, sys
lines = sys.argv[1].strip().split("\n")
calls = [float(x) for x in lines[-2].split("calls_ms=", 1)[1].split(",")]
kv = dict(re.findall(r"(\w+)=([^\s]+)", lines[-1]))
s = sorted(calls)
ok = (len(calls) == 6 and all(c > 0 for c in calls) and "calls_ms" not in kv and
      abs(s[0] - float(kv["min_ms"])) < 2e-3 and abs(s[-1] - float(kv["max_ms"])) < 2e-3 and
      abs(statistics.median(calls) - float(kv["ms"])) < 2e-3)
sys.exit(0 if ok else 1)
PY
    fail "bench --trace: $out"
"$CLI" bench --batch 1 --heads 2 --seq 64 --dim 32 --repeat 3 | grep -q "calls_ms=" &&
    fail "bench without --trace prints calls_ms=" || pass "bench without --trace: no calls_ms="

# Warm-up: calls for --warmup-ms first (default 200 ms: many calls of this 0.1 ms problem), or
# just the one that builds the kernels with --warmup-ms 0; a bad value is a usage error.
warm() { "$CLI" bench --batch 1 --heads 2 --seq 64 --dim 32 --repeat 3 "$@" |
    sed -n 's/.*warmup_calls=\([0-9]*\).*/\1/p'; }
w0=$(warm --warmup-ms 0)
wd=$(warm)
[ "$w0" = 1 ] && [ -n "$wd" ] && [ "$wd" -gt 1 ] &&
    pass "bench warm-up: 1 call with --warmup-ms 0, $wd within the default 200 ms" ||
    fail "bench warm-up calls: '$w0' with --warmup-ms 0, '$wd' by default"
"$CLI" bench --batch 1 --heads 2 --seq 64 --dim 32 --warmup-ms -1 >/dev/null 2>&1
[ $? = 2 ] && pass "bench --warmup-ms -1: usage error" || fail "bench --warmup-ms -1 accepted"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
