#!/usr/bin/env bash
# test_mpi_loader.sh — runs the MPI test programs under mpirun and prints TAP for prove:
# build/tests/mpi_loader (the two-phase parallel read, sharding/loader.c) at P = 1, 2, 3, 4 and
# build/tests/mpi_comm (the communicator layer, mpi/comm.c, and the node window, mpi/node_window.c)
# at P = 1 and 3, plus st_comm_abort at P = 2. One TAP line per run; a run fails on a non-zero
# exit status or after 60 s. The programs' own output follows each line as "#" comments.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
log=$(mktemp /tmp/strata_test_mpi_loader.XXXXXX)
trap 'rm -f "$log"' EXIT

echo "1..7"
if ! command -v mpirun >/dev/null; then
  for i in 1 2 3 4 5 6 7; do ok 0 "# SKIP mpirun not found"; done
  exit 0
fi

# run P program [args...]: mpirun with a 60 s limit; output to $log; returns the exit status.
run() {
  local np=$1; shift
  timeout 60 mpirun -np "$np" --oversubscribe --bind-to none "$@" >"$log" 2>&1
}
show() { sed 's/^/# /' "$log"; }

for P in 1 2 3 4; do
  if [ ! -x build/tests/mpi_loader ]; then ok 1 "mpi_loader at P=$P: build/tests/mpi_loader missing (make build/tests/mpi_loader)"; continue; fi
  run "$P" build/tests/mpi_loader; rc=$?
  [ $rc = 124 ] && echo "# timed out after 60 s" >>"$log"
  ok $rc "two-phase parallel read (mpi_loader) at P=$P"
  show
done

for P in 1 3; do
  if [ ! -x build/tests/mpi_comm ]; then ok 1 "mpi_comm at P=$P: build/tests/mpi_comm missing (make build/tests/mpi_comm)"; continue; fi
  run "$P" build/tests/mpi_comm; rc=$?
  [ $rc = 124 ] && echo "# timed out after 60 s" >>"$log"
  ok $rc "communicator layer (mpi_comm) at P=$P"
  show
done

if [ -x build/tests/mpi_comm ]; then
  run 2 build/tests/mpi_comm --abort; rc=$?
  [ $rc != 0 ] && [ $rc != 124 ] && grep -q '^\[rank 1\] deliberate abort$' "$log"; res=$?
  ok $res "st_comm_abort prints '[rank 1] deliberate abort' and ends every rank with a failure status (exit $rc)"
  [ $res != 0 ] && show
else
  ok 1 "st_comm_abort: build/tests/mpi_comm missing"
fi
exit $((failed > 0))
