#!/usr/bin/env bash
# test_mpi_data.sh — the data pipeline at P = 1, 2, 3, 4 ranks (build/tests/mpi_data): coverage
# of every part, rows and labels, shard ownership; and the same shard map and the same
# standardisation statistics (bit for bit) at every P; with sequence lengths, the masked
# statistics and the length-bucketed micro-batches of every shard the same at every P. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
echo "1..9"
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
for what in shardmap stats lenchannel lenposition; do
  n=$((n+1))
  digests=$(grep -h "^digest $what" "$work"/out.* | awk '{print $3}' | sort -u)
  count=$(grep -h "^digest $what" "$work"/out.* | wc -l)
  if [ "$count" = 4 ] && [ "$(echo "$digests" | wc -l)" = 1 ]; then
    echo "ok $n - the $what is the same at P = 1, 2, 3, 4 ($digests)"
  else
    echo "not ok $n - the $what differs between rank counts: $(echo $digests)"; fail=1
  fi
done
n=$((n+1))
# every shard's bucketed micro-batches, from whichever rank holds it: one digest per shard over all P
per_shard=$(grep -h "^digest bucket shard" "$work"/out.* | sort -u | awk '{print $4}' | uniq -c | awk '$1 != 1' | wc -l)
shards=$(grep -h "^digest bucket shard" "$work"/out.* | awk '{print $4}' | sort -u | wc -l)
lines=$(grep -h "^digest bucket shard" "$work"/out.* | wc -l)
if [ "$shards" -gt 0 ] && [ "$per_shard" = 0 ] && [ "$lines" = $((4 * shards)) ]; then
  echo "ok $n - the length-bucketed micro-batches of each of the $shards shards are the same at P = 1, 2, 3, 4"
else
  echo "not ok $n - bucketed micro-batches differ between rank counts ($shards shards, $lines lines, $per_shard differ)"; fail=1
fi
exit $fail
