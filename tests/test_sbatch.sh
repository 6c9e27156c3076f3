#!/usr/bin/env bash
# test_sbatch.sh — `strata sbatch`, `strata plan` and `strata sweep-report` (docs/slurm-jobs.md)
# without a cluster: the --dry-run script's content (every #SBATCH line, threads, srun flags,
# signal forwarding, requeue logic, absolute paths), sweeps as job arrays, the plan for a tiny
# dataset, submission through a fake `sbatch` on PATH, errors before anything is written, and
# the generated script's control flow run under bash with fake srun / mpirun / scontrol
# (requeue on exit 3 only, up to the restart limit; USR1 and TERM forwarded as USR1; --resume
# auto when the run folder has checkpoints or the job was requeued). Finally the script drives
# the real trainer through a pass-through srun: stopped by USR1, requeued, resumed to the end.
# Prints TAP.
set -u
cd "$(dirname "$0")/.."
export STRATA_PROGRESS=never OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
unset STRATA_FAULT SLURM_JOB_ID SLURM_RESTART_COUNT SLURM_ARRAY_TASK_ID SLURM_NTASKS
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5"
CFG=configs/tiny_test.json
SET=(--set "data.path=$work/tiny.h5" --set "results_dir=$work/results")
REPO=$(pwd -P)
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; [ -f "$work/log" ] && sed 's/^/#   /' "$work/log" | tail -15; fi; }
has() { grep -q -- "$1" "$work/log"; }
line() { grep -qxF -- "$1" "$work/log"; }  # an exact line of the output

# Fake Slurm commands: they record their arguments (one per line) and environment in $FAKE_LOG.
fake=$work/fake; mkdir -p "$fake"; export FAKE_LOG=$work/fakelog; mkdir -p "$FAKE_LOG"
cat > "$fake/sbatch" <<'EOF'
#!/bin/bash
printf '%s\n' "$@" > "$FAKE_LOG/sbatch.args"
[ "${FAKE_SBATCH_FAIL:-0}" = 1 ] && { echo "sbatch: error: invalid partition specified" >&2; exit 1; }
echo "Submitted batch job 42"
EOF
cat > "$fake/scontrol" <<'EOF'
#!/bin/bash
printf '%s\n' "$@" > "$FAKE_LOG/scontrol.args"
EOF
cat > "$fake/srun" <<'EOF'
#!/bin/bash
# FAKE_MODE: status (exit $FAKE_STATUS), wait (until USR1 or TERM: exit 3 on USR1), pass (run the
# command after srun's options).
printf '%s\n' "$@" > "$FAKE_LOG/srun.args"
echo "OMP=${OMP_NUM_THREADS:-} BLIS=${BLIS_NUM_THREADS:-} PROGRESS=${STRATA_PROGRESS:-}" > "$FAKE_LOG/srun.env"
case ${FAKE_MODE:-status} in
  wait) trap 'echo USR1 >> "$FAKE_LOG/srun.signals"; exit 3' USR1
        trap 'echo TERM >> "$FAKE_LOG/srun.signals"; exit 1' TERM
        touch "$FAKE_LOG/srun.started"
        for _ in $(seq 300); do sleep 0.1; done
        exit 9 ;;
  pass) while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do shift; done
        exec "$@" ;;
esac
exit "${FAKE_STATUS:-0}"
EOF
cp "$fake/srun" "$fake/mpirun"
sed -i 's/srun\.args/mpirun.args/' "$fake/mpirun"
chmod +x "$fake"/*
export PATH="$fake:$PATH"
clear_log() { rm -f "$FAKE_LOG"/*; }

echo "1..38"

# ---- the script (--dry-run) -----------------------------------------------------------------

bin/strata sbatch "$CFG" "${SET[@]}" --nodes 2 --ranks-per-node 1 --threads 2 --time 02:30:00 --partition short \
  --account proj7 --mem 4G --grace 300 --max-restarts 5 --dry-run > "$work/log" 2> "$work/err"
rc=$?; cp "$work/log" "$work/single.sbatch"
R=$work/results
[ $rc = 0 ] && [ ! -e "$R" ] && [ ! -e "$FAKE_LOG/sbatch.args" ] && head -1 "$work/log" | grep -qx '#!/bin/bash' &&
  grep -q "dry run: would write $R/tiny_test.sbatch" "$work/err"
ok $? "--dry-run prints a bash script and writes and submits nothing"

all=1
for l in "#SBATCH --job-name=tiny_test" "#SBATCH --nodes=2" "#SBATCH --ntasks-per-node=1" "#SBATCH --cpus-per-task=2" \
         "#SBATCH --time=02:30:00" "#SBATCH --partition=short" "#SBATCH --account=proj7" "#SBATCH --mem=4G" \
         "#SBATCH --chdir=$REPO" "#SBATCH --output=$R/tiny_test.out" "#SBATCH --error=$R/tiny_test.err" \
         "#SBATCH --open-mode=append" "#SBATCH --requeue" "#SBATCH --signal=B:USR1@300"; do
  line "$l" || { echo "# missing: $l"; all=0; }
done
[ $all = 1 ] && ! has "#SBATCH --dependency" && ! has "#SBATCH --array"
ok $? "#SBATCH lines: job name, nodes, tasks per node, cpus per task, time, partition, account, mem, chdir, output/error in the results dir (append), requeue, signal B:USR1@grace"

line "threads=2" && line 'export OMP_NUM_THREADS=$threads BLIS_NUM_THREADS=$threads STRATA_PROGRESS=never' &&
  has '--set "train.threads=$threads"'
ok $? "OMP_NUM_THREADS, BLIS_NUM_THREADS and train.threads all equal --cpus-per-task; progress bars off"

line 'srun --mpi=pmix --cpus-per-task="$threads" --kill-on-bad-exit=1 "$strata" "${args[@]}" &' &&
  line "strata='$REPO/bin/strata'" && line "config='$REPO/$CFG'" && line "run_dir='$R/tiny_test'" &&
  has "args=(train \"\$config\" --set 'data.path=$work/tiny.h5' --set 'results_dir=$work/results'"
ok $? "srun --mpi=pmix --cpus-per-task --kill-on-bad-exit=1 runs the absolute bin/strata train on the absolute config, with the --set overrides"

line "trap 'forward USR1' USR1" && line "trap 'forward TERM' TERM" && has 'kill -USR1 "$step"' && has 'wait "$step"' &&
  line 'step=$!'
ok $? "the step runs in the background; USR1 and TERM are trapped and forwarded to it as USR1, then waited for again"

line 'max_restarts=5' && has 'scontrol requeue "$SLURM_JOB_ID"' && has '\[ "$restarts" -lt "$max_restarts" \]' &&
  has 'restarts=${SLURM_RESTART_COUNT:-0}' && has '3) if' && has 'exit "$status"'
ok $? "exit 3 requeues while SLURM_RESTART_COUNT < --max-restarts; other failures exit with their status"

! grep -q 'HOME\|~/\|\bmake\b\|mpicc\|\bcc \|gcc' "$work/log" &&
  ! grep -E "^(strata|config|run_dir)='[^/]" "$work/log" | grep -q . &&
  ! grep -E '^#SBATCH --(chdir|output|error)=[^/]' "$work/log" | grep -q .
ok $? "no \$HOME, ~ or build commands; every path is absolute"

bin/strata sbatch "$CFG" "${SET[@]}" --after 41 --dry-run > "$work/log" 2>/dev/null
line "#SBATCH --dependency=afterok:41" && line "#SBATCH --time=01:00:00" && line "#SBATCH --signal=B:USR1@120" &&
  line "#SBATCH --cpus-per-task=1" && ! has "#SBATCH --partition" && ! has "#SBATCH --account" && ! has "#SBATCH --mem"
ok $? "--after JOBID gives --dependency=afterok:JOBID; defaults: 1 h, grace 120 s, 1 thread, no partition/account/mem"

bin/strata sbatch "$CFG" "${SET[@]}" --launcher mpirun --ranks-per-node 2 --dry-run > "$work/log" 2>/dev/null
has 'mpirun -np "$SLURM_NTASKS" --map-by ppr:2:node --bind-to none -x OMP_NUM_THREADS -x BLIS_NUM_THREADS' &&
  ! grep -q '^srun' "$work/log" && has "mpirun passes SIGUSR1"
cp "$work/log" "$work/mpirun.sbatch"
ok $? "--launcher mpirun runs mpirun -np \$SLURM_NTASKS with the thread variables exported"

# ---- sweeps -------------------------------------------------------------------------------------

bin/strata sbatch "$CFG" "${SET[@]}" --sweep optimizer.lr=1e-3,3e-4 --sweep seed=1,2,3 --dry-run > "$work/log" 2>/dev/null
rc=$?; cp "$work/log" "$work/sweep.sbatch"
S=$R/tiny_test
[ $rc = 0 ] && line "#SBATCH --array=0-5" && [ "$(grep -c '^  [0-9]) args+=' "$work/log")" = 6 ] &&
  line "  0) args+=(--set 'optimizer.lr=1e-3' --set 'seed=1') ;;" &&
  line "  4) args+=(--set 'optimizer.lr=3e-4' --set 'seed=2') ;;" &&
  line "  5) args+=(--set 'optimizer.lr=3e-4' --set 'seed=3') ;;" &&
  line "sweep_dir='$S'" && line 'args+=(--set "results_dir=$sweep_dir" --set "name=task-$task")' &&
  line "#SBATCH --output=$S/task-%a.out" && [ ! -e "$R" ]
ok $? "two --sweep options (2 x 3 values) make one job array of 6 tasks, first option slowest, each in <results>/<name>/task-<id>"

bin/strata sbatch "$CFG" "${SET[@]}" --sweep 'optimizer.lr=1e-3,abc' --dry-run > "$work/log" 2>&1
[ $? = 1 ] && has "sweep task 1 (optimizer.lr=abc)" && has "expected a number"
ok $? "a sweep value the config refuses fails at submission, naming the task"

bin/strata sbatch "$CFG" "${SET[@]}" --sweep 'name=a,b' --dry-run > "$work/log" 2>&1
[ $? = 2 ] && has "sets name and results_dir"
ok $? "sweeping name or results_dir is a usage error"

# ---- plan -----------------------------------------------------------------------------------------

bin/strata plan "$CFG" "${SET[@]}" > "$work/log" 2>&1
[ $? = 0 ] && has "1600 samples (1296 in the training split), 4 classes" && has "^phase 1 (fewer than 2,500 samples)" &&
  has "^shards: batch 16 = 2 shards x micro-batch 8" && has "^ranks: 1 " && has "^nodes: 1 x 1 rank per node" &&
  has "^threads: 2 per rank = 2 CPUs per node (assumed" && line "plan: --nodes 1 --ranks-per-node 1 --threads 2  (strata sbatch $CFG --auto uses it)"
ok $? "strata plan on the tiny dataset: phase 1, 2 shards, 1 node x 1 rank x 2 threads (2 CPUs assumed), with reasons"

bin/strata plan "$CFG" "${SET[@]}" --cpus-per-node 8 --set train.batch_size=64 > "$work/log" 2>&1
[ $? = 0 ] && has "^shards: batch 64 = 2 shards" && line "plan: --nodes 1 --ranks-per-node 1 --threads 8  (strata sbatch $CFG --auto uses it)"
ok $? "--cpus-per-node 8 gives 8 threads per rank"

bin/strata sbatch "$CFG" "${SET[@]}" --auto --cpus-per-node 4 --dry-run > "$work/log" 2> "$work/err"
[ $? = 0 ] && line "#SBATCH --nodes=1" && line "#SBATCH --ntasks-per-node=1" && line "#SBATCH --cpus-per-task=4" &&
  grep -q "^plan: phase 1" "$work/err"
ok $? "sbatch --auto takes nodes, ranks and threads from the plan and prints its reasoning"

bin/strata plan "$CFG" --set "data.path=$work/missing.h5" > "$work/log" 2>&1
[ $? = 1 ] && has "missing.h5"
ok $? "strata plan on a missing dataset fails naming the file"

# ---- errors before anything is written ------------------------------------------------------------

clear_log
bin/strata sbatch "$CFG" "${SET[@]}" --set train.bach_size=3 > "$work/log" 2>&1
rc1=$?
bin/strata sbatch "$CFG" "${SET[@]}" --set train.batch_size=abc > "$work/log2" 2>&1
rc2=$?
[ $rc1 = 1 ] && has 'unknown key "bach_size" (did you mean "batch_size"?)' && [ $rc2 = 1 ] &&
  grep -q "train.batch_size (--set train.batch_size=abc): expected a positive integer" "$work/log2" &&
  [ ! -e "$R" ] && [ ! -e "$FAKE_LOG/sbatch.args" ]
ok $? "config errors fail with strata train's messages (exit 1) before anything is written or submitted"

bin/strata sbatch configs/no_such.json > "$work/log" 2>&1
[ $? = 1 ] && has "no_such.json" && [ ! -e "$FAKE_LOG/sbatch.args" ]
ok $? "a missing config fails naming it"

bin/strata sbatch "$CFG" "${SET[@]}" --nodes 2 --ranks-per-node 2 > "$work/log" 2>&1
[ $? = 1 ] && has "4 ranks (nodes x ranks per node) but the batch is cut into 2 shards" && [ ! -e "$R" ]
ok $? "more ranks than shards fails before writing"

bad=0
for args in "--frobnicate" "--launcher=pbs" "--time 1:00" "--time abc" "--nodes 0" "--threads x" "--after 12ab" ""; do
  # shellcheck disable=SC2086
  if [ -z "$args" ]; then bin/strata sbatch > /dev/null 2>&1; else bin/strata sbatch "$CFG" "${SET[@]}" $args > /dev/null 2>&1; fi
  [ $? = 2 ] || { echo "# not a usage error: '$args'"; bad=1; }
done
[ $bad = 0 ] && [ ! -e "$R" ]
ok $? "usage errors exit 2: unknown option, bad launcher, grace not shorter than the time limit, bad time, counts, job id, no config"

# ---- submission through a fake sbatch ------------------------------------------------------------------

clear_log
bin/strata sbatch "$CFG" "${SET[@]}" > "$work/log" 2>&1
[ $? = 0 ] && line "submitted batch job 42" && has "^run folder: $R/tiny_test " && line "wrote $R/tiny_test.sbatch" &&
  [ "$(cat "$FAKE_LOG/sbatch.args")" = "$R/tiny_test.sbatch" ] && [ -x "$R/tiny_test.sbatch" ] && [ ! -e "$R/tiny_test" ]
ok $? "submission writes <results>/<name>.sbatch next to the (not yet created) run folder, runs sbatch on it, prints job id and run folder"

mkdir -p "$R/tiny_test"
bin/strata sbatch "$CFG" "${SET[@]}" > "$work/log" 2>&1
rc1=$?
mkdir -p "$R/tiny_test/checkpoints"; : > "$R/tiny_test/checkpoints/step-000000020.h5"
bin/strata sbatch "$CFG" "${SET[@]}" > "$work/log2" 2>&1
rc2=$?
[ $rc1 = 1 ] && has "already exists and has no checkpoint" && [ $rc2 = 0 ] && grep -q "continues it (--resume auto)" "$work/log2"
ok $? "an existing run folder without checkpoints is refused (strata train would refuse it); with checkpoints the job continues it"
rm -rf "$R"

clear_log
FAKE_SBATCH_FAIL=1 bin/strata sbatch "$CFG" "${SET[@]}" > "$work/log" 2>&1
[ $? = 1 ] && has "invalid partition" && has "submission failed" && [ -f "$R/tiny_test.sbatch" ]
ok $? "a failing sbatch fails the command, passes its message on and keeps the script"
rm -rf "$R"

bin/strata sbatch "$CFG" "${SET[@]}" --sweep optimizer.lr=1e-3,3e-4 --sweep seed=1,2,3 > "$work/log" 2>&1
rc=$?
/usr/bin/python3 - "$S/sweep.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["tasks"]) == 6, d
assert d["tasks"]["4"] == ["optimizer.lr=3e-4", "seed=2"], d["tasks"]
assert d["axes"] == {"optimizer.lr": ["1e-3", "3e-4"], "seed": ["1", "2", "3"]}, d
assert d["config"].startswith("/") and d["name"] == "tiny_test"
PY
[ $? = 0 ] && [ $rc = 0 ] && line "submitted batch job 42 (array of 6 tasks: 42_0 .. 42_5)" && has "^sweep folder: $S " &&
  [ -f "$S/job.sbatch" ] && [ "$(cat "$FAKE_LOG/sbatch.args")" = "$S/job.sbatch" ] && [ ! -e "$S/task-0" ]
ok $? "a submitted sweep writes job.sbatch and sweep.json (task id -> overrides) into <results>/<name>/"

bin/strata sbatch "$CFG" "${SET[@]}" --sweep optimizer.lr=1e-3,3e-4 --sweep seed=1,2,3 > "$work/log" 2>&1
rc1=$?
bin/strata sbatch "$CFG" "${SET[@]}" --sweep seed=1,2 > "$work/log2" 2>&1
rc2=$?
bin/strata sbatch "$CFG" "${SET[@]}" > "$work/log3" 2>&1
rc3=$?
[ $rc1 = 0 ] && has "same tasks" && [ $rc2 = 1 ] && grep -q "is not this sweep" "$work/log2" && [ $rc3 = 1 ] &&
  grep -q "is a sweep's folder" "$work/log3"
ok $? "the same sweep may be submitted again; another sweep or a single run under its name is refused"
rm -rf "$R"

# ---- the generated script's control flow, under bash with fake srun / mpirun / scontrol --------------

runjob() { # script [env...]: runs the script like Slurm would, output in $work/log, returns its status
  local script=$1; shift
  clear_log
  env SLURM_JOB_ID=777 SLURM_NTASKS=4 "$@" bash "$script" > "$work/log" 2>&1
}
runjob "$work/single.sbatch" FAKE_STATUS=0
rc=$?
[ $rc = 0 ] && has "training finished" && [ ! -e "$FAKE_LOG/scontrol.args" ] &&
  [ "$(cat "$FAKE_LOG/srun.env")" = "OMP=2 BLIS=2 PROGRESS=never" ] &&
  [ "$(head -5 "$FAKE_LOG/srun.args" | tr '\n' ' ')" = "--mpi=pmix --cpus-per-task=2 --kill-on-bad-exit=1 $REPO/bin/strata train " ] &&
  grep -qx "train.threads=2" "$FAKE_LOG/srun.args" && ! grep -qx -- "--resume" "$FAKE_LOG/srun.args"
ok $? "exit 0: the job ends with 0 and no requeue; srun gets its flags, the binary, train and the thread settings; no --resume for a new run"

runjob "$work/single.sbatch" FAKE_STATUS=3
[ $? = 0 ] && [ "$(tr '\n' ' ' < "$FAKE_LOG/scontrol.args")" = "requeue 777 " ] && has "requeueing, restart 1 of 5"
ok $? "exit 3 (checkpointed): scontrol requeue \$SLURM_JOB_ID"

runjob "$work/single.sbatch" FAKE_STATUS=1
rc1=$?; [ -e "$FAKE_LOG/scontrol.args" ]; s1=$?
runjob "$work/single.sbatch" FAKE_STATUS=137
rc2=$?; [ -e "$FAKE_LOG/scontrol.args" ]; s2=$?
[ $rc1 = 1 ] && [ $s1 = 1 ] && [ $rc2 = 137 ] && [ $s2 = 1 ] && has "not requeueing"
ok $? "exit 1 or a killed step: the job fails with that status and is never requeued"

runjob "$work/single.sbatch" FAKE_STATUS=3 SLURM_RESTART_COUNT=5
[ $? = 3 ] && [ ! -e "$FAKE_LOG/scontrol.args" ] && has "the restart limit (5) is reached" && has "sbatch $R/tiny_test.sbatch"
ok $? "exit 3 with SLURM_RESTART_COUNT at --max-restarts: exit 3, no requeue, says how to continue"

mkdir -p "$R/tiny_test/checkpoints"
runjob "$work/single.sbatch"; a1=$(tr '\n' ' ' < "$FAKE_LOG/srun.args")
runjob "$work/single.sbatch" SLURM_RESTART_COUNT=1; a2=$(tr '\n' ' ' < "$FAKE_LOG/srun.args")
: > "$R/tiny_test/checkpoints/step-000000010.h5"
runjob "$work/single.sbatch"; a3=$(tr '\n' ' ' < "$FAKE_LOG/srun.args")
rm -rf "$R"
runjob "$work/single.sbatch" SLURM_RESTART_COUNT=1; a4=$(tr '\n' ' ' < "$FAKE_LOG/srun.args")
resumes() { case "$1" in *"--resume auto"*) return 0 ;; esac; return 1; }
! resumes "$a1" && resumes "$a2" && resumes "$a3" && ! resumes "$a4"; r=$?
ok $r "--resume auto when the run folder exists and the job was requeued or has checkpoints; not for an empty folder on a first start, nor without the folder"

clear_log
env SLURM_JOB_ID=778 SLURM_NTASKS=1 FAKE_MODE=wait bash "$work/single.sbatch" > "$work/log" 2>&1 &
job=$!
for _ in $(seq 100); do [ -f "$FAKE_LOG/srun.started" ] && break; sleep 0.05; done
kill -USR1 $job
wait $job; rc=$?
[ $rc = 0 ] && [ "$(cat "$FAKE_LOG/srun.signals" 2>/dev/null)" = USR1 ] && has "got SIGUSR1" &&
  [ "$(tr '\n' ' ' < "$FAKE_LOG/scontrol.args")" = "requeue 778 " ]
ok $? "USR1 to the batch shell is forwarded to the step (USR1), the script waits for it, and its exit 3 requeues the job"

clear_log
env SLURM_JOB_ID=779 SLURM_NTASKS=1 FAKE_MODE=wait bash "$work/single.sbatch" > "$work/log" 2>&1 &
job=$!
for _ in $(seq 100); do [ -f "$FAKE_LOG/srun.started" ] && break; sleep 0.05; done
kill -TERM $job
wait $job; rc=$?
[ $rc = 0 ] && [ "$(cat "$FAKE_LOG/srun.signals" 2>/dev/null)" = USR1 ] && has "got SIGTERM"
ok $? "SIGTERM to the batch shell is forwarded to the step as USR1 (checkpoint, not a kill)"

runjob "$work/sweep.sbatch" SLURM_ARRAY_TASK_ID=4 FAKE_STATUS=0
a=$(tr '\n' ' ' < "$FAKE_LOG/srun.args")
case "$a" in
  *"optimizer.lr=3e-4 --set seed=2 --set results_dir=$S --set name=task-4 "*) r=0 ;;
  *) r=1 ;;
esac
runjob "$work/sweep.sbatch" SLURM_ARRAY_TASK_ID=6
[ $? = 2 ] && [ $r = 0 ] && has "no task 6"
ok $? "array task 4 runs with its overrides in <sweep>/task-4; an unknown task id fails"

runjob "$work/mpirun.sbatch" FAKE_STATUS=3
[ $? = 0 ] && [ "$(head -2 "$FAKE_LOG/mpirun.args" | tr '\n' ' ')" = "-np 4 " ] && [ -e "$FAKE_LOG/scontrol.args" ]
ok $? "the mpirun launcher gets -np \$SLURM_NTASKS and the same requeue logic"

# ---- sweep-report ----------------------------------------------------------------------------------------

mk_run() { # dir status test_acc val_acc...: a minimal run folder
  local d=$1 st=$2 test=$3; shift 3; mkdir -p "$d"
  echo '{"name": "x"}' > "$d/config.json"
  echo "{\"status\": \"$st\"}" > "$d/run.json"
  local e=0; : > "$d/history.jsonl"
  for v in "$@"; do e=$((e+1)); echo "{\"epoch\": $e, \"step\": $((e*10)), \"val_loss\": 0.$((9-e)), \"val_accuracy\": $v}" >> "$d/history.jsonl"; done
  [ "$test" = - ] || echo "{\"accuracy\": $test, \"loss\": 0.3}" > "$d/metrics.json"
}
SW=$work/sw; mkdir -p "$SW"
cat > "$SW/sweep.json" <<'EOF'
{"name": "sw", "tasks": {"0": ["optimizer.lr=1e-3", "seed=1"], "1": ["optimizer.lr=3e-4", "seed=1"], "2": ["optimizer.lr=1e-4", "seed=1"]}}
EOF
mk_run "$SW/task-0" completed 0.81 0.70 0.80 0.78
mk_run "$SW/task-1" "stopped after 40 steps" - 0.75 0.86
bin/strata sweep-report "$SW/task-0" "$SW/task-1" > "$work/log" 2>&1
rc=$?
sed -n 2p "$work/log" | grep -q "^task-1 .*optimizer.lr=3e-4 seed=1 .* 86.00% .* 0.7000 .* 2 .* 2 .* - .*stopped after 40 steps$" &&
  sed -n 3p "$work/log" | grep -q "^task-0 .*optimizer.lr=1e-3 seed=1 .* 80.00% .* 0.7000 .* 2 .* 3 .* 81.00% .*completed$" &&
  [ $rc = 0 ] && head -1 "$work/log" | grep -q "^task .*overrides .*best val acc .*val loss .*at epoch .*test acc .*status"
ok $? "sweep-report on two run folders: sorted by best val accuracy, with overrides (from sweep.json), loss and epoch of the best, test accuracy, status"

bin/strata sweep-report "$SW" > "$work/log" 2>&1
[ $? = 0 ] && [ "$(wc -l < "$work/log")" = 4 ] && sed -n 4p "$work/log" | grep -q "^task-2 .*optimizer.lr=1e-4 .*not started$" &&
  sed -n 2p "$work/log" | grep -q "^task-1 "
ok $? "sweep-report on the sweep folder lists every task, a task not started last"

bin/strata sweep-report "$work" > "$work/log" 2>&1
[ $? = 1 ] && has "neither a run folder"
ok $? "sweep-report on a folder that is neither a run nor a sweep fails"

# ---- end to end: the script drives the real trainer (pass-through srun) -----------------------------------

E2E=(--set "data.path=$work/tiny.h5" --set "results_dir=$work/e2e" --set train.epochs=300 --set checkpoint.every_epochs=1)
bin/strata sbatch "$CFG" "${E2E[@]}" --threads 1 --dry-run > "$work/e2e.sbatch" 2>/dev/null
clear_log
env SLURM_JOB_ID=900 FAKE_MODE=pass bash "$work/e2e.sbatch" > "$work/log" 2>&1 &
job=$!
for _ in $(seq 300); do compgen -G "$work/e2e/tiny_test/checkpoints/step-*.h5" > /dev/null && break; sleep 0.1; done
kill -USR1 $job
wait $job; rc1=$?
cp "$work/log" "$work/e2e1.log"
grep -q '"status":[[:space:]]*"preempted' "$work/e2e/tiny_test/run.json" 2>/dev/null; pre=$?
[ -e "$FAKE_LOG/scontrol.args" ]; req=$?
env SLURM_JOB_ID=900 SLURM_RESTART_COUNT=1 FAKE_MODE=pass bash "$work/e2e.sbatch" > "$work/log" 2>&1
rc2=$?
cat "$work/e2e1.log" >> "$work/log"
[ $rc1 = 0 ] && [ $pre = 0 ] && [ $req = 0 ] && [ $rc2 = 0 ] && has "resuming" && has "training finished" &&
  grep -q '"status":[[:space:]]*"completed"' "$work/e2e/tiny_test/run.json"
ok $? "with the real trainer: USR1 stops it at a checkpoint (exit 3, run.json preempted), the job requeues, the next start resumes it to completion"

exit $fail
