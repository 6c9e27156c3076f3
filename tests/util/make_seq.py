"""make_seq.py OUT.h5 — a small sequence dataset for the tests: 800 samples of [T=16, C=3],
3 classes (a sine of a class-dependent frequency in one channel, noise elsewhere), written with
h5py in strata's documented layout."""
import sys

import h5py
import numpy as np

rng = np.random.default_rng(4)
N, T, C = 800, 16, 3
y = (np.arange(N) % 3).astype(np.int32)
t = np.arange(T)
X = rng.normal(0, 0.5, size=(N, T, C)).astype(np.float32)
X[:, :, 0] += np.sin(np.outer(y + 1, t) * 0.4).astype(np.float32)
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("X", data=X, chunks=(100, T, C))
    f.create_dataset("y", data=y)
    f.attrs["strata_format"] = 1
    f.attrs["n_classes"] = 3
    f.attrs["class_names"] = ["slow", "medium", "fast"]
