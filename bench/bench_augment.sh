#!/usr/bin/env bash
# bench_augment.sh — the cost of on-the-fly augmentation (docs/augmentation.md): the default
# Fashion-MNIST job (configs/fashion_mlp.json) at 2 ranks x 1 thread, plain and with gaussian_noise
# (0.1 of each feature's std) + scale (0.9-1.1), runs alternated (plain, augmented, plain,
# augmented) so that a busy machine hurts both alike. Prints samples/s (median of the epochs after
# the first, over both runs of a kind) and the ratio augmented / plain; writes
# build/bench/bench_augment.json. Target: cost <= 10% (ratio >= 0.90). Needs data/fashion-mnist.h5.
set -u
cd "$(dirname "$0")/.."
[ -f data/fashion-mnist.h5 ] || { echo "bench_augment: data/fashion-mnist.h5 not found (scripts/setup.sh makes it); skipped"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 STRATA_PROGRESS=never
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo} OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
EPOCHS=${EPOCHS:-3}
AUG='augment=[{"op":"gaussian_noise","sigma_fraction_of_std":0.1},{"op":"scale","min":0.9,"max":1.1}]'
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for round in 1 2; do
  for kind in plain augmented; do
    extra=(); [ $kind = augmented ] && extra=(--set "$AUG")
    mpirun -np 2 --bind-to core bin/strata train configs/fashion_mlp.json --set "results_dir=$work" --set "name=$kind$round" \
      --set train.epochs=$EPOCHS --set early_stopping.enabled=false --set train.threads=1 "${extra[@]}" \
      > "$work/$kind$round.log" 2>&1 || { tail -5 "$work/$kind$round.log"; exit 1; }
  done
done
/usr/bin/python3 - "$work" <<'PY'
import json, os, statistics, sys
work = sys.argv[1]
def rates(kind):
    out = []
    for r in (1, 2):
        h = [json.loads(l) for l in open(os.path.join(work, f"{kind}{r}", "history.jsonl"))][1:]
        out += [x["samples_per_s"] for x in h]
    return statistics.median(out)
plain, aug = rates("plain"), rates("augmented")
ratio = aug / plain
print(f"{'job':<34} {'samples/s':>10}")
print(f"{'fashion_mlp, plain':<34} {plain:>10.0f}")
print(f"{'+ gaussian_noise + scale':<34} {aug:>10.0f}")
print(f"ratio augmented / plain: {ratio:.3f} (cost {100 * (1 - ratio):.1f}%; target: cost <= 10%, ratio >= 0.90)")
os.makedirs("build/bench", exist_ok=True)
with open("build/bench/bench_augment.json", "w") as f:
    json.dump({"plain_samples_per_s": round(plain), "augmented_samples_per_s": round(aug), "ratio": round(ratio, 3),
               "target_met": ratio >= 0.90}, f)
PY
