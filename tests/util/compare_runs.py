"""compare_runs.py RUN_A RUN_B — exit 0 when two run folders ended with bitwise-identical
parameters, BatchNorm buffers and optimizer state (newest step checkpoint of each) and identical
history.jsonl apart from the timing fields (seconds, samples_per_s, eval_seconds, time_unix_s); else print the first
difference and exit 1. Used by the shell tests (Debian's /usr/bin/python3 with h5py)."""
import glob
import json
import os
import sys

import h5py
import numpy as np


def newest_checkpoint(run):
    files = sorted(glob.glob(os.path.join(run, "checkpoints", "step-*.h5")))
    if not files:
        sys.exit(f"{run}: no step checkpoint")
    return files[-1]


def arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
                out[name] = np.asarray(obj[()])
        f.visititems(visit)
        out["@step"] = np.asarray(f.attrs["step"])
    return out


def history(run):
    with open(os.path.join(run, "history.jsonl")) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    for l in lines:
        l.pop("seconds", None)
        l.pop("samples_per_s", None)
        l.pop("eval_seconds", None)
        l.pop("time_unix_s", None)
    return lines


a, b = sys.argv[1], sys.argv[2]
ca, cb = arrays(newest_checkpoint(a)), arrays(newest_checkpoint(b))
for key in sorted(set(ca) | set(cb)):
    if key not in ca or key not in cb or ca[key].tobytes() != cb[key].tobytes():
        sys.exit(f"checkpoints differ in {key}: {newest_checkpoint(a)} vs {newest_checkpoint(b)}")
ha, hb = history(a), history(b)
if ha != hb:
    for i, (x, y) in enumerate(zip(ha, hb)):
        if x != y:
            sys.exit(f"history line {i + 1} differs: {x} vs {y}")
    sys.exit(f"history has {len(ha)} vs {len(hb)} lines")
print(f"identical: {len(ha)} epochs, step {int(ca['@step'])}, {len(ca) - 1} arrays")
