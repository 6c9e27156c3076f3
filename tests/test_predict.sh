#!/usr/bin/env bash
# test_predict.sh — `strata predict` (issue 16): a small 4-feature, 3-class CSV converted with
# `strata convert csv` (so the dataset, and the checkpoint, carry feature names), trained a few
# epochs at 1 process; predict on the labelled HDF5 gives the accuracy `strata eval --split all`
# reports (recomputed in Python from the predicted ids); a CSV of the same rows with its columns
# shuffled gives the same output file byte for byte; top-k and HDF5 output agree with the
# probabilities; P=1 and P=2 (small chunks: several rounds) write identical files (CSV and the
# HDF5 datasets); a variable-length model (/lengths, make_varlen.py) predicts the accuracy eval
# reports, identically at 2 ranks; bad inputs get clear errors and leave nothing: a missing and
# an extra column (named), a NaN (its row named; at P=2 in rank 1's chunk too), an HDF5 file
# whose feature names are in another order, a model trained on other features (the feature
# counts named), a checkpoint without feature names on a CSV. Several heads (class, multilabel,
# regression) and a ctc head agree with eval; an HDF5 file with /X only works. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; [ -f "$work/log" ] && sed 's/^/#   /' "$work/log" | tail -15; fi; }
has() { grep -q -- "$1" "$work/log"; }
py() { /usr/bin/python3 -c "$@"; }
S=bin/strata
# one1 / two1 CMD...: CMD on one CPU / two CPUs, so every rank runs 1 thread (a GEMM's bits may
# depend on the thread count, and strata's default is the cores per rank)
one1() { if command -v taskset > /dev/null; then taskset -c 0 "$@"; else "$@"; fi; }
two1() { if command -v taskset > /dev/null && [ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ]; then taskset -c 0,1 "$@"; else "$@"; fi; }
echo "1..20"

# 3 classes from 4 features (a class-dependent mean per feature), 2100 rows
py "
import numpy as np
r = np.random.default_rng(5); n = 2100
y = r.integers(0, 3, n); m = np.array([[0, 1, 2, -1], [1, -1, 0, 2], [-1, 0, -2, 0]], float)
X = (m[y] + r.normal(0, 1.2, (n, 4))) * [1, 10, 0.1, 3] + [0, 50, 0, -7]
with open('$work/train.csv', 'w') as f:
    f.write('age,income,ratio,score,kind\n')
    for i in range(n): f.write('%r,%r,%r,%r,%s\n' % (*[float(np.float32(v)) for v in X[i]], ['cat', 'dog', 'owl'][y[i]]))
"
$S convert csv "$work/train.csv" --label kind -o "$work/d.h5" > "$work/log" 2>&1 &&
py "
import json
c = json.load(open('tests/data/train_tiny.json')); c['train']['epochs'] = 4; c['train']['threads'] = 1
json.dump(c, open('$work/c.json', 'w'))
" && one1 timeout 120 $S train "$work/c.json" --set "data.path=$work/d.h5" --set name=p --set "results_dir=$work/r" \
  > "$work/log" 2>&1 &&
py "
import h5py; f = h5py.File('$work/r/p/checkpoints/best.h5', 'r')
assert [s.decode() for s in f['feature_names'][:]] == ['age', 'income', 'ratio', 'score'], f['feature_names'][:]
" >> "$work/log" 2>&1
ok $? "convert csv + train: the checkpoint holds /feature_names (age, income, ratio, score)"
ck=$work/r/p/checkpoints/best.h5

one1 $S predict "$ck" "$work/d.h5" -o "$work/p.csv" > "$work/log" 2>&1 &&
  one1 timeout 60 $S eval "$ck" "$work/d.h5" --split all --out "$work/ev" >> "$work/log" 2>&1 &&
py "
import csv, json, h5py, numpy as np
rows = list(csv.DictReader(open('$work/p.csv')))
y = h5py.File('$work/d.h5', 'r')['y'][:]
assert len(rows) == len(y) == 2100 and [int(r['row']) for r in rows] == list(range(2100))
pred = np.array([int(r['y']) for r in rows])
names = json.load(open('$work/ev/metrics.json'))
acc = float(np.mean(pred == y)); want = names['accuracy']
assert abs(acc - want) < 1e-12, (acc, want)
assert acc > 0.6, acc
assert all(r['y_name'] == ['cat', 'dog', 'owl'][int(r['y'])] for r in rows)
p = np.array([[float(r['y_p_' + k]) for k in ('cat', 'dog', 'owl')] for r in rows])
assert np.allclose(p.sum(1), 1, atol=1e-5) and (p.argmax(1) == pred).all()
print('accuracy', acc)
" >> "$work/log" 2>&1
ok $? "predict on the labelled HDF5: argmax accuracy recomputed from the CSV equals eval's metrics.json (all split), names and softmax rows"

py "
import csv, random
rows = list(csv.reader(open('$work/train.csv')))
order = [3, 0, 2, 1]
with open('$work/shuf.csv', 'w') as f:
    for r in rows: f.write(','.join(r[j] for j in order) + '\n')
"
one1 $S predict "$ck" "$work/shuf.csv" -o "$work/q.csv" > "$work/log" 2>&1 && cmp "$work/p.csv" "$work/q.csv" >> "$work/log" 2>&1
ok $? "predict on a CSV with shuffled column order (score,age,ratio,income): the same output file as on the HDF5"

$S predict "$ck" "$work/d.h5" -o "$work/k.csv" --top-k 2 > "$work/log" 2>&1 &&
one1 $S predict "$ck" "$work/d.h5" -o "$work/p.h5" >> "$work/log" 2>&1 &&
py "
import csv, h5py, numpy as np
a, k = list(csv.DictReader(open('$work/p.csv'))), list(csv.DictReader(open('$work/k.csv')))
d = h5py.File('$work/p.h5', 'r')['y']
assert d.shape == (2100, 3) and d.attrs['kind'] == 'class', d
P = d[:]
for i, (r, s) in enumerate(zip(a, k)):
    p = [float(r['y_p_' + c]) for c in ('cat', 'dog', 'owl')]
    assert np.allclose(P[i], p, rtol=1e-5), (P[i], p)
    best = np.argsort(-np.array(P[i]), kind='stable')[:2]
    for j in range(2):
        cid, name, prob = s['y_top%d' % (j + 1)].split(':')
        assert int(cid) == best[j] and name == ['cat', 'dog', 'owl'][best[j]] and abs(float(prob) - P[i][best[j]]) < 1e-5
" >> "$work/log" 2>&1
ok $? "--top-k 2 (id:name:prob, best first) and the HDF5 output (/y [2100, 3], kind class) agree with the CSV's probabilities"

two1 timeout 60 mpirun -np 2 --bind-to none $S predict "$ck" "$work/d.h5" -o "$work/p2.csv" --chunk-rows 300 > "$work/log" 2>&1 &&
  one1 $S predict "$ck" "$work/d.h5" -o "$work/p1.csv" --chunk-rows 300 >> "$work/log" 2>&1 &&
  cmp "$work/p1.csv" "$work/p2.csv" >> "$work/log" 2>&1 && cmp "$work/p.csv" "$work/p1.csv" >> "$work/log" 2>&1
ok $? "P=1 and P=2 (--chunk-rows 300, rounded up to 512: 5 chunks, 3 rounds at P=2) write identical CSV files, equal to the 4096-row chunk's (passes on eval's 512-row blocks)"

two1 timeout 60 mpirun -np 2 --bind-to none $S predict "$ck" "$work/shuf.csv" -o "$work/p2.h5" --chunk-rows 1000 > "$work/log" 2>&1 &&
py "
import h5py, numpy as np
a, b = h5py.File('$work/p.h5', 'r')['y'][:], h5py.File('$work/p2.h5', 'r')['y'][:]
assert a.shape == b.shape and (a == b).all()
" >> "$work/log" 2>&1
ok $? "P=2 on the shuffled CSV into HDF5 (chunks of 1024) holds the P=1 HDF5's probabilities, bit for bit"

py "
import h5py
f = h5py.File('$work/xonly.h5', 'w'); f['X'] = h5py.File('$work/d.h5', 'r')['X'][:]; f.attrs['strata_format'] = 1
"
one1 $S predict "$ck" "$work/xonly.h5" -o "$work/x.csv" > "$work/log" 2>&1 && cmp "$work/p.csv" "$work/x.csv" >> "$work/log" 2>&1
ok $? "an HDF5 file without targets (/X only): the same predictions"

# bad inputs: nothing left behind
bad() { # EXPECTED-FRAGMENT INPUT [CKPT]
  rm -f "$work/bad.csv" "$work/bad.csv.tmp"
  $S predict "${3:-$ck}" "$2" -o "$work/bad.csv" > "$work/log" 2>&1; local rc=$?
  [ $rc = 1 ] && has "$1" && [ ! -e "$work/bad.csv" ] && [ ! -e "$work/bad.csv.tmp" ]
}
py "
import csv
rows = list(csv.reader(open('$work/train.csv')))
open('$work/miss.csv', 'w').write(''.join(','.join(r[:3]) + '\n' for r in rows))
open('$work/extra.csv', 'w').write(''.join(','.join(r[:4] + ([r[4]] if i else ['colour'])) + '\n' for i, r in enumerate(rows)))
rows[7][2] = 'nan'  # data row 6, line 8
open('$work/nan.csv', 'w').write(''.join(','.join(r[:4]) + '\n' for r in rows))
rows[7][2] = '1'; rows[601][1] = 'inf'  # data row 600: chunk 1 of 512 rows, rank 1's at P=2
open('$work/inf.csv', 'w').write(''.join(','.join(r[:4]) + '\n' for r in rows))
"
bad "missing score" "$work/miss.csv"
ok $? "a CSV without the score column: exit 1, the column named, no output left"
bad "not features: colour" "$work/extra.csv" && has "trained on: not features"
ok $? "an extra column (colour) is named"
bad "row 6): column ratio is nan" "$work/nan.csv"
ok $? "a NaN in a CSV row: the row (and line) and the column named"
rm -f "$work/bad.csv"
two1 timeout 60 mpirun -np 2 --bind-to none $S predict "$ck" "$work/inf.csv" -o "$work/bad.csv" > "$work/log" 2>&1
[ $? != 0 ] && has "line 602 (row 600): column income is inf" && [ ! -e "$work/bad.csv" ] && [ ! -e "$work/bad.csv.tmp" ]
ok $? "at P=2 an infinity in rank 1's chunk is reported by rank 0 as itself (row 600, column income), nothing left"
py "
import h5py, numpy as np
f = h5py.File('$work/nan.h5', 'w'); X = h5py.File('$work/d.h5', 'r')['X'][:]; X[41, 1] = np.inf
f['X'] = X; f['y'] = np.zeros(2100, np.int32); f.attrs['strata_format'] = 1; f.attrs['n_classes'] = 3
"
bad "row 41 of /X holds an infinity" "$work/nan.h5"
ok $? "an infinity in an HDF5 row: its row named"

cp "$work/d.h5" "$work/swapped.h5" && py "
import h5py
f = h5py.File('$work/swapped.h5', 'r+'); f.attrs['feature_names'] = ['income', 'age', 'ratio', 'score']
"
rm -f "$work/bad.csv"
bad 'feature 0 is "income" but the model of' "$work/swapped.h5"
ok $? "an HDF5 file whose feature_names differ from the checkpoint's (columns by position): refused, the first difference named"

# another model: 3 features, a file without feature names
py "
import h5py, numpy as np
r = np.random.default_rng(1); f = h5py.File('$work/three.h5', 'w')
f['X'] = r.normal(size=(300, 3)).astype(np.float32); f['y'] = r.integers(0, 3, 300).astype(np.int32)
f.attrs['strata_format'] = 1; f.attrs['n_classes'] = 3
"
one1 timeout 120 $S train "$work/c.json" --set "data.path=$work/three.h5" --set name=t --set train.epochs=2 \
  --set "results_dir=$work/r" > "$work/log" 2>&1
ck3=$work/r/t/checkpoints/best.h5
bad "trained on 3 features" "$work/d.h5" "$ck3" && grep -q "has samples of shape \[4\] (4 features)" "$work/log"
ok $? "a checkpoint of another model (3 features) on the 4-feature file: exit 1, both counts named"
bad "has no feature names" "$work/shuf.csv" "$ck3" && $S predict "$ck3" "$work/three.h5" -o "$work/t.csv" > "$work/log" 2>&1
ok $? "a checkpoint without feature names refuses a CSV (names the checkpoint), HDF5 still works by position"

# variable lengths: make_varlen.py (garbage in the padding), the varlen config, 2 epochs
/usr/bin/python3 scripts/make_varlen.py "$work/v.h5" --n 300 --t-max 24 --min-length 4 --garbage-padding > /dev/null &&
one1 timeout 180 $S train tests/data/train_varlen.json --set "data.path=$work/v.h5" --set name=v --set "results_dir=$work/r" \
  > "$work/log" 2>&1 && cv=$work/r/v/checkpoints/best.h5 &&
  one1 $S predict "$cv" "$work/v.h5" -o "$work/v1.csv" --chunk-rows 50 >> "$work/log" 2>&1 &&
  one1 timeout 60 $S eval "$cv" "$work/v.h5" --split all --out "$work/vev" >> "$work/log" 2>&1 &&
py "
import csv, json, h5py, numpy as np
rows = list(csv.DictReader(open('$work/v1.csv'))); y = h5py.File('$work/v.h5', 'r')['y'][:]
acc = float(np.mean(np.array([int(r['y']) for r in rows]) == y)); want = json.load(open('$work/vev/metrics.json'))['accuracy']
assert len(rows) == 300 and abs(acc - want) < 1e-12, (acc, want)
" >> "$work/log" 2>&1
ok $? "variable lengths (/lengths, garbage padding): predict's accuracy equals eval's"
two1 timeout 60 mpirun -np 2 --bind-to none $S predict "$cv" "$work/v.h5" -o "$work/v2.csv" --chunk-rows 50 > "$work/log" 2>&1 &&
  cmp "$work/v1.csv" "$work/v2.csv" >> "$work/log" 2>&1
ok $? "variable lengths: P=1 and P=2 write identical files"

# several heads (tests/util/make_multi.py: kind class, tags multilabel, score regression with NaN)
/usr/bin/python3 tests/util/make_multi.py "$work/m.h5" &&
one1 timeout 180 $S train tests/data/train_multi.json --set "data.path=$work/m.h5" --set name=m --set "results_dir=$work/r" \
  > "$work/log" 2>&1 && cm=$work/r/m/checkpoints/best.h5 &&
  one1 $S predict "$cm" "$work/m.h5" -o "$work/m.csv" >> "$work/log" 2>&1 &&
  one1 $S predict "$cm" "$work/m.h5" -o "$work/m.h5out" --format h5 >> "$work/log" 2>&1 &&
  one1 timeout 60 $S eval "$cm" "$work/m.h5" --split all --out "$work/mev" >> "$work/log" 2>&1 &&
py "
import csv, json, h5py, numpy as np
rows = list(csv.DictReader(open('$work/m.csv'))); f = h5py.File('$work/m.h5', 'r')
m = json.load(open('$work/mev/metrics.json'))['metrics']
kind, tags, score = f['targets/kind'][:], f['targets/tags'][:], f['targets/score'][:, 0]
assert len(rows) == 1200 and list(rows[0]) == ['row', 'kind', 'kind_name', 'kind_p_a', 'kind_p_b', 'kind_p_c', 'tags', 'tags_prob', 'score_score'], list(rows[0])
acc = np.mean(np.array([int(r['kind']) for r in rows]) == kind)
assert abs(acc - m['all_accuracy.kind']) < 1e-12, (acc, m['all_accuracy.kind'])
names = list(h5py.File('$work/m.h5', 'r')['targets/tags'].attrs['label_names'])
names = [n.decode() if isinstance(n, bytes) else n for n in names]
pred = np.array([[n in r['tags'].split(';') for n in names] for r in rows])
exact = np.mean((pred == (tags == 1)).all(1))
assert abs(exact - m['all_exact_match.tags']) < 1e-12, (exact, m['all_exact_match.tags'])
for r in rows:
    ps = [float(v) for v in r['tags_prob'].split(';') if v]
    assert len(ps) == len([t for t in r['tags'].split(';') if t]) and all(v >= 0.5 for v in ps)
v = np.array([float(r['score_score']) for r in rows]); ok = ~np.isnan(score)
mae = np.mean(np.abs(v[ok] - score[ok]))
assert abs(mae - m['all_mae.score']) < 1e-6 * m['all_mae.score'], (mae, m['all_mae.score'])
o = h5py.File('$work/m.h5out', 'r')
assert o['kind'].shape == (1200, 3) and o['tags'].shape == (1200, 4) and o['score'].shape == (1200, 1)
assert o['tags'].attrs['kind'] == 'multilabel' and o['score'].attrs['kind'] == 'regression'
assert np.allclose(o['score'][:, 0], v, rtol=1e-7) and ((o['tags'][:] >= 0.5) == pred).all()
" >> "$work/log" 2>&1
ok $? "three heads: kind's accuracy, tags' exact match (labels with sigma >= 0.5) and score's MAE (de-standardised) equal eval's; --format h5 writes /kind /tags /score"

# ctc (tests/util/make_toy_ctc.py; the loss's beam width 4)
/usr/bin/python3 tests/util/make_toy_ctc.py "$work/c.h5" 240 2 &&
one1 timeout 180 $S train tests/data/train_ctc.json --set "data.path=$work/c.h5" --set name=c --set "results_dir=$work/r" \
  > "$work/log" 2>&1 && cc=$work/r/c/checkpoints/best.h5 &&
  one1 $S predict "$cc" "$work/c.h5" -o "$work/c.csv" >> "$work/log" 2>&1 &&
  one1 timeout 60 $S eval "$cc" "$work/c.h5" --split all --out "$work/cev" >> "$work/log" 2>&1 &&
py "
import csv
a, b = list(csv.DictReader(open('$work/c.csv'))), list(csv.DictReader(open('$work/cev/decoded.csv')))
assert len(a) == len(b) == 240 and list(a[0]) == ['row', 'text']
assert [r['text'] for r in a] == [r['decoded'] for r in b]
" >> "$work/log" 2>&1
ok $? "ctc: the decoded sequences (beam width 4, tokens joined by spaces) are eval's decoded.csv, row for row"
two1 timeout 60 mpirun -np 2 --bind-to none $S predict "$cc" "$work/c.h5" -o "$work/c2.h5" --chunk-rows 100 > "$work/log" 2>&1 &&
py "
import csv, h5py
a = list(csv.DictReader(open('$work/c.csv'))); t = h5py.File('$work/c2.h5', 'r')['text']
voc = [v.decode() if isinstance(v, bytes) else v for v in t.attrs['vocabulary']]
got = [' '.join(voc[k] for k in row if k >= 0) for row in t[:]]
assert t.attrs['kind'] == 'ctc' and got == [r['text'] for r in a]
" >> "$work/log" 2>&1
ok $? "ctc at P=2 into HDF5 (/text int32 token ids padded with -1, vocabulary attribute): the same sequences"
exit $fail
