"""onnx_opencv.py MODEL.onnx REF.csv [--per-row] [--tol T] — checks an exported ONNX file with
tools that are not strata: onnx.checker (full check, shape inference included) accepts it, its
input is named "input", and OpenCV's dnn module runs it on the rows of a `strata export
--reference` CSV to within T (default 1e-4) of strata's own outputs. --per-row runs one row at a
time (OpenCV 4.6 runs ONNX LSTM with a batch of 1 only). Sequence rows go in as [N, T, C, 1]:
OpenCV's Python binding would read a 3-d array as an image with C channels. Exits 1 on a miss."""
import argparse

import cv2
import numpy as np
import onnx

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("ref")
ap.add_argument("--per-row", action="store_true")
ap.add_argument("--tol", type=float, default=1e-4)
a = ap.parse_args()

m = onnx.load(a.model)
onnx.checker.check_model(m, full_check=True)
assert m.graph.input[0].name == "input", m.graph.input[0].name
ref = np.genfromtxt(a.ref, delimiter=",", names=True)
cols = ref.dtype.names
x = np.stack([ref[c] for c in cols if c.startswith("x")], 1).astype(np.float32)
want = np.stack([ref[c] for c in cols if not c.startswith("x")], 1)
shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim][1:]
x = x.reshape([-1] + shape)
if x.ndim == 3:
    x = x[..., None]
net = cv2.dnn.readNetFromONNX(a.model)
names = [o.name for o in m.graph.output]
if a.per_row:
    got = []
    for i in range(len(x)):
        net.setInput(x[i:i + 1])
        got.append(np.concatenate([o.reshape(-1) for o in net.forward(names)]))
    got = np.stack(got)
else:
    net.setInput(x)
    got = np.concatenate([o.reshape(len(x), -1) for o in net.forward(names)], 1)
diff = float(np.abs(got - want).max())
print(f"onnx.checker: ok; OpenCV {cv2.__version__} dnn: {len(x)} rows, max |onnx - strata| = {diff:.3g}")
raise SystemExit(0 if diff <= a.tol else 1)
