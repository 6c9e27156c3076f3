#!/usr/bin/python3
"""make_varlen.py - a seeded synthetic variable-length sequence classification set (strata format 3).

Usage: /usr/bin/python3 scripts/make_varlen.py OUT.h5 [--n N] [--t-max T] [--channels C]
                                                [--min-length L] [--noise SD] [--seed S] [--garbage-padding]

Writes the layout of docs/data-format.md with sequence lengths (docs/sequences.md, "Variable
lengths: the data side"):

  /X        float32 [N, T, C]  (defaults N 6000, T 64, C 8) row i holds a sequence of length
                               lengths[i] in its first steps; the steps after it are padding
  /lengths  int32   [N]        uniform in [L, T] (L = --min-length, default 16)
  /y        int32   [N]        4 classes: class k has a sine of frequency 0.15 (k even) or 0.35
                               (k odd) cycles per step in channel 0, and a slow sine of sign +1
                               (k < 2) or -1 (k >= 2) of amplitude 0.3 in channel 1, each with a
                               random phase; every channel carries Gaussian noise (std SD = --noise,
                               default 1.0), so short sequences are hard to classify
  root attrs: strata_format 3, n_classes 4, class_names, feature_names ch0..ch{C-1}, source.

The class is decided by the valid part only; padding is 0, or with --garbage-padding random
values with some NaN and Inf (a reader must set it to 0: strata's loader does). Deterministic for
a seed (numpy's PCG64); written to OUT.tmp and renamed, so a failed run leaves nothing at OUT.
Prints a one-line summary.
"""
import argparse
import os
import sys

import h5py
import numpy as np

CLASS_NAMES = ["slow+", "fast+", "slow-", "fast-"]


def make(n, t_max, channels, min_length, noise, seed, garbage):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=n).astype(np.int32)
    lengths = rng.integers(min_length, t_max + 1, size=n).astype(np.int32)
    X = rng.normal(0.0, noise, size=(n, t_max, channels)).astype(np.float32)
    t = np.arange(t_max, dtype=np.float64)
    freq = np.where(y % 2 == 0, 0.15, 0.35)[:, None]
    sign = np.where(y < 2, 1.0, -1.0)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 2))
    X[:, :, 0] += np.sin(2 * np.pi * freq * t[None, :] + phase[:, :1]).astype(np.float32)
    if channels > 1:
        X[:, :, 1] += (sign * (0.3 + 0.2 * np.sin(2 * np.pi * 0.02 * t[None, :] + phase[:, 1:]))).astype(np.float32)
    pad = t[None, :] >= lengths[:, None]  # [n, T] True at padding steps
    if garbage:
        junk = rng.normal(0.0, 100.0, size=X.shape).astype(np.float32)
        junk[rng.random(X.shape) < 0.01] = np.nan
        junk[rng.random(X.shape) < 0.01] = np.inf
        X[pad] = junk[pad]
    else:
        X[pad] = 0.0
    return X, y, lengths


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--t-max", type=int, default=64)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--min-length", type=int, default=16)
    ap.add_argument("--noise", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--garbage-padding", action="store_true")
    a = ap.parse_args()
    if not (1 <= a.min_length <= a.t_max) or a.n < 1 or a.channels < 1:
        sys.exit("make_varlen.py: need n >= 1, channels >= 1 and 1 <= --min-length <= --t-max")
    X, y, lengths = make(a.n, a.t_max, a.channels, a.min_length, a.noise, a.seed, a.garbage_padding)
    tmp = a.out + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            rows = max(1, min(a.n, (1 << 20) // (a.t_max * a.channels * 4)))
            f.create_dataset("X", data=X, chunks=(rows, a.t_max, a.channels))
            f.create_dataset("y", data=y)
            f.create_dataset("lengths", data=lengths)
            f.attrs["strata_format"] = np.int32(3)
            f.attrs["n_classes"] = np.int32(4)
            f.attrs["class_names"] = CLASS_NAMES
            f.attrs["feature_names"] = ["ch%d" % c for c in range(a.channels)]
            f.attrs["source"] = "scripts/make_varlen.py --n %d --t-max %d --channels %d --min-length %d --noise %g --seed %d%s" % (
                a.n, a.t_max, a.channels, a.min_length, a.noise, a.seed, " --garbage-padding" if a.garbage_padding else "")
        os.replace(tmp, a.out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    print("%s: %d sequences of [%d, %d], lengths %d..%d (mean %.1f), 4 classes %s, padding %s" % (
        a.out, a.n, a.t_max, a.channels, lengths.min(), lengths.max(), lengths.mean(), np.bincount(y, minlength=4).tolist(),
        "garbage" if a.garbage_padding else "zero"))


if __name__ == "__main__":
    main()
