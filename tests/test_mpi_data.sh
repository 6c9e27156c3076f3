#!/usr/bin/env bash
# test_mpi_data.sh — the data pipeline at P = 1, 2, 3, 4 ranks (build/tests/mpi_data): coverage
# of every part, rows and labels, shard ownership; and the same shard map and the same
# standardisation statistics (bit for bit) at every P. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
echo "1..6"
n=0; fail=0
for P in 1 2 3 4; do
  n=$((n+1))
  if timeout 120 mpirun -np $P --oversubscribe --bind-to none build/tests/mpi_data "$work" > "$work/out.$P" 2> "$work/err.$P"; then
    echo "ok $n - data pipeline at P=$P: $(grep -E '^(PASS|FAIL)' "$work/out.$P")"
  else
    echo "not ok $n - data pipeline at P=$P"; fail=1
    sed 's/^/# /' "$work/out.$P" "$work/err.$P" | head -20
  fi
done
for what in shardmap stats; do
  n=$((n+1))
  digests=$(grep -h "^digest $what" "$work"/out.* | awk '{print $3}' | sort -u)
  count=$(grep -h "^digest $what" "$work"/out.* | wc -l)
  if [ "$count" = 4 ] && [ "$(echo "$digests" | wc -l)" = 1 ]; then
    echo "ok $n - the $what is the same at P = 1, 2, 3, 4 ($digests)"
  else
    echo "not ok $n - the $what differs between rank counts: $(echo $digests)"; fail=1
  fi
done
exit $fail
