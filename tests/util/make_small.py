"""make_small.py OUT.h5 N D K [T] — a small labelled dataset for trying configs: N samples of D
features (or, with T, sequences [T, D]) in 0..255, K classes, each class shifting a few features
up, so a model can learn it. Written with h5py in strata's documented layout (docs/data-format.md)."""
import sys

import h5py
import numpy as np

out, n, d, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = int(sys.argv[5]) if len(sys.argv) > 5 else 0
rng = np.random.default_rng(7)
y = (np.arange(n) % k).astype(np.int32)
shape = (n, t, d) if t else (n, d)
X = rng.uniform(0, 128, size=shape).astype(np.float32)
for c in range(k):
    cols = [(c * 3 + j) % d for j in range(3)]
    if t:
        X[np.ix_(y == c, range(t), cols)] += 100
    else:
        X[np.ix_(y == c, cols)] += 100
with h5py.File(out, "w") as f:
    f.create_dataset("X", data=np.clip(X, 0, 255))
    f.create_dataset("y", data=y)
    f.attrs["strata_format"] = 1
    f.attrs["n_classes"] = k
    f.attrs["class_names"] = [f"class{c}" for c in range(k)]
