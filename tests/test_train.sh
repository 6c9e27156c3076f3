#!/usr/bin/env bash
# test_train.sh — `strata train` end to end on a tiny dataset (tests/util/make_tiny.sh) at 2 ranks:
# the run folder (with run.json's start-up phases), refusing an existing folder, exact resume
# after --stop-after-steps, early stopping on every rank, fault injection (abort, kill, nan,
# repeated nan), bad configs and datasets, and `strata eval`. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5"
CFG=tests/data/train_tiny.json
SET=(--set "data.path=$work/tiny.h5" --set "results_dir=$work/results")
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; [ -f "$work/log" ] && sed 's/^/#   /' "$work/log" | grep -v "^#   \[vm" | tail -15; fi; }
train() { # P name [args...]: runs strata train, output in $work/log, returns its status
  local P=$1 name=$2; shift 2
  timeout 120 mpirun -np "$P" --oversubscribe --bind-to none bin/strata train "$CFG" "${SET[@]}" --set "name=$name" "$@" > "$work/log" 2>&1
}
has() { grep -q -- "$1" "$work/log"; }
echo "1..17"

train 2 base; rc=$?
run="$work/results/base"
files=1; for f in config.json run.json history.jsonl metrics.json per_class.csv confusion.csv val_per_class.csv checkpoints/best.h5; do [ -s "$run/$f" ] || files=0; done
[ $rc = 0 ] && [ $files = 1 ] && [ "$(wc -l < "$run/history.jsonl")" = 6 ] && has "test accuracy"
ok $? "a 2-rank run completes and leaves config.json, run.json, 6 history lines, metrics, per-class reports and checkpoints"

/usr/bin/python3 - "$run" <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/metrics.json")); r = json.load(open(sys.argv[1] + "/run.json"))
h = [json.loads(l) for l in open(sys.argv[1] + "/history.jsonl")]
keys = {"epoch", "step", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "samples_per_s"}
assert all(keys <= set(l) for l in h), "history keys"
assert {"accuracy", "loss", "macro_f1", "per_class"} <= set(m) and m["accuracy"] > 0.8, m
assert r["status"] == "completed" and r["ranks"] == 2 and r["dataset_fingerprint"], r
assert json.load(open(sys.argv[1] + "/config.json"))["train"]["batch_size"] == 64
PY
ok $? "metrics.json, run.json and history.jsonl carry the documented keys (test accuracy > 80%)"

/usr/bin/python3 - "$run/run.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["startup_s"]
phases = ["mpi_init", "config", "data", "model", "run_folder", "first_step"]
keys = phases + ["total_to_first_step", "own_to_first_step"]
assert all(type(s[k]) in (int, float) and s[k] >= 0 for k in keys), s
assert abs(sum(s[k] for k in phases) - s["total_to_first_step"]) < 1e-4, s
assert abs(s["total_to_first_step"] - s["mpi_init"] - s["own_to_first_step"]) < 1e-4 and s["total_to_first_step"] > 0, s
PY
ok $? "run.json has startup_s: the start-up phases as non-negative seconds adding up to the time to the first step"

train 2 base; rc=$?
[ $rc != 0 ] && has "already exists: pass --resume auto"
ok $? "starting into an existing run folder without --resume is an error"

train 2 resumed --stop-after-steps 50; rc1=$?
grep -q '"status":.*"stopped after 50 steps"' "$work/results/resumed/run.json"; rc2=$?
train 2 resumed --resume auto; rc3=$?
cmp=$(/usr/bin/python3 tests/util/compare_runs.py "$run" "$work/results/resumed" 2>&1); rc4=$?
[ $rc1 = 0 ] && [ $rc2 = 0 ] && [ $rc3 = 0 ] && [ $rc4 = 0 ] && grep -q '"resumed_from_step":.*50' "$work/results/resumed/run.json"
ok $? "stopping mid-epoch (step 50) and resuming gives bitwise the same parameters, optimizer state and history ($cmp)"

train 2 early --set early_stopping.enabled=true --set early_stopping.monitor=val_loss --set early_stopping.patience=1 --set early_stopping.min_delta=10; rc=$?
[ $rc = 0 ] && has "early stopping: no val_loss improvement" && [ "$(wc -l < "$work/results/early/history.jsonl")" = 2 ] && grep -q '"stopped early"' "$work/results/early/run.json"
ok $? "early stopping ends both ranks at the same epoch (2 of 6)"

start=$(date +%s); STRATA_FAULT=1:7:abort train 2 abort; rc=$?; secs=$(( $(date +%s) - start ))
[ $rc != 0 ] && has "\[rank 1\] strata: fault injected by STRATA_FAULT at step 7" && [ $secs -lt 30 ]
ok $? "a fault on rank 1 (abort) ends the job with that rank's message and a non-zero exit (${secs} s)"

start=$(date +%s); STRATA_FAULT=1:7:kill train 2 kill; rc=$?; secs=$(( $(date +%s) - start ))
[ $rc != 0 ] && [ $secs -lt 30 ]
ok $? "a rank killed by SIGKILL ends the whole job with a non-zero exit (${secs} s)"

STRATA_FAULT=0:7:nan train 2 nan; rc=$?
[ $rc = 0 ] && has "step 7: non-finite gradient" && has "step skipped (1 in a row)"
ok $? "a NaN gradient on one rank is detected on every rank: the step is skipped and training goes on"

STRATA_FAULT=1:30:nan+ train 2 nanplus --set train.max_nonfinite_steps=3; rc=$?
last=$(ls "$work/results/nanplus/checkpoints"/step-*.h5 2>/dev/null | tail -1)
[ $rc != 0 ] && has "stopping: 3 consecutive non-finite steps" && has "last good checkpoint is .*step-000000020.h5" && [ -n "$last" ] && grep -q '"status":.*"failed: stopping' "$work/results/nanplus/run.json"
ok $? "repeated NaN gradients stop the run with a clear message and its last good checkpoint intact"

train 2 bad1 --set train.batch_size=abc; rc=$?
[ $rc != 0 ] && has "train.batch_size (--set train.batch_size=abc): expected a positive integer"
ok $? "a bad --set value names the key"

train 2 bad2 --set optimiser.lr=1; rc=$?
[ $rc != 0 ] && has 'did you mean "optimizer"'
ok $? "an unknown key gets a suggestion"

train 2 bad3 --set data.path=$work/missing.h5; rc=$?
[ $rc != 0 ] && has "$work/missing.h5"
ok $? "a missing dataset names the file"

train 2 bad4 --set train.batch_size=4096; rc=$?
[ $rc != 0 ] && has "fewer than one global batch"
ok $? "a dataset too small for the batch is refused with the numbers"

timeout 60 bin/strata eval "$run/checkpoints/best.h5" "$work/tiny.h5" --split test > "$work/log" 2>&1; rc=$?
acc=$(/usr/bin/python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['accuracy'], 6))" "$run/metrics.json")
[ $rc = 0 ] && has "accuracy" && [ -s "$run/eval-tiny-test/metrics.json" ] && \
  [ "$(/usr/bin/python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['accuracy'], 6))" "$run/eval-tiny-test/metrics.json")" = "$acc" ]
ok $? "strata eval of the best checkpoint on the test split reproduces the run's test metrics"
# Preemption: SIGUSR1 to mpirun (forwarded to the ranks) → checkpoint, exit 3; resume → same result.
mpirun -np 2 --oversubscribe --bind-to none bin/strata train "$CFG" "${SET[@]}" --set name=long --set train.epochs=300 > "$work/log" 2>&1 &
pid=$!  # mpirun itself: it forwards SIGUSR1 to the ranks
for _ in $(seq 100); do [ -s "$work/results/long/history.jsonl" ] && break; sleep 0.1; done
sleep 0.3; kill -USR1 $pid 2>/dev/null; wait $pid; rc=$?
status_ok=0; grep -q '"status":.*"preempted at step' "$work/results/long/run.json" || status_ok=1
train 2 long --set train.epochs=300 --resume auto; rc2=$?
train 2 long_straight --set train.epochs=300; rc3=$?
cmp=$(/usr/bin/python3 tests/util/compare_runs.py "$work/results/long_straight" "$work/results/long" 2>&1); rc4=$?
[ $rc = 3 ] && [ $status_ok = 0 ] && [ $rc2 = 0 ] && [ $rc3 = 0 ] && [ $rc4 = 0 ]
ok $? "SIGUSR1 stops every rank after the same step with a checkpoint and exit status 3; --resume auto ends identical ($cmp)"

start=$(date +%s); STRATA_FAULT=1:7:hang train 2 hang --set train.stall_timeout=3; rc=$?; secs=$(( $(date +%s) - start ))
[ $rc != 0 ] && has "\[rank 1\] stalled: no progress for 3 s in a training step at step 7" && [ $secs -lt 30 ]
ok $? "a hung rank is reported by the watchdog with its rank, phase and step, and the job ends (${secs} s)"
exit $fail
