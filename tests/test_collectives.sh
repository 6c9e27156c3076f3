#!/usr/bin/env bash
# test_collectives.sh — how many collectives a training step makes, counted by an MPI profiling
# shim (tests/util/mpi_count.c, LD_PRELOAD): two runs of the same job, stopped after 5 and after
# 15 steps, differ by 10 steps' worth. A step makes 2 collectives in fast mode (the gradient
# Allreduce, the closing Allgatherv) and 3 in exact mode (the all-reduce of the largest
# magnitude, the fixed-point Allreduce, the close), at any rank count (jobs/engine.h: the weight
# totals of each rank's own shards are computed ahead and ride on the close of an epoch's last
# step), also for a sequence job with length buckets, augmentation and cutmix (whose plans need
# the rows' lengths), and for streamed runs with several heads (class ids and a value head, with
# mixup: its keys are presence masks; data/fashion-multitask.h5) and with /lengths (data/varlen.h5, cutmix), whose keys the start-up
# scan makes. No single step makes more — the shim counts each step's collectives between the
# engine's MPI_Pcontrol marks — across epochs (an epoch's first step) and in a launch resumed
# mid-epoch (its first step: the totals came in a set-up exchange before it). Also: a failure on
# one rank before a step (STRATA_FAULT abort) ends every rank with an error, without a hang.
# The counts above are those of ranks on several nodes: every run here sets STRATA_NODE_UPDATE=0
# (one node would take the node-local update, which makes no MPI call in a step; its own cases
# come last). Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT
shim=build/tests/libmpi_count.so
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5"
/usr/bin/python3 scripts/make_varlen.py "$work/varlen.h5" --n 600 --t-max 24 --min-length 4 > /dev/null
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
# count P mode steps [args]: rank 0's total collective calls for a run stopped after `steps` steps
# (the tiny MLP job, or $CFG; args after it, e.g. another data.path, win)
count() {
  local P=$1 mode=$2 steps=$3 out=$work/count-$1-$2-$3-$RANDOM; shift 3
  rm -f "$work/last-count"
  STRATA_NODE_UPDATE=${NODE:-0} timeout 120 mpirun -np "$P" --oversubscribe --bind-to none -x LD_PRELOAD="$PWD/$shim" \
    -x STRATA_MPI_COUNT="$out" -x STRATA_NODE_UPDATE \
    bin/strata train "${CFG:-tests/data/train_tiny.json}" --set "data.path=$work/tiny.h5" --set "results_dir=$work/r" \
    --set "name=$P-$mode-$steps-$RANDOM" --set train.threads=1 --set "reproducible=$mode" --set train.divergence_check_every=0 \
    --stop-after-steps "$steps" "$@" > "$work/log" 2>&1 || { echo "# run failed:"; sed 's/^/#   /' "$work/log" | tail -5; echo -1; return; }
  grep '^rank 0:' "$out" | sed 's/.* total //'
  cp "$out" "$work/last-count"
}
# most_in_step: the most collectives rank 0 made in one step of the last counted launch, and
# how many steps it counted ("most first steps")
most_in_step() { sed -n 's/^rank 0 steps: \([0-9]*\) fewest [0-9-]* most \([0-9]*\) first \([0-9-]*\)$/\2 \3 \1/p' "$work/last-count"; }
per_step() { local a b; a=$(count "$1" "$2" 5 "${@:3}"); b=$(count "$1" "$2" 15 "${@:3}"); echo $(( (b - a) / 10 )); }
echo "1..16"

[ -x "$shim" ] || { echo "# $shim is missing (make test builds it)"; }
f2=$(per_step 2 fast); ok $([ "$f2" = 2 ]; echo $?) "fast mode at P=2: 2 collectives a training step (counted $f2)"
f4=$(per_step 4 fast); ok $([ "$f4" = 2 ]; echo $?) "fast mode at P=4: 2 collectives a training step (counted $f4)"
e2=$(per_step 2 exact); ok $([ "$e2" = 3 ]; echo $?) "exact mode at P=2: 3 collectives a training step (counted $e2)"
e4=$(per_step 4 exact); ok $([ "$e4" = 3 ]; echo $?) "exact mode at P=4: 3 collectives a training step (counted $e4)"
SEQ=(--set "data.path=$work/varlen.h5" --set train.batch_size=16 --set 'cutmix={"alpha":1.0,"p":0.5}'
     --set 'augment=[{"op":"random_crop","min_fraction":0.7,"p":0.5},{"op":"time_mask","count":1,"max_width":3}]')
s2=$(CFG=tests/data/train_varlen.json per_step 2 fast "${SEQ[@]}")
ok $([ "$s2" = 2 ]; echo $?) "fast mode at P=2, sequences with length buckets, augmentation and cutmix: 2 collectives a step (counted $s2)"

w2=$(per_step 2 fast --set data.order=windowed --set data.window_rows=64)
ok $([ "$w2" = 2 ]; echo $?) "fast mode at P=2, windowed order in blocks of 64 rows: 2 collectives a step (counted $w2)"
# Streamed, one block (the file's rows fit it): the block is read before the first step, so the
# steps counted are the steady state; reading a block costs the two-phase read's collectives once
# per block (docs/streaming.md).
t2=$(per_step 2 fast --set data.order=windowed --set data.window_rows=100000 --set data.stream=true)
ok $([ "$t2" = 2 ]; echo $?) "fast mode at P=2, streamed: 2 collectives a step between block reads (counted $t2)"

# Streamed runs of every kind key their rows in the start-up scan (one block again, so the
# steps counted are the steady state).
MT=data/fashion-multitask.h5 VL=data/varlen.h5
[ -e "$VL" ] || VL=$work/varlen.h5
ONE=(--set data.order=windowed --set data.window_rows=100000 --set data.stream=true --set data.memory_budget_mb=2000)
if [ -e "$MT" ]; then
  m2=$(CFG=configs/fashion_multitask.json per_step 2 fast --set "data.path=$MT" "${ONE[@]}" --set 'mixup={"alpha":0.4}')
  ok $([ "$m2" = 2 ]; echo $?) "fast mode at P=2, streamed $MT (2 class heads, a value head) with mixup: 2 collectives a step (counted $m2)"
else
  n=$((n+1)); echo "ok $n # SKIP $MT is missing (docs/data.md makes it)"
fi
v2=$(CFG=tests/data/train_varlen.json per_step 2 fast "${SEQ[@]}" --set "data.path=$VL" --set data.bucket_by_length=false "${ONE[@]}")
ok $([ "$v2" = 2 ]; echo $?) "fast mode at P=2, streamed $VL (/lengths, augmentation, cutmix): 2 collectives a step (counted $v2)"

# Every step on its own: 45 steps of 20-step epochs (the first steps of epochs 2 and 3), then a
# launch resumed mid-epoch (step 13 -> 45).
for mode in fast exact; do
  want=2; [ $mode = exact ] && want=3
  count 2 $mode 45 > /dev/null; read -r most first steps <<< "$(most_in_step)"
  ok $([ "$most" = $want ] && [ "$steps" = 45 ]; echo $?) \
    "$mode mode at P=2, 45 steps over 3 epochs: at most $want collectives in any step (most $most, first $first, $steps steps)"
  rm -rf "$work/r/resumed"
  count 2 $mode 13 --set name=resumed > /dev/null && count 2 $mode 45 --set name=resumed --resume auto > /dev/null
  read -r most first steps <<< "$(most_in_step)"
  ok $([ "$most" = $want ] && [ "$first" = $want ] && [ "$steps" = 32 ]; echo $?) \
    "$mode mode at P=2, resumed mid-epoch (step 13 -> 45): at most $want in any step, the first included (most $most, first $first, $steps steps)"
done

# The node-local update (jobs/engine_node.h), on by default when every rank runs on one node: the
# gradient sum, the close and the update go through shared memory, no MPI call in a step.
for P in 2 4; do
  x=$(NODE=1 per_step $P fast)
  ok $([ "$x" = 0 ]; echo $?) "fast mode at P=$P on one node, the node-local update: 0 MPI collectives a training step (counted $x)"
done

# A failure found before step 3 on rank 1 only: rank 1 keeps its message, rank 0 learns it at the
# step's close ("rank 1 failed", printed by rank 0 only when its own step returned the error),
# and the job ends well within the timeout.
start=$(date +%s)
STRATA_FAULT=1:3:abort timeout 60 mpirun -np 2 --oversubscribe --bind-to none bin/strata train tests/data/train_tiny.json \
  --set "data.path=$work/tiny.h5" --set "results_dir=$work/r" --set name=abort --set train.threads=1 > "$work/log" 2>&1
rc=$?; secs=$(( $(date +%s) - start ))
[ $rc != 0 ] && [ $rc != 124 ] && grep -q "\[rank 1\] strata: fault injected by STRATA_FAULT at step 3" "$work/log" &&
  grep -q "^strata: rank 1 failed" "$work/log"
r=$?; ok $r "a failure before a step on rank 1 at P=2: both ranks end with an error, no hang (exit $rc, ${secs} s)"
[ $r = 0 ] || sed 's/^/#   /' "$work/log" | grep -v '^#   *$' | head -8
exit $fail
