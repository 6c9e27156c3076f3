#!/usr/bin/env bash
# bench_stream.sh — the cost of streaming the training split (docs/streaming.md): the default
# Fashion-MNIST job (configs/fashion_mlp.json) at 2 ranks x 1 thread with three orders — shuffle
# in memory, windowed in memory, windowed streamed (data.stream, the next block read in the
# background) — blocks of WINDOW rows (default 8192: 9 blocks), runs alternated (shuffle,
# windowed, streamed; ROUNDS times) so that a busy machine hurts all alike. Prints samples/s
# (median of the epochs after the first, over the rounds) and the ratios; writes
# build/bench/bench_stream.json. Target: streamed >= 0.90 x windowed in memory.
# DATA=path runs another file (e.g. a larger synthetic one) with the same model.
set -u
cd "$(dirname "$0")/.."
DATA=${DATA:-data/fashion-mnist.h5} EPOCHS=${EPOCHS:-3} ROUNDS=${ROUNDS:-3} WINDOW=${WINDOW:-8192}
[ -f "$DATA" ] || { echo "bench_stream: $DATA not found (scripts/setup.sh makes Fashion-MNIST); skipped"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 STRATA_PROGRESS=never
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo} OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for round in $(seq "$ROUNDS"); do
  for kind in shuffle windowed streamed; do
    extra=()
    [ $kind != shuffle ] && extra=(--set data.order=windowed --set "data.window_rows=$WINDOW")
    [ $kind = streamed ] && extra+=(--set data.stream=true)
    mpirun -np 2 --bind-to none bin/strata train configs/fashion_mlp.json --set "data.path=$DATA" --set "results_dir=$work" \
      --set "name=$kind$round" --set train.epochs=$EPOCHS --set early_stopping.enabled=false --set train.threads=1 \
      --set checkpoint.every_epochs=0 "${extra[@]}" > "$work/$kind$round.log" 2>&1 || { tail -5 "$work/$kind$round.log"; exit 1; }
  done
done
grep -h "^streamed:" "$work/streamed1.log"
/usr/bin/python3 - "$work" "$ROUNDS" "$DATA" "$WINDOW" <<'PY'
import json, os, statistics, sys
work, rounds, data, window = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def rates(kind):
    out = []
    for r in range(1, rounds + 1):
        h = [json.loads(l) for l in open(os.path.join(work, f"{kind}{r}", "history.jsonl"))][1:]
        out += [x["samples_per_s"] for x in h]
    return statistics.median(out), out
(shuf, a), (win, b), (stream, c) = rates("shuffle"), rates("windowed"), rates("streamed")
print(f"{data}, blocks of {window} rows, 2 ranks x 1 thread, median of {len(a)} epochs each")
print(f"{'order':<30} {'samples/s':>10}   (every epoch after the first)")
for name, v, all_ in (("shuffle, in memory", shuf, a), ("windowed, in memory", win, b), ("windowed, streamed", stream, c)):
    print(f"{name:<30} {v:>10.0f}   {' '.join(str(round(x)) for x in all_)}")
ratio = stream / win
print(f"streamed / windowed in memory: {ratio:.3f}; windowed / shuffle: {win / shuf:.3f} (target: streamed >= 0.90)")
os.makedirs("build/bench", exist_ok=True)
with open("build/bench/bench_stream.json", "w") as f:
    json.dump({"data": data, "window_rows": window, "shuffle_samples_per_s": round(shuf),
               "windowed_samples_per_s": round(win), "streamed_samples_per_s": round(stream),
               "ratio": round(ratio, 3), "target_met": ratio >= 0.90}, f)
PY
