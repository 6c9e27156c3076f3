#!/usr/bin/env bash
# test_standardize_modes.sh — data.standardize: true / "channel" (per channel of [T, C]),
# "global" (one mean and std), "position" (per (t, c)), false / "none": the statistics a run keeps
# in its checkpoint have the size of the mode (C, 1, T·C), `strata eval` applies them the same
# way (its metrics equal train's own, bit for bit, at the same thread count), and a bad value or a mode that would
# rescale id columns is refused naming the key. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
PY=/usr/bin/python3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..6"
$PY tests/util/make_seq.py "$work/seq.h5" > /dev/null   # [16, 3] sequences, 3 classes
for mode in channel global position; do
  bin/strata train tests/data/train_cnn.json --set "data.path=$work/seq.h5" --set "results_dir=$work/r" \
    --set "name=$mode" --set "data.standardize=$mode" --set train.epochs=2 --set train.threads=1 > "$work/log-$mode" 2>&1
  rc=$?
  want=$([ $mode = channel ] && echo 3 || ([ $mode = global ] && echo 1 || echo 48))
  got=$($PY -c 'import h5py,sys; f=h5py.File(sys.argv[1]); print(f["standardize/mean"].shape[0])' "$work/r/$mode/checkpoints/best.h5" 2>&1)
  taskset -c 0 bin/strata eval "$work/r/$mode/checkpoints/best.h5" "$work/seq.h5" --out "$work/eval-$mode" > "$work/elog-$mode" 2>&1
  $PY - "$work/r/$mode/metrics.json" "$work/eval-$mode/metrics.json" <<'PY' > "$work/cmp-$mode" 2>&1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["accuracy"] == b["accuracy"] and a["loss"] == b["loss"], (a["accuracy"], b["accuracy"], a["loss"], b["loss"])
print("same")
PY
  [ $rc = 0 ] && [ "$got" = "$want" ] && grep -q same "$work/cmp-$mode"
  ok $? "standardize \"$mode\": $want statistics in the checkpoint (got $got); strata eval applies them as train did ($(tail -1 "$work/cmp-$mode"))"
done
bin/strata train tests/data/train_cnn.json --set "data.path=$work/seq.h5" --set "results_dir=$work/r" --set name=bad \
  --set data.standardize=per-row > "$work/log-bad" 2>&1
rc=$?; [ $rc != 0 ] && grep -q 'data.standardize (--set data.standardize=per-row): expected true, false, "channel", "global", "position" or "none", got "per-row"' "$work/log-bad"
ok $? "an unknown mode is refused naming data.standardize (exit $rc)"
$PY tests/util/make_multi.py "$work/multi.h5"
bin/strata train tests/data/train_multi.json --set "data.path=$work/multi.h5" --set "results_dir=$work/r" --set name=cat \
  --set data.standardize=global --set train.epochs=1 > "$work/log-cat" 2>&1
rc=$?; [ $rc != 0 ] && grep -q 'data.categorical_columns needs data.standardize true ("channel") or false' "$work/log-cat"
ok $? "\"global\" with id columns is refused: it would rescale them (exit $rc)"
bin/strata train tests/data/train_cnn.json --set "data.path=$work/seq.h5" --set "results_dir=$work/r" --set name=none \
  --set data.standardize=none --set train.epochs=1 --set train.threads=1 > "$work/log-none" 2>&1 &&
  ! $PY -c 'import h5py,sys; h5py.File(sys.argv[1])["standardize/mean"]' "$work/r/none/checkpoints/best.h5" 2>/dev/null
ok $? "\"none\" trains without statistics"
