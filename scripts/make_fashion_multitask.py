#!/usr/bin/python3
"""make_fashion_multitask.py - Fashion-MNIST as a multi-task dataset (strata format 2).

Usage: /usr/bin/python3 scripts/make_fashion_multitask.py OUT.h5 [--limit N] [--dir DIR]

Reads Debian's Fashion-MNIST IDX files (package dataset-fashion-mnist, DIR defaults to
/usr/share/datasets/fashion-mnist: 60,000 train + 10,000 test images) and writes the layout of
docs/data-format.md, format 2 (docs/multitask.md):

  /X        float32 [N, 784]  raw pixel values 0..255, chunked by rows (the rows of 1 MiB, as
                              `strata convert idx` writes them), uncompressed
  /y        int32   [N]       the 10 fine classes (the stratification key)
  /split    uint8   [N]       0 for the 60,000 train rows, 2 for the 10,000 test rows
  /targets/fine       int32 [N]      kind "class", n_classes 10, class_names as scripts/setup.sh
  /targets/coarse     int32 [N]      kind "class", n_classes 4: tops {0,2,3,4,6}, trousers {1},
                                     footwear {5,7,9}, bags {8}
  /targets/intensity  float32 [N, 1] kind "regression", column_names ["intensity"]: the mean
                                     pixel value of the image / 255 (in [0, 1])
  root attrs: strata_format 2, n_classes 10, class_names, source (as convert idx: the file
  names, plus this script's name); no feature_names (convert idx writes none either).

--limit N keeps the first N train and the first N test images (for quick tests). numpy and h5py
only; deterministic (no time stamps in the file); the file is written to OUT.tmp and renamed, so
a failed run leaves nothing at OUT. Prints a one-line summary.
"""
import argparse
import gzip
import os
import struct
import sys

import h5py
import numpy as np

FINE_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
              "Ankle boot"]
COARSE_NAMES = ["tops", "trousers", "footwear", "bags"]
# fine class id -> coarse class id
FINE_TO_COARSE = np.array([0, 1, 0, 0, 0, 2, 0, 2, 3, 2], np.int32)
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz")


def read_idx(path, magic, limit):
    """Returns the uint8 array of an IDX file ([N] labels or [N, rows*cols] images), first `limit` rows."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    got, = struct.unpack(">I", data[:4])
    if got != magic:
        sys.exit(f"make_fashion_multitask: {path}: magic 0x{got:08x}, expected 0x{magic:08x}")
    nd = magic & 0xFF
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    a = np.frombuffer(data, np.uint8, offset=4 + 4 * nd)
    if a.size != int(np.prod(dims)):
        sys.exit(f"make_fashion_multitask: {path}: {a.size} bytes of data, the header says {dims}")
    a = a.reshape(dims[0], -1) if nd > 1 else a
    return a[:limit] if limit is not None else a


def chunk_rows(n, d):
    """Rows per chunk of /X as strata writes it: 1 MiB of rows (at least 1, at most n)."""
    row_bytes = d * 4
    return min(n, 1 if row_bytes >= 1 << 20 else (1 << 20) // row_bytes)


def untimed_group(parent, name):
    """A group without a creation time stamp (h5py's create_group keeps one), in creation order."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    gcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl)
    return parent[name]


def write(out, X, y, split, source):
    """Writes the format-2 layout into out (via out.tmp)."""
    n, d = X.shape
    tmp = out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("X", data=X, chunks=(chunk_rows(n, d), d), track_times=False)
        f.create_dataset("y", data=y, track_times=False)
        f.create_dataset("split", data=split, track_times=False)
        f.attrs["strata_format"] = np.int32(2)
        f.attrs["n_classes"] = np.int32(len(FINE_NAMES))
        f.attrs["class_names"] = FINE_NAMES
        f.attrs["source"] = source
        t = untimed_group(f, "targets")
        fine = t.create_dataset("fine", data=y, track_times=False)
        fine.attrs["kind"] = "class"
        fine.attrs["n_classes"] = np.int32(len(FINE_NAMES))
        fine.attrs["class_names"] = FINE_NAMES
        coarse = t.create_dataset("coarse", data=FINE_TO_COARSE[y], track_times=False)
        coarse.attrs["kind"] = "class"
        coarse.attrs["n_classes"] = np.int32(len(COARSE_NAMES))
        coarse.attrs["class_names"] = COARSE_NAMES
        # mean over the 784 pixels in float64, / 255, stored as float32: [N, 1]
        intensity = (X.mean(axis=1, dtype=np.float64) / 255.0).astype(np.float32).reshape(n, 1)
        reg = t.create_dataset("intensity", data=intensity, track_times=False)
        reg.attrs["kind"] = "regression"
        reg.attrs["column_names"] = ["intensity"]
    os.replace(tmp, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="the HDF5 file to write")
    ap.add_argument("--limit", type=int, default=None, help="keep the first N train and N test images")
    ap.add_argument("--dir", default="/usr/share/datasets/fashion-mnist", help="where the IDX .gz files are")
    a = ap.parse_args()
    if a.limit is not None and a.limit < 1:
        ap.error("--limit must be at least 1")
    p = [os.path.join(a.dir, name) for name in FILES]
    im, lb = read_idx(p[0], 0x803, a.limit), read_idx(p[1], 0x801, a.limit)
    tim, tlb = read_idx(p[2], 0x803, a.limit), read_idx(p[3], 0x801, a.limit)
    if len(im) != len(lb) or len(tim) != len(tlb):
        sys.exit(f"make_fashion_multitask: {len(im)}/{len(tim)} images but {len(lb)}/{len(tlb)} labels")
    X = np.concatenate([im, tim]).astype(np.float32)                    # [N, 784] raw 0..255
    y = np.concatenate([lb, tlb]).astype(np.int32)                      # [N] fine class ids
    if y.max() >= len(FINE_NAMES):
        sys.exit(f"make_fashion_multitask: a label is {y.max()}, expected 0..9")
    split = np.concatenate([np.zeros(len(lb), np.uint8), np.full(len(tlb), 2, np.uint8)])
    # The source as `strata convert idx` writes it when the full paths do not fit in 256 bytes.
    source = (f"idx: images {FILES[0]}, labels {FILES[1]}; test images {FILES[2]}, test labels {FILES[3]}; "
              f"targets fine, coarse, intensity by make_fashion_multitask.py")
    write(a.out, X, y, split, source)
    counts = np.bincount(FINE_TO_COARSE[y], minlength=4)
    print(f"make_fashion_multitask: {a.out}: {len(y)} rows ({len(lb)} train, {len(tlb)} test), X [{len(y)}, "
          f"{X.shape[1]}]; targets fine (10 classes), coarse (4: " +
          ", ".join(f"{n} {c}" for n, c in zip(COARSE_NAMES, counts)) + "), intensity (regression [N, 1])")


if __name__ == "__main__":
    main()
