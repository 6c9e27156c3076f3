#!/usr/bin/env bash
# test_step_timers.sh — run.json "step_ms" (jobs/engine.h): the per-phase medians, and the wait
# at the gradient exchange measured from when the ranks arrive there ("arrival": the latest
# rank's work since the previous close minus the ranks' mean, and minus the earliest). A
# straggler made by STRATA_FAULT=1:0:slow+ (rank 1 sleeps 20 ms before every step) must show as
# a wait of about 10 ms and a spread of about 20 ms at P = 2; without it both stay small. The
# faster rank waits in the phase where the ranks first meet: the close's barrier with the
# node-local update (the default on one node), the all-reduce with STRATA_NODE_UPDATE=0.
# Prints TAP.
set -u
cd "$(dirname "$0")/.." && . tests/util/tap.sh
tests/util/make_tiny.sh "$work/tiny.h5"
echo "1..5"
# run NAME [env...]: 40 steps of the tiny MLP job at P = 2; prints "wait spread exchange close"
run() {
  local name=$1; shift
  env STRATA_NODE_UPDATE=1 "$@" timeout 120 mpirun -np 2 --oversubscribe --bind-to none bin/strata train tests/data/train_tiny.json \
    --set "data.path=$work/tiny.h5" --set "results_dir=$work/r" --set "name=$name" --set train.threads=1 \
    --set train.epochs=2 > "$work/log" 2>&1 || { echo "-1 -1 -1 -1"; return; }
  /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["step_ms"]
m = s["max_over_ranks_median"]
print(s["arrival"]["wait_median"], s["arrival"]["spread_median"], m["exchange"], m["close"])' "$work/r/$name/run.json"
}
read -r w0 s0 x0 c0 <<< "$(run plain)"
read -r w1 s1 x1 c1 <<< "$(run slow STRATA_FAULT=1:0:slow+)"
read -r w2 s2 x2 c2 <<< "$(run slow-mpi STRATA_FAULT=1:0:slow+ STRATA_NODE_UPDATE=0)"
in_range() { /usr/bin/python3 -c 'import sys; v, lo, hi = map(float, sys.argv[1:]); sys.exit(0 if lo <= v <= hi else 1)' "$@"; }
ok $(in_range "$w1" 7 16; echo $?) "a 20 ms straggler: the median wait at the exchange is about 10 ms (got $w1)"
ok $(in_range "$s1" 15 30; echo $?) "a 20 ms straggler: the median spread of arrivals is about 20 ms (got $s1)"
ok $(in_range "$c1" 15 40; echo $?) "node-local update: the faster rank's close phase holds the wait (slower rank's median close $c1 ms)"
ok $(in_range "$x2" 15 40; echo $?) "STRATA_NODE_UPDATE=0: the faster rank's exchange phase holds the wait (slower rank's median exchange $x2 ms)"
ok $(in_range "$s0" 0 5; echo $?) "no straggler: the arrival spread stays small (got $s0 ms)"
exit $fail
