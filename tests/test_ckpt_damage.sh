#!/usr/bin/env bash
# test_ckpt_damage.sh — a damaged checkpoint never hangs or crashes strata (docs/checkpoints.md,
# "Integrity"): after a tiny run, one bit of its newest step checkpoint is flipped; then
#   `strata train --resume auto` warns, naming the damaged file, and resumes from the previous one;
#   `strata train --resume <damaged>` and `strata eval <damaged>` fail with exit 1 and
#   "<path>: damaged (...)", quickly (bounded by timeout: before format 2, HDF5 could loop forever
#   on some flips, and --resume auto spun until the watchdog ended it with exit 4).
# Flips are tried at several places of the file (user block, HDF5 metadata, raw data, the end).
# Prints TAP.
set -u
cd "$(dirname "$0")/.."
export STRATA_PROGRESS=never OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
unset STRATA_FAULT
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5"
SET=(--set "data.path=$work/tiny.h5" --set "results_dir=$work/results" --set name=dmg --set train.threads=1)
ck="$work/results/dmg/checkpoints"
echo "1..5"
fail=0
ok() { echo "ok $1 - $2"; }
notok() { echo "not ok $1 - $2"; fail=1; shift 2; for f in "$@"; do tail -5 "$f" | sed 's/^/# /'; done; }

# flip FILE OFFSET: flips bit 2 of the byte at OFFSET (negative: from the end).
flip() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import sys
p, at = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[at] ^= 4
open(p, "wb").write(b)
EOF
}

timeout 300 bin/strata train tests/data/train_tiny.json "${SET[@]}" > "$work/first.log" 2>&1
first=$?
mapfile -t steps < <(ls "$ck" | grep '^step-.*\.h5$' | sort)
n=${#steps[@]}
if [ $first = 0 ] && [ "$n" -ge 2 ]; then ok 1 "a tiny run leaves $n step checkpoints (${steps[*]})"; else
  notok 1 "tiny run: exit $first, step checkpoints: ${steps[*]:-none}" "$work/first.log"; exit 1; fi
newest="$ck/${steps[$((n-1))]}"
previous="$ck/${steps[$((n-2))]}"
size=$(stat -c %s "$newest")
cp "$newest" "$work/pristine.h5"

# --resume auto with a bit flipped in the middle of the newest: a warning naming it, resumed from the previous.
flip "$newest" $((size / 2))
cp "$newest" "$work/damaged.h5"
t0=$(date +%s)
timeout 300 bin/strata train tests/data/train_tiny.json "${SET[@]}" --resume auto > "$work/auto.out" 2> "$work/auto.err"
auto=$?
t1=$(date +%s)
if [ $auto = 0 ] && grep -q "strata: warning: $newest: damaged (checksum mismatch.*; skipped" "$work/auto.err" &&
   grep -q "resuming .* from $previous " "$work/auto.out"; then
  ok 2 "--resume auto skips the damaged $(basename "$newest") with a warning and resumes from $(basename "$previous") ($((t1 - t0)) s)"
else notok 2 "--resume auto: exit $auto ($((t1 - t0)) s)" "$work/auto.err" "$work/auto.out"; fi

# --resume PATH on the damaged file: an error naming it.
timeout 60 bin/strata train tests/data/train_tiny.json "${SET[@]}" --resume "$work/damaged.h5" > "$work/path.out" 2> "$work/path.err"
rp=$?
if [ $rp = 1 ] && grep -q "$work/damaged.h5: damaged (checksum mismatch" "$work/path.err"; then
  ok 3 "--resume on the damaged file fails (exit 1) naming it"
else notok 3 "--resume PATH: exit $rp" "$work/path.err"; fi

# strata eval on the damaged file: exit 1 with "damaged", for flips at several places.
bad=""; tried=0
for at in 3 100 513 600 1200 2000 $((size / 3)) $((size / 2)) -40 -1; do
  cp "$work/pristine.h5" "$work/e.h5"
  flip "$work/e.h5" "$at"
  tried=$((tried + 1))
  timeout 60 bin/strata eval "$work/e.h5" "$work/tiny.h5" --out "$work/eval" > "$work/eval.out" 2> "$work/eval.err"
  rc=$?
  if [ $rc != 1 ] || ! grep -q "$work/e.h5: damaged" "$work/eval.err"; then bad="$bad $at:exit$rc"; cp "$work/eval.err" "$work/eval.bad"; fi
done
if [ -z "$bad" ]; then ok 4 "strata eval refuses a bit flip at each of $tried places of a $size-byte checkpoint: exit 1, \"damaged\""
else notok 4 "strata eval on damaged checkpoints:$bad" "$work/eval.bad"; fi

# The undamaged checkpoint still evaluates.
timeout 60 bin/strata eval "$work/pristine.h5" "$work/tiny.h5" --out "$work/eval" > "$work/eval.out" 2> "$work/eval.err"
rc=$?
if [ $rc = 0 ]; then ok 5 "strata eval of the same checkpoint undamaged succeeds"; else notok 5 "eval pristine: exit $rc" "$work/eval.err"; fi
exit $fail
