#!/usr/bin/env bash
# test_crash_resume.sh — crash safety: a training run killed with SIGKILL at 20 random moments
# (checkpoint writes included: the tiny run checkpoints every epoch, 20 steps apart) and resumed
# with --resume auto each time always finds a valid checkpoint (or none yet), and ends with
# bitwise the same parameters and history as an uninterrupted run. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export STRATA_PROGRESS=never OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
unset STRATA_FAULT
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5"
SET=(--set "data.path=$work/tiny.h5" --set "results_dir=$work/results" --set train.epochs=100 --set train.threads=1)
echo "1..2"
bin/strata train tests/data/train_tiny.json "${SET[@]}" --set name=straight > "$work/straight.log" 2>&1
straight=$?

kills=0; launches=0; bad=0; RANDOM=42
while [ $kills -lt 20 ] && [ $launches -lt 60 ]; do
  launches=$((launches+1))
  resume=(); [ -d "$work/results/crashed" ] && resume=(--resume auto)
  bin/strata train tests/data/train_tiny.json "${SET[@]}" --set name=crashed "${resume[@]}" >> "$work/crash.log" 2>&1 &
  pid=$!
  # Let start-up finish (slow on a loaded machine), then kill at a random moment of training.
  for _ in $(seq 200); do [ -f "$work/results/crashed/run.json" ] && break; sleep 0.1; done
  sleep "0.$(printf '%03d' $((RANDOM % 300 + 10)))"
  if kill -9 $pid 2>/dev/null; then kills=$((kills+1)); fi
  wait $pid 2>/dev/null
  if grep -q "damaged\|not a strata checkpoint" "$work/crash.log"; then bad=1; fi
  grep -q '"status":.*"completed"' "$work/results/crashed/run.json" 2>/dev/null && break
done
# Finish the run if the last launch was killed.
resume=(); [ -d "$work/results/crashed" ] && resume=(--resume auto)
bin/strata train tests/data/train_tiny.json "${SET[@]}" --set name=crashed "${resume[@]}" >> "$work/crash.log" 2>&1
finish=$?
[ $straight = 0 ] && [ $finish = 0 ] && [ $bad = 0 ] && [ $kills -ge 10 ]
if [ $? = 0 ]; then echo "ok 1 - $kills SIGKILLs in $launches launches: every resume found a valid checkpoint (or none yet)"; else
  echo "not ok 1 - crash/resume loop: straight $straight finish $finish damaged $bad kills $kills"; tail -5 "$work/crash.log" | sed 's/^/# /'; fi
cmp=$(/usr/bin/python3 tests/util/compare_runs.py "$work/results/straight" "$work/results/crashed" 2>&1)
if [ $? = 0 ]; then echo "ok 2 - the crashed-and-resumed run ends bitwise equal to the uninterrupted one ($cmp)"; else
  echo "not ok 2 - $cmp"; exit 1; fi
[ $straight = 0 ] && [ $finish = 0 ] && [ $bad = 0 ]
