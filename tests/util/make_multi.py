"""make_multi.py OUT.h5 [--bad-id ROW] — a small synthetic multi-task dataset (strata format 2)
for the shell tests: 1,200 rows, features [age, budget, occasion id (0..5), 4 multi-hot hobbies],
targets `kind` (class, 3), `tags` (multi-label, 4), `score` (regression, 1 column, a few NaN:
allow_missing), `/groups` of 1-4 rows, no /y. Seeded; the targets follow a simple rule so a
small model learns them. --bad-id ROW writes occasion id 9 in that row (for the out-of-range
embedding test). Debian's /usr/bin/python3 with numpy and h5py."""
import argparse

import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--bad-id", type=int, default=-1)
a = ap.parse_args()
rng = np.random.default_rng(7)
N = 1200
age = rng.uniform(18, 80, N)
budget = rng.uniform(10, 500, N)
occ = rng.integers(0, 6, N)
hob = (rng.random((N, 4)) < 0.35).astype(np.float32)
X = np.column_stack([age, budget, occ, hob]).astype(np.float32)
if a.bad_id >= 0:
    X[a.bad_id, 2] = 9
kind = ((occ % 3) + (age > 50)).astype(np.int32) % 3
tags = np.column_stack([hob[:, 0], hob[:, 1] * (occ < 3), (occ == 4), hob[:, 3]]).astype(np.uint8)
score = (0.01 * budget + 0.5 * hob.sum(1) + 0.1 * rng.standard_normal(N)).astype(np.float32)[:, None]
score[::97] = np.nan
groups = np.repeat(np.arange(N), rng.integers(1, 5, N))[:N].astype(np.int64)
vs = h5py.string_dtype("utf-8")
with h5py.File(a.out, "w") as f:
    d = f.create_dataset("X", data=X, chunks=(256, 7))
    f.attrs["strata_format"] = np.int32(2)
    f.attrs.create("feature_names", ["age", "budget", "occasion", "h0", "h1", "h2", "h3"], dtype=vs)
    f.create_dataset("groups", data=groups)
    t = f.create_group("targets")
    k = t.create_dataset("kind", data=kind)
    k.attrs.create("kind", "class", dtype=vs)
    k.attrs["n_classes"] = np.int32(3)
    k.attrs.create("class_names", ["a", "b", "c"], dtype=vs)
    g = t.create_dataset("tags", data=tags)
    g.attrs.create("kind", "multilabel", dtype=vs)
    g.attrs.create("label_names", ["t0", "t1", "t2", "t3"], dtype=vs)
    s = t.create_dataset("score", data=score)
    s.attrs.create("kind", "regression", dtype=vs)
    s.attrs["allow_missing"] = np.int32(1)
