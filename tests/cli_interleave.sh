#!/usr/bin/env bash
# cli_interleave.sh: bench/interleave.c ($CLATTN_INTERLEAVE, set by CTest), the in-process A/B
# timer: one result line per configuration, the first its own reference (speedup 1, diff 0); the
# same kernels from CLATTN_KERNEL_DIR give the same output bits, and so do the other layouts; a
# kernel variant that computes something else is caught by max_diff; bad configurations are refused with status 2 (syntax) or
# 1 (a call that fails), naming the configuration.
set -u
IL=${CLATTN_INTERLEAVE:-interleave}
SRC=${CLATTN_SOURCE_DIR:-$(dirname "$0")/..}
. "$(dirname "$0")/lib_tally.sh"

# max_diff= of the result line whose first field is $1, from file $2.
diff_of() { awk -v c="$1" '$1 == c { sub(/.*max_diff=/, ""); print }' "$2"; }

# The variant: flash_cpu.cl with the score loop cut to one head-dim element.
cp -r "$SRC/cl" "$T/bad"
sed -i 's/for (int c = 0; c < d; c++) {/for (int c = 0; c < 1; c++) {/' "$T/bad/flash_cpu.cl"
grep -q "c < 1; c++" "$T/bad/flash_cpu.cl" || fail "could not make the broken variant"

F=algo=flash2,flavour=cpu
if "$IL" --batch 2 --heads 4 --kv-heads 2 --seq 67 --dim 32 --causal --rounds 3 \
    "$F" "$F,block_q=16,block_kv=32" "$F,kernel_dir=$SRC/cl" "$F,dtype=f16" \
    "$F,kernel_dir=$T/bad" >"$T/out.txt" 2>"$T/err.txt"; then
    cat "$T/out.txt"
    [ "$(grep -c "max_diff=" "$T/out.txt")" = 5 ] && pass "five result lines" ||
        fail "expected five result lines"
    grep -q "^$F .*speedup=1.000 (1.000-1.000) max_diff=0.00e+00" "$T/out.txt" &&
        pass "the first configuration is its own reference" || fail "first line"
    awk -v a="$(diff_of "$F,kernel_dir=$SRC/cl" "$T/out.txt")" \
        -v b="$(diff_of "$F,block_q=16,block_kv=32" "$T/out.txt")" \
        -v h="$(diff_of "$F,dtype=f16" "$T/out.txt")" \
        -v x="$(diff_of "$F,kernel_dir=$T/bad" "$T/out.txt")" \
        'BEGIN { exit !(a == 0 && b < 1e-5 && h > 0 && h < 1e-2 && x > 1e-3) }' &&
        pass "max_diff: same kernels 0, other tiles < 1e-5, f16 < 1e-2, the broken variant > 1e-3" ||
        fail "max_diff values"
    grep -E "gflops=[0-9.]+ speedup=[0-9.]+ \([0-9.]+-[0-9.]+\)" "$T/out.txt" | wc -l | grep -q 5 &&
        pass "every line has gflops= and speedup= with its middle half" || fail "line format"
else
    fail "interleave failed: $(cat "$T/err.txt")"
fi

# layout=: the same values in [B, S, H, D] and in a packed projection's rows give the same bits as
# contiguous tensors, read in place or (2048 query rows per kv head) from CPU flash2's copies.
for S in 64 128; do
    if "$IL" --heads 32 --kv-heads 2 --seq $S --dim 16 --causal --rounds 2 "$F,layout=bhsd" \
        "$F,layout=bshd" "$F,layout=qkv" >"$T/out.txt" 2>"$T/err.txt"; then
        if [ "$(diff_of "$F,layout=bshd" "$T/out.txt")" = 0.00e+00 ] &&
            [ "$(diff_of "$F,layout=qkv" "$T/out.txt")" = 0.00e+00 ]; then
            pass "layout=bshd and layout=qkv, Sq $S: the bits of layout=bhsd"
        else
            fail "layouts, Sq $S: $(cat "$T/out.txt")"
        fi
    else
        fail "interleave with layouts failed: $(cat "$T/err.txt")"
    fi
done
"$IL" --heads 2 --seq 8 --dim 8 "layout=sbhd" 2>"$T/err.txt"
if [ $? = 2 ] && grep -q "bad configuration 'layout=sbhd'" "$T/err.txt"; then
    pass "an unknown layout: status 2, named"
else
    fail "layout=sbhd: $(cat "$T/err.txt")"
fi

"$IL" --heads 2 --seq 8 --dim 8 "block_q=x" 2>"$T/err.txt"
[ $? = 2 ] && grep -q "bad configuration 'block_q=x'" "$T/err.txt" &&
    pass "a malformed configuration: status 2, named" || fail "malformed: $(cat "$T/err.txt")"
"$IL" --heads 2 --seq 8 --dim 8 "kernel_dir=$T/none" 2>"$T/err.txt"
[ $? = 1 ] && grep -q "config 'kernel_dir=$T/none'" "$T/err.txt" &&
    pass "a configuration whose call fails: status 1, named" || fail "failing: $(cat "$T/err.txt")"
"$IL" --heads 2 --seq 8 2>"$T/err.txt"
[ $? = 2 ] && grep -q "usage" "$T/err.txt" && pass "no --dim, no configuration: usage, status 2" ||
    fail "usage: $(cat "$T/err.txt")"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
