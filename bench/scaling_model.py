#!/usr/bin/python3
"""scaling_model.py — predicted parallel efficiency of strata's data-parallel training (weak
scaling: fixed batch 256 per rank) from one measured step time and a ring all-reduce model.

    /usr/bin/python3 bench/scaling_model.py STEP_JSON SHM_JSON TCP_JSON [OUT_JSON]

    /usr/bin/python3 bench/scaling_model.py net BENCH_NET_JSON [OUT_JSON]

The second form puts the model next to what bench/bench_net.sh measured over a real network
stack (network namespaces, TCP, rate-shaped links; docs/scaling.md) — see net_main.

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


# TCP payload per byte on the wire: a 1500-byte MTU frame (1514 bytes with the Ethernet header
# tbf counts) carries 1448 bytes of payload (IP + TCP headers with timestamps).
WIRE_PER_PAYLOAD = 1514.0 / 1448.0


def rate_bps(rate):
    """'1gbit' -> 1e9; 'none' -> None."""
    if rate == "none":
        return None
    num = rate[:-3]
    mult = {"k": 1e3, "m": 1e6, "g": 1e9}.get(num[-1], 1.0)
    return float(num.rstrip("kmg")) * mult


def net_predictions(points):
    """For each measured (hosts, rate, algorithm, size): the textbook model (ring, α = ALPHA_US per
    hop, β = 8 / line rate) and the corrected one:
        T = max(T_host(p, n), α_p + 2(p-1)/p · n · 8/rate · 1514/1448 / η(p, algorithm))
    T_host is the same all-reduce on unshaped links (what the TCP stack and memory of this machine
    manage at all; a link cannot go faster than what feeds it), α_p the 8-byte all-reduce time
    at p hosts (bench/mpi_pingpong.c), 1514/1448 the TCP/IP headers per MTU frame, and η the
    share of the link rate the algorithm reaches, fitted on the link-bound points of 1 MiB and
    more (the wire alone over twice the unshaped time)."""
    host, alpha, etas = {}, {}, {}
    for pt in points:
        if pt["rate"] == "none" and pt.get("algorithm", "default") == "default":
            p = pt["hosts"]
            host[p] = {s["label"]: s["avg_us"] * 1e-6 for s in pt["allreduce"]["sizes"]}
            alpha[p] = pt.get("latency", {}).get("allreduce_8B_us", 0.0) * 1e-6
    wire = lambda p, n, bps: 2.0 * (p - 1) / p * n * 8.0 / bps * WIRE_PER_PAYLOAD
    for pt in points:
        p, bps, alg = pt["hosts"], rate_bps(pt["rate"]), pt.get("algorithm", "default")
        if not bps or p not in alpha:
            continue
        for s in pt["allreduce"]["sizes"]:
            # Link-bound points only: the wire alone takes over twice the unshaped all-reduce.
            if s["bytes"] >= 1 << 20 and wire(p, s["bytes"], bps) > 2 * host.get(p, {}).get(s["label"], 0.0):
                etas.setdefault((p, alg), []).append(wire(p, s["bytes"], bps) / max(s["avg_us"] * 1e-6 - alpha[p], 1e-9))
    eta = {k: sorted(v)[len(v) // 2] for k, v in etas.items()}
    rows = []
    for pt in points:
        p, rate, alg = pt["hosts"], pt["rate"], pt.get("algorithm", "default")
        bps = rate_bps(rate)
        for s in pt["allreduce"]["sizes"]:
            n, meas = s["bytes"], s["avg_us"] * 1e-6
            text = t_ring(p, n, ALPHA_US * 1e-6, 8.0 / bps) if bps else None
            fixed = host.get(p, {}).get(s["label"])
            if fixed is not None and bps:
                fixed = max(fixed, alpha[p] + wire(p, n, bps) / eta.get((p, alg), 1.0))
            rows.append({"hosts": p, "rate": rate, "algorithm": alg, "label": s["label"], "bytes": n,
                         "measured_us": meas * 1e6, "textbook_us": text * 1e6 if text else None,
                         "corrected_us": fixed * 1e6 if fixed else None})
    fits = {p: {"alpha_us": alpha[p] * 1e6, "host_us": {k: v * 1e6 for k, v in host[p].items()}} for p in host}
    return fits, eta, rows


def net_delay(points):
    """Link delay d through net_relay: textbook 2(p-1)(α + d) + 2(p-1)/p·n·8/rate; corrected: the
    same all-reduce through the relay at d = 0 plus 2(p-1)·d (each of the ring's 2(p-1) dependent
    steps waits one delay). m = (T(d) - T(0)) / (2(p-1)·d) is how many delays a step really waits:
    above 1 when a step is several dependent messages (Open MPI's rendezvous above the eager limit)."""
    base = {pt["hosts"]: pt for pt in points if pt["delay_us"] == 0}
    rows = []
    if not points:
        return rows
    print("\nall-reduce through net_relay (link delay d; textbook α = ALPHA_US + d per hop; corrected T(0) + 2(p-1)·d)")
    print(f"{'hosts':>5} {'d µs':>5} {'size':<14} {'measured ms':>11} {'textbook ms':>11} {'corrected ms':>12} {'m':>5}")
    for pt in points:
        p, d, bps = pt["hosts"], pt["delay_us"] * 1e-6, rate_bps(pt["rate"])
        b = base.get(p)
        t0 = {s["label"]: s["avg_us"] * 1e-6 for s in b["allreduce"]["sizes"]} if b else {}
        for s in pt["allreduce"]["sizes"]:
            n, meas = s["bytes"], s["avg_us"] * 1e-6
            text = t_ring(p, n, ALPHA_US * 1e-6 + d, 8.0 / bps) if bps else None
            fixed = t0[s["label"]] + 2 * (p - 1) * d if s["label"] in t0 else None
            m = (meas - t0[s["label"]]) / (2 * (p - 1) * d) if d > 0 and s["label"] in t0 else None
            rows.append({"hosts": p, "delay_us": d * 1e6, "label": s["label"], "measured_us": meas * 1e6,
                         "textbook_us": text * 1e6 if text else None, "corrected_us": fixed * 1e6 if fixed else None,
                         "delays_per_step": m})
            f = lambda v: f"{v * 1e3:.2f}" if v is not None else "-"
            print(f"{p:>5} {d * 1e6:>5.0f} {s['label']:<14} {f(meas):>11} {f(text):>11} {f(fixed):>12} "
                  + (f"{m:>5.1f}" if m is not None else f"{'-':>5}"))
        lat = pt.get("latency", {})
        print(f"      one-way latency {lat.get('one_way_us')} µs, 8-byte all-reduce {lat.get('allreduce_8B_us')} µs")
    return rows


def net_main(in_path, out_path):
    js = json.load(open(in_path))
    fits, eta, rows = net_predictions(js["points"])
    print(f"\nall-reduce over the namespace network (load average {js.get('load_before')} -> {js.get('load_after')}, "
          f"{js.get('cpus')} CPUs); textbook: ring, α = {ALPHA_US:g} µs/hop, β = 8/rate; corrected: "
          f"max(unshaped, α + 2(p-1)/p·n·8/rate·1514/1448/η)")
    print(f"{'hosts':>5} {'rate':>7} {'alg':>7} {'size':<14} {'measured ms':>11} {'textbook ms':>11} {'corrected ms':>12} {'meas/corr':>9}")
    for r in rows:
        f = lambda v: f"{v / 1e3:.2f}" if v is not None else "-"
        ratio = f"{r['measured_us'] / r['corrected_us']:.2f}" if r["corrected_us"] else "-"
        print(f"{r['hosts']:>5} {r['rate']:>7} {r['algorithm']:>7} {r['label']:<14} {f(r['measured_us']):>11} {f(r['textbook_us']):>11} "
              f"{f(r['corrected_us']):>12} {ratio:>9}")
    for p, fv in sorted(fits.items()):
        print(f"  {p} hosts: α = {fv['alpha_us']:.1f} µs (8-byte all-reduce); unshaped (host-bound) all-reduce "
              + ", ".join(f"{k} {v / 1e3:.2f} ms" for k, v in fv["host_us"].items()))
    for (p, alg), e in sorted(eta.items()):
        print(f"  {p} hosts, algorithm {alg}: shaped links reach η = {e:.2f} of the TCP payload rate")
    delay_rows = net_delay(js.get("delay_points", []))
    train = js.get("training", [])
    out_train = []
    base = next((t for t in train if t["rate"] == "none"), None)
    mlp = {r["rate"]: r for r in rows if r["hosts"] == 2 and r["label"] == "MLP arena" and r["algorithm"] == "default"}
    if base and "none" in mlp:
        t_compute = 256.0 / base["samples_per_s"] - mlp["none"]["measured_us"] * 1e-6
        print(f"\ntraining, 2 hosts x 1 thread, batch 256: compute + rest per step {t_compute * 1e3:.2f} ms "
              f"(unshaped step minus its measured all-reduce)")
        print(f"{'rate':>7} {'measured/s':>10} {'with meas. AR':>13} {'textbook':>9} {'corrected':>9}")
        for t in train:
            r = mlp.get(t["rate"])
            if not r:
                continue
            pred = lambda us: 256.0 / (t_compute + us * 1e-6) if us is not None else None
            vals = [t["samples_per_s"], pred(r["measured_us"]), pred(r["textbook_us"]), pred(r["corrected_us"])]
            out_train.append({"rate": t["rate"], "measured": vals[0], "with_measured_allreduce": vals[1],
                              "textbook": vals[2], "corrected": vals[3]})
            print(f"{t['rate']:>7} " + " ".join(f"{v:>{w}.0f}" if v else f"{'-':>{w}}" for v, w in zip(vals, (10, 13, 9, 9))))
    with open(out_path, "w") as f:
        json.dump({"delay": delay_rows, "fits": {str(k): v for k, v in fits.items()}, "eta": {f"{p}:{a}": e for (p, a), e in eta.items()}, "allreduce": rows, "training": out_train,
                   "alpha_textbook_us": ALPHA_US}, f, indent=1)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "net":
        net_main(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "build/bench/bench_net_model.json")
        return
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
