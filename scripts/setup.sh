#!/usr/bin/env bash
# setup.sh — README command 1: install what is missing, build, show what strata will run on,
# convert the default dataset (Debian's Fashion-MNIST: 60,000 train + 10,000 test images, 10
# classes) into data/fashion-mnist.h5 unless it is already there, inspect it, and train the
# default job (configs/fashion_mlp.json) on 2 MPI ranks into a new folder under results/.
# It ends with the test accuracy and the run folder's path.
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

# The default job on 2 ranks, one thread each; a new run folder each time setup runs.
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# One node: keep Open MPI's own connections on the loopback interface (override if you like).
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo} OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
name="fashion_mlp-$(date +%Y%m%d-%H%M%S)"
mpirun -np 2 --bind-to none bin/strata train configs/fashion_mlp.json --set "name=$name"
