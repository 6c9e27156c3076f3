#!/usr/bin/env bash
# test_bench_seq.sh — build/bench/bench_seq records the GEMMs it replays as the ceiling: for
# model C (configs/fashion_seq_bilstm.json: BiLSTM 128 on [28, 28], BiLSTM 128 final states,
# dense 10; batch 128) the calls and FLOPs of one training step and one inference forward are
# known from the layers' structure, and the per-layer profile must attribute every training GEMM
# to its layer. Timings are not checked (the machine is shared); only that they were taken.
# Skipped when build/bench/bench_seq is not built (make build/bench/bench_seq). Prints TAP.
set -u
cd "$(dirname "$0")/.." || exit 1
export OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1 STRATA_PROGRESS=never
[ -x build/bench/bench_seq ] || { echo "1..0 # SKIP build/bench/bench_seq not built (make build/bench/bench_seq)"; exit 0; }
work=$(mktemp -d /tmp/strata_bench_seq.XXXXXX)
trap 'rm -rf "$work"' EXIT
if ! build/bench/bench_seq C 1 1 "$work/c.json" > "$work/out.txt" 2>&1; then
  echo "1..1"; echo "not ok 1 - bench_seq C 1 1 runs"; sed 's/^/# /' "$work/out.txt"; exit 1
fi
/usr/bin/python3 - "$work/c.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
B, T, H, G, K = 128, 28, 128, 4 * 128, 10

def lstm(c_in, din):
    """(training calls, training flop, inference calls, inference flop) of a bidirectional lstm:
    per direction the input projection + T-1 recurrent GEMMs forward; T-1 dh GEMMs, dW_ih, dW_hh
    and din (unless the layer reads the model input) backward."""
    fwd = 2 * B * T * G * c_in + (T - 1) * 2 * B * G * H
    bwd = (T - 1) * 2 * B * H * G + 2 * G * c_in * B * T + 2 * G * H * B * T + (2 * B * T * c_in * G if din else 0)
    n_fwd, n_bwd = 1 + (T - 1), (T - 1) + 2 + (1 if din else 0)
    return 2 * (n_fwd + n_bwd), 2 * (fwd + bwd), 2 * n_fwd, 2 * fwd

l0, l1 = lstm(28, False), lstm(2 * H, True)
dense = (3, 3 * 2 * B * K * 2 * H, 1, 2 * B * K * 2 * H)
want_calls = [l0[0], l1[0], dense[0]]
checks = [
    ("training step: every st_sgemm call recorded", d["train"]["gemm_calls"] == sum(want_calls),
     f"{d['train']['gemm_calls']} calls, want {sum(want_calls)}"),
    ("training step: the GEMMs' FLOPs", abs(d["train"]["gemm_gflop"] - (l0[1] + l1[1] + dense[1]) / 1e9) < 1e-3,
     f"{d['train']['gemm_gflop']} GFLOP, want {(l0[1] + l1[1] + dense[1]) / 1e9:.4f}"),
    ("inference forward: every st_sgemm call recorded", d["infer"]["gemm_calls"] == l0[2] + l1[2] + dense[2],
     f"{d['infer']['gemm_calls']} calls, want {l0[2] + l1[2] + dense[2]}"),
    ("inference forward: the GEMMs' FLOPs", abs(d["infer"]["gemm_gflop"] - (l0[3] + l1[3] + dense[3]) / 1e9) < 1e-3,
     f"{d['infer']['gemm_gflop']} GFLOP, want {(l0[3] + l1[3] + dense[3]) / 1e9:.4f}"),
    ("per-layer profile: each layer's GEMMs attributed to it", [l["gemm_calls"] for l in d["layers"]] == want_calls,
     f"{[l['gemm_calls'] for l in d['layers']]}, want {want_calls}"),
    ("timings taken (step, ceiling, every layer's forward and backward)",
     d["train"]["ms"] > 0 and d["train"]["gemm_ms"] > 0 and d["infer"]["gemm_ms"] > 0
     and all(l["fwd_ms"] > 0 and l["bwd_ms"] > 0 and l["gemm_fwd_ms"] > 0 for l in d["layers"]), ""),
]
print(f"1..{len(checks)}")
bad = 0
for i, (name, ok, detail) in enumerate(checks, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    if not ok:
        bad += 1
        print(f"# {detail}")
sys.exit(1 if bad else 0)
EOF
