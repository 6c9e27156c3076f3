#!/usr/bin/env bash
# test_mixup_repro.sh — mixup and cutmix in whole training runs (docs/mixup.md): reproducible
# "exact" gives bitwise-identical runs at P = 1, 2, 4 with mixup (MLP with BatchNorm and
# dropout), with mixup + cutmix on variable-length sequences, with cutmix on fixed-length ones,
# and with three heads (class ids with balanced weights, multi-label BCE, Huber with standardised
# and missing targets) and accumulation 2; a run stopped mid-epoch and resumed at another P
# equals the straight one; mixup with p = 0 is bit for bit the plain run, and mixup with p > 0 is
# not. Prints TAP.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
PY=/usr/bin/python3
tests/util/make_tiny.sh "$work/tiny.h5"
$PY scripts/make_varlen.py "$work/varlen.h5" --n 600 --t-max 24 --min-length 4 --garbage-padding > /dev/null
$PY tests/util/make_multi.py "$work/multi.h5"
$PY tests/util/make_seq.py "$work/seq.h5"
run() { # P config data name [args...]
  local P=$1 cfg=$2 data=$3 name=$4; shift 4
  timeout 180 mpirun -np "$P" --oversubscribe --bind-to none bin/strata train "$cfg" --set "data.path=$data" \
    --set "results_dir=$work/r" --set "name=$name" --set reproducible=exact "$@" > "$work/log-$name" 2>&1
}
same() { $PY tests/util/compare_runs.py "$work/r/$1" "$work/r/$2" > "$work/cmp" 2>&1; }
echo "1..11"

MLP=tests/data/train_tiny.json
MIX='mixup={"alpha":0.4,"p":0.8}'
run 1 $MLP "$work/tiny.h5" m1 --set "$MIX" --set train.threads=1 && run 2 $MLP "$work/tiny.h5" m2 --set "$MIX" &&
  run 4 $MLP "$work/tiny.h5" m4 --set "$MIX"
built=$?
for P in 2 4; do
  [ $built = 0 ] && same m1 m$P; ok $? "MLP with mixup (alpha 0.4, p 0.8), exact: P=$P equals P=1 bit for bit ($(cat "$work/cmp"))"
done
$PY -c 'import json, sys; m = json.load(open(sys.argv[1]))["mixup"]; sys.exit(m != {"alpha": 0.4, "p": 0.8})' \
  "$work/r/m1/config.json"
ok $? "the run folder's config.json keeps the mixup settings"

run 2 $MLP "$work/tiny.h5" res --set "$MIX" --stop-after-steps 50 && run 4 $MLP "$work/tiny.h5" res --set "$MIX" --resume auto &&
  same m1 res
ok $? "mixup run stopped mid-epoch at P=2 (step 50) and resumed at P=4: equal to the uninterrupted run ($(cat "$work/cmp"))"

run 2 $MLP "$work/tiny.h5" plain && run 2 $MLP "$work/tiny.h5" p0 --set 'mixup={"alpha":0.4,"p":0}' && same plain p0
ok $? "mixup with p = 0 is bit for bit the plain run ($(cat "$work/cmp"))"
[ $built = 0 ] && ! same plain m2 && grep -q "differ" "$work/cmp"
ok $? "mixup with p = 0.8 changes the run ($(cat "$work/cmp"))"

VAR=tests/data/train_varlen.json
CUT=(--set 'mixup={"alpha":0.3,"p":0.5}' --set 'cutmix={"alpha":1.0,"p":0.5}')
run 1 $VAR "$work/varlen.h5" v1 "${CUT[@]}" && run 2 $VAR "$work/varlen.h5" v2 "${CUT[@]}" &&
  run 4 $VAR "$work/varlen.h5" v4 "${CUT[@]}" && same v1 v2 && same v1 v4
ok $? "variable-length sequences with mixup + cutmix (length buckets, BatchNorm, LSTM, GRU), exact: P=1, 2, 4 identical ($(cat "$work/cmp"))"

CNN=tests/data/train_cnn.json
run 1 $CNN "$work/seq.h5" c1 --set 'cutmix={"alpha":0.5}' && run 2 $CNN "$work/seq.h5" c2 --set 'cutmix={"alpha":0.5}' && same c1 c2
ok $? "1-D CNN on fixed-length sequences with cutmix (p = 1), exact: P=2 equals P=1 bit for bit ($(cat "$work/cmp"))"

MULTI=tests/data/train_multi.json
FLAT=(--set 'data.categorical_columns=[]' --set 'model.layers=[{"type":"dense","units":32},{"type":"batchnorm"},{"type":"relu"}]'
      --set 'mixup={"alpha":0.2}')
run 1 $MULTI "$work/multi.h5" h1 "${FLAT[@]}" && run 2 $MULTI "$work/multi.h5" h2 "${FLAT[@]}" &&
  run 4 $MULTI "$work/multi.h5" h4 "${FLAT[@]}"
built=$?
for P in 2 4; do
  [ $built = 0 ] && same h1 h$P
  ok $? "3 heads (balanced CE + BCE + Huber, missing targets), accumulation 2, mixup: P=$P equals P=1 bit for bit ($(cat "$work/cmp"))"
done
$PY - "$work/r/h1/history.jsonl" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
last = rows[-1]
vals = [v for k, v in last.items() if k.startswith("train_loss") and isinstance(v, (int, float))]
sys.exit(0 if vals and all(math.isfinite(v) for v in vals) else 1)
PY
ok $? "3 heads with mixup: finite training losses in history.jsonl"
exit $fail
