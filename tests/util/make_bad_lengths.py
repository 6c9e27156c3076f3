"""make_bad_lengths.py KIND OUT.h5 — a small sequence dataset (800 x [16, 3], 3 classes, as
make_seq.py) with a /lengths dataset that is wrong in one way, for the bad-input battery:
  zero     lengths[5] = 0          over     lengths[7] = 17 (> T = 16)
  float    /lengths is float32     flat     /X is [N, D] = [800, 48]
  rows     /lengths has N - 1 rows"""
import sys

import h5py
import numpy as np

kind, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(4)
N, T, C = 800, 16, 3
y = (np.arange(N) % 3).astype(np.int32)
X = rng.normal(0, 0.5, size=(N, T, C)).astype(np.float32)
lengths = rng.integers(4, T + 1, size=N).astype(np.int32)
if kind == "zero":
    lengths[5] = 0
elif kind == "over":
    lengths[7] = T + 1
elif kind == "float":
    lengths = lengths.astype(np.float32)
elif kind == "flat":
    X = X.reshape(N, T * C)
elif kind == "rows":
    lengths = lengths[:-1]
else:
    sys.exit("make_bad_lengths.py: unknown kind " + kind)
with h5py.File(out, "w") as f:
    f.create_dataset("X", data=X)
    f.create_dataset("y", data=y)
    f.create_dataset("lengths", data=lengths)
    f.attrs["strata_format"] = 3
    f.attrs["n_classes"] = 3
