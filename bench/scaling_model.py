#!/usr/bin/python3
"""scaling_model.py — predicted parallel efficiency of strata's data-parallel training (weak
scaling: fixed batch 256 per rank) from one measured step time and a ring all-reduce model.

    /usr/bin/python3 bench/scaling_model.py STEP_JSON SHM_JSON TCP_JSON [OUT_JSON]

STEP_JSON is bench_step's JSON (1 thread), SHM_JSON / TCP_JSON are bench_allreduce's JSON at 2
ranks over shared memory and over TCP loopback; bench/scaling_model.sh makes all three. Model and
assumptions: docs/performance.md, "Scaling model".

    T_allreduce(p, n) = 2(p-1)·α + 2(p-1)/p · n · β          (ring / Rabenseifner, n bytes)
    E(p)              = T_compute / (T_compute + T_allreduce(p))   (no overlap)

Measured here: α and β for each local transport, fitted to T(2, n) = 2α + n·β over the four sizes
(least squares on absolute time). Cluster networks: β_net = 8 / link bit rate (the
full line rate: optimistic), α = ALPHA_US per hop (default 3 µs; a cluster network is 2-5 µs).
"""
import json
import os
import sys

MLP_PARAMS = 568330
WIDE_FACTOR = 10
LINKS_GBPS = [10, 25, 100]
PS = [2, 4, 8, 16, 32, 64, 128, 256]
ALPHA_US = float(os.environ.get("ALPHA_US", "3"))
ALPHA_RANGE_US = (2.0, 5.0)


def fit(points):
    """Least squares T = a + b·n (absolute error, so the large sizes that matter for training
    dominate); a = 2α at p = 2, b = β (2(p-1)/p = 1). α is clamped at 0."""
    sw = swx = swy = swxx = swxy = 0.0
    for n, t in points:
        w = 1.0
        sw, swx, swy = sw + w, swx + w * n, swy + w * t
        swxx, swxy = swxx + w * n * n, swxy + w * n * t
    b = (sw * swxy - swx * swy) / (sw * swxx - swx * swx)
    a = (swy - b * swx) / sw
    return max(a, 0.0) / 2.0, b


def t_ring(p, nbytes, alpha, beta):
    return 2 * (p - 1) * alpha + 2.0 * (p - 1) / p * nbytes * beta


def main():
    step_js, shm_js, tcp_js = (json.load(open(f)) for f in sys.argv[1:4])
    out_path = sys.argv[4] if len(sys.argv) > 4 else "build/bench/scaling_model.json"
    t_step = step_js["step_ms"] * 1e-3
    t_gemm = step_js["gemm_ms"] * 1e-3
    mlp_bytes = MLP_PARAMS * 4
    models = {
        "MLP": {"params": MLP_PARAMS, "bytes": mlp_bytes, "t_compute": t_step, "t_ceiling": t_gemm},
        # 10x the parameters: dense-layer FLOPs (6·batch·params) and AdamW work scale with the
        # parameter count, so the compute per step is assumed 10x the measured one.
        "MLPx10": {"params": WIDE_FACTOR * MLP_PARAMS, "bytes": WIDE_FACTOR * mlp_bytes,
                   "t_compute": WIDE_FACTOR * t_step, "t_ceiling": WIDE_FACTOR * t_gemm},
    }

    print(f"compute per step, batch 256 per rank, 1 thread ({step_js.get('blis_kernels', '?')} kernels): "
          f"{t_step * 1e3:.2f} ms measured (its GEMMs alone {t_gemm * 1e3:.2f} ms)")
    fits = {}
    print("\nall-reduce at 2 ranks, T(2, n) = 2α + n·β fitted on 64 KiB..2.27 MB; β at 22.7 MB = T/n:")
    print(f"{'transport':<14} {'α µs':>7} {'β ns/B':>8} {'1/β GB/s':>9} {'β 22.7MB':>9}   measured/fit µs")
    for name, js in (("shared memory", shm_js), ("TCP loopback", tcp_js)):
        # Fit the sizes up to the MLP arena (cache-resident on this machine); the 10x arena is
        # DRAM-bound and about 2x slower per byte, reported as its own effective β.
        pts = [(s["bytes"], s["avg_us"] * 1e-6) for s in js["sizes"]]
        alpha, beta = fit([(n, t) for n, t in pts if n <= mlp_bytes])
        big_n, big_t = max(pts)
        fits[name] = {"alpha_us": alpha * 1e6, "beta_ns_per_byte": beta * 1e9, "gb_per_s": 1e-9 / beta,
                      "beta_large_ns_per_byte": big_t / big_n * 1e9, "large_bytes": big_n,
                      "measured": [{"bytes": n, "us": t * 1e6, "fit_us": (2 * alpha + n * beta) * 1e6} for n, t in pts]}
        cmp = ", ".join(f"{t * 1e6:.0f}/{(2 * alpha + n * beta) * 1e6:.0f}" for n, t in pts)
        print(f"{name:<14} {alpha * 1e6:>7.2f} {beta * 1e9:>8.3f} {1e-9 / beta:>9.2f} {big_t / big_n * 1e9:>9.3f}   {cmp}")
    print("efficiency at 2 ranks here, from the measured all-reduce of each arena (E = compute / (compute + all-reduce)):")
    for name, js in (("shared memory", shm_js), ("TCP loopback", tcp_js)):
        meas = {s["bytes"]: s["avg_us"] * 1e-6 for s in js["sizes"]}
        es = []
        for m, mv in models.items():
            if mv["bytes"] in meas:
                e = mv["t_compute"] / (mv["t_compute"] + meas[mv["bytes"]])
                fits[name][f"E2_{m}"] = e
                es.append(f"{m} {e:.3f} (all-reduce {meas[mv['bytes']] * 1e3:.2f} ms)")
        print(f"  {name:<14} " + ", ".join(es))

    def table(kind, alpha_us):
        rows = []
        for p in PS:
            row = {"p": p}
            for m, mv in models.items():
                for g in LINKS_GBPS:
                    t_ar = t_ring(p, mv["bytes"], alpha_us * 1e-6, 8.0 / (g * 1e9))
                    row[f"{m}@{g}G"] = mv[kind] / (mv[kind] + t_ar)
            rows.append(row)
        return rows

    cols = [f"{m}@{g}G" for m in models for g in LINKS_GBPS]
    result = {"alpha_assumed_us": ALPHA_US, "links_gbps": LINKS_GBPS, "models": models, "local_fits": fits}
    for kind, title in (("t_compute", "compute = measured step"),
                        ("t_ceiling", "compute = GEMM-only ceiling (a faster step scales worse)")):
        rows = table(kind, ALPHA_US)
        print(f"\npredicted efficiency E(p), weak scaling, α = {ALPHA_US:g} µs/hop, β = 8/link rate; {title}")
        print(f"{'nodes':>5} " + " ".join(f"{c:>11}" for c in cols))
        for r in rows:
            print(f"{r['p']:>5} " + " ".join(f"{r[c]:>11.3f}" for c in cols))
        result[f"efficiency_{kind}"] = rows
    lo, hi = (table("t_compute", a)[-1] for a in ALPHA_RANGE_US)
    print(f"\nα sensitivity at 256 nodes (measured step): α = {ALPHA_RANGE_US[0]:g} µs → "
          + ", ".join(f"{c} {lo[c]:.3f}" for c in cols[:3])
          + f"; α = {ALPHA_RANGE_US[1]:g} µs → " + ", ".join(f"{c} {hi[c]:.3f}" for c in cols[:3]))
    result["alpha_sensitivity_p256"] = {f"{ALPHA_RANGE_US[0]:g}us": lo, f"{ALPHA_RANGE_US[1]:g}us": hi}
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
