#!/usr/bin/env bash
# bench_exact.sh — the cost of reproducible: "exact" against "fast" on the Fashion-MNIST MLP at
# 2 ranks × 1 thread, micro-batches of 32 and 64 per shard (8 shards: batch 256 and 512).
# Prints samples/s (median of the epochs after the first) and the ratio exact/fast, then each
# run's per-phase step times (run.json step_ms, the slower rank's median, ms: where exact mode's
# extra time goes — docs/reproducibility.md); writes build/bench/bench_exact.json. Needs
# data/fashion-mnist.h5 (scripts/setup.sh).
set -u
cd "$(dirname "$0")/.."
[ -f data/fashion-mnist.h5 ] || { echo "bench_exact: data/fashion-mnist.h5 not found (scripts/setup.sh makes it); skipped"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 STRATA_PROGRESS=never
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo} OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
EPOCHS=${EPOCHS:-4}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
median_rate() { /usr/bin/python3 -c "
import json, statistics, sys
h = [json.loads(l) for l in open(sys.argv[1])][1:]
print(round(statistics.median(x['samples_per_s'] for x in h)))" "$1"; }
printf "%-12s %14s %14s %8s\n" "micro-batch" "fast samples/s" "exact samples/s" "ratio"
json="{"
for micro in 32 64; do
  batch=$((micro * 8))
  for mode in fast exact; do
    mpirun -np 2 --bind-to core bin/strata train configs/fashion_mlp.json --set "results_dir=$work" --set "name=$mode$micro" \
      --set reproducible=$mode --set train.batch_size=$batch --set data.shards=8 --set train.epochs=$EPOCHS \
      --set early_stopping.enabled=false --set train.threads=1 > "$work/$mode$micro.log" 2>&1 || { tail -5 "$work/$mode$micro.log"; exit 1; }
  done
  f=$(median_rate "$work/fast$micro/history.jsonl"); e=$(median_rate "$work/exact$micro/history.jsonl")
  ratio=$(/usr/bin/python3 -c "print(f'{$e/$f:.3f}')")
  printf "%-12s %14s %14s %8s\n" "$micro" "$f" "$e" "$ratio"
  json="$json\"micro_$micro\": {\"fast\": $f, \"exact\": $e, \"ratio\": $ratio}, "
done
echo "ms a step by phase (run.json step_ms, the slower rank's median over its steps):"
for run in fast32 exact32 fast64 exact64; do
  /usr/bin/python3 -c "
import json, sys
ms = json.load(open(sys.argv[1])).get('step_ms', {}).get('max_over_ranks_median', {})
print(f'{sys.argv[2]:<8} ' + ' '.join(f'{k} {v:.3f}' for k, v in ms.items()))" "$work/$run/run.json" "$run"
done
mkdir -p build/bench && echo "${json%, }}" > build/bench/bench_exact.json
echo "target: exact >= 0.85 x fast at micro-batch 64"
