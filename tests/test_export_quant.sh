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
# --precision int8 (weights only: Gemm and Conv weights int8 per output channel behind
# DequantizeLinear; activations stay float32): onnx.checker accepts the MLP and conv files, the
# MLP's is about a quarter of fp32, each int8 row is symmetric (max |q| = 127, zero point 0) and
# dequantises to within half a step of the fp32 weight, the numpy evaluator runs them within 1e-4
# of strata's forward with the dequantised weights, and the accuracies agree as for fp16; an unknown precision is refused. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT
if ! /usr/bin/python3 -c 'import onnx, h5py' 2> /dev/null; then
  echo "1..0 # SKIP no python3-onnx / python3-h5py (scripts/install-deps.sh)"; exit 0
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; [ -f "$work/log" ] && sed 's/^/#   /' "$work/log" | tail -15; fi; }
has() { grep -q -- "$1" "$work/log"; }
echo "1..15"

/usr/bin/python3 tests/util/make_small.py "$work/mlp.h5" 600 784 10
/usr/bin/python3 tests/util/make_small.py "$work/seq.h5" 300 6 4 12
# train NAME CONFIG DATA EPOCHS
train() {
  timeout 300 bin/strata train "$2" --set "data.path=$3" --set "results_dir=$work/r" --set "name=$1" \
    --set "train.epochs=$4" > "$work/log" 2>&1
}
# export NAME PRECISION: $work/NAME_PRECISION.onnx, its reference CSV (32 rows), strata's report in .out
export_onnx() {
  timeout 120 bin/strata export "$work/r/$1/checkpoints/best.h5" --format onnx --precision "$2" -o "$work/$1_$2.onnx" \
    --reference "$work/$1_$2.csv" --reference-rows 32 > "$work/$1_$2.out" 2>&1
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

export_onnx mlp int8 && has "ONNX opset 17, int8, 13 layers" && has "accuracy fp32 0\.[0-9]*, int8 0\.[0-9]* (change"
ok $? "fashion_mlp: exported at int8; it reports its accuracy against fp32"
/usr/bin/python3 - "$work/mlp_fp32.onnx" "$work/mlp_int8.onnx" > "$work/log" 2>&1 << 'PY'
import sys, numpy as np, onnx
from onnx import numpy_helper
f32, q8 = (onnx.load(f) for f in sys.argv[1:])
onnx.checker.check_model(q8, full_check=True)
full = {t.name: numpy_helper.to_array(t) for t in f32.graph.initializer}
init = {t.name: numpy_helper.to_array(t) for t in q8.graph.initializer}
dq = [n for n in q8.graph.node if n.op_type == "DequantizeLinear"]
gemm_w = [n.input[1] for n in f32.graph.node if n.op_type == "Gemm"]
assert sorted(n.output[0] for n in dq) == sorted(gemm_w) and len(dq) == 4, (dq, gemm_w)
for n in dq:
    q, s, z, w = init[n.input[0]], init[n.input[1]], init[n.input[2]], full[n.output[0]]
    assert q.dtype == np.int8 and z.dtype == np.int8 and not z.any() and q.shape == w.shape
    assert (np.abs(q).max(1) == 127).all()                                    # symmetric per output channel
    assert np.allclose(s, np.abs(w).max(1) / 127, rtol=1e-6)
    assert (np.abs(q * s[:, None] - w) <= s[:, None] / 2 * (1 + 1e-5)).all()  # within half a step
print("ok")
PY
ok $? "fashion_mlp int8: onnx.checker accepts it; 4 Gemm weights int8 per output channel, symmetric, within half a step"
a=$(stat -c %s "$work/mlp_fp32.onnx"); b=$(stat -c %s "$work/mlp_int8.onnx")
awk -v a="$a" -v b="$b" 'BEGIN { exit !(b / a > 0.22 && b / a < 0.30) }'
ok $? "fashion_mlp: the int8 file is about a quarter of the fp32 one ($b / $a bytes)"
/usr/bin/python3 tests/util/onnx_numpy.py "$work/mlp_int8.onnx" "$work/mlp_int8.csv" 1e-4 > "$work/log" 2>&1 &&
  /usr/bin/python3 tests/util/onnx_numpy.py "$work/mlp_int8.onnx" --accuracy "$work/mlp.h5" > "$work/log2" 2>&1
r=$?; np=$(sed -n 's/.*accuracy \([0-9.]*\) on.*/\1/p' "$work/log2")
st=$(sed -n 's/^accuracy fp32 \([0-9.]*\), int8 \([0-9.]*\) .*/\1 \2/p' "$work/mlp_int8.out")
[ $r = 0 ] && awk -v np="$np" -v st="$st" 'BEGIN { split(st, s, " "); d = np - s[2]; e = s[2] - s[1]
  exit !(np != "" && d * d <= (1.0 / 600 + 1e-9) ^ 2 && e * e <= 0.02 ^ 2) }'
ok $? "fashion_mlp int8: numpy evaluator within 1e-4 of strata ($(sed 's/.*= //' "$work/log")); accuracy equals numpy's within one row, within 2 points of fp32 (strata: $st, numpy: $np)"
train conv tests/data/export/conv.json "$work/seq.h5" 4 && export_onnx conv int8 &&
  /usr/bin/python3 -c 'import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)
assert sum(n.op_type == "DequantizeLinear" for n in m.graph.node) == sum(n.op_type in ("Conv", "Gemm") for n in m.graph.node) > 0' \
  "$work/conv_int8.onnx" > "$work/log" 2>&1 &&
  /usr/bin/python3 tests/util/onnx_numpy.py "$work/conv_int8.onnx" "$work/conv_int8.csv" 1e-4 > "$work/log" 2>&1
ok $? "conv int8: onnx.checker accepts it, every Conv/Gemm weight dequantised; numpy evaluator within 1e-4 ($(sed 's/.*= //' "$work/log"))"

timeout 60 bin/strata export "$work/r/mlp/checkpoints/best.h5" --format onnx --precision int4 -o "$work/x.onnx" > "$work/log" 2>&1
[ $? = 1 ] && has "one of fp32, fp16, int8" && [ ! -e "$work/x.onnx" ]
ok $? "--precision int4 is refused naming the precisions there are, no file"
exit $fail
