#!/usr/bin/env python3
"""make_fashion_small.py SRC OUT [--train N] [--val M] [--seed S] — a phase-1 sized copy of a
strata image dataset (docs/augmentation.md, "Small data"): N training rows and M validation rows
drawn stratified (the same count per class) from SRC's training split, and all of SRC's test rows,
with a predefined /split (0 train, 1 val, 2 test). Needs h5py and numpy (Debian's /usr/bin/python3)."""
import argparse

import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("src")
ap.add_argument("out")
ap.add_argument("--train", type=int, default=2000)
ap.add_argument("--val", type=int, default=1000)
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
with h5py.File(a.src, "r") as f:
    X, y, split = f["X"][()], f["y"][()], f["split"][()]
    attrs = dict(f.attrs)
K = int(attrs["n_classes"])
rng = np.random.default_rng(a.seed)
train, val = [], []
for k in range(K):
    rows = rng.permutation(np.flatnonzero((split == 0) & (y == k)))
    nt, nv = a.train // K, a.val // K
    train += list(rows[:nt]); val += list(rows[nt:nt + nv])
test = list(np.flatnonzero(split == 2))
take = np.array(sorted(train) + sorted(val) + test)
new_split = np.array([0] * len(train) + [1] * len(val) + [2] * len(test), dtype=np.uint8)
with h5py.File(a.out, "w") as g:
    g["X"], g["y"], g["split"] = X[take], y[take], new_split
    for k, v in attrs.items():
        g.attrs[k] = v
    g.attrs["source"] = f"{attrs.get('source', a.src)}; stratified subset: {len(train)} train, {len(val)} val (seed {a.seed}), all {len(test)} test"
print(f"{a.out}: {len(train)} train, {len(val)} val, {len(test)} test rows")
