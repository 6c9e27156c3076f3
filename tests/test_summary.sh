#!/usr/bin/env bash
# test_summary.sh — `strata summary` end to end (docs/model.md, "strata summary"): the JSON of
# configs/fashion_mlp.json (its dataset is not in the repository: --input-shape and --classes stand
# in, and without them the message says so) checked with Python against hand-computed counts; the
# bidirectional-LSTM config; a config whose dataset exists (shape and classes from the file); a
# tiny run's checkpoint summarised as its config is (same rows), also with its dataset gone; usage
# errors. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export STRATA_PROGRESS=never OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
PY=/usr/bin/python3
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
echo "1..10"

# check FILE PYTHON: runs the Python assertions with j = the JSON in FILE; prints why on failure.
check() {
  $PY - "$1" "$2" <<'PYEOF' 2>&1 | sed 's/^/# /'
import json, sys
j = json.load(open(sys.argv[1]))
exec(sys.argv[2])
PYEOF
  return "${PIPESTATUS[0]}"
}

bin/strata summary configs/fashion_mlp.json --json --input-shape 784 --classes 10 > "$work/mlp.json" 2> "$work/err"
# dense 784->512 without bias (batchnorm follows) 401,408; batchnorm 2x512; dense 512->256 131,072;
# 2x256; 256->128 32,768; 2x128; 128->10 with bias 1,290: 568,330 parameters, 1,792 buffers
check "$work/mlp.json" '
L = j["layers"]
assert len(L) == 13, len(L)
assert [l["params"] for l in L] == [401408, 1024, 0, 0, 131072, 512, 0, 0, 32768, 256, 0, 0, 1290], [l["params"] for l in L]
assert sum(l["params"] for l in L) == j["totals"]["params"] == 568330
assert j["totals"]["buffers"] == 1792 and j["totals"]["trainable"] == 568330
assert L[3]["path"] == "model.layers[3]" and L[3]["kind"] == "dropout" and L[12]["output_shape"] == [10]
assert j["micro_batch"] == 32 and j["optimizer"]["type"] == "adamw" and j["optimizer"]["state_bytes"] == 2 * 4 * 568330
assert L[0]["flops_forward"] == 2 * 784 * 512 and L[0]["flops_train"] == 2 * L[0]["flops_forward"]   # no din at the input
assert L[12]["flops_forward"] == 2 * 128 * 10 + 10 and L[12]["flops_train"] == 3 * 2 * 128 * 10 + 2 * 10
assert L[0]["activation_bytes"] == 4 * 32 * 512
assert abs(j["totals"]["flops_forward"] - sum(l["flops_forward"] for l in L)) < 1e-6
assert j["totals"]["flops_unknown_layers"] == 0
'
ok $? "fashion_mlp.json --json: 13 layers, 568,330 parameters (= the sum of the rows), 1,792 buffers, micro-batch 32, AdamW state, dense FLOPs"

# (the config's data.path pointed at a file that is not there, whether or not setup made data/)
sed 's|"data/fashion-mnist.h5"|"data/not-made-yet.h5"|' configs/fashion_mlp.json > "$work/nodata.json"
bin/strata summary "$work/nodata.json" > "$work/out" 2> "$work/err"
rc=$?
[ $rc = 1 ] && grep -q "data/not-made-yet.h5" "$work/err" && grep -q -- "--input-shape" "$work/err"
ok $? "without its dataset, summary fails (exit $rc) naming the file and --input-shape: $(cat "$work/err")"

bin/strata summary configs/fashion_seq_bilstm.json --json --input-shape 28,28 --classes 10 > "$work/lstm.json" 2> "$work/err"
# lstm 256 units (bidirectional?) on [28, 28]: 4H(C + H) + 8H per direction, from the config
check "$work/lstm.json" '
import json as J
cfg = J.load(open("configs/fashion_seq_bilstm.json"))["model"]["layers"]
L = j["layers"]
C = 28
for l, c in zip(L, cfg):
    if c["type"] != "lstm": continue
    H, D, T = c["units"], 2 if c.get("bidirectional") else 1, 28
    assert l["params"] == D * (4 * H * (C + H) + 8 * H), (l, c)
    assert l["flops_forward"] == D * (2 * T * 4 * H * (C + H) + 17 * T * H), l
    C = H * D
assert sum(l["params"] for l in L) == j["totals"]["params"]
'
ok $? "fashion_seq_bilstm.json --input-shape 28,28: LSTM parameters and forward FLOPs by the rule"

tests/util/make_tiny.sh "$work/tiny.h5"
$PY -c '
import json, sys
c = json.load(open("tests/data/train_tiny.json"))
c["data"]["path"] = sys.argv[1]; c["results_dir"] = sys.argv[2]; c["train"]["epochs"] = 1; c["train"]["threads"] = 1
json.dump(c, open(sys.argv[3], "w"))' "$work/tiny.h5" "$work/results" "$work/tiny.json"
bin/strata summary "$work/tiny.json" --json > "$work/cfg.json" 2> "$work/err"
check "$work/cfg.json" '
L = j["layers"]
assert j["input_shape"] == [8] and L[-1]["output_shape"] == [4], (j["input_shape"], L[-1])
assert j["shape_from"].endswith("tiny.h5"), j["shape_from"]
assert [l["params"] for l in L] == [8 * 32, 64, 0, 0, 32 * 4 + 4]
assert j["micro_batch"] == 16   # batch 64 over 4 shards
'
ok $? "a config whose dataset exists: input [8] and 4 classes from the file, micro-batch 16"

timeout 300 bin/strata train "$work/tiny.json" > "$work/train.log" 2>&1
ck=$(ls "$work"/results/tiny/checkpoints/step-*.h5 2>/dev/null | tail -1)
bin/strata summary "$ck" --json > "$work/ck.json" 2> "$work/err"
check "$work/ck.json" '
c = json.load(open(sys.argv[1].replace("ck.json", "cfg.json")))
assert j["layers"] == c["layers"] and j["totals"] == c["totals"], "checkpoint and config summaries differ"
assert "checkpoint" in j["source"], j["source"]
'
ok $? "the tiny run's checkpoint ($(basename "${ck:-none}")) gives the config's rows and totals"

bin/strata summary "$ck" > "$work/ck.txt" 2>&1
grep -q "^ *total " "$work/ck.txt" && grep -q "model.layers\[4\] *dense" "$work/ck.txt" && grep -q "optimizer state" "$work/ck.txt"
ok $? "the table: one line per layer, the totals and the optimizer state"

mv "$work/tiny.h5" "$work/gone.h5"
bin/strata summary "$ck" > /dev/null 2> "$work/err"; rc=$?
bin/strata summary "$ck" --input-shape 8 --json > "$work/ck8.json" 2>> "$work/err"; rc8=$?
[ $rc = 1 ] && grep -q -- "--input-shape" "$work/err" && [ $rc8 = 0 ] && check "$work/ck8.json" 'assert j["totals"]["params"] == 8 * 32 + 64 + 132'
ok $? "a checkpoint whose dataset is gone: fails (exit $rc) saying --input-shape; with --input-shape 8 it works (exit $rc8)"

bin/strata summary "$ck" --input-shape 9 > /dev/null 2> "$work/err"; rc=$?
[ $rc = 1 ] && grep -q "checkpoint holds 452" "$work/err"
ok $? "a checkpoint summarised for another input shape fails naming the parameter counts (exit $rc): $(cat "$work/err")"

bin/strata summary configs/fashion_mlp.json --input-shape 2,x > /dev/null 2>&1; a=$?
bin/strata summary > /dev/null 2>&1; b=$?
bin/strata summary "$work/nothing.json" > /dev/null 2> "$work/err"; c=$?
[ $a = 2 ] && [ $b = 2 ] && [ $c = 1 ] && grep -q "nothing.json: cannot open" "$work/err"
ok $? "a bad --input-shape and a missing argument are usage errors (exit $a, $b); a missing file fails naming it (exit $c)"

bin/strata summary configs/fashion_mlp.json --input-shape 784 > /dev/null 2> "$work/err"; a=$?
bin/strata summary configs/fashion_seq_cnn.json --input-shape 28 --classes 3 > /dev/null 2> "$work/err2"; b=$?
[ $a = 1 ] && grep -q 'fashion_mlp.json: model.layers\[12\].units: .*give --classes K' "$work/err" &&
  [ $b = 1 ] && grep -q 'fashion_seq_cnn.json: model.layers\[0\]: conv1d needs a sequence input' "$work/err2"
ok $? "--input-shape without --classes on a \"classes\" head asks for --classes (exit $a); a shape the model cannot take is named (exit $b)"

[ $failed = 0 ]
