#!/usr/bin/env bash
# test_export_varlen.sh — `strata export` of models trained on variable-length sequences (/lengths;
# docs/export.md "Variable-length inputs"): the ONNX graph takes a second input `sequence_lens`
# int32 [N]. Data: scripts/make_varlen.py (300 rows [24, 8], lengths 4..24, garbage and NaN in
# the padding) and tests/util/make_toy_ctc.py (120 rows, 5 symbols). Models, each trained
# briefly at 1 process and 1 thread: tests/data/train_varlen.json (conv1d stride 2, batchnorm,
# squeeze_excite, max_pool1d, bidirectional LSTM, bidirectional GRU to its final states),
# tests/data/export/varlen_pool.json (per-position dense, layernorm, conv_transpose1d, strided
# conv1d, upsample1d, padded avg_pool1d, a residual block, global avg and max pools side by side)
# and tests/data/train_ctc.json (a CTC head: [N, T', V] logits plus `output_lens`). Every export
# passes onnx.checker and tests/util/onnx_numpy.py gives strata's outputs (the engine's forward
# with lengths, `--reference` on every row) within 1e-4, and `strata predict`'s probabilities when
# fed the file's rows as stored; outputs do not move when the padding
# holds garbage (huge values, NaN, inf) and do move when the lengths are wrong (so the check can
# fail); fp16 within 2e-3; int8 (the LSTM's and GRU's W and R int8 per gate row behind
# DequantizeLinear + Reshape) within 1e-4 and at strata's accuracy; a model whose layer cannot take lengths (flatten) is refused naming
# the layer. Prints TAP.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
tap_need_python onnx h5py -- python3-onnx / python3-h5py
echo "1..11"

/usr/bin/python3 scripts/make_varlen.py "$work/v.h5" --n 300 --t-max 24 --min-length 4 --garbage-padding > /dev/null
/usr/bin/python3 tests/util/make_toy_ctc.py "$work/c.h5" 120 2
/usr/bin/python3 tests/util/make_small.py "$work/fixed.h5" 200 8 4 24
# train NAME CONFIG DATA [--set ...]: a short run; its best checkpoint is $work/r/NAME/checkpoints/best.h5
train() {
  local name=$1 cfg=$2 data=$3; shift 3
  timeout 300 bin/strata train "$cfg" --set "data.path=$data" --set "results_dir=$work/r" --set "name=$name" "$@" \
    > "$work/log" 2>&1
}
# export NAME [ROWS] [--precision P]: the ONNX file and the reference CSV (every row by default)
export_onnx() {
  local name=$1 rows=${2:-300}; shift; [ $# -gt 0 ] && shift
  timeout 120 bin/strata export "$work/r/$name/checkpoints/best.h5" --format onnx -o "$work/$name.onnx" \
    --reference "$work/$name.csv" --reference-rows "$rows" "$@" > "$work/log" 2>&1
}
checker() { /usr/bin/python3 -c 'import onnx, sys; [onnx.checker.check_model(onnx.load(f), full_check=True) for f in sys.argv[1:]]' "$@"; }
numpy_eval() { /usr/bin/python3 tests/util/onnx_numpy.py "$work/$1.onnx" "$work/$1.csv" ${2:-} > "$work/log" 2>&1; }

train rnn tests/data/train_varlen.json "$work/v.h5" && export_onnx rnn && checker "$work/rnn.onnx" &&
/usr/bin/python3 - "$work/rnn.onnx" > "$work/log" 2>&1 << 'PY'
import sys, onnx
m = onnx.load(sys.argv[1])
ins = [(i.name, i.type.tensor_type.elem_type) for i in m.graph.input]
assert ins == [("input", 1), ("sequence_lens", 6)], ins           # float, int32
rnn = [n for n in m.graph.node if n.op_type in ("LSTM", "GRU")]
assert len(rnn) == 2 and all(len(n.input) == 5 and n.input[4] for n in rnn), rnn   # sequence_lens given to both
assert [o.name for o in m.graph.output] == ["output"], m.graph.output
print("ok")
PY
ok $? "conv1d/batchnorm/squeeze_excite/max_pool1d/BiLSTM/BiGRU on /lengths: exported with inputs input + sequence_lens (int32), LSTM and GRU read it; onnx.checker accepts it"
cp "$work/rnn.onnx" "$work/rnn_fp32.onnx" 2> /dev/null
numpy_eval rnn
ok $? "BiLSTM/BiGRU model: numpy evaluator matches strata on all 300 rows within 1e-4 ($(sed 's/.*= //' "$work/log"))"

# garbage in the padding must not change the outputs; wrong lengths must
/usr/bin/python3 - "$work/rnn.onnx" "$work/rnn.csv" > "$work/log" 2>&1 << 'PY'
import sys
import numpy as np, onnx
sys.path.insert(0, "tests/util")
from onnx_numpy import run
m = onnx.load(sys.argv[1])
ref = np.genfromtxt(sys.argv[2], delimiter=",", names=True)
x = np.stack([ref[c] for c in ref.dtype.names if c.startswith("x")], 1).reshape(len(ref), 24, 8).astype(np.float32)
lens = ref["sequence_lens"].astype(np.int32)
assert lens.min() < 24 and len(set(lens)) > 5, lens
base = run(m, x, lens)[0]
g = x.copy()
rng = np.random.default_rng(0)
pad = np.arange(24)[None, :] >= lens[:, None]
g[pad] = rng.normal(0, 1e6, size=(int(pad.sum()), 8))
g[pad & (np.arange(24)[None, :] % 3 == 0)] = np.nan
g[pad & (np.arange(24)[None, :] % 3 == 1)] = np.inf
got = run(m, g, lens)[0]
assert np.isfinite(got).all() and np.array_equal(got, base), np.abs(got - base).max()
wrong = run(m, x, np.full_like(lens, 24))[0]
d = np.abs(wrong - base).max()
assert d > 1e-3, d
print(f"garbage padding: identical; all lengths 24: max change {d:.3g}")
PY
ok $? "padding values do not matter (1e6 noise, NaN, inf past each length: identical outputs); wrong lengths change them ($(tail -1 "$work/log" | sed 's/.*: //'))"

bin/strata predict "$work/r/rnn/checkpoints/best.h5" "$work/v.h5" -o "$work/rnn_predict.csv" > "$work/log" 2>&1 &&
/usr/bin/python3 - "$work/rnn.onnx" "$work/rnn_predict.csv" "$work/v.h5" > "$work/log" 2>&1 << 'PY'
import csv, sys
import h5py, numpy as np, onnx
sys.path.insert(0, "tests/util")
from onnx_numpy import run
f = h5py.File(sys.argv[3])
X, lens = f["X"][:], f["lengths"][:]
assert not np.isfinite(X).all()                      # the file's own padding holds NaN / inf
rows = list(csv.DictReader(open(sys.argv[2])))
want = np.array([[float(r[k]) for k in r if k.startswith("y_p_")] for r in rows])
got = run(onnx.load(sys.argv[1]), X, lens)[0]
d = np.abs(got - want).max()
assert len(rows) == 300 and d < 1e-4, d
print(f"max |onnx - predict| = {d:.2g}")
PY
ok $? "the file's rows as stored (garbage padding) with /lengths as sequence_lens: the graph gives strata predict's probabilities on all 300 rows within 1e-4 ($(tail -1 "$work/log" | sed 's/.*= //'); predict writes 6 decimals)"

train pool tests/data/export/varlen_pool.json "$work/v.h5" && export_onnx pool && checker "$work/pool.onnx" && numpy_eval pool
ok $? "dense/layernorm per position, conv_transpose1d, strided conv1d, upsample1d, padded avg_pool1d, residual, global avg + max pools: checker ok, numpy within 1e-4 on 300 rows ($(sed 's/.*= //' "$work/log"))"

train ctc tests/data/train_ctc.json "$work/c.h5" --set train.epochs=1 && export_onnx ctc 120 && checker "$work/ctc.onnx" &&
  numpy_eval ctc
ok $? "CTC model (conv1d stride 2, BiLSTM, per-position dense): checker ok, numpy within 1e-4 on 120 rows, output_lens included ($(sed 's/.*= //' "$work/log"))"
/usr/bin/python3 - "$work/ctc.onnx" "$work/ctc.csv" "$work/c.h5" > "$work/log" 2>&1 << 'PY'
import json, sys
import h5py, numpy as np, onnx
m = onnx.load(sys.argv[1])
outs = [(o.name, o.type.tensor_type.elem_type, [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim]) for o in m.graph.output]
T = h5py.File(sys.argv[3])["X"].shape[1]
T2 = (T + 2 - 3) // 2 + 1                                    # conv1d k3 s2 p1
assert outs == [("output", 1, ["N", T2, 5]), ("output_lens", 6, ["N"])], outs
meta = {p.key: p.value for p in m.metadata_props}
assert meta["output.kind"] == "sequence" and json.loads(meta["output.names"])[0] == "<blank>", meta
ref = np.genfromtxt(sys.argv[2], delimiter=",", names=True)
lens = h5py.File(sys.argv[3])["lengths"][: len(ref)]
assert (ref["sequence_lens"] == lens).all()
assert (ref["output_lens"] == (lens + 2 - 3) // 2 + 1).all(), (ref["output_lens"][:8], lens[:8])
y = np.stack([ref[f"output_{k}"] for k in range(T2 * 5)], 1).reshape(len(ref), T2, 5)
past = np.arange(T2)[None, :] >= ref["output_lens"][:, None]
assert (y[past] == 0).all() and (np.abs(y[~past]).sum(-1) > 0).all()
print("ok")
PY
ok $? "CTC: outputs output [N, T', 5] logits (0 past each row's length) and output_lens int32 [N] = floor((len - 1) / 2) + 1; kind sequence in metadata"

export_onnx rnn 300 --precision fp16 && checker "$work/rnn.onnx" && numpy_eval rnn 2e-3
ok $? "fp16 export of the BiLSTM/BiGRU model: checker ok, numpy evaluator (float16 ops) within 2e-3 ($(sed 's/.*= //' "$work/log"))"

# int8: the QDQ ops (conv1d, dense) and the weight-only ones: the LSTM's and the GRU's W and R int8
# per (direction, gate row), [dirs·G·H, ·] -> DequantizeLinear (axis 0) -> Reshape, their inputs float
export_onnx rnn 300 --precision int8 && cp "$work/log" "$work/rnn_int8.out" && grep -q "QuantizeLinear/DequantizeLinear pairs" "$work/log" &&
  ! grep -q " 0 QuantizeLinear" "$work/log" && checker "$work/rnn.onnx" &&
/usr/bin/python3 - "$work/rnn.onnx" "$work/rnn_fp32.onnx" > "$work/log" 2>&1 << 'PY' &&
import os, sys, numpy as np, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
made = {o: n for n in m.graph.node for o in n.output}
def int8_rows(name):  # Reshape(DequantizeLinear(int8 [dirs·G·H, ·], axis 0)) -> [dirs, G·H, ·]
    r = made.get(name)
    d = made.get(r.input[0]) if r is not None and r.op_type == "Reshape" else None
    if d is None or d.op_type != "DequantizeLinear" or init[d.input[0]].dtype != np.int8:
        return False
    q, shape = init[d.input[0]], list(init[r.input[1]])
    return d.attribute[0].i == 0 and q.shape == (shape[0] * shape[1], shape[2]) and init[d.input[1]].shape == (q.shape[0],)
rnn = [n for n in m.graph.node if n.op_type in ("LSTM", "GRU")]
assert [n.op_type for n in rnn] == ["LSTM", "GRU"] and all(int8_rows(n.input[1]) and int8_rows(n.input[2]) for n in rnn), rnn
assert all(made[n.input[0]].op_type == "Transpose" for n in rnn)  # the data input stays float
a, b = os.path.getsize(sys.argv[2]), os.path.getsize(sys.argv[1])
print(f"LSTM and GRU W, R int8; {b} / {a} bytes = {b / a:.3f}")
PY
  c=$(cat "$work/log") && numpy_eval rnn 1e-4 && r=$(sed 's/.*= //' "$work/log") &&
  /usr/bin/python3 tests/util/onnx_numpy.py "$work/rnn.onnx" --accuracy "$work/v.h5" > "$work/log" 2>&1 &&
  np=$(sed -n 's/.*accuracy \([0-9.]*\) on \([0-9]*\).*/\1 \2/p' "$work/log") &&
  st=$(sed -n 's/^accuracy fp32 \([0-9.]*\), int8 \([0-9.]*\) .*/\1 \2/p' "$work/rnn_int8.out") &&
  awk -v np="$np" -v st="$st" 'BEGIN { split(st, s, " "); split(np, p, " "); d = p[1] - s[2]; exit !(np != "" && d * d <= (1.0 / p[2] + 1e-9) ^ 2) }'
ok $? "int8 export of the BiLSTM/BiGRU model (calibrated on the training rows with their lengths): checker ok; $c; numpy evaluator within 1e-4 ($r), its accuracy strata's (fp32 int8: $st; numpy: $np)"

train fixed tests/data/export/varlen_refused.json "$work/fixed.h5" &&
  timeout 60 bin/strata export "$work/r/fixed/checkpoints/best.h5" --format onnx -o "$work/refused.onnx" --data "$work/v.h5" \
  > "$work/log" 2>&1
[ $? = 1 ] && has "has /lengths" && has 'model.layers\[2\] (flatten) cannot take variable-length sequences' && [ ! -e "$work/refused.onnx" ]
ok $? "a model with a layer that cannot take lengths (flatten), exported for a /lengths file: refused naming the layer (exit 1, no file)"

train refused tests/data/export/refused.json "$work/v.h5" &&
  timeout 60 bin/strata export "$work/r/refused/checkpoints/best.h5" --format onnx -o "$work/refused.onnx" > "$work/log" 2>&1
[ $? = 1 ] && has 'model.layers\[0\] (upsample1d): not exportable to ONNX yet: mode "linear"' && [ ! -e "$work/refused.onnx" ]
ok $? "a variable-length model with a kind that has no ONNX form (upsample1d, linear) is refused naming the layer"
exit $fail
