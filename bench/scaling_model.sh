#!/usr/bin/env bash
# scaling_model.sh — measures what the scaling model needs and prints its prediction:
#   (a) compute per step of the Fashion-MNIST MLP at batch 256 per rank (bench_step, 1 thread),
#   (b) MPI_Allreduce at 2 ranks over shared memory and over TCP loopback (bench_allreduce),
# then bench/scaling_model.py fits α/β per transport and predicts the parallel efficiency at
# 2-256 nodes on 10/25/100 Gb/s networks. Writes build/bench/scaling_model.json. The model and
# its assumptions: docs/performance.md, "Scaling model". Runs are sequential (2 cores).
set -u
cd "$(dirname "$0")/.."
for b in build/bench/bench_step build/bench/bench_allreduce; do
  [ -x "$b" ] || { echo "scaling_model: $b not built (make $b); skipped"; exit 0; }
done
command -v mpirun >/dev/null || { echo "scaling_model: mpirun not found; skipped"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo} OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p build/bench

timeout 60 build/bench/bench_step 1 60 > "$work/step.txt" 2>&1 && cp build/bench/bench_step.json "$work/step.json" \
  || { echo "scaling_model: bench_step 1 60 failed or took over 60 s:"; tail -5 "$work/step.txt"; exit 1; }
timeout 60 mpirun -np 2 --bind-to none build/bench/bench_allreduce "$work/shm.json" > "$work/shm.txt" 2>&1 \
  || { echo "scaling_model: all-reduce over shared memory failed:"; tail -5 "$work/shm.txt"; exit 1; }
timeout 60 mpirun -np 2 --bind-to none --mca pml ob1 --mca btl tcp,self build/bench/bench_allreduce "$work/tcp.json" > "$work/tcp.txt" 2>&1 \
  || { echo "scaling_model: all-reduce over TCP loopback failed:"; tail -5 "$work/tcp.txt"; exit 1; }
echo "-- all-reduce, shared memory:"; sed -n '3,$p' "$work/shm.txt"
echo "-- all-reduce, TCP loopback:"; sed -n '3,$p' "$work/tcp.txt"
/usr/bin/python3 bench/scaling_model.py "$work/step.json" "$work/shm.json" "$work/tcp.json" build/bench/scaling_model.json
