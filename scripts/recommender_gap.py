#!/usr/bin/python3
"""recommender_gap.py RUN_DIR CEILING_JSON — a strata run's test metrics on the recommender data
next to the generator's ceilings (the noise-free rule's score on the same test rows), and the gap:
category accuracy, tools micro-F1 at 0.5 and reward R² (docs/multitask.md). Exit 0 when every
head is within the issue's bounds of its ceiling (2 points; R² 0.02), else 1."""
import json
import sys

run, ceiling = sys.argv[1], sys.argv[2]
m = json.load(open(run + "/metrics.json"))["metrics"]
c = json.load(open(ceiling))["ceiling"]["test"]
rows = [("category accuracy", m["test_accuracy.category"], c["category_accuracy"], 0.02),
        ("tools micro-F1 @0.5", m["test_f1.tools"], c["tools_micro_f1"], 0.02),
        ("reward R^2", m["test_r2.reward"], c["reward_r2"], 0.02)]
print(f"{'':22s} {'strata':>8s} {'ceiling':>8s} {'gap':>8s}")
ok = True
for name, got, ceil, bound in rows:
    gap = ceil - got
    ok &= gap <= bound
    print(f"{name:22s} {got:8.4f} {ceil:8.4f} {gap:8.4f}{'' if gap <= bound else '  (more than ' + str(bound) + ')'}")
sys.exit(0 if ok else 1)
