#!/usr/bin/env bash
# test_mpi_engine.sh — the distributed training step at P = 1, 2, 4 (build/tests/mpi_engine):
# parameters bitwise identical across ranks and equal to a single-process step over the same
# global batch; accumulation k=2 × m equals k=1 × 2m; BatchNorm buffers identical on every rank.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
echo "1..3"
n=0; fail=0
for P in 1 2 4; do
  n=$((n+1))
  if timeout 120 mpirun -np $P --oversubscribe --bind-to none build/tests/mpi_engine "$work" > "$work/out" 2> "$work/err"; then
    echo "ok $n - training step at P=$P: $(grep -E '^(PASS|FAIL)' "$work/out"); $(grep single-process "$work/out")"
  else
    echo "not ok $n - training step at P=$P"; fail=1
    sed 's/^/# /' "$work/out" "$work/err" | grep -v "^# \[vm" | head -20
  fi
done
exit $fail
