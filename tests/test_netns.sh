#!/usr/bin/env bash
# test_netns.sh — strata on two "hosts" over a real network stack (slurm/netns.sh: network
# namespaces h0, h1 joined by veth pairs and a bridge, Open MPI over TCP on hnet0, no shared
# memory): a 2-rank training (one rank per host) trains, its run.json names hosts h0 and h1, and
# the bytes that crossed hnet0 are at least one MLP gradient per step. Then the failure run: h1's
# link is cut mid-run with train.stall_timeout 10 → the job ends non-zero within the timeout plus a
# margin, and the message names rank 1 and h1 (heartbeats, core/heartbeat.h); `--resume auto` on
# one host finishes bitwise equal to the uninterrupted run (reproducible: exact); 100 µs of link
# delay through net_relay shows in the ping-pong latency. Prints TAP; a skip with the reason when
# namespaces cannot be made here.
cd "$(dirname "$0")/.." && . tests/util/tap.sh
tap_need_python h5py numpy -- training data for the namespace run
why=$(slurm/netns.sh probe 2>&1) || { echo "1..0 # SKIP no network namespaces here: $why"; exit 0; }
export STRATA_NETNS_DIR=$work/netns
trap 'slurm/netns.sh down > /dev/null 2>&1; rm -rf "$work"' EXIT
echo "1..7"

/usr/bin/python3 tests/util/make_small.py "$work/small.h5" 4096 784 10
# fashion_mlp's layers (568,330 parameters with the dense biases BatchNorm absorbs), 12 steps an epoch.
cat > "$work/net.json" << EOF
{"name": "straight", "seed": 1, "reproducible": "exact",
 "data": {"path": "$work/small.h5", "scale_pixels": true, "shards": 4},
 "model": {"layers": [
   {"type": "dense", "units": 512}, {"type": "batchnorm"}, {"type": "relu"},
   {"type": "dense", "units": 256}, {"type": "batchnorm"}, {"type": "relu"},
   {"type": "dense", "units": 128}, {"type": "batchnorm"}, {"type": "relu"},
   {"type": "dense", "units": "classes"}]},
 "optimizer": {"type": "adamw", "lr": 1e-3},
 "train": {"epochs": 6, "batch_size": 256, "threads": 1, "stall_timeout": 10, "log_every": 0},
 "checkpoint": {"every_epochs": 1, "keep_last": 0},
 "results_dir": "$work/results"}
EOF
ARENA_BYTES=$((568330 * 4)); STEPS=$((6 * 12))

slurm/netns.sh up 2 --rate 10gbit > "$work/log" 2>&1
ok $? "slurm/netns.sh up 2 --rate 10gbit: hosts h0 and h1 on hnet0"
tx_bytes() { slurm/netns.sh exec "$1" -- awk '/hnet0:/ { print $10 }' /proc/net/dev; }

before=$(tx_bytes h0)
timeout 120 slurm/netns.sh run -- -np 2 --bind-to none bin/strata train "$work/net.json" > "$work/log" 2>&1
rc=$?
sent=$(( $(tx_bytes h0) - before ))
hosts=$(/usr/bin/python3 -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))['hosts']))" "$work/results/straight/run.json" 2>&1)
[ $rc = 0 ] && has "test accuracy" && [ "$hosts" = "h0 h1" ]
ok $? "2 ranks, one per namespace, trained; run.json hosts: $hosts"
# Exact mode all-reduces each rank's shard sums, about 2 arenas a step; at least 1 must cross.
[ "$sent" -ge $((STEPS * ARENA_BYTES)) ] && [ "$sent" -le $((4 * STEPS * ARENA_BYTES)) ]
ok $? "h0 sent $sent bytes on hnet0 in $STEPS steps: $((sent * 10 / (STEPS * ARENA_BYTES)))/10 of a $ARENA_BYTES-byte gradient a step (1 to 4 expected)"

# The failure run: cut h1's link once two epochs are checkpointed.
timeout 120 slurm/netns.sh run -- -np 2 --bind-to none bin/strata train "$work/net.json" --set name=cut > "$work/log" 2>&1 &
job=$!
for _ in $(seq 300); do [ -f "$work/results/cut/checkpoints/step-000000024.h5" ] && break; sleep 0.1; done
mid_run=1; kill -0 $job 2> /dev/null && [ -f "$work/results/cut/checkpoints/step-000000024.h5" ] && mid_run=0
slurm/netns.sh cut h1 2>> "$work/cut.log"
t0=$(date +%s%N)
wait $job
rc=$?
secs=$(( ($(date +%s%N) - t0) / 1000000000 ))
[ $mid_run = 0 ] && [ $rc != 0 ] && [ $rc != 124 ] && [ $secs -le 25 ]
ok $? "link of h1 cut mid-run: the job ended (exit $rc) $secs s later (stall_timeout 10 s + at most 15 s)"
grep -q "stalled: .*no heartbeat from rank 1 on h1" "$work/log"
ok $? "the message names rank 1 on h1: $(grep -o 'no heartbeat from [^;]*' "$work/log" | head -1)"

# Resume on one host (h0 alone, one rank): finishes bitwise equal to the uninterrupted run.
timeout 120 slurm/netns.sh exec h0 -- bin/strata train "$work/net.json" --set name=cut --resume auto > "$work/log" 2>&1 &&
  /usr/bin/python3 tests/util/compare_runs.py "$work/results/straight" "$work/results/cut" >> "$work/log" 2>&1
ok $? "--resume auto on 1 of the 2 hosts ends bitwise equal to the uninterrupted 2-host run"

# Link delay through net_relay (up --delay; no netem here): 100 µs more on the link shows in the
# one-way latency (8-byte ping-pong) as at least 80 µs more than through the relay without delay.
if [ -x build/bench/net_relay ] && [ -x build/bench/mpi_pingpong ]; then
  one_way() {
    slurm/netns.sh down > /dev/null 2>&1
    slurm/netns.sh up 2 --delay "$1" > "$work/log" 2>&1 &&
      timeout 60 slurm/netns.sh run -- -np 2 --bind-to none build/bench/mpi_pingpong >> "$work/log" 2>&1 &&
      sed -n 's/.*one-way latency (8 B ping-pong, ranks 0-1) \([0-9.]*\) us.*/\1/p' "$work/log"
  }
  base=$(one_way 0us); slow=$(one_way 100us)
  awk -v a="$base" -v b="$slow" 'BEGIN { exit !(a > 0 && b - a >= 80) }'
  ok $? "--delay 100us through net_relay: one-way latency ${base:-?} -> ${slow:-?} us"
else
  n=$((n+1)); echo "ok $n # SKIP build/bench/net_relay and build/bench/mpi_pingpong not built (make build/bench/net_relay build/bench/mpi_pingpong)"
fi
exit $fail
