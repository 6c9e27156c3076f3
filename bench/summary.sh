#!/usr/bin/env bash
# summary.sh — the last step of `make bench`: one table of the six benchmarks of issue 7, the
# sequence models of issue 14 (bench_seq.sh) and the speech benchmark of issue 15 (bench_ctc.sh)
# and their targets (docs/performance.md), read from the JSON files the others wrote into
# build/bench/ in this run. A benchmark that was skipped (no PyTorch, no dataset) shows as such.
#
#   bench/summary.sh
set -u
cd "$(dirname "$0")/.."
/usr/bin/python3 - <<'EOF'
import json, os

def load(name):
    path = f"build/bench/{name}.json"
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

rows = []
def row(what, target, measured, met):
    rows.append((what, target, measured, "met" if met is True else "NOT met" if met is False else met))

vs = load("bench_vs_torch")
if vs:
    r = {x["threads"]: x for x in vs["rows"]}
    row("1. strata / PyTorch, 1 thread", ">= 1.7", f"{r[1]['ratio']:.2f}", r[1]["target_met"]) if 1 in r else None
    row("1. strata / PyTorch, 2 threads", ">= 2.0", f"{r[2]['ratio']:.2f}", r[2]["target_met"]) if 2 in r else None
    for t in sorted(r):
        row(f"2. fraction of the GEMM ceiling, {t} thread{'s' if t > 1 else ''}", "(~72%)" if t == 1 else "(~64%)",
            f"strata {100 * r[t]['strata_fraction_of_ceiling']:.0f}%, PyTorch {100 * r[t]['pytorch_fraction_of_ceiling']:.0f}%", "-")
else:
    row("1-2. strata vs PyTorch", ">= 1.7 / 2.0", "skipped", "-")

dist = load("bench_dist")
if dist:
    ddp = dist.get("pytorch", {}).get("efficiency")
    row("3. 2 ranks x 1 thread / 1 rank x 2 threads", ">= 0.90",
        f"{dist['efficiency_2x1_over_1x2']:.2f}" + (f" (PyTorch DDP {ddp:.2f})" if ddp else ""), dist["target_met"])
else:
    row("3. distributed overhead", ">= 0.90", "skipped", "-")

st = load("bench_startup")
if st:
    row("4. start-up at P=2, strata's own part", "<= 0.5 s",
        f"{st['own_to_first_step_s']:.2f} s (MPI empty program {st['mpi_empty_launch_to_exit_s']:.2f} s)", st["target_met"])
else:
    row("4. start-up", "<= 0.5 s", "skipped", "-")

mem = load("bench_memory")
if mem:
    peaks = " / ".join(f"{d['peak_rss_mib_max']:.0f}" for d in mem["data_pipeline"])
    ps = "/".join(str(d["ranks"]) for d in mem["data_pipeline"])
    row(f"5. peak RSS per rank (MiB) at P = {ps}", "share + const", peaks,
        mem["data_follows_share"] and mem["loaded_follows_share"] and mem["peak_follows_share"])
else:
    row("5. memory", "share + const", "skipped", "-")

sc = load("scaling_model")
if sc:
    last = sc["efficiency_t_compute"][-1]
    row(f"6. model: efficiency at {last['p']} nodes, MLP 10/25/100G", "(documented)",
        f"{last['MLP@10G']:.2f} / {last['MLP@25G']:.2f} / {last['MLP@100G']:.2f}", "-")
else:
    row("6. scaling model", "(documented)", "skipped", "-")

seq = load("bench_seq")
if seq and seq["runs"]:
    for m in dict.fromkeys(r["model"] for r in seq["runs"]):
        runs = sorted((r for r in seq["runs"] if r["model"] == m), key=lambda r: r["threads"])
        thr = "/".join(str(r["threads"]) for r in runs)
        pct = lambda ph: "/".join(f"{100 * r[ph]['fraction_of_ceiling']:.0f}%" for r in runs)
        vs = "/".join(f"{r['train']['ratio_vs_pytorch']:.2f}x" if r["train"].get("ratio_vs_pytorch") else "-" for r in runs)
        row(f"7. sequence model {m}: strata / GEMM ceiling at {thr} threads", ">= 75%",
            f"train {pct('train')}, infer {pct('infer')}; train vs PyTorch {vs}",
            all(r[ph]["target_met"] for r in runs for ph in ("train", "infer")))
else:
    row("7. sequence models A, B, C vs their GEMM ceiling", ">= 75%", "skipped", "-")

ctc = load("bench_ctc")
if ctc:
    r = ctc.get("time_to_goal_ratio")
    g = f"{100 * ctc['wer_goal']:.1f}%"
    row(f"8. speech (CTC, {ctc['utterances']} utterances, {ctc['epochs']} epochs): time to WER <= {g} / PyTorch's", "<= 0.75",
        f"{r:.2f} (samples/s {ctc['speed_ratio']:.2f}x)" if r is not None else "n/a", r is not None and r <= 0.75)
    if ctc.get("pytorch"):
        d = ctc["final_wer_points_above_pytorch"]
        row("8. speech: final WER - PyTorch's (points)", "<= +0.3", f"{d:+.2f}", d <= 0.3)
    row("8. speech: features, x real time per core", ">= 300", f"{ctc['features_x_real_time_per_core']:.0f}",
        ctc["features_x_real_time_per_core"] >= 300)
else:
    row("8. speech (CTC) vs PyTorch", "<= 0.75", "skipped", "-")

aug = load("bench_augment")
if aug:
    row("9. augmentation (noise + scale) / plain, Fashion-MNIST MLP, samples/s", ">= 0.90",
        f"{aug['ratio']:.3f} ({aug['augmented_samples_per_s']} / {aug['plain_samples_per_s']})", aug["target_met"])
else:
    row("9. augmentation cost", ">= 0.90", "skipped", "-")

w = [max(len(r[i]) for r in rows) for i in range(3)]
print("issue 7, 14 and 15 targets, from this run's build/bench/*.json (docs/performance.md):")
for what, target, measured, met in rows:
    print(f"  {what:<{w[0]}}  {target:<{w[1]}}  {measured:<{w[2]}}  {met}")
EOF
