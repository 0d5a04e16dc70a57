#!/bin/bash
# cli_outputs.sh: the output rule of `clattn` (README, "Command-line program"): a command's
# outputs all appear or none changes, no temporary is left, only regular files (or new names)
# are written, an output naming an input or another output is refused before any work, and
# sizes from zero-element inputs that overflow are refused with a message. Plain Python (no
# numpy) writes the small inputs. Needs $CLATTN_CLI (set by CTest) or a `clattn` on PATH.
set -u
CLI=${CLATTN_CLI:-clattn}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

python3 - "$d" <<'PY' || { echo "FAIL: making inputs"; exit 1; }
import os, random, struct, sys
def save(path, shape, data=None):
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        "".join("%d, " % s for s in shape) if len(shape) != 1 else "%d," % shape[0])
    hdr = d + " " * (64 - (10 + len(d) + 1) % 64) + "\n"
    n = 1
    for s in shape: n *= s
    data = data if data is not None else [random.uniform(-1, 1) for _ in range(n)]
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
        f.write(struct.pack("<%df" % len(data), *data))
t = sys.argv[1]
for n, s in (("q", (1, 2, 5, 4)), ("k", (1, 2, 6, 4)), ("v", (1, 2, 6, 3))): save(f"{t}/{n}.npy", s)
for n, s in (("keys", (1, 300, 1)), ("query", (1, 2)), ("wh", (3, 1)), ("ws", (3, 2)), ("v3", (3,))):
    save(f"{t}/{n}.npy", s)
# zero-element inputs whose shapes multiply past 2^63 (context B*Tq*Dk = 2^70)
for n, s in (("zkeys", (1, 0, 2**40)), ("zquery", (1, 2**30, 0)), ("zwh", (0, 2**40)),
             ("zws", (0, 0)), ("zv", (0,))):
    save(f"{t}/{n}.npy", s, [])
PY
att=("$CLI" attention --q "$d/q.npy" --k "$d/k.npy" --v "$d/v.npy")
add=("$CLI" additive --keys "$d/keys.npy" --query "$d/query.npy" --wh "$d/wh.npy" --ws "$d/ws.npy"
    --v "$d/v3.npy")
listing() { ls -A "$d" | sort; }
# expect_refused WHAT PATTERN command...: non-zero exit, PATTERN in the message, the directory
# listing unchanged (no output, no temporary) and every input byte-identical.
expect_refused() {
    local what=$1 pat=$2
    shift 2
    listing >"$d.before"
    md5sum "$d"/*.npy >"$d.sums" 2>/dev/null
    if timeout 60 "$@" 2>"$d.err"; then
        bad "$what: succeeded"
    elif [ $? -eq 124 ]; then
        bad "$what: hung (killed after 60 s)"
    elif ! grep -q -- "$pat" "$d.err"; then
        bad "$what: message lacks '$pat': $(cat "$d.err")"
    elif ! listing | cmp -s - "$d.before"; then
        bad "$what: the directory changed: $(listing | diff "$d.before" - | tr '\n' ' ')"
    elif ! md5sum -c --quiet "$d.sums" >/dev/null 2>&1; then
        bad "$what: an input changed"
    else
        ok "$what: $(head -c 200 "$d.err")"
    fi
    rm -f "$d.before" "$d.sums" "$d.err"
}

# A failing second output: the first must not appear.
expect_refused "--lse in a missing directory" "l.npy" "${att[@]}" --out "$d/o.npy" --lse "$d/missing/l.npy"
expect_refused "--weights in a missing directory" "w.npy" "${add[@]}" --context "$d/c.npy" \
    --weights "$d/missing/w.npy"
# (A write failing half way is test_npy's case, on RLIMIT_FSIZE: under `ulimit -f` here the
# OpenCL compiler, which writes files of its own, fails before clattn writes anything.)

# Outputs naming inputs or each other.
expect_refused "--out naming --q" "input" "${att[@]}" --out "$d/q.npy"
expect_refused "--lse naming --v" "input" "${att[@]}" --out "$d/o.npy" --lse "$d/v.npy"
ln -s q.npy "$d/qlink.npy" && ln "$d/k.npy" "$d/khard.npy"
expect_refused "--out a symlink to --q" "input" "${att[@]}" --out "$d/qlink.npy"
expect_refused "--out a hard link of --k" "input" "${att[@]}" --out "$d/khard.npy"
rm -f "$d/qlink.npy" "$d/khard.npy"
expect_refused "--context naming --keys" "input" "${add[@]}" --context "$d/./keys.npy"
expect_refused "--out X --lse X, X new" "same file" "${att[@]}" --out "$d/x.npy" --lse "$d/../$(basename "$d")/x.npy"
"${att[@]}" --out "$d/x.npy" && cp "$d/x.npy" "$d/x.keep"
expect_refused "--out X --lse X, X existing" "same file" "${att[@]}" --out "$d/x.npy" --lse "$d/x.npy"
cmp -s "$d/x.npy" "$d/x.keep" && ok "X unchanged" || bad "X changed"
rm -f "$d/x.npy" "$d/x.keep"

# Outputs that are not regular files: refused before any work, never opened, never removed.
mkfifo "$d/fifo"
expect_refused "--out a FIFO" "FIFO" "${att[@]}" --out "$d/fifo"
[ -p "$d/fifo" ] && ok "the FIFO is still there" || bad "the FIFO is gone"
expect_refused "--lse a FIFO" "FIFO" "${att[@]}" --out "$d/o.npy" --lse "$d/fifo"
rm -f "$d/fifo"
if [ "$(id -u)" -eq 0 ] && mknod "$d/full" c 1 7 2>/dev/null; then # /dev/full's numbers
    expect_refused "--out a character device" "character device" "${att[@]}" --out "$d/full"
    [ -c "$d/full" ] && ok "the device node is still there" || bad "the device node is gone"
    rm -f "$d/full"
else
    echo "SKIP: --out a character device (needs root to mknod one in $d)"
fi
mkdir "$d/dir"
expect_refused "--out a directory" "directory" "${att[@]}" --out "$d/dir"
expect_refused "--out a directory with a slash" "directory" "${att[@]}" --out "$d/dir/"
expect_refused "--out new name ending in a slash" "directory" "${att[@]}" --out "$d/nodir/"
rmdir "$d/dir"
ln -s nowhere "$d/dangling"
expect_refused "--out a dangling symlink" "link to nothing" "${att[@]}" --out "$d/dangling"
rm -f "$d/dangling"

# Success: a symlink to a regular file is written through and stays a link; an existing file
# is replaced; nothing else is left in the directory.
"${att[@]}" --out "$d/o.npy" && mv "$d/o.npy" "$d/target.npy" && ln -s target.npy "$d/olink.npy"
chmod 640 "$d/target.npy"
if "${att[@]}" --out "$d/olink.npy" --lse "$d/l.npy" && [ -L "$d/olink.npy" ] && [ -f "$d/target.npy" ] &&
    [ "$(stat -c %a "$d/target.npy")" = 640 ] && [ -s "$d/l.npy" ]; then
    ok "written through a symlink, which stays one; the replaced file keeps its mode 640"
else
    bad "writing through a symlink: $(ls -l "$d" | tr '\n' ' ')"
fi
[ -z "$(ls -A "$d" | grep '\.tmp$')" ] && ok "no temporary left" || bad "temporaries: $(ls -A "$d")"
rm -f "$d/olink.npy" "$d/target.npy" "$d/l.npy"

# Sizes from zero-element files that overflow int64: a message, no sanitizer report.
expect_refused "additive with a 2^70-element context" "overflows" "$CLI" additive \
    --keys "$d/zkeys.npy" --query "$d/zquery.npy" --wh "$d/zwh.npy" --ws "$d/zws.npy" \
    --v "$d/zv.npy" --context "$d/zc.npy"

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "cli_outputs: all passed"
