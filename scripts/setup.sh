#!/usr/bin/env bash
# setup.sh — README command 1: install what is missing, build, show what strata will run on, and
# convert the default dataset (Debian's Fashion-MNIST: 60,000 train + 10,000 test images, 10
# classes) into data/fashion-mnist.h5 unless it is already there; then inspect it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)"
bin/strata info

FM=/usr/share/datasets/fashion-mnist
OUT=data/fashion-mnist.h5
if [ -f "$OUT" ]; then
  echo "setup: $OUT exists (delete it to convert again)"
else
  mkdir -p data
  bin/strata convert idx "$FM/train-images-idx3-ubyte.gz" "$FM/train-labels-idx1-ubyte.gz" \
    --test-images "$FM/t10k-images-idx3-ubyte.gz" --test-labels "$FM/t10k-labels-idx1-ubyte.gz" \
    --class-names "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot" \
    -o "$OUT"
fi
bin/strata inspect "$OUT"
