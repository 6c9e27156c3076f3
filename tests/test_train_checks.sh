#!/usr/bin/env bash
# test_train_checks.sh — what `strata train` and `strata eval` refuse or report at start and at the
# end (issue 12): a model output the loss cannot read (a dense of the wrong width, a per-position
# output), duplicate layer names, too many threads for the CPUs and the oversubscription warning,
# run lengths that overflow, optimizer.lr = 0, the final metrics without a test split or without
# a checkpoint, class_weights "none", and strata eval's output folder. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5"
/usr/bin/python3 tests/util/make_seq.py "$work/seq.h5"
CFG=tests/data/train_tiny.json
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; [ -f "$work/log" ] && sed 's/^/#   /' "$work/log" | grep -v "^#   \[vm" | tail -15; fi; }
# train P name [args...]: strata train on the tiny data at P ranks (1 thread each), output in $work/log
train() {
  local P=$1 name=$2; shift 2
  timeout 120 mpirun -np "$P" --oversubscribe --bind-to none bin/strata train "$CFG" --set "data.path=$work/tiny.h5" \
    --set "results_dir=$work/results" --set "name=$name" "$@" > "$work/log" 2>&1
}
has() { grep -q -- "$1" "$work/log"; }
json() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }
cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # this process's affinity mask
node=$(getconf _NPROCESSORS_ONLN)
echo "1..18"

train 2 narrow --set train.threads=1 --set 'model.layers[4].units=3'; rc=$?
[ $rc != 0 ] && has 'model.layers\[4\]: gives \[3\] per sample, but loss "cross_entropy" needs \[4\]' && [ ! -e "$work/results/narrow/metrics.json" ]
ok $? "a last dense of 3 units on 4 classes is refused, naming the layer, its shape and the one the loss needs"

CFG=tests/data/train_cnn.json train 1 perpos --set "data.path=$work/seq.h5" --set train.threads=1 --set 'model.layers[7]={"type": "relu"}'; rc=$?
[ $rc != 0 ] && has 'model.layers\[8\]: gives \[8, 3\] per sample (a row per position), but loss "cross_entropy" needs \[3\]' && has "pool or flatten"
ok $? "a per-position output [T, K] (no pooling over the sequence) is refused"

train 1 dup --set train.threads=1 --set 'model.layers[4].name=layers.0'; rc=$?
[ $rc != 0 ] && has 'model.layers\[4\]: layer name "layers.0" is also the name of model.layers\[0\]'
ok $? "two layers with the same name are refused with both paths"

train 1 threads --set train.threads=$((cpus + 1)); rc=$?
[ $rc != 0 ] && has "train.threads: $((cpus + 1)) threads per rank, but this rank may run on $cpus CPU" && has "train.allow_oversubscribe" && [ ! -e "$work/results/threads" ]
ok $? "train.threads above the rank's $cpus CPUs is an error naming the key and the CPU count"

train 1 over --set train.threads=$((cpus + 1)) --set train.allow_oversubscribe=true --set train.epochs=1; rc=$?
[ $rc = 0 ] && has "strata: warning: train.threads: $((cpus + 1)) threads per rank on $cpus CPU" && has "1 ranks x $((cpus + 1)) threads"
ok $? "train.allow_oversubscribe=true turns it into a warning and the run completes"

train $((node + 1)) ranks --set train.threads=1 --set train.epochs=1; rc=$?
[ $rc = 0 ] && [ "$(grep -c "strata: warning: $((node + 1)) ranks x 1 thread on a node with $node CPU" "$work/log")" = 1 ]
ok $? "$((node + 1)) ranks x 1 thread on $node CPUs runs, with one warning from rank 0"

train 1 long --set train.threads=1 --set train.epochs=1e15; rc=$?
[ $rc != 0 ] && has "train.epochs: 1000000000000000 epochs of 20 optimizer steps do not fit; the largest that fits is 2147483647" && ! has "optimizer steps;.*-"
ok $? "train.epochs=1e15 is refused naming train.epochs and the largest count that fits (no wrapped step count)"

train 1 long2 --set train.threads=1 --set train.epochs=2147483648; rc=$?
[ $rc != 0 ] && has "train.epochs: 2147483648 epochs" && ! has "epoch 1/-"
ok $? "train.epochs=2^31 is refused instead of printing epoch 1/-2147483648"

train 1 lr0 --set train.threads=1 --set optimizer.lr=0; rc=$?
[ $rc != 0 ] && has "optimizer.lr (--set optimizer.lr=0): expected a finite number > 0"
ok $? "optimizer.lr=0 is refused naming optimizer.lr"

train 2 noval --set train.threads=1 --set data.split.train=0.9 --set data.split.val=0.1 --set data.split.test=0 --set train.epochs=2; rc=$?
[ $rc = 0 ] && has "^val accuracy .*(160 samples, model .*best.h5)" && ! has "^test accuracy" && \
  [ "$(json "$work/results/noval/metrics.json" '["split"]')" = val ] && [ "$(json "$work/results/noval/metrics.json" '["n_samples"]')" = 160 ] && \
  [ -s "$work/results/noval/per_class.csv" ]
ok $? "without a test split the restored best model is evaluated on val: metrics.json has split val, the line says val accuracy"

train 1 nockpt --set train.threads=1 --set checkpoint.best=false --set checkpoint.last=false --set checkpoint.every_epochs=0 \
  --set train.epochs=2 --set loss.class_weights=none; rc=$?
[ $rc = 0 ] && has "^test accuracy .*(160 samples, the final model: no checkpoint kept)$" && \
  [ "$(json "$work/results/nockpt/metrics.json" '["checkpoint"]')" = None ]
ok $? "without a kept checkpoint the line says the final model (and class_weights \"none\" trains)"

ck="$work/results/noval/checkpoints/best.h5"
timeout 60 bin/strata eval "$ck" "$work/tiny.h5" --split val --out "$work/new/deeper/eval" > "$work/log" 2>&1; rc=$?
[ $rc = 0 ] && [ -s "$work/new/deeper/eval/metrics.json" ] && [ -s "$work/new/deeper/eval/confusion.csv" ]
ok $? "strata eval --out creates a missing folder and its parents"

touch "$work/afile"
timeout 60 bin/strata eval "$ck" "$work/missing.h5" --out "$work/afile/sub" > "$work/log" 2>&1; rc=$?
[ $rc != 0 ] && has "the output folder $work/afile/sub: $work/afile exists but is not a folder" && ! has missing.h5
ok $? "strata eval --out that cannot be created fails first, naming the folder"

# The tiny model on [2, 8] samples: its dense layers work per position (the same parameters), so
# the output is [2, 4] a row per position, which the loss cannot read.
/usr/bin/python3 - "$work/pairs.h5" <<'PY'
import sys
import h5py
import numpy as np
rng = np.random.default_rng(1)
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("X", data=rng.normal(size=(64, 2, 8)).astype(np.float32))
    f.create_dataset("y", data=(np.arange(64) % 4).astype(np.int32))
    f.attrs["strata_format"] = 1
    f.attrs["n_classes"] = 4
    f.attrs["class_names"] = ["c0", "c1", "c2", "c3"]
PY
timeout 60 bin/strata eval "$ck" "$work/pairs.h5" --split all --out "$work/pairs_eval" > "$work/log" 2>&1; rc=$?
[ $rc != 0 ] && has 'model.layers\[4\]: gives \[2, 4\] per sample (a row per position), but loss "cross_entropy" needs \[4\]'
ok $? "strata eval checks the rebuilt model's output against the loss too"

# SIGUSR1 during start-up (as soon as the handler is installed, before MPI_Init is done): the run
# ends at the next start-up phase boundary with exit 3 and says so; nothing is trained.
bin/strata train "$CFG" --set "data.path=$work/tiny.h5" --set "results_dir=$work/results" --set name=early \
  --set train.threads=1 > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 400); do  # SigCgt bit 9 = SIGUSR1 caught
  mask=$(awk '/^SigCgt/ {print $2}' /proc/$pid/status 2>/dev/null)
  [ -n "$mask" ] && [ $(( (0x$mask >> 9) & 1 )) = 1 ] && break
  sleep 0.005
done
kill -USR1 $pid; wait $pid; rc=$?
[ $rc = 3 ] && has "stopped during start-up (signal 10), before any step" && ! [ -s "$work/results/early/history.jsonl" ]
ok $? "SIGUSR1 during start-up ends the run at the next phase boundary with exit 3, nothing trained (exit $rc)"

# Memory: a conv1d padded by a million positions needs hundreds of GB of activations; it is refused
# when the model is built (the old code asked the kernel for it), naming the layer; and
# train.max_memory_mb caps a rank's model.
CNN=tests/data/train_cnn.json
timeout 60 bin/strata train $CNN --set "data.path=$work/seq.h5" --set "results_dir=$work/results" --set name=huge \
  --set 'model.layers[0].padding=1000000' > "$work/log" 2>&1; rc=$?
[ $rc = 1 ] && has "model: needs about .* GB per rank for passes of 512 rows, the most for model.layers\[0\]" &&
  has "more than this rank's share of the node"
ok $? "a conv1d with padding 1000000 is refused when built, naming the layer and the memory it needs"
timeout 60 bin/strata train $CNN --set "data.path=$work/seq.h5" --set "results_dir=$work/results" --set name=capped \
  --set train.max_memory_mb=1 > "$work/log" 2>&1; rc=$?
[ $rc = 1 ] && has "more than train.max_memory_mb (1 MB)"
ok $? "train.max_memory_mb=1 refuses the CNN (about 5 MB)"

/usr/bin/python3 tests/util/make_small.py "$work/wide.h5" 200 13 4
timeout 60 bin/strata eval "$ck" "$work/wide.h5" --split all --out "$work/wide_eval" > "$work/log" 2>&1; rc=$?
[ $rc = 1 ] && has "wide.h5 has samples of shape \[13\] (13 features), but the model of .* was trained on 8 features"
ok $? "strata eval on a dataset with other features says so (not a parameter count)"
exit $fail
