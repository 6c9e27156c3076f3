"""make_multitask.py OUT.h5 [FLAW] — a small format-2 dataset for the bad-input cases
(tests/bad_inputs/*.case), written with h5py: 240 rows of 4 features (names a, b, c, cat; cat
holds integer ids 0..4), /y (3 classes) and three targets:
  /targets/kind   class, int32 [N], n_classes 3, class_names
  /targets/tags   multilabel, uint8 [N, 2], label_names
  /targets/score  regression, float32 [N, 1], column_names ["score"]
FLAW (optional) damages one thing:
  short_score     /targets/score has N-1 rows
  kind_high       /targets/kind row 57 holds 3 (n_classes is 3)
  kind_missing    /targets/kind row 9 holds -1 (missing) without allow_missing
  kind_all_missing  /targets/kind is -1 (missing) in every row, with allow_missing
  score_nan       /targets/score row 31 is NaN (no allow_missing)
  cat_fraction    feature cat (column 3) of row 77 is 2.5
Deterministic (seeded); no flaw gives a file strata trains on."""
import sys

import h5py
import numpy as np

N = 240
out, flaw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
if flaw not in ("", "short_score", "kind_high", "kind_missing", "kind_all_missing", "score_nan", "cat_fraction"):
    sys.exit(f"make_multitask.py: unknown flaw {flaw!r}")
rng = np.random.default_rng(13)
X = rng.normal(size=(N, 4)).astype(np.float32)
X[:, 3] = rng.integers(0, 5, N)
y = (np.arange(N) % 3).astype(np.int32)
kind = ((np.arange(N) // 3) % 3).astype(np.int32)
tags = (rng.random((N, 2)) < 0.4).astype(np.uint8)
score = rng.normal(size=(N, 1)).astype(np.float32)
if flaw == "short_score":
    score = score[:-1]
if flaw == "kind_high":
    kind[57] = 3
if flaw == "kind_missing":
    kind[9] = -1
if flaw == "kind_all_missing":
    kind[:] = -1
if flaw == "score_nan":
    score[31, 0] = np.nan
if flaw == "cat_fraction":
    X[77, 3] = 2.5
with h5py.File(out, "w") as f:
    f.create_dataset("X", data=X, chunks=(60, 4))
    f.create_dataset("y", data=y)
    f.attrs["strata_format"] = 2
    f.attrs["n_classes"] = 3
    f.attrs["class_names"] = ["r", "g", "b"]
    f.attrs["feature_names"] = ["a", "b", "c", "cat"]
    t = f.create_group("targets")
    d = t.create_dataset("kind", data=kind)
    d.attrs["kind"], d.attrs["n_classes"], d.attrs["class_names"] = "class", 3, ["low", "mid", "high"]
    if flaw == "kind_all_missing":
        d.attrs["allow_missing"] = 1
    d = t.create_dataset("tags", data=tags)
    d.attrs["kind"], d.attrs["label_names"] = "multilabel", ["red", "blue"]
    d = t.create_dataset("score", data=score)
    d.attrs["kind"], d.attrs["column_names"] = "regression", ["score"]
