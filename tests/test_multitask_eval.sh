#!/usr/bin/env bash
# test_multitask_eval.sh — `strata eval` on a multi-task checkpoint (issue 13): a small
# Fashion-MNIST multi-task file (fine: 10 classes, coarse: 4 classes, intensity: a standardised
# regression; plus attrs: 3 labels derived from fine, for a bce head) trained 2 epochs at 1
# process with 1 thread; strata eval of its best checkpoint (1 thread too: a GEMM's bits may depend
# on the thread count) prints one line per head, writes every head's metrics (test_accuracy.fine,
# test_accuracy.coarse, test_r2.intensity, test_f1.attrs, ...) and per-class CSVs per class head,
# with the bits `strata train` wrote for the same model and split (test: the file's /split; val:
# the split remade from the checkpoint's seed, stratified on data.stratify), the same bytes at 2
# ranks; a dataset whose target is renamed, or whose class names differ, is refused naming the
# head, the target and the file (exit 1, nothing left behind).
# Needs Debian's dataset-fashion-mnist (skipped without it). Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "1..0 # SKIP no Fashion-MNIST IDX files (Debian package dataset-fashion-mnist)"; exit 0
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; [ -f "$work/log" ] && sed 's/^/#   /' "$work/log" | tail -15; fi; }
has() { grep -q -- "$1" "$work/log"; }
py() { /usr/bin/python3 -c "$@"; }
echo "1..8"

# one1 CMD...: CMD on one CPU (strata eval then runs 1 thread, as the training did)
one1() { if command -v taskset > /dev/null; then taskset -c 0 "$@"; else "$@"; fi; }
# two1 CMD...: CMD on two CPUs (mpirun -np 2: each rank then runs 1 thread)
two1() { if command -v taskset > /dev/null && [ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ]; then taskset -c 0,1 "$@"; else "$@"; fi; }

/usr/bin/python3 scripts/make_fashion_multitask.py --limit 600 "$work/mt.h5" > /dev/null
py "
import h5py, numpy as np
f = h5py.File('$work/mt.h5', 'r+'); fine = f['targets/fine'][:]
d = f.create_dataset('targets/attrs', data=np.stack([fine % 2 == 0, fine < 5, (fine == 0) | (fine == 9)], 1).astype(np.uint8))
d.attrs['kind'] = 'multilabel'; d.attrs['label_names'] = np.array(['even', 'low', 'edge'], dtype=h5py.string_dtype())
"
py "
import json
c = json.load(open('configs/fashion_multitask.json'))
c['model']['heads'].append({'name': 'attrs', 'layers': [{'type': 'dense', 'units': 'classes'}]})
c['loss'].append({'head': 'attrs', 'type': 'bce', 'head_weight': 0.5})
json.dump(c, open('$work/mt.json', 'w'))
"
timeout 120 bin/strata train "$work/mt.json" --set "data.path=$work/mt.h5" --set train.epochs=2 \
  --set train.threads=1 --set name=mt --set "results_dir=$work/r" > "$work/train.log" 2>&1
run=$work/r/mt; ck=$run/checkpoints/best.h5
[ -s "$run/metrics.json" ] && [ -s "$ck" ]
ok $? "strata train on the multi-task file (4 heads, 2 epochs, 1 process) writes metrics.json and best.h5"

one1 timeout 60 bin/strata eval "$ck" "$work/mt.h5" --split test > "$work/log" 2>&1; rc=$?
grep '^  test ' "$work/train.log" > "$work/train.lines"; grep '^  test ' "$work/log" > "$work/eval.lines"
[ $rc = 0 ] && [ "$(wc -l < "$work/eval.lines")" = 4 ] && cmp -s "$work/train.lines" "$work/eval.lines" &&
  grep -q "^  test fine .*accuracy .*macro F1" "$work/eval.lines" && grep -q "^  test coarse .*accuracy" "$work/eval.lines" &&
  grep -q "^  test intensity .*R2 .*MAE .*RMSE" "$work/eval.lines" && grep -q "^  test attrs .*micro F1 .*exact match" "$work/eval.lines"
ok $? "strata eval prints one line per head (fine, coarse, intensity, attrs), the lines train printed"

ev=$run/eval-mt-test
py "
import json, sys
m = json.load(open('$ev/metrics.json'))['metrics']
for k in ('test_accuracy.fine', 'test_accuracy.coarse', 'test_r2.intensity', 'test_macro_f1.fine', 'test_rmse.intensity',
          'test_f1.attrs', 'test_exact_match.attrs', 'test_loss'):
    assert k in m, k
" > "$work/log" 2>&1 && [ -s "$ev/fine_per_class.csv" ] && [ -s "$ev/coarse_confusion.csv" ] && [ ! -e "$ev/intensity_per_class.csv" ]
ok $? "metrics.json has every head's metrics (test_accuracy.fine, test_accuracy.coarse, test_r2.intensity, test_f1.attrs, ...); per-class CSVs per class head"

py "
import json
t, e = json.load(open('$run/metrics.json')), json.load(open('$ev/metrics.json'))
assert t['metrics'] == e['metrics'], (t['metrics'], e['metrics'])
for k in ('loss', 'accuracy', 'macro_f1', 'confusion', 'split', 'n_samples'):
    assert t[k] == e[k], k
" > "$work/log" 2>&1
ok $? "every value equals what train wrote in its metrics.json for the same model and split (same bits)"

# The val split is not in the file: it is remade from the checkpoint's seed, stratified on "fine".
one1 timeout 60 bin/strata eval "$ck" "$work/mt.h5" --split val --out "$work/val" > "$work/log" 2>&1
py "
import json, h5py
epoch = int(h5py.File('$ck', 'r').attrs['epoch'])
h = [json.loads(l) for l in open('$run/history.jsonl')]
h = [r for r in h if r['epoch'] == epoch][0]
m = json.load(open('$work/val/metrics.json'))['metrics']
keys = [k for k in m if k.startswith('val_')]
assert len(keys) == 16, keys
for k in keys:
    assert h[k] == m[k], (k, h[k], m[k])
" >> "$work/log" 2>&1
ok $? "strata eval --split val reproduces the best epoch's val metrics of history.jsonl (the split remade as training made it)"

two1 timeout 60 mpirun -np 2 --oversubscribe --bind-to none bin/strata eval "$ck" "$work/mt.h5" --out "$work/p2" > "$work/log" 2>&1 &&
  cmp "$ev/metrics.json" "$work/p2/metrics.json" >> "$work/log" 2>&1 && cmp "$ev/fine_per_class.csv" "$work/p2/fine_per_class.csv" >> "$work/log" 2>&1
ok $? "at 2 ranks strata eval writes the same bytes"

# A target renamed (coarse -> grade): refused naming the head, the target and both files.
cp "$work/mt.h5" "$work/renamed.h5"
py "import h5py; f = h5py.File('$work/renamed.h5', 'r+'); f.move('targets/coarse', 'targets/grade')"
timeout 60 bin/strata eval "$ck" "$work/renamed.h5" --out "$work/bad" > "$work/log" 2>&1; rc=$?
[ $rc = 1 ] && has "renamed.h5: no target coarse (head coarse) to evaluate: the model of .*best.h5 was trained on it" &&
  has "the file's targets: .*grade" && [ ! -e "$work/bad" ]
ok $? "a dataset whose target is renamed is refused naming the head, the target and the files (exit 1, no output folder)"

cp "$work/mt.h5" "$work/names.h5"
py "
import h5py, numpy as np
f = h5py.File('$work/names.h5', 'r+'); d = f['targets/coarse']
names = [n.decode() if isinstance(n, bytes) else n for n in d.attrs['class_names']]
names[2] = 'shoes'
d.attrs['class_names'] = np.array(names, dtype=h5py.string_dtype())
"
timeout 60 bin/strata eval "$ck" "$work/names.h5" --out "$work/bad" > "$work/log" 2>&1; rc=$?
[ $rc = 1 ] && has 'names.h5: target coarse (head coarse): class 2 is "shoes" but the model was trained with "footwear"' &&
  [ ! -e "$work/bad" ]
ok $? "a dataset whose class names differ from the checkpoint's is refused naming the class, the head and the target"
exit $fail
