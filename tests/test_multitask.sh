#!/usr/bin/env bash
# test_multitask.sh — multi-task training end to end (issue 13): three heads (class with balanced
# class weights, multi-label BCE, Huber regression with standardised targets and missing values)
# over embeddings of a categorical column and a multi-hot set, on a grouped format-2 file:
# reproducible "exact" gives the same bits at P = 1, 2, 4; history.jsonl and metrics.json carry
# every head's metrics; an embedding id out of range fails every rank with the row named (no
# hang); configs/fashion_multitask.json runs unchanged but for data.path. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT
PY=/usr/bin/python3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..10"
$PY tests/util/make_multi.py "$work/multi.h5" && $PY tests/util/make_multi.py --bad-id 5 "$work/bad.h5"
run() { # P name data [args...]
  local P=$1 name=$2 data=$3; shift 3
  timeout 120 mpirun -np "$P" --oversubscribe --bind-to none bin/strata train tests/data/train_multi.json \
    --set "data.path=$data" --set "results_dir=$work/r" --set "name=$name" "$@" > "$work/log-$name" 2>&1
}

run 1 e1 "$work/multi.h5" --set reproducible=exact && run 2 e2 "$work/multi.h5" --set reproducible=exact &&
  run 4 e4 "$work/multi.h5" --set reproducible=exact
built=$?
for P in 2 4; do
  [ $built = 0 ] && $PY tests/util/compare_runs.py "$work/r/e1" "$work/r/e$P" > "$work/cmp" 2>&1
  ok $? "3 heads (CE + BCE + Huber), embeddings, accumulation 2, exact: P=$P equals P=1 bit for bit ($(cat "$work/cmp"))"
done
run 2 res "$work/multi.h5" --set reproducible=exact --stop-after-steps 20 &&
  run 4 res "$work/multi.h5" --set reproducible=exact --resume auto &&
  $PY tests/util/compare_runs.py "$work/r/e1" "$work/r/res" > "$work/cmp" 2>&1
ok $? "3 heads stopped mid-epoch at P=2 (step 20) and resumed at P=4: parameters and every head's history equal the uninterrupted run ($(cat "$work/cmp"))"
sed 's/e[124]\/checkpoints/X/' "$work/r/e1/metrics.json" > "$work/m1"; sed 's/e[124]\/checkpoints/X/' "$work/r/e4/metrics.json" > "$work/m4"
[ $built = 0 ] && cmp -s "$work/m1" "$work/m4"
ok $? "metrics.json of every head has the same bytes at P=1 and P=4"

$PY - "$work/r/e1" <<'PY' > "$work/keys" 2>&1
import json, math, sys
run = sys.argv[1]
h = [json.loads(l) for l in open(run + "/history.jsonl")]
want = ["train_loss", "val_loss", "val_loss.kind", "val_accuracy.kind", "val_macro_f1.kind", "train_accuracy.kind",
        "val_f1.tags", "val_exact_match.tags", "val_topk.tags", "val_mae.score", "val_rmse.score", "val_r2.score",
        "loss_share.kind", "loss_share.tags", "loss_share.score", "gap"]
missing = [k for k in want if k not in h[-1]]
assert not missing, missing
shares = sum(h[-1]["loss_share." + k] for k in ("kind", "tags", "score"))
assert abs(shares - 1) < 1e-9, shares
comb = 0.5 * h[-1]["val_loss.kind"] + 0.3 * h[-1]["val_loss.tags"] + 0.2 * h[-1]["val_loss.score"]
assert abs(comb - h[-1]["val_loss"]) < 1e-12, (comb, h[-1]["val_loss"])
m = json.load(open(run + "/metrics.json"))["metrics"]
for k in ("test_accuracy.kind", "test_f1.tags", "test_topk.tags", "test_r2.score", "test_loss"):
    assert k in m and m[k] is not None and math.isfinite(m[k]), k
assert m["test_r2.score"] > 0.5, m["test_r2.score"]
print("ok")
PY
ok $? "history.jsonl has every head's train/val metrics, loss shares summing to 1 and val_loss = the weighted sum; metrics.json has test metrics per head ($(tail -1 "$work/keys"))"

run 1 share "$work/multi.h5" --set 'loss[0].head_weight=100' --set train.epochs=2
[ "$(grep -c '^warning: head kind takes' "$work/log-share")" = 1 ] &&
  [ "$(grep -c '"health_warning":"head kind takes' "$work/r/share/history.jsonl")" = 2 ]
ok $? "a head with 100x the weight: one warning on the terminal, health_warning in both epochs' history lines"

run 2 bad "$work/bad.h5"; rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && grep -q "embedding, n = 6): row 5, column 0: id 9 is not an integer in \[0, 6)" "$work/log-bad"
ok $? "an embedding id out of range at P=2 stops every rank with the row named (exit $rc, no hang)"

$PY - "$work/r/e1/split.json" <<'PY' > "$work/split" 2>&1
import json, sys
s = json.load(open(sys.argv[1]))
assert s["stratify"] == "kind" and s["groups"] == 461 and s["n_warnings"] == 0, s
assert sum(s["rows"].values()) == 1200, s["rows"]
for c in s["classes"]:  # each class near its share in every part (groups of up to 4 rows)
    assert abs(c["train_share"] - c["val_share"]) < 0.05 and abs(c["train_share"] - c["test_share"]) < 0.05, c
print("ok")
PY
ok $? "split.json: the grouped split keeps 461 groups whole with class shares within 5 points in every part, no warning ($(tail -1 "$work/split"))"
! grep -q "warning: .*split" "$work/log-e1"
ok $? "the grouped split prints no warning"

$PY scripts/make_fashion_multitask.py --limit 1000 "$work/fmt.h5" > /dev/null 2>&1 &&
  timeout 120 mpirun -np 2 --bind-to none bin/strata train configs/fashion_multitask.json --set "data.path=$work/fmt.h5" \
    --set "results_dir=$work/r" --set name=fmt --set train.epochs=2 --set train.threads=1 > "$work/log-fmt" 2>&1 &&
  grep -q "test intensity    R2" "$work/log-fmt" && grep -q '"val_r2.intensity"' "$work/r/fmt/history.jsonl"
ok $? "configs/fashion_multitask.json runs on a 2,000-row cut of the data at P=2 (2 epochs)"
