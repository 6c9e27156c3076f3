#!/usr/bin/env bash
# bench_net.sh — data-parallel communication over a real network stack (slurm/netns.sh: hosts
# made of network namespaces, Open MPI over TCP, no shared memory), next to the α–β model:
#   (a) MPI_Allreduce of 64 KiB, 1 MiB, the fashion_mlp gradient (568,330 floats) and a 10x wider
#       one (bench_allreduce, one rank per host) at 2 and 4 hosts, links unshaped, 10 and 1 Gb/s
#       (4 ranks share the 2 cores of this machine: fine for a communication benchmark);
#   (b) training samples/s of configs/fashion_mlp.json on data/fashion-mnist.h5, 2 hosts x 1
#       thread, at each rate (epoch 2 of 2: the first carries start-up effects);
#   (c) at 2 hosts the all-reduce again with recursive doubling forced, and at every point the
#       base latency (bench/mpi_pingpong.c: 8-byte ping-pong and all-reduce);
#   (d) the same through net_relay with 0, 20 and 100 µs of link delay (DELAYS), 1 Gb/s;
#   (e) bench/scaling_model.py net: the model's prediction for each measured point.
# Link delay (20 / 100 µs): this kernel has no sch_netem, so (d) runs them through net_relay
# (bench/net_relay.c, `slurm/netns.sh up --delay`), a userspace switch, at DELAY_RATE (1 Gb/s: the
# relay itself moves about 1 Gb/s here), with a 0 µs baseline through the same relay.
# Writes build/bench/bench_net.json (+ build/bench/bench_net_model.json). Run by `make bench-net`;
# docs/scaling.md shows the results. RATES / HOSTS / TRAIN_RATES override the lists.
set -u
cd "$(dirname "$0")/.."
out=build/bench/bench_net.json
[ -x build/bench/bench_allreduce ] && [ -x build/bench/mpi_pingpong ] && [ -x bin/strata ] ||
  { echo "bench_net: make all build/bench/bench_allreduce build/bench/mpi_pingpong first"; exit 1; }
why=$(slurm/netns.sh probe 2>&1) || { echo "bench_net: skipped, no network namespaces here: $why"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1 STRATA_PROGRESS=never
unset STRATA_FAULT
work=$(mktemp -d)
export STRATA_NETNS_DIR=$work/netns
trap 'slurm/netns.sh down > /dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -p build/bench
RATES=${RATES:-"none 10gbit 1gbit"}
HOSTS=${HOSTS:-"2 4"}
TRAIN_RATES=${TRAIN_RATES:-$RATES}
# Open MPI's choice ("default": ring for these sizes) and, at 2 hosts, recursive doubling (3).
ALGS=${ALGS:-"default 3"}
DELAYS=${DELAYS:-"0us 20us 100us"}
DELAY_RATE=${DELAY_RATE:-1gbit}
# Ranks yield when idle: 4 busy-polling ranks on 2 shared cores otherwise measure the scheduler
# (64 KiB took 42 ms at 4 hosts without it, under a load average of 11).
MPI=(--bind-to none --mca mpi_yield_when_idle 1)
data=data/fashion-mnist.h5
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

entries=()
for p in $HOSTS; do
  for rate in $RATES; do
    slurm/netns.sh up "$p" --rate "$rate" > "$work/up.log" 2>&1 || { cat "$work/up.log"; exit 1; }
    for alg in $ALGS; do
      [ "$alg" != default ] && [ "$p" != 2 ] && continue
      mca=(); [ "$alg" != default ] && mca=(--mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm "$alg")
      if timeout 300 slurm/netns.sh run -- -np "$p" "${MPI[@]}" "${mca[@]}" build/bench/bench_allreduce "$work/ar.json" > "$work/ar.txt" 2>&1 &&
         timeout 120 slurm/netns.sh run -- -np "$p" "${MPI[@]}" build/bench/mpi_pingpong "$work/pp.json" > "$work/pp.txt" 2>&1; then
        echo "-- all-reduce, $p hosts, rate $rate, algorithm $alg:"; sed -n '3,8p' "$work/ar.txt"; cat "$work/pp.txt"
        entries+=("{\"hosts\": $p, \"rate\": \"$rate\", \"algorithm\": \"$alg\", \"latency\": $(cat "$work/pp.json"), \"allreduce\": $(cat "$work/ar.json")}")
      else
        echo "bench_net: all-reduce at $p hosts, $rate, algorithm $alg failed:"; tail -5 "$work/ar.txt" "$work/pp.txt"
      fi
    done
    slurm/netns.sh down > /dev/null 2>&1
  done
done

# Link delay through net_relay (slurm/netns.sh up --delay: a userspace switch, this kernel has no
# netem) at DELAY_RATE; 0us is the relay's own baseline.
delays=()
if [ -x build/bench/net_relay ]; then
  for p in $HOSTS; do
    for d in $DELAYS; do
      slurm/netns.sh up "$p" --rate "$DELAY_RATE" --delay "$d" > "$work/up.log" 2>&1 || { cat "$work/up.log"; exit 1; }
      if timeout 300 slurm/netns.sh run -- -np "$p" "${MPI[@]}" build/bench/bench_allreduce "$work/ar.json" > "$work/ar.txt" 2>&1 &&
         timeout 120 slurm/netns.sh run -- -np "$p" "${MPI[@]}" build/bench/mpi_pingpong "$work/pp.json" > "$work/pp.txt" 2>&1; then
        echo "-- all-reduce through net_relay, $p hosts, rate $DELAY_RATE, delay $d:"; sed -n '3,7p' "$work/ar.txt"; cat "$work/pp.txt"
        delays+=("{\"hosts\": $p, \"rate\": \"$DELAY_RATE\", \"delay_us\": ${d%us}, \"latency\": $(cat "$work/pp.json"), \"allreduce\": $(cat "$work/ar.json")}")
      else
        echo "bench_net: all-reduce through net_relay at $p hosts, delay $d failed:"; tail -5 "$work/ar.txt" "$work/pp.txt"
      fi
      slurm/netns.sh down > /dev/null 2>&1
    done
  done
else
  echo "bench_net: build/bench/net_relay not built (make build/bench/net_relay): no delay points"
fi

train=()
if [ -f "$data" ]; then
  for rate in $TRAIN_RATES; do
    slurm/netns.sh up 2 --rate "$rate" > "$work/up.log" 2>&1 || { cat "$work/up.log"; exit 1; }
    rm -rf "$work/results"
    if timeout 600 slurm/netns.sh run -- -np 2 "${MPI[@]}" bin/strata train configs/fashion_mlp.json --set "data.path=$data" \
        --set train.epochs=2 --set train.threads=1 --set "results_dir=$work/results" --set name=net > "$work/train.txt" 2>&1; then
      sps=$(/usr/bin/python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['samples_per_s'])" \
            "$work/results/net/history.jsonl")
      echo "-- training, 2 hosts x 1 thread, rate $rate: $sps samples/s (epoch 2)"
      train+=("{\"hosts\": 2, \"threads\": 1, \"rate\": \"$rate\", \"samples_per_s\": $sps}")
    else
      echo "bench_net: training at $rate failed:"; tail -5 "$work/train.txt"
    fi
    slurm/netns.sh down > /dev/null 2>&1
  done
else
  echo "bench_net: $data missing (link /work/main/data/fashion-mnist.h5 there): no training figures"
fi

join() { local IFS=,; echo "$*"; }
cat > "$out" << EOF
{"load_before": "$load_before", "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)", "cpus": $(grep -c ^processor /proc/cpuinfo),
 "delay": {"netem": false, "how": "build/bench/net_relay, a userspace switch between TAP devices"},
 "points": [$(join "${entries[@]}")],
 "delay_points": [$(join "${delays[@]}")],
 "training": [$(join "${train[@]}")]}
EOF
echo "bench_net: wrote $out (load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg))"
/usr/bin/python3 bench/scaling_model.py net "$out" build/bench/bench_net_model.json
