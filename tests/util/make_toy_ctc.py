#!/usr/bin/python3
"""make_toy_ctc.py OUT.h5 [N] [SEED] — a small CTC dataset in strata's format 4 for the tests.

Each row is a label sequence of 1..4 tokens from a vocabulary of 5 ("<blank>" + a..e); each
token becomes 3..6 frames of its own pattern over 8 channels (channel 1 + token id high, plus
noise), with 0..3 quiet frames before, between and after tokens; /X [N, T_max, 8] padded with
zeros, /lengths the frames, /targets/text int32 [N, 4] with /target_lengths/text, and /groups
(one "speaker" per 10 rows, so the split keeps them whole)."""
import sys

import h5py
import numpy as np

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
V, C, L_MAX = 5, 8, 4
rows, labels = [], []
for i in range(n):
    lab = rng.integers(1, V, size=rng.integers(1, L_MAX + 1))
    frames = [np.zeros((rng.integers(0, 4), C))]
    for tok in lab:
        seg = np.zeros((rng.integers(3, 7), C))
        seg[:, tok] = 1.0
        seg[:, (tok + 4) % C] = 0.5
        frames.append(seg)
        frames.append(np.zeros((rng.integers(0, 4), C)))
    x = np.concatenate(frames) + rng.normal(0, 0.3, size=(sum(len(f) for f in frames), C))
    rows.append(x)
    labels.append(lab)
T = max(len(x) for x in rows)
X = np.zeros((n, T, C), np.float32)
for i, x in enumerate(rows):
    X[i, :len(x)] = x
tok = np.zeros((n, L_MAX), np.int32)
for i, lab in enumerate(labels):
    tok[i, :len(lab)] = lab
with h5py.File(out, "w") as f:
    f.attrs["strata_format"] = 4
    f.create_dataset("X", data=X)
    f.create_dataset("lengths", data=np.array([len(x) for x in rows], np.int32))
    d = f.create_dataset("targets/text", data=tok)
    d.attrs["kind"] = "sequence"
    d.attrs["vocabulary"] = np.array([b"<blank>", b"a", b"b", b"c", b"d"], dtype=h5py.string_dtype())
    f.create_dataset("target_lengths/text", data=np.array([len(l) for l in labels], np.int32))
    f.create_dataset("groups", data=np.arange(n, dtype=np.int64) // 10)
