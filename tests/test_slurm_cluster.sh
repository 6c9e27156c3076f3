#!/usr/bin/env bash
# test_slurm_cluster.sh — a real 2-node Slurm cluster on this machine (slurm/cluster.sh): an MPI
# program (build/tests/mpi_loader) runs across both fake nodes under srun --mpi=pmix and under
# mpirun inside the allocation, also with 2 ranks per node; a job array of 3 tasks runs; an
# afterok dependency starts after its parent ends, and never runs when the parent fails; stop
# leaves no daemon behind. Skips when Slurm and munge are missing and cannot be installed.
# Prints TAP for prove; takes about 20 s.
set -u
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
comment() { sed 's/^/# /'; }

have_slurm() { command -v slurmctld && command -v slurmd && command -v munged && command -v sbatch; } >/dev/null 2>&1
if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (the fake nodes run slurmd as root)"; exit 0; fi
if ! have_slurm; then
  scripts/install-deps.sh >/dev/null 2>&1 || true
  have_slurm || { echo "1..0 # SKIP Slurm/munge not installed and scripts/install-deps.sh could not install them"; exit 0; }
fi

# Nothing from an outer Slurm job or another cluster may leak in.
for v in $(compgen -e | grep '^SLURM_'); do unset "$v"; done
work=$(mktemp -d /tmp/strata_test_slurm.XXXXXX)
chmod 755 "$work"   # munged wants the folders above its socket open to all
dir=$work/cluster
cleanup() {
  if [ -f "$dir/cluster.env" ] && ! "$repo/slurm/cluster.sh" stop --dir "$dir" >"$work/cleanup.out" 2>&1; then
    echo "# could not stop the cluster; kept $work:"; comment < "$work/cleanup.out"; return
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "1..7"
t0=$(date +%s%N)
secs() { local ms=$((($(date +%s%N) - $1) / 1000000)); printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)); }

slurm/cluster.sh start --nodes 2 --dir "$dir" >"$work/start.out" 2>&1; rc=$?
grep -q "^export SLURM_CONF=$dir/slurm.conf\$" "$work/start.out"
ok $((rc || $?)) "slurm/cluster.sh start: 2 fake nodes idle in sinfo, prints export SLURM_CONF ($(secs "$t0") s)"
comment < "$work/start.out"
if [ $rc != 0 ]; then
  for _ in 2 3 4 5 6 7; do ok 1 "the cluster did not start"; done
  exit 1
fi
export SLURM_CONF=$dir/slurm.conf
pids_before=$(cat "$dir"/run/*.pid "$dir"/munge/munged.pid)
cd "$work" || exit 1

# 1 rank per node: the MPI program under srun --mpi=pmix, then under mpirun in the allocation.
cat > mpi1.sh <<EOF
#!/bin/bash
#SBATCH -N2 --ntasks-per-node=1 -t 2 -o $work/mpi1.out
srun --mpi=pmix hostname | sort | tr '\n' ' '; echo
srun --mpi=pmix $repo/build/tests/mpi_loader || echo "srun failed: \$?"
mpirun $repo/build/tests/mpi_loader || echo "mpirun failed: \$?"
EOF
t1=$(date +%s%N)
if [ -x "$repo/build/tests/mpi_loader" ]; then
  timeout 60 sbatch --wait mpi1.sh >/dev/null 2>&1; rc=$?
  [ $rc = 0 ] && grep -q '^n1 n2 $' mpi1.out && [ "$(grep -c '^ok 10 - .*(P=2)$' mpi1.out)" = 2 ] &&
    ! grep -qE '^not ok|failed' mpi1.out
  ok $? "sbatch --wait -N2 --ntasks-per-node=1: mpi_loader at P=2 across nodes n1, n2 under srun --mpi=pmix and mpirun (exit $rc, $(secs "$t1") s)"
  comment < mpi1.out
else
  ok 1 "build/tests/mpi_loader missing (make build/tests/mpi_loader)"
fi

# 2 ranks per fake node: shared memory within a node, TCP on loopback between nodes.
cat > mpi2.sh <<EOF
#!/bin/bash
#SBATCH -N2 --ntasks-per-node=2 -t 2 -o $work/mpi2.out
srun $repo/build/tests/mpi_loader || echo "srun failed: \$?"
EOF
t1=$(date +%s%N)
if [ -x "$repo/build/tests/mpi_loader" ]; then
  timeout 60 sbatch --wait mpi2.sh >/dev/null 2>&1; rc=$?
  [ $rc = 0 ] && grep -q '^ok 10 - .*(P=4)$' mpi2.out && ! grep -qE '^not ok|failed' mpi2.out
  ok $? "sbatch --wait -N2 --ntasks-per-node=2: mpi_loader at P=4, 2 ranks per fake node (exit $rc, $(secs "$t1") s)"
  comment < mpi2.out
else
  ok 1 "build/tests/mpi_loader missing (make build/tests/mpi_loader)"
fi

# A job array of 3 tasks.
t1=$(date +%s%N)
timeout 60 sbatch --wait --array=0-2 -o "$work/array.%a" \
  --wrap 'echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT"' >/dev/null 2>&1; rc=$?
got=$(cat array.0 array.1 array.2 2>/dev/null | tr '\n' ';')
[ $rc = 0 ] && [ "$got" = "task 0 of 3;task 1 of 3;task 2 of 3;" ]
ok $? "--array=0-2 runs 3 tasks with SLURM_ARRAY_TASK_ID/COUNT (got '$got', $(secs "$t1") s)"

# afterok: the child starts after the parent has ended successfully.
t1=$(date +%s%N)
parent=$(sbatch --parsable -o "$work/parent.out" --wrap 'sleep 2; date +%s%N' 2>&1)
child=$(sbatch --parsable --dependency=afterok:"$parent" -o "$work/child.out" --wrap 'date +%s%N' 2>&1)
sleep 0.5
state=$(squeue -h -j "$child" -o '%T %r' 2>&1)
timeout 60 sbatch --wait --dependency=afterany:"$child" -o /dev/null --wrap true >/dev/null 2>&1
pend=$(cat parent.out 2>/dev/null); cstart=$(cat child.out 2>/dev/null)
[ -n "$pend" ] && [ -n "$cstart" ] && [ "$cstart" -gt "$pend" ] && [ "$state" = "PENDING Dependency" ]
ok $? "--dependency=afterok: the child waits ('$state') and starts after its parent ends ($(( (${cstart:-0} - ${pend:-0}) / 1000000 )) ms later, $(secs "$t1") s)"

# afterok on a failing parent: the child never runs and leaves the queue (kill_invalid_depend).
t1=$(date +%s%N)
parent=$(sbatch --parsable -o /dev/null --wrap 'exit 3' 2>&1)
child=$(sbatch --parsable --dependency=afterok:"$parent" -o "$work/child2.out" --wrap 'echo ran' 2>&1)
for ((t = 0; t < 100; t++)); do
  [ -z "$(squeue -h -j "$parent,$child" -o %i 2>/dev/null)" ] && break
  sleep 0.1
done
[ $t -lt 100 ] && [ ! -e child2.out ]
ok $? "--dependency=afterok on a failed parent: the child is cancelled and never runs ($(secs "$t1") s)"

# Stop: the queue is emptied, every daemon is gone, the folder is removed.
cd "$repo" || exit 1
t1=$(date +%s%N)
slurm/cluster.sh stop --dir "$dir" >"$work/stop.out" 2>&1; rc=$?
# The PID files are gone with the folder: check the PIDs read after start. PID 1 here reaps
# late, so a stopped daemon may linger as a zombie (state Z): that counts as gone.
left=""
for pid in $pids_before; do
  st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] && left="$left $pid($(cat "/proc/$pid/comm" 2>/dev/null))"
done
[ $rc = 0 ] && [ -z "$left" ] && [ ! -e "$dir" ]
ok $? "slurm/cluster.sh stop: no daemon left${left:+ (still running:$left)}, folder removed ($(secs "$t1") s; whole test $(secs "$t0") s)"
comment < "$work/stop.out"
exit $((failed > 0))
