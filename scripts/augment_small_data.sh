#!/usr/bin/env bash
# augment_small_data.sh [SEEDS] — the small-data experiment of docs/augmentation.md: the default
# MLP on 2,000 training images of Fashion-MNIST (scripts/make_fashion_small.py: 200 a class,
# 1,000 val, the full 10,000-row test split), plain vs configs/fashion_mlp_augment.json (noise +
# scale + feature dropout) vs the same with data.repeat 5 vs plain + mixup (alpha 0.2 and 0.4,
# p 1; docs/mixup.md), over SEEDS (default "0 1 2"). Prints
# each run's test accuracy and each arm's mean ± spread (half the range). 2 ranks × 1 thread.
set -u
cd "$(dirname "$0")/.."
SEEDS=${1:-0 1 2}
ARMS=${ARMS:-plain augment augment_repeat5 mixup_0.2 mixup_0.4}
[ -f data/fashion-mnist.h5 ] || { echo "data/fashion-mnist.h5 not found (scripts/setup.sh)"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 STRATA_PROGRESS=never OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo} OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
/usr/bin/python3 scripts/make_fashion_small.py data/fashion-mnist.h5 "$work/small.h5" > /dev/null || exit 1
acc() { sed -n 's/^test accuracy \([0-9.]*\)%.*/\1/p' "$1"; }
for arm in $ARMS; do
  for seed in $SEEDS; do
    cfg=configs/fashion_mlp_augment.json; extra=()
    case $arm in
      plain) cfg=configs/fashion_mlp.json ;;
      augment_repeat5) extra=(--set data.repeat=5) ;;
      mixup_*) cfg=configs/fashion_mlp.json; extra=(--set "mixup={\"alpha\":${arm#mixup_},\"p\":1}") ;;
    esac
    mpirun -np 2 --bind-to none bin/strata train $cfg --set "data.path=$work/small.h5" --set "results_dir=$work/r" \
      --set "name=$arm-$seed" --set seed=$seed --set train.threads=1 "${extra[@]}" > "$work/$arm-$seed.log" 2>&1 ||
      { echo "$arm seed $seed: exit $?"; tail -5 "$work/$arm-$seed.log"; exit 1; }
    echo "$arm seed $seed: test accuracy $(acc "$work/$arm-$seed.log")% ($(grep -c '^epoch' "$work/$arm-$seed.log") epochs)"
    echo "$arm $(acc "$work/$arm-$seed.log")" >> "$work/all"
  done
done
awk '{n[$1]++; s[$1]+=$2; if (!($1 in lo) || $2 < lo[$1]) lo[$1]=$2; if (!($1 in hi) || $2 > hi[$1]) hi[$1]=$2}
     END {for (a in n) printf "%-16s mean %.2f%% ± %.2f (min %.2f, max %.2f, %d seeds)\n", a, s[a]/n[a], (hi[a]-lo[a])/2, lo[a], hi[a], n[a]}' "$work/all" | sort
