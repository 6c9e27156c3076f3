"""onnx_numpy.py MODEL.onnx REF.csv [TOL] — runs an ONNX graph with a small numpy evaluator (no
onnxruntime in Debian; written from the ONNX operator specs, independent of strata) on the rows
of a `strata export --reference` CSV and prints the largest absolute difference from strata's
outputs; exits 1 when it is above TOL (default 1e-4). Covers the ops strata's fp32 export writes,
including LSTM and GRU, which OpenCV 4.6's dnn cannot run with a batch.
onnx_numpy.py MODEL.onnx --accuracy DATA.h5 — the accuracy of the first output's argmax against
/y on the file's test split (/split == 2; every row when it has none), printed as
"accuracy A on N rows".
float16 graphs (strata export --precision fp16): float16 initializers and Cast to float16 make a
value half; every op reading a half value computes in float64 and rounds its result to float16
(what a runtime that accumulates in float32 does, to within one rounding), until a Cast to
float32.
int8 graphs (--precision int8): DequantizeLinear and QuantizeLinear per tensor or per axis, uint8
or int8 by the zero point's type, rounding half to even and saturating (onnx_numpy.py --self-test
checks QuantizeLinear against hand-worked values).
Variable-length graphs (a second input `sequence_lens`): the CSV's `sequence_lens` column feeds it;
LSTM/GRU honour sequence_lens as the ONNX spec says (steps past a row's length are not run, Y is 0
there, the reverse direction starts at the last valid step)."""
import math
import sys

import numpy as np
import onnx
from onnx import numpy_helper

erf = np.vectorize(math.erf, otypes=[np.float64])


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pool1d(x, a, reduce):  # x [N, C, T]
    k, s = a["kernel_shape"][0], a.get("strides", [1])[0]
    p0, p1 = a.get("pads", [0, 0])
    pad = -np.inf if reduce == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p0, p1)), constant_values=pad)
    t_out = (xp.shape[2] - k) // s + 1
    w = np.stack([xp[:, :, t * s:t * s + k] for t in range(t_out)], 2)  # [N, C, T_out, k]
    return w.max(-1) if reduce == "max" else w.sum(-1) / k  # count_include_pad=1


def conv1d(x, W, b, a):  # x [N, C, T], W [F, C/G, K]
    s, d, g = a.get("strides", [1])[0], a.get("dilations", [1])[0], a.get("group", 1)
    p0, p1 = a.get("pads", [0, 0])
    xp = np.pad(x, ((0, 0), (0, 0), (p0, p1)))
    F, Cg, K = W.shape
    t_out = (xp.shape[2] - d * (K - 1) - 1) // s + 1
    y = np.zeros((x.shape[0], F, t_out))
    fg = F // g
    for f in range(F):
        c0 = (f // fg) * Cg
        for k in range(K):
            y[:, f, :] += np.einsum("nct,c->nt", xp[:, c0:c0 + Cg, k * d:k * d + s * (t_out - 1) + 1:s], W[f, :, k])
    return y + (b[None, :, None] if b is not None else 0)


def conv_transpose1d(x, W, b, a):  # x [N, C, T], W [C, F/G, K]
    s, g = a.get("strides", [1])[0], a.get("group", 1)
    p0, p1 = a.get("pads", [0, 0])
    op = a.get("output_padding", [0])[0]
    C, Fg, K = W.shape
    N, _, T = x.shape
    full = np.zeros((N, Fg * g, (T - 1) * s + K + op))
    cg = C // g
    for c in range(C):
        f0 = (c // cg) * Fg
        for k in range(K):
            full[:, f0:f0 + Fg, k:k + s * (T - 1) + 1:s] += x[:, c, None, :] * W[c, :, k, None]
    y = full[:, :, p0:full.shape[2] - p1]
    return y + (b[None, :, None] if b is not None else 0)


def rnn(op, X, W, R, B, a, lens=None):  # X [T, N, C] -> Y [T, dirs, N, H], Y_h [dirs, N, H]
    """lens [N] (sequence_lens, or None: all T): a row's steps t >= lens[n] are not run (its state is
    kept, Y is 0 there) and the reverse direction starts at its step lens[n] - 1."""
    H = a["hidden_size"]
    dirs = 2 if a.get("direction", b"forward") == b"bidirectional" else 1
    T, N = X.shape[:2]
    live = np.ones((T, N, 1), bool) if lens is None else (np.arange(T)[:, None] < lens[None, :])[:, :, None]
    Y = np.zeros((T, dirs, N, H))
    Yh = np.zeros((dirs, N, H))
    for d in range(dirs):
        h, c = np.zeros((N, H)), np.zeros((N, H))
        Wb, Rb = np.split(B[d], 2)
        for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
            h_prev, c_prev = h, c
            xw, hr = X[t] @ W[d].T + Wb, h @ R[d].T + Rb
            if op == "LSTM":  # gates i, o, f, c
                i, o, f, g = np.split(xw + hr, 4, axis=1)
                c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
                h = sigmoid(o) * np.tanh(c)
            else:  # GRU z, r, h with linear_before_reset = 1
                xz, xr, xh = np.split(xw, 3, axis=1)
                hz, hr_, hh = np.split(hr, 3, axis=1)
                z, r = sigmoid(xz + hz), sigmoid(xr + hr_)
                n = np.tanh(xh + r * hh)
                h = (1 - z) * n + z * h
            h, c = np.where(live[t], h, h_prev), np.where(live[t], c, c_prev)
            Y[t, d] = np.where(live[t], h, 0.0)
        Yh[d] = h
    return Y, Yh


FLOAT, INT32, INT64, BOOL, FLOAT16 = 1, 6, 7, 9, 10


def quantize_linear(x, scale, zp):
    """ONNX QuantizeLinear: saturate(round_half_even(x / scale) + zero_point), x / scale in float32,
    saturated to the zero point's type (uint8 0..255, int8 -128..127)."""
    info = np.iinfo(zp.dtype)
    q = np.rint(x.astype(np.float32) / np.asarray(scale, np.float32)) + zp.astype(np.int32)
    return np.clip(q, info.min, info.max).astype(zp.dtype)


def quantize_self_test():
    """quantize_linear against hand-worked values: halves to even, the zero point, saturation."""
    x = np.array([0.25, 0.75, -0.25, 1.25, 100, -100, 0], np.float32)  # / 0.5 = .5 1.5 -.5 2.5 200 -200 0
    got = quantize_linear(x, np.float32(0.5), np.array(128, np.uint8))
    assert got.dtype == np.uint8 and got.tolist() == [128, 130, 128, 130, 255, 0, 128], got
    x = np.array([2.5, 3.5, -126.5, -200, 200], np.float32)  # rint: 2 4 -126 -200 200, + (-3)
    got = quantize_linear(x, np.float32(1), np.array(-3, np.int8))
    assert got.dtype == np.int8 and got.tolist() == [-1, 1, -128, -128, 127], got
    print("quantize_linear: hand examples ok")


def run(model, x, lens=None):
    """x: the first input; lens: the second (`sequence_lens` int32 [N]) of a variable-length model."""
    v = {t.name: numpy_helper.to_array(t).astype(np.float64) if t.data_type in (FLOAT, FLOAT16) else numpy_helper.to_array(t)
         for t in model.graph.initializer}
    half = {t.name for t in model.graph.initializer if t.data_type == FLOAT16}
    v[model.graph.input[0].name] = x.astype(np.float64)
    if len(model.graph.input) > 1:
        v[model.graph.input[1].name] = np.asarray(lens, np.int32)
    for n in model.graph.node:
        a, i = attrs(n), [v[k] if k else None for k in n.input]
        op = n.op_type
        if op == "Cast":
            to = a["to"]
            out = i[0].astype(np.int64) if to == INT64 else i[0].astype(np.float16).astype(np.float64) if to == FLOAT16 \
                else i[0].astype(np.int32) if to == INT32 else i[0].astype(bool) if to == BOOL \
                else i[0].astype(np.float32).astype(np.float64)
            if to == FLOAT16:
                half.add(n.output[0])
            v[n.output[0]] = out
            continue
        is_half = any(k in half for k in n.input if k)
        if op in ("DequantizeLinear", "QuantizeLinear"):  # per tensor, or per channel along `axis`
            x, scale = i[0], i[1].astype(np.float32)
            zp = i[2] if len(i) > 2 and i[2] is not None else np.zeros_like(scale, np.uint8)
            if scale.ndim == 1:
                s = [1] * x.ndim
                s[a.get("axis", 1)] = -1
                scale, zp = scale.reshape(s), zp.reshape(s)
            if op == "DequantizeLinear":  # (x - zero_point) * scale, in float32
                out = ((x.astype(np.int32) - zp.astype(np.int32)).astype(np.float32) * scale).astype(np.float64)
            else:
                out = quantize_linear(x, scale, zp)
            v[n.output[0]] = out
            continue
        if op in ("Add", "Sub", "Mul", "Div", "MatMul"):
            out = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "MatMul": np.matmul}[op](i[0], i[1])
        elif op == "Pad":  # constant zeros, pads [begin..., end...]
            r = i[0].ndim
            out = np.pad(i[0], [(int(i[1][d]), int(i[1][d + r])) for d in range(r)])
        elif op == "Slice":  # starts, ends, axes: one axis
            sl = [slice(None)] * i[0].ndim
            sl[int(i[3][0])] = slice(int(i[1][0]), int(i[2][0]))
            out = i[0][tuple(sl)]
        elif op == "Gather":
            out = np.take(i[0], i[1], axis=a.get("axis", 0))
        elif op == "ReduceSum":
            out = i[0].sum(tuple(int(k) for k in i[1]), keepdims=bool(a.get("keepdims", 1)))
        elif op == "Max":
            out = np.maximum(i[0], i[1])
        elif op == "ReduceMean":
            out = i[0].mean(tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        elif op == "Tile":
            out = np.tile(i[0], [int(r) for r in i[1]])
        elif op == "ConvTranspose":
            out = conv_transpose1d(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "Reshape":
            out = i[0].reshape(i[1])
        elif op == "Transpose":
            out = i[0].transpose(a["perm"])
        elif op in ("Identity", "Dropout"):
            out = i[0]
        elif op == "Relu":
            out = np.maximum(i[0], 0)
        elif op == "LeakyRelu":
            out = np.where(i[0] > 0, i[0], a.get("alpha", 0.01) * i[0])
        elif op == "Sigmoid":
            out = sigmoid(i[0])
        elif op == "Tanh":
            out = np.tanh(i[0])
        elif op == "Erf":
            out = erf(i[0])
        elif op == "HardSwish":
            out = i[0] * np.clip(i[0] / 6 + 0.5, 0, 1)
        elif op == "Gemm":
            B = i[1].T if a.get("transB", 0) else i[1]
            out = i[0] @ B + (i[2] if len(i) > 2 else 0)
        elif op == "Conv":
            out = conv1d(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "BatchNormalization":
            s = (-1,) + (1,) * (i[0].ndim - 2)
            out = (i[0] - i[3].reshape(s)) / np.sqrt(i[4].reshape(s) + a.get("epsilon", 1e-5)) * i[1].reshape(s) + i[2].reshape(s)
        elif op == "LayerNormalization":
            m = i[0].mean(-1, keepdims=True)
            var = ((i[0] - m) ** 2).mean(-1, keepdims=True)
            out = (i[0] - m) / np.sqrt(var + a.get("epsilon", 1e-5)) * i[1] + i[2]
        elif op == "MaxPool":
            out = pool1d(i[0], a, "max")
        elif op == "AveragePool":
            out = pool1d(i[0], a, "avg")
        elif op == "GlobalAveragePool":
            out = i[0].mean(2, keepdims=True)
        elif op == "GlobalMaxPool":
            out = i[0].max(2, keepdims=True)
        elif op == "Flatten":
            out = i[0].reshape(i[0].shape[0], -1)
        elif op == "Softmax":
            e = np.exp(i[0] - i[0].max(a.get("axis", -1), keepdims=True))
            out = e / e.sum(a.get("axis", -1), keepdims=True)
        elif op == "Concat":
            out = np.concatenate(i, a["axis"])
        elif op in ("LSTM", "GRU"):
            Y, Yh = rnn(op, i[0], i[1], i[2], i[3], a, i[4] if len(i) > 4 else None)
            if is_half:
                Y, Yh = Y.astype(np.float16).astype(np.float64), Yh.astype(np.float16).astype(np.float64)
                half.update(n.output[:2])
            v[n.output[0]], v[n.output[1]] = Y, Yh
            continue
        # variable lengths (sequence_lens): masks, integer length arithmetic, masked reductions
        elif op == "Min":
            out = np.minimum(i[0], i[1])
        elif op == "Unsqueeze":  # axes (an input since opset 13) of the output's rank
            out = i[0]
            for ax in sorted(int(k) % (i[0].ndim + len(i[1])) for k in i[1]):
                out = np.expand_dims(out, ax)
        elif op in ("Less", "Greater"):
            out = i[0] < i[1] if op == "Less" else i[0] > i[1]
        elif op == "Where":
            out = np.where(i[0], i[1], i[2])
        elif op == "ReduceMax":  # axes an attribute up to opset 17
            out = i[0].max(tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        else:
            raise SystemExit(f"onnx_numpy.py: op {op} is not implemented")
        if is_half and out.dtype == np.float64:
            out = out.astype(np.float16).astype(np.float64)
            half.add(n.output[0])
        v[n.output[0]] = out
    return [v[o.name] for o in model.graph.output]


def accuracy(model, path):
    import h5py
    with h5py.File(path, "r") as f:
        X, y = f["X"][:], f["y"][:]
        rows = f["split"][:] == 2 if "split" in f else np.ones(len(y), bool)
        L = f["lengths"][:] if "lengths" in f else np.zeros(len(y), np.int32)  # sequence_lens (padding as the file has it)
    X, y, L = X[rows], y[rows], L[rows]
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
    pred = np.concatenate([run(model, X[r:r + 256].reshape([-1] + shape).astype(np.float32), L[r:r + 256])[0].reshape(
        min(256, len(X) - r), -1).argmax(1) for r in range(0, len(X), 256)])
    print(f"numpy evaluator: accuracy {float((pred == y).mean()):.4f} on {len(y)} rows")


def main():
    if sys.argv[1] == "--self-test":
        return quantize_self_test()
    model = onnx.load(sys.argv[1])
    if sys.argv[2] == "--accuracy":
        return accuracy(model, sys.argv[3])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
    ref = np.genfromtxt(sys.argv[2], delimiter=",", names=True)
    cols = ref.dtype.names
    x = np.stack([ref[c] for c in cols if c.startswith("x")], 1)
    lens = ref["sequence_lens"].astype(np.int32) if "sequence_lens" in cols else None
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
    want = np.stack([ref[c] for c in cols if not c.startswith("x") and c != "sequence_lens"], 1)
    got = np.concatenate([o.reshape(len(x), -1) for o in run(model, x.reshape([-1] + shape).astype(np.float32), lens)], 1)
    diff = float(np.abs(got - want).max())
    print(f"numpy evaluator: {len(x)} rows, max |onnx - strata| = {diff:.3g}")
    sys.exit(0 if diff <= tol else 1)


if __name__ == "__main__":
    main()
