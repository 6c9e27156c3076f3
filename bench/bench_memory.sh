#!/usr/bin/env bash
# bench_memory.sh — peak resident memory per rank at P = 1, 2, 4 on Fashion-MNIST:
#
#   (a) the data pipeline alone: `mpirun -np P build/bench/bench_data` (sharding/data.h: labels,
#       split, shards, two-phase read, standardisation, batch 256); per rank: the bytes of its
#       rows, its peak RSS (VmHWM), its RSS before loading and once loaded (VmRSS);
#   (b) a real run: `strata train configs/fashion_mlp.json --stop-after-steps 5`, 1 thread per
#       rank, each rank's peak RSS as GNU time reports it (skipped without /usr/bin/time).
#
# Prints both tables, with the ratio to P=1 and whether a rank's data memory follows its share
# (1/P); writes build/bench/bench_memory.json. Runs one after the other (2 cores: P=4 is
# oversubscribed, which costs time, not memory). Needs data/fashion-mnist.h5 (scripts/setup.sh).
set -u
cd "$(dirname "$0")/.."
RANKS=${RANKS:-"1 2 4"}
[ -f data/fashion-mnist.h5 ] || { echo "bench_memory: data/fashion-mnist.h5 not found (scripts/setup.sh makes it); skipped"; exit 0; }
[ -x build/bench/bench_data ] || { echo "bench_memory: build/bench/bench_data not built (make build/bench/bench_data); skipped"; exit 0; }
command -v mpirun >/dev/null || { echo "bench_memory: mpirun not found; skipped"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 STRATA_PROGRESS=never
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo} OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
unset STRATA_FAULT STRATA_TRACE
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mpi() { local P=$1; shift; timeout 300 mpirun -np "$P" --oversubscribe --bind-to none "$@"; }

for P in $RANKS; do
  mpi "$P" build/bench/bench_data data/fashion-mnist.h5 256 > "$work/data$P.txt" 2>&1 \
    || { echo "bench_memory: bench_data at P=$P failed:"; tail -5 "$work/data$P.txt"; exit 1; }
done

train_ok=0
if [ -x bin/strata ] && [ -x /usr/bin/time ]; then
  train_ok=1
  for P in $RANKS; do
    # Each rank under GNU time: its peak RSS (KiB) goes to rss$P.<rank>.
    mpi "$P" sh -c 'exec /usr/bin/time -f %M -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' "$work/rss$P" \
      bin/strata train configs/fashion_mlp.json --stop-after-steps 5 --set train.threads=1 \
      --set "results_dir=$work/results" --set "name=mem$P" > "$work/train$P.log" 2>&1 \
      || { echo "bench_memory: strata train at P=$P failed:"; tail -5 "$work/train$P.log"; exit 1; }
  done
else
  echo "bench_memory: bin/strata or /usr/bin/time missing: the strata train table is skipped"
fi

mkdir -p build/bench
/usr/bin/python3 - "$work" "$train_ok" $RANKS <<'EOF'
import glob, json, re, sys
work, train_ok, ranks = sys.argv[1], sys.argv[2] == "1", [int(p) for p in sys.argv[3:]]
line = re.compile(r"rank (\d+): train (\d+) \+ val (\d+) \+ test (\d+) rows, data ([\d.]+) MiB, "
                  r"peak RSS ([\d.]+) MiB \(([\d.]+) MiB before loading, ([\d.]+) MiB after\)")
data = {}
for P in ranks:
    text = open(f"{work}/data{P}.txt").read()
    rows = [m.groups() for m in line.finditer(text)]
    if len(rows) != P:
        sys.exit(f"bench_memory: could not parse bench_data's output at P={P}:\n{text}")
    load = re.search(r"load ([\d.]+) s", text)
    data[P] = {"load_s": float(load.group(1)) if load else None,
               "ranks": [{"rank": int(r[0]), "rows": int(r[1]) + int(r[2]) + int(r[3]), "data_mib": float(r[4]),
                          "peak_rss_mib": float(r[5]), "rss_before_mib": float(r[6]), "rss_loaded_mib": float(r[7])}
                         for r in rows]}
def agg(P, key, f): return f(r[key] for r in data[P]["ranks"])
p1 = ranks[0]
print("data pipeline (build/bench/bench_data, data/fashion-mnist.h5, batch 256): MiB per rank")
print(f"{'P':>2} {'data':>7} {'data x P':>9} {'peak RSS max':>13} {'min':>7} {'peak vs P=' + str(p1):>11} "
      f"{'loaded RSS':>11} {'(peak-base)/data':>17} {'(loaded-base)/data':>19}")
out = {"dataset": "data/fashion-mnist.h5", "batch_size": 256, "data_pipeline": [], "strata_train": []}
for P in ranks:
    d = agg(P, "data_mib", max)
    peak_max, peak_min = agg(P, "peak_rss_mib", max), agg(P, "peak_rss_mib", min)
    base = agg(P, "rss_before_mib", max)
    loaded = agg(P, "rss_loaded_mib", max)
    peak_over = round(max((r["peak_rss_mib"] - r["rss_before_mib"]) / r["data_mib"] for r in data[P]["ranks"]), 3)
    loaded_over = round(max((r["rss_loaded_mib"] - r["rss_before_mib"]) / r["data_mib"] for r in data[P]["ranks"]), 3)
    ratio = peak_max / agg(p1, "peak_rss_mib", max)
    print(f"{P:>2} {d:7.1f} {d * P:9.1f} {peak_max:13.1f} {peak_min:7.1f} {ratio:11.2f} {loaded:11.1f} "
          f"{peak_over:17.2f} {loaded_over:19.2f}")
    out["data_pipeline"].append({"ranks": P, "data_mib_per_rank": d, "data_mib_times_p": round(d * P, 1),
                                 "peak_rss_mib_max": peak_max, "peak_rss_mib_min": peak_min, "peak_ratio_to_p1": round(ratio, 3),
                                 "rss_before_mib_max": base, "rss_loaded_mib_max": loaded,
                                 "peak_over_base_per_data": peak_over, "loaded_over_base_per_data": loaded_over,
                                 "load_s": data[P]["load_s"], "per_rank": data[P]["ranks"]})
rows = out["data_pipeline"]
share = all(abs(r["data_mib_times_p"] / rows[0]["data_mib_times_p"] - 1) < 0.02 for r in rows)
held = all(0.8 <= r["loaded_over_base_per_data"] <= 1.25 for r in rows)
# Loading costs a constant on top of the rows kept: one read piece (32 MiB), send staging (at most
# 16 MiB) and Open MPI's 32 MiB collective-I/O buffer; not a multiple of the share.
LOAD_OVERHEAD_MIB = 96
overheads = [r["peak_rss_mib_max"] - r["rss_loaded_mib_max"] for r in rows]
peak = all(o <= LOAD_OVERHEAD_MIB for o in overheads)
one = all(r["peak_over_base_per_data"] <= 1.25 for r in rows)
factors = ", ".join(f"{o:.0f} MiB at P={r['ranks']}" for o, r in zip(overheads, rows))
print(f"data bytes per rank follow the share 1/P (data x P constant within 2%): {'yes' if share else 'NO'}")
print(f"memory held once loaded follows the share ((loaded-base)/data in 0.8..1.25 at every P): {'yes' if held else 'NO'}")
print(f"peak while loading = the rows kept + a constant (peak - loaded RSS <= {LOAD_OVERHEAD_MIB} MiB: one 32 MiB read "
      f"piece, <= 16 MiB staging, MPI-IO's 32 MiB buffer): {'yes' if peak else 'NO'}; it is {factors}")
out["data_follows_share"], out["loaded_follows_share"], out["peak_follows_share"] = share, held, peak
out["peak_within_one_share"] = one

if train_ok:
    print("\nstrata train configs/fashion_mlp.json --stop-after-steps 5, 1 thread per rank: peak RSS per rank (GNU time)")
    print(f"{'P':>2} {'max MiB':>8} {'min MiB':>8} {'vs P=' + str(p1):>7}")
    first = None
    for P in ranks:
        kib = [int(open(f).read().split()[-1]) for f in sorted(glob.glob(f"{work}/rss{P}.*"))]
        if len(kib) != P:
            sys.exit(f"bench_memory: expected {P} GNU time reports at P={P}, found {len(kib)}")
        mx, mn = max(kib) / 1024, min(kib) / 1024
        first = first or mx
        print(f"{P:>2} {mx:8.1f} {mn:8.1f} {mx / first:7.2f}")
        out["strata_train"].append({"ranks": P, "peak_rss_mib_max": round(mx, 1), "peak_rss_mib_min": round(mn, 1),
                                    "ratio_to_p1": round(mx / first, 3), "per_rank_kib": kib})
with open("build/bench/bench_memory.json", "w") as f:
    json.dump(out, f, indent=1)
EOF
