#!/usr/bin/env bash
# test_slurm_e2e.sh — strata on a real local Slurm cluster (slurm/cluster.sh, 2 fake nodes):
# a 2-node training job submitted with `strata sbatch` finishes with results; a job sent its
# warning signal (scancel --signal=USR1 --batch) checkpoints, is requeued, resumes and ends with
# the same parameters as an uninterrupted run; a 3-task sweep runs as a job array and
# sweep-report tabulates it; a job submitted --after another starts after it; a 2-member ensemble
# (--ensemble 2) runs as an array and its combining job (afterok) writes the ensemble's metrics. Skips when Slurm
# cannot be installed. Prints TAP.
set -u
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
have_slurm() { command -v slurmctld && command -v slurmd && command -v munged && command -v sbatch; } >/dev/null 2>&1
if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (the fake nodes run slurmd as root)"; exit 0; fi
if ! have_slurm; then
  scripts/install-deps.sh >/dev/null 2>&1 || true
  have_slurm || { echo "1..0 # SKIP Slurm/munge not installed and scripts/install-deps.sh could not install them"; exit 0; }
fi
for v in $(compgen -e | grep '^SLURM_'); do unset "$v"; done
unset STRATA_FAULT
work=$(mktemp -d /tmp/strata_test_e2e.XXXXXX); chmod 755 "$work"
dir=$work/cluster
cleanup() { [ -f "$dir/cluster.env" ] && "$repo/slurm/cluster.sh" stop --dir "$dir" > /dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
echo "1..6"
slurm/cluster.sh start --nodes 2 --dir "$dir" > "$work/start.out" 2>&1 || { sed 's/^/# /' "$work/start.out"; for i in 1 2 3 4 5 6; do ok 1 "cluster did not start"; done; exit 1; }
export SLURM_CONF=$dir/slurm.conf
tests/util/make_tiny.sh "$work/tiny.h5"
CFG=tests/data/train_tiny.json
SET=(--set "data.path=$work/tiny.h5" --set "results_dir=$work/results" --set reproducible=exact)

job_of() { sed -n 's/^submitted batch job \([0-9]*\).*/\1/p' "$1"; }
wait_gone() { # job id, seconds: waits until the job has left the queue
  for _ in $(seq $(( $2 * 2 ))); do [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0; sleep 0.5; done; return 1; }
status_of() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$1" 2>/dev/null; }

# 1. A 2-node job (1 rank per node) to completion.
bin/strata sbatch $CFG "${SET[@]}" --set name=two --nodes 2 --ranks-per-node 1 --threads 1 --time 00:05:00 > "$work/sub1" 2>&1
j1=$(job_of "$work/sub1")
wait_gone "$j1" 120; [ -n "$j1" ] && [ "$(status_of "$work/results/two/run.json")" = completed ] && [ -s "$work/results/two/metrics.json" ] \
  && grep -q '"ranks":.*2' "$work/results/two/run.json" && grep -q '"n1"' "$work/results/two/run.json" && grep -q '"n2"' "$work/results/two/run.json"
ok $? "strata sbatch --nodes 2: the job trains on both fake nodes (n1, n2) and finishes with results (job $j1)"

# 2. Warning signal → checkpoint → requeue → resume → same parameters as an uninterrupted run.
bin/strata sbatch $CFG "${SET[@]}" --set name=pre --set train.epochs=300 --nodes 2 --ranks-per-node 1 --threads 1 --time 00:10:00 > "$work/sub2" 2>&1
j2=$(job_of "$work/sub2")
for _ in $(seq 240); do [ -s "$work/results/pre/history.jsonl" ] && break; sleep 0.25; done
scancel --signal=USR1 --batch "$j2"
wait_gone "$j2" 180
bin/strata train $CFG "${SET[@]}" --set name=straight --set train.epochs=300 --set train.threads=1 > "$work/straight.log" 2>&1
cmp=$(/usr/bin/python3 tests/util/compare_runs.py "$work/results/straight" "$work/results/pre" 2>&1); rc=$?
restarts=$(/usr/bin/python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['restarts']))" "$work/results/pre/run.json" 2>/dev/null)
[ $rc = 0 ] && [ "${restarts:-0}" -ge 1 ] && [ "$(status_of "$work/results/pre/run.json")" = completed ]
ok $? "USR1 to the batch job: checkpoint, exit 3, requeue, resume; ends equal to an uninterrupted run ($cmp; $restarts restart)"

# 3. A 3-task sweep as one job array.
bin/strata sbatch $CFG "${SET[@]}" --set name=sw --sweep seed=1,2,3 --nodes 1 --ranks-per-node 1 --threads 1 > "$work/sub3" 2>&1
j3=$(job_of "$work/sub3")
wait_gone "$j3" 180
bin/strata sweep-report "$work/results/sw" > "$work/report" 2>&1
done_tasks=0; for t in 0 1 2; do [ "$(status_of "$work/results/sw/task-$t/run.json")" = completed ] && done_tasks=$((done_tasks+1)); done
[ $done_tasks = 3 ] && [ "$(grep -c 'seed=' "$work/report")" -ge 3 ]
ok $? "a 3-task sweep (--sweep seed=1,2,3) runs as one array; sweep-report lists the 3 tasks"

# 4. A dependency chain: B --after A starts after A ends.
bin/strata sbatch $CFG "${SET[@]}" --set name=a --nodes 1 --ranks-per-node 1 --threads 1 > "$work/sub4" 2>&1
ja=$(job_of "$work/sub4")
bin/strata sbatch $CFG "${SET[@]}" --set name=b --after "$ja" --nodes 1 --ranks-per-node 1 --threads 1 > "$work/sub5" 2>&1
jb=$(job_of "$work/sub5")
wait_gone "$ja" 120; wait_gone "$jb" 120
/usr/bin/python3 - "$work/results/a/run.json" "$work/results/b/run.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["status"] == "completed" and b["status"] == "completed", (a["status"], b["status"])
assert b["start_time"] >= a["end_time"], (a["end_time"], b["start_time"])
PY
ok $? "--after: job $jb starts after job $ja has ended"

# 5. An ensemble: the members as an array, the combining job after it (afterok).
bin/strata sbatch $CFG "${SET[@]}" --set name=ens --ensemble 2 --nodes 1 --ranks-per-node 1 --threads 1 > "$work/sub6" 2>&1
je=$(sed -n 's/^submitted batch job \([0-9]*\) (array.*/\1/p' "$work/sub6")
jc=$(sed -n 's/^submitted batch job \([0-9]*\) (combines.*/\1/p' "$work/sub6")
[ -n "$je" ] && [ -n "$jc" ] && wait_gone "$je" 180 && wait_gone "$jc" 120 &&
/usr/bin/python3 - "$work/results/ens" <<'PY'
import json, sys
d = sys.argv[1]
for i in (0, 1):
    assert json.load(open(f"{d}/member-{i}/run.json"))["status"] == "completed", i
m = json.load(open(f"{d}/ensemble/metrics.json"))
assert "ensemble" in m and len(m["members"]) == 2, list(m)
PY
ok $? "--ensemble 2: the members run as array $je, the combining job $jc (afterok) writes ensemble/metrics.json"

slurm/cluster.sh stop --dir "$dir" > /dev/null 2>&1
ok $? "the cluster stops cleanly"
exit $((failed > 0))
