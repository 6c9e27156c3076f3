#!/usr/bin/env bash
# test_export.sh — `strata export CKPT --format onnx -o model.onnx` (issue 16, docs/export.md),
# checked by tools that are not strata. Small datasets (tests/util/make_small.py): 600 rows of
# 784 pixels (10 classes) for configs/fashion_mlp.json, 300 sequences [12, 6] (4 classes) for
# the models of tests/data/export/ (conv: conv1d/batchnorm/relu/max and padded avg pooling/
# leaky_relu/global_avg_pool/gelu; lstm and gru: bidirectional then final-state; mixed:
# layernorm/hardswish/parallel concat/residual add/tanh/sigmoid/slice/permute/global_max_pool/
# tanh-gelu; more: conv_transpose1d/squeeze_excite/upsample1d nearest/reshape),
# each trained briefly at 1 process and 1 thread. Every export's --reference CSV holds strata's
# own outputs (the engine's forward) on 32 rows; onnx.checker accepts every file, OpenCV's dnn
# runs the MLP and conv exports (all rows at once) and the LSTM export (a row at a time: OpenCV
# 4.6 runs ONNX LSTM with a batch of 1 only) to within 1e-4, and tests/util/onnx_numpy.py (a
# numpy evaluator from the ONNX specs) runs every export, GRU and LayerNormalization included
# (OpenCV 4.6 has neither), to within 1e-4. A layer kind without an ONNX form is refused naming
# the layer (a linear upsample1d); embedding and embedding_bag (Gather, MatMul; OpenCV 4.6 cannot run
# the Cast/Gather) are checked with the numpy evaluator; a 3-head model (class,
# multi-label, standardised regression; tests/util/make_multi.py) exports one named output per head
# with names and kinds in metadata; an unknown --precision and a missing -o. Prints TAP.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
tap_need_python onnx cv2 -- python3-onnx / python3-opencv
echo "1..18"

/usr/bin/python3 tests/util/make_small.py "$work/mlp.h5" 600 784 10
/usr/bin/python3 tests/util/make_small.py "$work/seq.h5" 300 6 4 12
# train NAME CONFIG DATA: a short run; its best checkpoint is $work/r/NAME/checkpoints/best.h5
train() {
  timeout 300 bin/strata train "$2" --set "data.path=$3" --set "results_dir=$work/r" --set "name=$1" \
    --set train.epochs=4 > "$work/log" 2>&1
}
# export NAME: the ONNX file and the reference CSV of 32 rows
export_onnx() {
  timeout 120 bin/strata export "$work/r/$1/checkpoints/best.h5" --format onnx -o "$work/$1.onnx" \
    --reference "$work/$1.csv" --reference-rows 32 > "$work/log" 2>&1
}

train mlp configs/fashion_mlp.json "$work/mlp.h5" && export_onnx mlp && has "ONNX opset 17, fp32, 13 layers"
ok $? "fashion_mlp: trained and exported (13 layers: 3 x dense, batchnorm, relu, dropout, then dense)"
/usr/bin/python3 tests/util/onnx_opencv.py "$work/mlp.onnx" "$work/mlp.csv" > "$work/log" 2>&1
ok $? "fashion_mlp: onnx.checker accepts it; OpenCV dnn matches strata within 1e-4 ($(tail -1 "$work/log" | sed 's/.*= //'))"
/usr/bin/python3 - "$work/mlp.onnx" > "$work/log" 2>&1 << 'PY'
import json, sys, onnx
m = onnx.load(sys.argv[1])
meta = {p.key: p.value for p in m.metadata_props}
assert json.loads(meta["class_names"]) == [f"class{c}" for c in range(10)], meta
assert meta["output.kind"] == "class", meta
assert [o.name for o in m.graph.output] == ["output"], m.graph.output
ops = [n.op_type for n in m.graph.node]
assert ops[:3] == ["Div", "Sub", "Mul"], ops          # ÷255, − mean, × 1/std
assert "Dropout" not in ops and ops.count("BatchNormalization") == 3 and ops[-2:] == ["Softmax", "Identity"], ops
print("ok")
PY
ok $? "fashion_mlp: input/output names, class names in metadata_props, leading Div/Sub/Mul, no Dropout, Softmax last"

for k in conv lstm gru mixed more; do
  train "export_$k" "tests/data/export/$k.json" "$work/seq.h5" && export_onnx "export_$k"
  ok $? "$k: trained and exported"
done
/usr/bin/python3 tests/util/onnx_opencv.py "$work/export_conv.onnx" "$work/export_conv.csv" > "$work/log" 2>&1
ok $? "conv: onnx.checker accepts it; OpenCV dnn matches strata within 1e-4 ($(tail -1 "$work/log" | sed 's/.*= //'))"
/usr/bin/python3 tests/util/onnx_opencv.py "$work/export_lstm.onnx" "$work/export_lstm.csv" --per-row > "$work/log" 2>&1
ok $? "lstm: onnx.checker accepts it; OpenCV dnn (one row at a time) matches strata within 1e-4 ($(tail -1 "$work/log" | sed 's/.*= //'))"
/usr/bin/python3 -c 'import onnx, sys; [onnx.checker.check_model(onnx.load(f), full_check=True) for f in sys.argv[1:]]' \
  "$work/export_gru.onnx" "$work/export_mixed.onnx" "$work/export_more.onnx" > "$work/log" 2>&1
ok $? "gru, mixed, more: onnx.checker accepts them"
res=""; rc=0
for k in mlp export_conv export_lstm export_gru export_mixed export_more; do
  /usr/bin/python3 tests/util/onnx_numpy.py "$work/$k.onnx" "$work/$k.csv" > "$work/log" 2>&1 || rc=1
  res="$res ${k#export_} $(sed 's/.*= //' "$work/log")"
done
ok $rc "numpy evaluator matches strata within 1e-4 on every export:$res"

/usr/bin/python3 tests/util/make_multi.py "$work/multi.h5"
train export_multi tests/data/export/multi.json "$work/multi.h5" && export_onnx export_multi &&
  /usr/bin/python3 tests/util/onnx_opencv.py "$work/export_multi.onnx" "$work/export_multi.csv" > "$work/log" 2>&1
ok $? "3 heads (class, multi-label, standardised regression): exported; OpenCV dnn matches strata within 1e-4 ($(tail -1 "$work/log" | sed 's/.*= //'))"
/usr/bin/python3 - "$work/export_multi.onnx" "$work/export_multi.csv" "$work/multi.h5" > "$work/log" 2>&1 << 'PY'
import json, sys, h5py, numpy as np, onnx
m = onnx.load(sys.argv[1])
meta = {p.key: p.value for p in m.metadata_props}
assert [o.name for o in m.graph.output] == ["kind", "tags", "score"], m.graph.output
assert (meta["kind.kind"], meta["tags.kind"], meta["score.kind"]) == ("class", "multilabel", "regression"), meta
assert json.loads(meta["kind.names"]) == ["a", "b", "c"] and json.loads(meta["tags.names"]) == ["t0", "t1", "t2", "t3"], meta
ref = np.genfromtxt(sys.argv[2], delimiter=",", names=True)
p = np.stack([ref[f"kind_{k}"] for k in range(3)], 1)
assert np.allclose(p.sum(1), 1, atol=1e-5), p.sum(1)                  # Softmax
t = np.stack([ref[f"tags_{k}"] for k in range(4)], 1)
assert ((t > 0) & (t < 1)).all(), t                                   # Sigmoid
y = h5py.File(sys.argv[3])["targets/score"][: len(ref), 0]
y = y[np.isfinite(y)]
assert abs(ref["score_0"].mean() - y.mean()) < y.std(), (ref["score_0"].mean(), y.mean(), y.std())  # target scale
print("ok")
PY
ok $? "3 heads: outputs named kind, tags, score; kinds and names in metadata; probabilities; the score on the target's scale"
rc=0; res=""
for mode in sum mean; do
  timeout 300 bin/strata train tests/data/train_multi.json --set "data.path=$work/multi.h5" --set "results_dir=$work/r" \
    --set "name=bag_$mode" --set "model.layers[0].branches[2][1].mode=$mode" --set train.epochs=1 > "$work/log" 2>&1 &&
    export_onnx "bag_$mode" &&
    /usr/bin/python3 -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' "$work/bag_$mode.onnx" &&
    /usr/bin/python3 tests/util/onnx_numpy.py "$work/bag_$mode.onnx" "$work/bag_$mode.csv" > "$work/log" 2>&1 || rc=1
  res="$res $mode $(sed 's/.*= //' "$work/log")"
done
ok $rc "embedding + embedding_bag in parallel branches (tests/data/train_multi.json, bag sum and mean): onnx.checker accepts them, numpy evaluator within 1e-4:$res"

train export_refused tests/data/export/refused.json "$work/seq.h5"
timeout 60 bin/strata export "$work/r/export_refused/checkpoints/best.h5" --format onnx -o "$work/refused.onnx" > "$work/log" 2>&1
[ $? = 1 ] && has 'model.layers\[0\] (upsample1d): not exportable to ONNX yet: mode "linear"' && [ ! -e "$work/refused.onnx" ]
ok $? "a layer without an ONNX form (upsample1d, linear) is refused naming the layer (exit 1, no file)"
timeout 60 bin/strata export "$work/r/mlp/checkpoints/best.h5" --format onnx --precision bf16 -o "$work/x.onnx" > "$work/log" 2>&1
[ $? = 1 ] && has "one of fp32, fp16, int8"
ok $? "--precision bf16 is refused naming the ones there are (fp16, int8: tests/test_export_quant.sh)"
timeout 60 bin/strata export "$work/r/mlp/checkpoints/best.h5" --format onnx > "$work/log" 2>&1
[ $? = 2 ] && has "-o model.onnx is required"
ok $? "a missing -o is a usage error (exit 2)"
exit $fail
