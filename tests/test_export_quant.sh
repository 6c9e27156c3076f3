#!/usr/bin/env bash
# test_export_quant.sh — `strata export --precision fp16` (issue 16, docs/export.md): the
# tiny fashion_mlp (tests/util/make_small.py, 600 rows of 784 pixels, 10 classes, 20 epochs) and
# the LSTM of tests/data/export/lstm.json (300 sequences [12, 6], 4 classes) exported at fp32 and
# fp16. onnx.checker accepts the fp16 files; every initializer is float16 and the graph reads and
# writes float32 (Cast first and before each output); the MLP's fp16 file is about half the fp32
# one; tests/util/onnx_numpy.py (float16 arithmetic) runs it within 1e-3 of strata's simulated
# forward (the weights rounded to float16) on 32 reference rows; the accuracy strata reports for
# fp16 equals the numpy evaluator's on the same rows to within one row, is within 2 points of
# fp32, and the per-class table has a row per class; the float16 rounding is numpy's, bit for bit;
# --precision int8 (Gemm/MatMul/Conv weights int8 per output channel behind DequantizeLinear, and
# a uint8 QuantizeLinear -> DequantizeLinear pair before each of those ops' data input, calibrated
# on training rows): onnx.checker accepts the MLP, conv and mixed (MatMul) files; every quantised
# op reads a QDQ pair whose grid is the MinMax grid of its input over the calibration rows (the
# first --calibration-rows, 512 by default, of the training split; all when fewer), computed
# independently by the numpy evaluator on the fp32 file; the MLP's file is about a quarter of
# fp32; the numpy evaluator gives strata's fake-quantised probabilities (99% of rows within 1e-6,
# all within 1e-3: a row apart only where an activation sits on a grid step's edge) and its
# accuracy, within 2 points of fp32; weight-only int8 (their inputs stay float): a BiLSTM (48
# units) + LSTM, a BiGRU + GRU, the conv_transpose1d model of tests/data/export/more.json and the
# embedding + embedding_bag model of tests/data/train_multi.json: onnx.checker accepts them, every
# LSTM/GRU W and R (int8 [dirs·G·H, ·] -> DequantizeLinear -> Reshape), ConvTranspose weight (axis
# 1) and table (per id) is numpy's per-channel quantisation of the fp32 file's weight bit for bit,
# the numpy evaluator is within 1e-4 of strata's simulated forward (which quantises strata's own
# gate rows) on 300 rows and gives its accuracy, and the BiLSTM's int8 file is about a quarter of
# fp32; --calibration-rows 0 or without int8 is a usage error;
# onnx_numpy.py's QuantizeLinear passes its hand-worked self-test; an unknown precision is refused. Prints TAP.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
tap_need_python onnx h5py -- python3-onnx / python3-h5py
echo "1..26"

/usr/bin/python3 tests/util/make_small.py "$work/mlp.h5" 600 784 10
/usr/bin/python3 tests/util/make_small.py "$work/seq.h5" 300 6 4 12
# train NAME CONFIG DATA EPOCHS [--set ...]
train() {
  local name=$1 cfg=$2 data=$3 epochs=$4; shift 4
  timeout 300 bin/strata train "$cfg" --set "data.path=$data" --set "results_dir=$work/r" --set "name=$name" \
    --set "train.epochs=$epochs" "$@" > "$work/log" 2>&1
}
# export NAME PRECISION [ROWS]: $work/NAME_PRECISION.onnx, its reference CSV (32 rows), strata's report in .out
export_onnx() {
  timeout 120 bin/strata export "$work/r/$1/checkpoints/best.h5" --format onnx --precision "$2" -o "$work/$1_$2.onnx" \
    --reference "$work/$1_$2.csv" --reference-rows "${3:-32}" > "$work/$1_$2.out" 2>&1
  local rc=$?; cp "$work/$1_$2.out" "$work/log"; return $rc
}

train mlp configs/fashion_mlp.json "$work/mlp.h5" 20 && export_onnx mlp fp32 && export_onnx mlp fp16 &&
  has "ONNX opset 17, fp16, 13 layers" && has "accuracy fp32 0\.[0-9]*, fp16 0\.[0-9]* (change [-+]0\.[0-9]*) on 600 rows (all rows)"
ok $? "fashion_mlp: exported at fp32 and fp16; the fp16 export reports its accuracy against fp32"
[ "$(grep -c '^class[0-9] ' "$work/mlp_fp16.out")" = 10 ]
ok $? "the per-class table has a row for each of the 10 classes"
# check_fp16 FILE: onnx.checker, float16 initializers only, float32 input and outputs through Casts
check_fp16() {
  /usr/bin/python3 - "$1" > "$work/log" 2>&1 << 'PY'
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
types = {t.data_type for t in m.graph.initializer} - {onnx.TensorProto.INT64}
assert types == {onnx.TensorProto.FLOAT16}, types
assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
assert all(o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for o in m.graph.output)
casts = [n for n in m.graph.node if n.op_type == "Cast"]
assert casts and casts[-1].attribute[0].i == onnx.TensorProto.FLOAT, casts
assert {p.key: p.value for p in m.metadata_props}["precision"] == "fp16"
print("ok")
PY
}
check_fp16 "$work/mlp_fp16.onnx"
ok $? "fashion_mlp fp16: onnx.checker accepts it; float16 initializers, float32 input and output (Cast)"
/usr/bin/python3 - "$work/mlp_fp32.onnx" "$work/mlp_fp16.onnx" > "$work/log" 2>&1 << 'PY'
import sys, numpy as np, onnx
from onnx import numpy_helper
full, half = ({t.name: numpy_helper.to_array(t) for t in onnx.load(f).graph.initializer} for f in sys.argv[1:])
assert full.keys() == half.keys()
for k, w in full.items():
    if w.dtype == np.float32:
        want = w.astype(np.float16)  # numpy's round to nearest even
        assert half[k].dtype == np.float16 and (half[k].view(np.uint16) == want.view(np.uint16)).all(), k
print("ok", len(full))
PY
ok $? "fashion_mlp: every fp16 initializer is numpy's float16 rounding of the fp32 one, bit for bit"
a=$(stat -c %s "$work/mlp_fp32.onnx"); b=$(stat -c %s "$work/mlp_fp16.onnx")
awk -v a="$a" -v b="$b" 'BEGIN { exit !(b / a > 0.45 && b / a < 0.55) }'
ok $? "fashion_mlp: the fp16 file is about half the fp32 one ($b / $a bytes)"
/usr/bin/python3 tests/util/onnx_numpy.py "$work/mlp_fp16.onnx" "$work/mlp_fp16.csv" 1e-3 > "$work/log" 2>&1
ok $? "fashion_mlp fp16: numpy evaluator (float16 arithmetic) within 1e-3 of strata's fp16-weight forward ($(sed 's/.*= //' "$work/log"))"
/usr/bin/python3 tests/util/onnx_numpy.py "$work/mlp_fp16.onnx" --accuracy "$work/mlp.h5" > "$work/log" 2>&1
np=$(sed -n 's/.*accuracy \([0-9.]*\) on.*/\1/p' "$work/log")
st=$(sed -n 's/^accuracy fp32 \([0-9.]*\), fp16 \([0-9.]*\) .*/\1 \2/p' "$work/mlp_fp16.out")
awk -v np="$np" -v st="$st" 'BEGIN { split(st, s, " "); d = np - s[2]; exit !(np != "" && d * d <= (1.0 / 600 + 1e-9) ^ 2) }'
ok $? "fashion_mlp fp16: strata's reported accuracy equals the numpy evaluator's within one row (strata fp32 fp16: $st, numpy: $np)"
awk -v st="$st" 'BEGIN { split(st, s, " "); d = s[2] - s[1]; exit !(s[1] > 0.5 && d * d <= 0.02 ^ 2) }'
ok $? "fashion_mlp: fp16 accuracy within 2 points of fp32, fp32 above 0.5 ($st)"

train lstm tests/data/export/lstm.json "$work/seq.h5" 4 && export_onnx lstm fp16 && check_fp16 "$work/lstm_fp16.onnx" &&
  /usr/bin/python3 tests/util/onnx_numpy.py "$work/lstm_fp16.onnx" "$work/lstm_fp16.csv" 2e-3 > "$work/log" 2>&1
ok $? "lstm fp16: onnx.checker accepts it; numpy evaluator within 2e-3 of strata ($(sed 's/.*= //' "$work/log"))"

# check_qdq MODEL.onnx DATA.h5 ROWS WEIGHT_DQ FP32.onnx: onnx.checker; WEIGHT_DQ int8 weights per output channel
# (symmetric, within half a step; MatMul's per column); a QuantizeLinear -> DequantizeLinear pair
# (scalar float32 scale, scalar uint8 zero point shared by both) feeding the data input of every
# Gemm, Conv and MatMul that reads a quantised weight; and each pair's grid is the MinMax grid of
# that input over the calibration rows (ROWS: "first:N" rows, or "train": /split == 0) in the
# fp32 model (calibration runs before quantising), computed by the numpy evaluator on FP32.onnx.
check_qdq() {
  /usr/bin/python3 - "$@" > "$work/log" 2>&1 << 'PY'
import sys, h5py, numpy as np, onnx
from onnx import numpy_helper, helper
sys.path.insert(0, "tests/util")
import onnx_numpy
path, data, rows, n_wdq, fp32 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), onnx.load(sys.argv[5])
m = onnx.load(path)
onnx.checker.check_model(m, full_check=True)
init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
made = {o: n for n in m.graph.node for o in n.output}
wdq = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and init.get(n.input[0], np.zeros(0)).dtype == np.int8]
assert len(wdq) == n_wdq, len(wdq)
for n in wdq:
    q, s, z = init[n.input[0]], init[n.input[1]], init[n.input[2]]
    ax = helper.get_attribute_value(n.attribute[0])
    assert not z.any() and (np.abs(np.moveaxis(q, ax, 0).reshape(len(s), -1)).max(1) == 127).all(), n.output
ops = [n for n in m.graph.node if n.op_type in ("Gemm", "Conv", "MatMul") and n.input[1] in {d.output[0] for d in wdq}]
assert len(ops) == n_wdq, [n.op_type for n in ops]
pairs = []
for n in ops:
    dq = made[n.input[0]]
    qn = made.get(dq.input[0])
    assert dq.op_type == "DequantizeLinear" and qn is not None and qn.op_type == "QuantizeLinear", (n.name, dq.op_type)
    assert dq.input[1:] == qn.input[1:], (dq.input, qn.input)
    s, z = init[qn.input[1]], init[qn.input[2]]
    assert s.shape == () and s.dtype == np.float32 and z.shape == () and z.dtype == np.uint8, (s, z)
    pairs.append((qn.input[0], float(s), int(z)))
with h5py.File(data, "r") as f:
    X = f["X"][:]
    pick = f["split"][:] == 0 if rows == "train" else np.arange(len(X)) < int(rows.split(":")[1])
assert {p[0] for p in pairs} <= {o for n in fp32.graph.node for o in n.output}  # same value names
fp32.graph.output.extend([onnx.ValueInfoProto(name=p[0]) for p in pairs])
shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim][1:]
vals = onnx_numpy.run(fp32, X[pick].reshape([-1] + shape).astype(np.float32))[-len(pairs):]
for (name, s, z), v in zip(pairs, vals):
    lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
    assert abs(s - (hi - lo) / 255) <= 1e-5 * s and abs(z - round(-lo / s)) <= 1, (name, s, z, lo, hi)
print("ok", len(pairs), "QDQ pairs")
PY
}
export_onnx mlp int8 600 && has "ONNX opset 17, int8, 13 layers" && has "accuracy fp32 0\.[0-9]*, int8 0\.[0-9]* (change" &&
  has "int8 calibration: 512 rows of .*mlp.h5 (all rows: no /split)" && has "int8: 4 QuantizeLinear/DequantizeLinear pairs (uint8 activations, calibrated on 512 rows)"
ok $? "fashion_mlp: exported at int8; it reports its accuracy against fp32, 512 calibration rows (the default) and 4 QDQ pairs"
check_qdq "$work/mlp_int8.onnx" "$work/mlp.h5" first:512 4 "$work/mlp_fp32.onnx"
ok $? "fashion_mlp int8: onnx.checker accepts it; 4 Gemm weights int8 per output channel; a uint8 QDQ pair before each Gemm, its grid the MinMax of that input over the 512 calibration rows"
a=$(stat -c %s "$work/mlp_fp32.onnx"); b=$(stat -c %s "$work/mlp_int8.onnx")
awk -v a="$a" -v b="$b" 'BEGIN { exit !(b / a > 0.22 && b / a < 0.30) }'
ok $? "fashion_mlp: the int8 file is about a quarter of the fp32 one ($b / $a bytes)"
# per-row agreement: the file and strata's fake-quantised forward compute the same grid points;
# a row differs only when an activation sits within float rounding of a grid step's edge (then
# by one step downstream): 99% of the rows within 1e-6, every row within 1e-3
/usr/bin/python3 - "$work/mlp_int8.onnx" "$work/mlp_int8.csv" > "$work/log" 2>&1 << 'PY' &&
import sys, numpy as np, onnx
sys.path.insert(0, "tests/util")
import onnx_numpy
ref = np.genfromtxt(sys.argv[2], delimiter=",", names=True)
x = np.stack([ref[c] for c in ref.dtype.names if c.startswith("x")], 1).astype(np.float32)
want = np.stack([ref[c] for c in ref.dtype.names if not c.startswith("x")], 1)
d = np.abs(onnx_numpy.run(onnx.load(sys.argv[1]), x)[0] - want).max(1)
print(f"{len(d)} rows: median {np.median(d):.2g}, {int((d > 1e-6).sum())} above 1e-6, max {d.max():.2g}")
assert len(d) == 600 and (d > 1e-6).mean() <= 0.01 and d.max() <= 1e-3
PY
  /usr/bin/python3 tests/util/onnx_numpy.py "$work/mlp_int8.onnx" --accuracy "$work/mlp.h5" > "$work/log2" 2>&1
r=$?; np=$(sed -n 's/.*accuracy \([0-9.]*\) on.*/\1/p' "$work/log2")
st=$(sed -n 's/^accuracy fp32 \([0-9.]*\), int8 \([0-9.]*\) .*/\1 \2/p' "$work/mlp_int8.out")
[ $r = 0 ] && awk -v np="$np" -v st="$st" 'BEGIN { split(st, s, " "); d = np - s[2]; e = s[2] - s[1]
  exit !(np != "" && d * d <= (1.0 / 600 + 1e-9) ^ 2 && e * e <= 0.02 ^ 2) }'
ok $? "fashion_mlp int8: numpy evaluator's probabilities = strata's ($(head -1 "$work/log")); accuracy equals numpy's within one row, within 2 points of fp32 (strata: $st, numpy: $np)"
train conv tests/data/export/conv.json "$work/seq.h5" 4 && export_onnx conv fp32 && export_onnx conv int8 &&
  check_qdq "$work/conv_int8.onnx" "$work/seq.h5" first:512 4 "$work/conv_fp32.onnx" &&
  /usr/bin/python3 tests/util/onnx_numpy.py "$work/conv_int8.onnx" "$work/conv_int8.csv" 1e-4 > "$work/log" 2>&1
ok $? "conv int8: every Conv/Gemm weight int8, a QDQ pair before each (MinMax grids); numpy evaluator within 1e-4 ($(sed 's/.*= //' "$work/log"))"
train mixed tests/data/export/mixed.json "$work/seq.h5" 4 && export_onnx mixed fp32 && export_onnx mixed int8 &&
  check_qdq "$work/mixed_int8.onnx" "$work/seq.h5" first:512 5 "$work/mixed_fp32.onnx" &&
  /usr/bin/python3 -c 'import onnx, sys; m = onnx.load(sys.argv[1]); d = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.attribute]
assert sorted(a.i for n in d for a in n.attribute) == [0, 0, 0, 1, 1]  # 2 MatMul weights per column
assert sum(n.op_type == "MatMul" for n in m.graph.node) == 2' "$work/mixed_int8.onnx" > "$work/log" 2>&1 &&
  /usr/bin/python3 tests/util/onnx_numpy.py "$work/mixed_int8.onnx" "$work/mixed_int8.csv" 1e-4 > "$work/log" 2>&1
ok $? "mixed int8 (dense on [T, C] as MatMul, a conv branch beside an identity, a residual): MatMul weights per column, QDQ before all 5 ops; numpy within 1e-4 ($(sed 's/.*= //' "$work/log"))"

# weight-only int8 (docs/export.md "int8"): LSTM/GRU W and R, ConvTranspose weights and embedding
# tables int8, their ops' inputs float.
# check_wonly MODEL.onnx FP32.onnx LSTM GRU CONVT GATHER BAG: onnx.checker; that many LSTM, GRU,
# ConvTranspose, Gather and embedding_bag MatMul ops read their weights (LSTM/GRU: W and R; Gather:
# the table) from a DequantizeLinear of an int8 initializer (LSTM/GRU: int8 [dirs·G·H, ·] on axis 0,
# then a Reshape to [dirs, G·H, ·]; ConvTranspose: axis 1; tables: axis 0), every LSTM, GRU,
# ConvTranspose and Gather of the file is one of them, none reads a QDQ'd data input; and each int8
# tensor and scale is numpy's symmetric per-channel quantisation of the fp32 file's weight (in
# ONNX's gate order), bit for bit.
check_wonly() {
  /usr/bin/python3 - "$@" > "$work/log" 2>&1 << 'PY'
import sys, numpy as np, onnx
from onnx import numpy_helper, helper
m, f32 = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
want = dict(zip(["LSTM", "GRU", "ConvTranspose", "Gather", "MatMul"], map(int, sys.argv[3:8])))
onnx.checker.check_model(m, full_check=True)
init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
full = {t.name: numpy_helper.to_array(t) for t in f32.graph.initializer}
made = {o: n for n in m.graph.node for o in n.output}

def weight(name, axis):
    """1 when value `name` is DequantizeLinear(int8 initializer) on `axis` (None: the LSTM/GRU
    form, [d0·d1, ...] on axis 0, then Reshape) of numpy's quantisation of the fp32 weight."""
    n, w = made.get(name), full[name]
    if axis is None:
        if n is None or n.op_type != "Reshape" or list(init[n.input[1]]) != list(w.shape):
            return 0
        n, w, axis = made.get(n.input[0]), w.reshape((-1,) + w.shape[2:]), 0
    if n is None or n.op_type != "DequantizeLinear" or init.get(n.input[0], np.zeros(0)).dtype != np.int8:
        return 0
    q, s, z = init[n.input[0]], init[n.input[1]], init[n.input[2]]
    assert helper.get_attribute_value(n.attribute[0]) == axis and q.shape == w.shape, (name, q.shape, w.shape)
    assert s.dtype == np.float32 and z.dtype == np.int8 and not z.any() and s.shape == (w.shape[axis],), name
    wc = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    mx = np.abs(wc).max(1)
    s_np = np.where(mx > 0, mx / np.float32(127), np.float32(1)).astype(np.float32)
    q_np = np.clip(np.rint(wc / s_np[:, None]), -127, 127).astype(np.int8)
    assert (s == s_np).all() and (np.moveaxis(q, axis, 0).reshape(q_np.shape) == q_np).all(), name
    return 1

def float_input(name):
    n = made.get(name)
    return n is None or n.op_type != "DequantizeLinear"

got = dict.fromkeys(want, 0)
for n in m.graph.node:
    op = n.op_type
    if op in ("LSTM", "GRU"):
        ok = weight(n.input[1], None) and weight(n.input[2], None) and float_input(n.input[0])
    elif op == "ConvTranspose":
        ok = weight(n.input[1], 1) and float_input(n.input[0])
    elif op == "Gather":
        ok = weight(n.input[0], 0)
    elif op == "MatMul" and float_input(n.input[0]) and n.input[1] in full and full[n.input[1]].ndim == 2:
        ok = weight(n.input[1], 0)
    else:
        continue
    assert ok or op == "MatMul", (n.name, "float weights")
    got[op] += bool(ok)
assert got == want, (got, want)
print(", ".join(f"{k} {v}" for k, v in got.items() if v), "int8 weights bit-exact")
PY
}
# row_check MODEL.onnx REF.csv: the numpy evaluator within 1e-4 of strata's --reference on every row
row_check() { /usr/bin/python3 tests/util/onnx_numpy.py "$1" "$2" 1e-4 > "$work/log" 2>&1; }
# same_accuracy NAME DATA.h5: strata's reported int8 accuracy equals the numpy evaluator's on the file (one row)
same_accuracy() {
  /usr/bin/python3 tests/util/onnx_numpy.py "$work/$1_int8.onnx" --accuracy "$2" > "$work/log2" 2>&1 || return 1
  np=$(sed -n 's/.*accuracy \([0-9.]*\) on \([0-9]*\).*/\1 \2/p' "$work/log2")
  st=$(sed -n 's/^accuracy fp32 \([0-9.]*\), int8 \([0-9.]*\) .*/\1 \2/p' "$work/$1_int8.out")
  awk -v np="$np" -v st="$st" 'BEGIN { split(st, s, " "); split(np, p, " "); d = p[1] - s[2]
    exit !(np != "" && d * d <= (1.0 / p[2] + 1e-9) ^ 2) }'
}
train bilstm tests/data/export/lstm.json "$work/seq.h5" 3 --set "model.layers[0].units=48" && export_onnx bilstm fp32 300 &&
  export_onnx bilstm int8 300 && has "int8: 1 QuantizeLinear/DequantizeLinear pairs .*; 5 int8 weights (4 weight-only" &&
  check_wonly "$work/bilstm_int8.onnx" "$work/bilstm_fp32.onnx" 2 0 0 0 0
ok $? "BiLSTM (48 units) + LSTM int8: onnx.checker; both LSTMs' W and R int8 per (direction, gate row) behind DequantizeLinear + Reshape, numpy's quantisation bit for bit ($(cat "$work/log"))"
row_check "$work/bilstm_int8.onnx" "$work/bilstm_int8.csv" && r=$(sed 's/.*= //' "$work/log") && same_accuracy bilstm "$work/seq.h5"
ok $? "BiLSTM int8: numpy evaluator within 1e-4 of strata's simulated forward (quantised in strata's gate order) on 300 rows ($r); accuracy strata $st = numpy $np"
# a quarter for the weights; each row's float32 scale and int8 zero point (5 bytes) weigh on W's
# short rows (6 inputs), and the biases stay float32: about a third here, nearer a quarter for wider inputs
a=$(stat -c %s "$work/bilstm_fp32.onnx"); b=$(stat -c %s "$work/bilstm_int8.onnx")
awk -v a="$a" -v b="$b" 'BEGIN { exit !(b / a > 0.22 && b / a < 0.38) }'
ok $? "BiLSTM: the int8 file is a quarter to a third of the fp32 one ($b / $a bytes = $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }'))"
train gru tests/data/export/gru.json "$work/seq.h5" 3 && export_onnx gru fp32 300 && export_onnx gru int8 300 &&
  check_wonly "$work/gru_int8.onnx" "$work/gru_fp32.onnx" 0 2 0 0 0 && c=$(cat "$work/log") &&
  row_check "$work/gru_int8.onnx" "$work/gru_int8.csv"
ok $? "BiGRU + GRU int8: W and R int8 per (direction, gate row), bit-exact ($c); numpy within 1e-4 on 300 rows ($(sed 's/.*= //' "$work/log"))"
train more tests/data/export/more.json "$work/seq.h5" 3 && export_onnx more fp32 300 && export_onnx more int8 300 &&
  check_wonly "$work/more_int8.onnx" "$work/more_fp32.onnx" 0 0 1 0 0 && c=$(cat "$work/log") &&
  row_check "$work/more_int8.onnx" "$work/more_int8.csv" && r=$(sed 's/.*= //' "$work/log") && same_accuracy more "$work/seq.h5"
ok $? "conv_transpose1d model int8: ConvTranspose weight int8 per output channel (axis 1), bit-exact ($c); numpy within 1e-4 ($r); accuracy strata $st = numpy $np"
/usr/bin/python3 tests/util/make_multi.py "$work/multi.h5"
train emb tests/data/train_multi.json "$work/multi.h5" 1 && export_onnx emb fp32 300 && export_onnx emb int8 300 &&
  check_wonly "$work/emb_int8.onnx" "$work/emb_fp32.onnx" 0 0 0 1 1 && c=$(cat "$work/log") &&
  row_check "$work/emb_int8.onnx" "$work/emb_int8.csv"
ok $? "embedding + embedding_bag (tests/data/train_multi.json) int8: both tables int8 per id, bit-exact ($c); numpy within 1e-4 on 300 rows, 3 heads ($(sed 's/.*= //' "$work/log"))"

# calibration rows: the training split only (rows of the test split made extreme move no grid);
# more than the split has takes them all; 0 and non-int8 precisions are usage errors
/usr/bin/python3 - "$work/mlp.h5" "$work/split.h5" << 'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "w") as g:
    split = np.where(np.arange(len(f["y"])) % 4 == 3, 2, 0).astype(np.uint8)
    X = f["X"][:]
    X[split == 2] = 255.0
    g["X"], g["y"], g["split"] = X, f["y"][:], split
    for k, v in f.attrs.items():
        g.attrs[k] = v
PY
timeout 120 bin/strata export "$work/r/mlp/checkpoints/best.h5" --format onnx --precision int8 --data "$work/split.h5" \
  -o "$work/split.onnx" > "$work/log" 2>&1 && has "int8 calibration: 450 rows of .*split.h5 (the training split, all there are)" &&
  has "on 150 rows (the test split)" && check_qdq "$work/split.onnx" "$work/split.h5" train 4 "$work/mlp_fp32.onnx"
ok $? "--data with /split: calibrated on its 450 training rows (512 asked: all there are), MinMax grids of those rows; accuracy on the test split"
timeout 60 bin/strata export "$work/r/mlp/checkpoints/best.h5" --format onnx --precision int8 --calibration-rows 40 \
  -o "$work/c40.onnx" > "$work/log" 2>&1 && has "calibrated on 40 rows" && check_qdq "$work/c40.onnx" "$work/mlp.h5" first:40 4 "$work/mlp_fp32.onnx" &&
  /usr/bin/python3 -c 'import onnx, sys; assert {p.key: p.value for p in onnx.load(sys.argv[1]).metadata_props}["calibration_rows"] == "40"' "$work/c40.onnx"
ok $? "--calibration-rows 40: the grids of the first 40 rows; metadata calibration_rows = 40"
timeout 60 bin/strata export "$work/r/mlp/checkpoints/best.h5" --format onnx --precision int8 --calibration-rows 0 -o "$work/c0.onnx" > "$work/log" 2>&1
r0=$?; timeout 60 bin/strata export "$work/r/mlp/checkpoints/best.h5" --format onnx --calibration-rows 8 -o "$work/c8.onnx" >> "$work/log" 2>&1
r8=$?; [ $r0 = 2 ] && [ $r8 = 2 ] && has "calibration-rows" && has "is for --precision int8" && [ ! -e "$work/c0.onnx" ] && [ ! -e "$work/c8.onnx" ]
ok $? "--calibration-rows 0, and --calibration-rows without int8, are usage errors (exit 2), no file"
/usr/bin/python3 tests/util/onnx_numpy.py --self-test > "$work/log" 2>&1
ok $? "onnx_numpy.py's QuantizeLinear: hand-worked uint8 and int8 values (half to even, zero point, saturation)"

timeout 60 bin/strata export "$work/r/mlp/checkpoints/best.h5" --format onnx --precision int4 -o "$work/x.onnx" > "$work/log" 2>&1
[ $? = 1 ] && has "one of fp32, fp16, int8" && [ ! -e "$work/x.onnx" ]
ok $? "--precision int4 is refused naming the precisions there are, no file"
exit $fail
