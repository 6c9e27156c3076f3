#!/usr/bin/env bash
# test_node_update.sh — the node-local update (jobs/engine_node.h): when every rank runs on one
# node, fast mode sums the gradient and updates the parameters through a shared-memory window,
# each rank its own part of the arena, instead of an all-reduce and a full update on every rank.
# At P = 2 that must give the bits of the all-reduce path (STRATA_NODE_UPDATE=0): the same
# parameter hash after every epoch, with AdamW and gradient clipping, with SGD + Nesterov, a
# parameter group, a per-layer L2 term and clipping, with SGD without state, and across a step
# skipped for a non-finite gradient. At P = 3 and 4 (uneven parts; MPI may add in another order)
# the runs agree to 1e-4. A run stopped mid-epoch and resumed ends bitwise equal to the straight
# run (the optimizer state rank 0 checkpoints is gathered from every rank's part), and the
# divergence check finds the ranks' parameters equal. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT STRATA_NODE_UPDATE
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5"
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
# 69k parameters: 17 blocks of 4,096, so every rank of 4 owns a part
MODEL='model={"layers":[{"type":"dense","units":256},{"type":"batchnorm"},{"type":"relu"},
  {"type":"dense","units":256,"l2":L2},{"type":"relu"},{"type":"dense","units":"classes"}]}'
# run P NODE NAME [args]: trains the tiny job (4 epochs of 20 steps) with STRATA_NODE_UPDATE=NODE
run() {
  local P=$1 node=$2 name=$3 l2=0; shift 3
  [ "${L2:-}" ] && l2=$L2
  STRATA_NODE_UPDATE=$node timeout 300 mpirun -np "$P" --oversubscribe --bind-to none -x STRATA_NODE_UPDATE \
    bin/strata train tests/data/train_tiny.json --set "data.path=$work/tiny.h5" --set "results_dir=$work/r" \
    --set "name=$name" --set train.threads=1 --set train.epochs=4 --set "${MODEL//L2/$l2}" \
    --set train.divergence_check_every=5 "$@" > "$work/log-$name" 2>&1 ||
    { echo "# $name failed:"; tail -5 "$work/log-$name" | sed 's/^/#   /'; }
}
hashes() { /usr/bin/python3 -c 'import json, sys; print(" ".join(json.loads(l)["param_hash"] for l in open(sys.argv[1])))' "$work/r/$1/history.jsonl" 2>/dev/null; }
update_of() { /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["step_ms"]["update"])' "$work/r/$1/run.json" 2>/dev/null; }
# same A B WHAT: both runs have 4 epochs of parameter hashes, equal, A node-local, B replicated
same() {
  local a b; a=$(hashes "$1"); b=$(hashes "$2")
  [ -n "$a" ] && [ "$a" = "$b" ] && [ "$(echo $a | wc -w)" = 4 ] &&
    [ "$(update_of "$1")" = node-local ] && [ "$(update_of "$2")" = replicated ]
  local r=$?; ok $r "$3"
  [ $r = 0 ] || echo "#   node-local: $a ($(update_of "$1")); replicated: $b ($(update_of "$2"))"
}
echo "1..8"

run 2 1 adam-node; run 2 0 adam-mpi
same adam-node adam-mpi "P=2, AdamW with clipping: the node-local update has the all-reduce path's bits after every epoch"

SGD=(--set 'optimizer={"type":"sgd","lr":0.05,"momentum":0.9,"nesterov":true,"groups":[{"params":"*.bias","lr_mult":2}]}'
     --set train.clip_norm=0.5)
L2=1e-3 run 2 1 sgd-node "${SGD[@]}"; L2=1e-3 run 2 0 sgd-mpi "${SGD[@]}"
same sgd-node sgd-mpi "P=2, SGD + Nesterov, a parameter group, an L2 term and clipping: the same bits"

PLAIN=(--set 'optimizer={"type":"sgd","lr":0.05}')
run 2 1 plain-node "${PLAIN[@]}"; run 2 0 plain-mpi "${PLAIN[@]}"
same plain-node plain-mpi "P=2, SGD without momentum (no optimizer state): the same bits"

STRATA_FAULT=1:9:nan run 2 1 nan-node; STRATA_FAULT=1:9:nan run 2 0 nan-mpi
same nan-node nan-mpi "P=2, a non-finite gradient on rank 1 at step 9: the step is skipped on every rank, the same bits"

# P = 3 and 4: parts of 6/6/5 and 5/4/4/4 blocks, shards 8 over 3 ranks
for P in 3 4; do
  run $P 1 p$P-node; run $P 0 p$P-mpi
  /usr/bin/python3 - "$work/r/p$P-node" "$work/r/p$P-mpi" <<'EOF'
import json, sys
a, b = ([json.loads(l) for l in open(d + "/history.jsonl")] for d in sys.argv[1:])
assert len(a) == len(b) == 4, (len(a), len(b))
assert json.load(open(sys.argv[1] + "/run.json"))["step_ms"]["update"] == "node-local"
for x, y in zip(a, b):
    for k in ("train_loss", "val_loss"):
        assert abs(x[k] - y[k]) <= 1e-4 * abs(y[k]), (k, x[k], y[k])
EOF
  ok $? "P=$P: the node-local update trains as the all-reduce path does (train and validation loss within 1e-4 every epoch)"
done

# Stopped after 30 steps (mid-epoch 2, a checkpoint), resumed: rank 0's checkpoint holds every
# rank's part of the optimizer state, so the end is the straight run's, bitwise.
run 2 1 resumed --stop-after-steps 30
run 2 1 resumed --resume auto
a=$(hashes adam-node); b=$(hashes resumed)
[ -n "$a" ] && [ "$a" = "$b" ]; r=$?
ok $r "P=2, stopped after 30 steps and resumed: every epoch's parameter hash equals the straight run's"
[ $r = 0 ] || echo "#   straight: $a; resumed: $b"

STRATA_NODE_UPDATE=off timeout 60 mpirun -np 2 --oversubscribe --bind-to none -x STRATA_NODE_UPDATE bin/strata train \
  tests/data/train_tiny.json --set "data.path=$work/tiny.h5" --set "results_dir=$work/r" --set name=bad > "$work/log-bad" 2>&1
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && grep -q 'STRATA_NODE_UPDATE: expected 0 (the all-reduce) or 1 (the node-local update), got "off"' "$work/log-bad"
ok $? "STRATA_NODE_UPDATE=off: every rank ends with an error naming the variable and the value (exit $rc)"
exit $fail
