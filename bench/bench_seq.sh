#!/usr/bin/env bash
# bench_seq.sh — issue 14's sequence models A, B, C (configs/fashion_seq_*.json) at 1 and 2
# threads: strata's training and inference samples/s against their GEMM-only ceiling (target
# >= 75%) and against PyTorch (bench/torch_seq.py, the same models, batch and optimizer), with
# each model's per-layer profile and the kernels each side ran. build/bench/bench_seq measures
# strata (see bench/bench_seq.c); this script runs it and PyTorch one after the other, prints a
# summary and writes build/bench/bench_seq.json (bench/summary.sh reads it).
#
#   bench/bench_seq.sh [STEPS]     (default 10 timed steps per run, after 3 warm-up for strata
#                                   and 5 for PyTorch; MODELS="A B C", THREADS="1 2" to narrow)
#
# About 70 s on this 2-core machine at 10 steps. The runs are sequential (never two benchmarks at
# once: the machine has 2 cores), each capped at $LIMIT s.
set -u
cd "$(dirname "$0")/.."
STEPS=${1:-10}
LIMIT=${LIMIT:-120}
MODELS=${MODELS:-"A B C"}
THREADS=${THREADS:-"1 2"}
PY=/usr/bin/python3
[ -x build/bench/bench_seq ] || { echo "bench_seq: build/bench/bench_seq not built (make build/bench/bench_seq); skipped"; exit 0; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
torch=1
"$PY" -c 'import torch' 2>/dev/null || { echo "bench_seq: PyTorch not importable by $PY (apt-get install python3-torch): PyTorch columns skipped"; torch=0; }
# PyTorch calls the system libblas.so.3 (Debian: the same BLIS strata links). On an AVX-512 CPU
# strata selects BLIS's skx kernels itself, so PyTorch's BLIS is forced to them too
# (bench_vs_torch.sh does the same); elsewhere both keep BLIS's own choice (zen3 on Zen 3).
torch_arch=(env -u BLIS_ARCH_TYPE)
grep -qw avx512f /proc/cpuinfo && torch_arch=(env BLIS_ARCH_TYPE=0)
echo "bench_seq: models $MODELS at threads $THREADS, $STEPS timed steps per run; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

for M in $MODELS; do
  for T in $THREADS; do
    echo "== strata, model $M, $T thread(s)"
    env -u BLIS_ARCH_TYPE OMP_NUM_THREADS=$T BLIS_NUM_THREADS=$T timeout "$LIMIT" \
      build/bench/bench_seq "$M" "$T" "$STEPS" "$work/strata_${M}_$T.json"
    rc=$?; [ $rc = 124 ] && { echo "bench_seq: bench_seq $M $T took over ${LIMIT}s (machine busy? 2 cores); skipped"; exit 0; }
    [ $rc = 0 ] || { echo "bench_seq: bench_seq $M $T failed (exit $rc)"; exit 1; }
    [ $torch = 1 ] || continue
    "${torch_arch[@]}" OMP_NUM_THREADS=$T BLIS_NUM_THREADS=$T timeout "$LIMIT" \
      "$PY" bench/torch_seq.py "$M" "$T" "$STEPS" > "$work/torch_${M}_$T.json" 2> "$work/torch.err"
    rc=$?; [ $rc = 124 ] && { echo "bench_seq: torch_seq.py $M $T took over ${LIMIT}s (machine busy? 2 cores); skipped"; exit 0; }
    [ $rc = 0 ] || { echo "bench_seq: torch_seq.py $M $T failed:"; tail -5 "$work/torch.err"; exit 1; }
  done
done

"$PY" - "$work" "$STEPS" "$(cut -d' ' -f1-3 /proc/loadavg)" $MODELS -- $THREADS <<'EOF'
import json, os, sys
work, steps, load = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rest = sys.argv[4:]
models, threads = rest[:rest.index("--")], [int(t) for t in rest[rest.index("--") + 1:]]

def load_json(path):
    """A JSON file, or its last line (torch_seq.py prints one JSON line); None when missing."""
    try:
        with open(path) as f:
            text = f.read()
        try:
            return json.loads(text)
        except ValueError:
            return json.loads(text.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None

out = {"steps": steps, "batch": 128, "target_fraction": 0.75, "load_after": load, "runs": []}
print(f"\nsequence models, batch 128, median of {steps} steps; strata/ceiling target >= 75%; load after: {load}")
print(f"{'model':>5} {'thr':>3} | {'train/s':>8} {'ceil/s':>8} {'%ceil':>6} {'PyTorch':>8} {'x PT':>5} | "
      f"{'infer/s':>8} {'ceil/s':>8} {'%ceil':>6} {'PyTorch':>8} {'x PT':>5}")
kernels = None
for m in models:
    for t in threads:
        s = load_json(f"{work}/strata_{m}_{t}.json")
        if not s:
            continue
        p = load_json(f"{work}/torch_{m}_{t}.json")
        run = {k: s[k] for k in ("model", "config", "threads", "parameters", "blis_kernels", "own_loops")}
        row = [f"{m:>5} {t:>3} |"]
        for phase in ("train", "infer"):
            f = s[phase]
            run[phase] = dict(f)
            pt = p[f"{phase}_samples_per_s"] if p else None
            run[phase]["pytorch_samples_per_s"] = round(pt, 1) if pt else None
            run[phase]["ratio_vs_pytorch"] = round(f["samples_per_s"] / pt, 3) if pt else None
            row.append(f"{f['samples_per_s']:>8.0f} {f['ceiling_samples_per_s']:>8.0f} {100 * f['fraction_of_ceiling']:>5.0f}% "
                       + (f"{pt:>8.0f} {f['samples_per_s'] / pt:>5.2f}" if pt else f"{'-':>8} {'-':>5}") + " |")
        run["layers"] = s["layers"]
        run["zero_ms"], run["update_ms"] = s["zero_ms"], s["update_ms"]
        if p:
            run["pytorch"] = {k: p[k] for k in ("torch", "onednn", "blas", "blas_library", "kernels")}
        out["runs"].append(run)
        print(" ".join(row).rstrip(" |"))
        if kernels is None:
            kernels = (s, p)
if kernels:
    s, p = kernels
    print(f"strata kernels: GEMMs BLIS {s['blis_kernels']}; the rest own OpenMP loops: the ST_CLONES ones "
          f"(BatchNorm training, relu, dropout, Adam, norms, LSTM/GRU gates, max-pool) as {s['own_loops']}, "
          f"the others (im2col/col2im copies, BatchNorm eval, SE, bias sums) in the baseline x86-64 build")
for m in models:
    p = load_json(f"{work}/torch_{m}_{threads[0]}.json")
    if p:
        ops = ", ".join(f"{k} x{v[0]} ({v[2]})" for k, v in p["kernels"].items())
        print(f"PyTorch {p['torch']} kernels, model {m}: {ops}; BLAS {p['blas_library']} (BLAS_INFO={p['blas']}), "
              f"oneDNN {'available' if p['onednn'] else 'not available'}")
if not any(r.get("pytorch") for r in out["runs"]):
    print("PyTorch: skipped (not importable)")
met = [r[ph]["target_met"] for r in out["runs"] for ph in ("train", "infer")]
print(f"strata / GEMM ceiling >= 75%: {sum(met)} of {len(met)} (model x threads x train/infer) met")
os.makedirs("build/bench", exist_ok=True)
with open("build/bench/bench_seq.json", "w") as f:
    json.dump(out, f, indent=1)
EOF
