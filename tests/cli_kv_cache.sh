#!/usr/bin/env bash
# cli_kv_cache.sh: `clattn bench --paged PAGE`, attention through a KV cache end to end: a paged
# decode with ragged lengths (the plan line names the cache, and its held pages are the sum of
# ceil(length / PAGE) over the printed lengths), a contiguous cache (--paged 0), float16 storage
# (cache_bytes follows the type), a prefill over a paged cache (the flash2 path on gathered
# pages), and bad page sizes refused. The sequence lengths come from the printed kv_lens.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_kv_cache

field() { # field LINE NAME: the value of NAME= in LINE
    local rest=${1#* $2=}
    [ "$rest" = "$1" ] && return 1
    echo "${rest%% *}"
}

bench() { "$CLI" bench --batch 3 --heads 8 --kv-heads 2 --dim 64 --repeat 2 "$@"; }

# paged decode, ragged: pages held = sum of ceil(len / 16); the pool is 3 x ceil(300 / 16)
line=$(bench --seq 1 --seq-kv 300 --kv-lens-random --seed 5 --paged 16)
lens=$(field "$line" kv_lens) && pages=$(field "$line" pages)
want=0
for l in ${lens//,/ }; do want=$((want + (l + 15) / 16)); done
case "$line" in *algo=decode*splits=*cache=paged\ page_size=16\ pages=*gbps=*tokens_per_s=*ms=*)
    if [ "$pages" = "$want/57" ]; then
        pass "bench --paged 16 --kv-lens-random: pages=$pages for lengths $lens: $line"
    else
        fail "bench --paged 16: pages=$pages, want $want/57 for lengths $lens: $line"
    fi ;;
*) fail "bench --paged 16 --kv-lens-random: $line" ;; esac

# the same sequences without the cache: the same plan and lengths
plain=$(bench --seq 1 --seq-kv 300 --kv-lens-random --seed 5)
if [ "$(field "$plain" splits)" = "$(field "$line" splits)" ] &&
    [ "$(field "$plain" kv_lens)" = "$lens" ]; then
    pass "bench without --paged: the same splits and lengths"
else
    fail "bench without --paged: $plain"
fi

# contiguous: one page of the capacity per slot; f16 storage halves the pool's bytes
line=$(bench --seq 1 --seq-kv 300 --paged 0 --dtype f16)
case "$line" in *algo=decode*cache=contiguous\ page_size=300\ pages=3/3*)
    bytes=$(field "$line" cache_bytes)
    if [ "$bytes" = $((3 * 2 * 300 * (64 + 64) * 2)) ]; then
        pass "bench --paged 0 --dtype f16: cache_bytes=$bytes: $line"
    else
        fail "bench --paged 0 --dtype f16: cache_bytes=$bytes: $line"
    fi ;;
*) fail "bench --paged 0 --dtype f16: $line" ;; esac

# a prefill over a paged cache: flash2 on the gathered pages
line=$(bench --seq 40 --seq-kv 100 --causal --paged 7)
case "$line" in *algo=flash2*cache=paged\ page_size=7\ pages=45/45*gflops=*ms=*)
    pass "bench --seq 40 --paged 7 (prefill): $line" ;;
*) fail "bench --seq 40 --paged 7 (prefill): $line" ;; esac

# bad page sizes: a usage error, and a page past the capacity refused by the cache
bench --seq 1 --seq-kv 300 --paged -2 >/dev/null 2>"$T/err"
if [ $? -eq 2 ] && grep -q "paged" "$T/err"; then
    pass "bench --paged -2 is a usage error: $(cat "$T/err")"
else
    fail "bench --paged -2: $(cat "$T/err")"
fi
bench --seq 1 --seq-kv 300 --paged 301 >/dev/null 2>"$T/err"
if [ $? -eq 1 ] && grep -q "page_size 301" "$T/err"; then
    pass "bench --paged 301 (past the capacity) refused: $(cat "$T/err")"
else
    fail "bench --paged 301: $(cat "$T/err")"
fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
