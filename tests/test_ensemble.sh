#!/usr/bin/env bash
# test_ensemble.sh — ensembles, data.split_seed, config "extends" and the phase recipes (issue 17,
# docs/ensembles.md, docs/recipes.md). `strata ensemble train` makes 3 members of a tiny config
# (seeds 3, 4, 5, split_seed 3: identical split.json, different weights); `strata ensemble eval`'s
# probabilities equal the mean of the members' `strata predict` probabilities (1e-6) and its
# accuracy and confusion follow from them; every member's accuracy equals `strata eval`'s;
# --weights val weights are the members' val accuracies (as `strata eval --split val` reports
# them) normalised and the probabilities their weighted mean; members on another dataset or
# another split are refused, naming them; a multi-task ensemble (class, multi-label, regression
# heads) equals the mean of predict's HDF5 records for every head; "extends" merges key by key
# (objects recursively, arrays replaced, a relative path, a chain), refuses a cycle naming the
# files, and config.json holds the resolved config; each recipe runs one epoch; `strata plan`
# names the recipe; `strata sbatch --ensemble 3` writes an array of members and a combining job
# afterok on it (a fake sbatch); a config without split_seed keeps it out of config.json. TAP.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
py() { /usr/bin/python3 -c "$@"; }
S=$PWD/bin/strata
echo "1..19"

tests/util/make_tiny.sh "$work/tiny.h5"
py "
import json
c = json.load(open('tests/data/train_tiny.json'))
c['name'] = 'ens'; c['train']['epochs'] = 3; c['train']['threads'] = 1
c['data']['path'] = '$work/tiny.h5'; c['results_dir'] = '$work/r'
json.dump(c, open('$work/c.json', 'w'), indent=1)
"
E=$work/r/ens

# 1. three members, one split
timeout 300 $S ensemble train "$work/c.json" --members 3 > "$work/log" 2>&1 &&
  [ -f "$E/ensemble/metrics.json" ] && has "ensemble of 3 (equal weights)" &&
  cmp -s "$E/member-0/split.json" "$E/member-1/split.json" && cmp -s "$E/member-0/split.json" "$E/member-2/split.json" &&
py "
import json, h5py
seeds = [json.load(open('$E/member-%d/config.json' % i)) for i in range(3)]
assert [c['seed'] for c in seeds] == [3, 4, 5], [c['seed'] for c in seeds]
assert [c['data']['split_seed'] for c in seeds] == [3, 3, 3]
p = [h5py.File('$E/member-%d/checkpoints/best.h5' % i, 'r')['params'][:] for i in range(3)]
assert (p[0] != p[1]).any() and (p[1] != p[2]).any(), 'members with the same weights'
m = json.load(open('$E/ensemble/metrics.json'))
assert m['ensemble']['members'] == 3 and len(m['members']) == 3 and m['ensemble']['weights'] == 'equal'
assert all(abs(x['weight'] - 1 / 3) < 1e-12 for x in m['members'])
" >> "$work/log" 2>&1
ok $? "ensemble train: members seed 3, 4, 5 with split_seed 3 (identical split.json, different weights), combined"

# again: finished members are kept, the combination is made again
timeout 120 $S ensemble train "$work/c.json" --members 3 > "$work/log" 2>&1 &&
  [ "$(grep -c 'finished before, kept' "$work/log")" = 3 ] && has "ensemble of 3 (equal weights)"
ok $? "ensemble train again: the 3 finished members are kept, the ensemble evaluated again"

# the rows of each member's test part (probabilities.csv of a one-member ensemble lists them)
rows_of() { $S ensemble eval "$1" --data "$work/tiny.h5" -o "$2" > /dev/null 2>&1 && cut -d, -f1 "$2/probabilities.csv"; }
for i in 0 1 2; do rows_of "$E/member-$i" "$work/one$i" > "$work/rows$i" || echo "one-member eval $i failed" > "$work/log"; done
cmp -s "$work/rows0" "$work/rows1" && cmp -s "$work/rows0" "$work/rows2" && [ "$(wc -l < "$work/rows0")" = 161 ]
ok $? "the three members' test parts hold the same 160 rows"

# 2. soft voting = the mean of predict's probabilities
for i in 0 1 2; do $S predict "$E/member-$i/checkpoints/best.h5" "$work/tiny.h5" -o "$work/p$i.csv" > /dev/null 2>&1 || echo "predict $i failed" > "$work/log"; done
py "
import csv, json, h5py, numpy as np
cols = ['y_p_c0', 'y_p_c1', 'y_p_c2', 'y_p_c3']
P = [np.array([[float(r[c]) for c in cols] for r in csv.DictReader(open('$work/p%d.csv' % i))]) for i in range(3)]
ens = list(csv.DictReader(open('$E/ensemble/probabilities.csv')))
rows = np.array([int(r['row']) for r in ens]); q = np.array([[float(r[c]) for c in cols] for r in ens])
want = (P[0] + P[1] + P[2])[rows] / 3
d = np.abs(q - want).max(); print('max |ensemble - mean of predict| =', d)
assert len(rows) == 160 and d < 1e-6, d
y = h5py.File('$work/tiny.h5', 'r')['y'][:][rows]
m = json.load(open('$E/ensemble/metrics.json'))
acc = float(np.mean(want.argmax(1) == y)); assert abs(acc - m['accuracy']) < 1e-12, (acc, m['accuracy'])
conf = np.zeros((4, 4), int)
for t, pr in zip(y, want.argmax(1)): conf[t, pr] += 1
assert conf.tolist() == m['confusion'], (conf, m['confusion'])
nll = float(np.mean(-np.log(want[np.arange(len(y)), y]))); assert abs(nll - m['loss']) < 1e-5, (nll, m['loss'])
print('ensemble accuracy', acc, 'members', [x['metrics']['test_accuracy'] for x in m['members']])
" > "$work/log" 2>&1 && [ -f "$E/ensemble/per_class.csv" ] && [ -f "$E/ensemble/confusion.csv" ]
ok $? "ensemble eval: probabilities = mean of the members' predict probabilities (1e-6); accuracy, confusion, loss from them; per_class.csv, confusion.csv"
sed 's/^/# /' "$work/log" | head -3

mpirun -np 2 --oversubscribe --bind-to none $S ensemble eval "$E/member-0" "$E/member-1" "$E/member-2" --data "$work/tiny.h5" \
  -o "$work/p2" > "$work/log" 2>&1 && cmp "$work/p2/probabilities.csv" "$E/ensemble/probabilities.csv" >> "$work/log" 2>&1 &&
  cmp "$work/p2/confusion.csv" "$E/ensemble/confusion.csv" >> "$work/log" 2>&1
ok $? "ensemble eval at 2 ranks writes the same probabilities.csv and confusion.csv"

# 3. each member's metrics are strata eval's
r=0
for i in 0 1 2; do
  $S eval "$E/member-$i/checkpoints/best.h5" "$work/tiny.h5" --split test --out "$work/ev$i" > /dev/null 2>&1 || r=1
done
[ $r = 0 ] && py "
import json
m = json.load(open('$E/ensemble/metrics.json'))
for i in range(3):
    e = json.load(open('$work/ev%d/metrics.json' % i))
    assert abs(m['members'][i]['metrics']['test_accuracy'] - e['accuracy']) < 1e-12, (i, m['members'][i], e['accuracy'])
" > "$work/log" 2>&1
ok $? "per-member test accuracy in metrics.json equals strata eval's"

# --vary configs: one member per config, the base's seeds and split seed
py "
import json
c = json.load(open('$work/c.json')); c['name'] = 'vary'; c['train']['epochs'] = 1
json.dump(c, open('$work/v0.json', 'w'))
c['model']['layers'][0]['units'] = 8; c['seed'] = 40
json.dump(c, open('$work/v1.json', 'w'))
"
timeout 120 $S ensemble train "$work/v0.json" --vary configs "$work/v0.json,$work/v1.json" > "$work/log" 2>&1 &&
py "
import json
c = [json.load(open('$work/r/vary/member-%d/config.json' % i)) for i in range(2)]
assert [x['seed'] for x in c] == [3, 4] and [x['data']['split_seed'] for x in c] == [3, 3], c
assert [x['model']['layers'][0]['units'] for x in c] == [32, 8]
assert json.load(open('$work/r/vary/ensemble/metrics.json'))['ensemble']['members'] == 2
" >> "$work/log" 2>&1
ok $? "ensemble train --vary configs: member i trains configs[i] with seed 3 + i and split_seed 3"

# 4. --weights val
$S ensemble eval "$E/member-0" "$E/member-1" "$E/member-2" --data "$work/tiny.h5" --weights val -o "$work/wv" > "$work/log" 2>&1
r=$?; for i in 0 1 2; do $S eval "$E/member-$i/checkpoints/best.h5" "$work/tiny.h5" --split val --out "$work/val$i" > /dev/null 2>&1 || r=1; done
[ $r = 0 ] && py "
import csv, json, numpy as np
m = json.load(open('$work/wv/metrics.json'))
acc = np.array([json.load(open('$work/val%d/metrics.json' % i))['accuracy'] for i in range(3)])
w = np.array([x['weight'] for x in m['members']]); s = np.array([x['val_score'] for x in m['members']])
assert np.allclose(s, acc, atol=1e-12), (s, acc)
assert np.allclose(w, acc / acc.sum(), atol=1e-12) and m['ensemble']['weights'] == 'val', w
cols = ['y_p_c0', 'y_p_c1', 'y_p_c2', 'y_p_c3']
P = [np.array([[float(r[c]) for c in cols] for r in csv.DictReader(open('$work/p%d.csv' % i))]) for i in range(3)]
ens = list(csv.DictReader(open('$work/wv/probabilities.csv')))
rows = np.array([int(r['row']) for r in ens]); q = np.array([[float(r[c]) for c in cols] for r in ens])
want = sum(w[i] * P[i] for i in range(3))[rows]
assert np.abs(q - want).max() < 1e-6, np.abs(q - want).max()
print('weights', w)
" >> "$work/log" 2>&1
ok $? "--weights val: weights = val accuracies (strata eval --split val) normalised; probabilities their weighted mean"

# 5. refusals: another dataset, another split
py "
import h5py, shutil
shutil.copy('$work/tiny.h5', '$work/tiny2.h5')
with h5py.File('$work/tiny2.h5', 'r+') as f: f['y'][0] = (f['y'][0] + 1) % 4  # the fingerprint covers the labels
"
$S train "$work/c.json" --set "data.path=$work/tiny2.h5" --set name=other --set train.epochs=1 > /dev/null 2>&1 &&
  $S train "$work/c.json" --set name=resplit --set data.split_seed=99 --set train.epochs=1 > /dev/null 2>&1
$S ensemble eval "$E/member-0" "$work/r/other" --data "$work/tiny.h5" -o "$work/x1" > "$work/log" 2>&1
[ $? = 1 ] && has "different datasets" && has "$work/r/other has dataset fingerprint" && [ ! -e "$work/x1" ]
ok $? "a member trained on another dataset is refused, named with its fingerprint; nothing written"
$S ensemble eval "$E/member-0" "$work/r/resplit" --data "$work/tiny.h5" -o "$work/x2" > "$work/log" 2>&1
[ $? = 1 ] && has "different splits" && has "$work/r/resplit and $E/member-0" && [ ! -e "$work/x2" ]
ok $? "a member with another split (data.split_seed 99) is refused, both named"

# 6. split_seed: the default is seed (left out of config.json); another seed, another split
$S train "$work/c.json" --set name=seed9 --set seed=9 --set train.epochs=1 > "$work/log" 2>&1 &&
  ! grep -q split_seed "$work/r/seed9/config.json" && rows_of "$work/r/seed9" "$work/one9" > "$work/rows9" &&
  ! cmp -s "$work/rows9" "$work/rows0" &&
  $S train "$work/c.json" --set name=seed9s --set seed=9 --set data.split_seed=3 --set train.epochs=1 > "$work/log" 2>&1 &&
  rows_of "$work/r/seed9s" "$work/one9s" > "$work/rows9s" && cmp -s "$work/rows9s" "$work/rows0"
ok $? "split_seed defaults to seed (not written to config.json): seed 9 splits otherwise; seed 9 with split_seed 3 has member-0's test rows"

# 7. multi-task members: every head kind
py "" && /usr/bin/python3 tests/util/make_multi.py "$work/multi.h5" > /dev/null 2>&1 &&
py "
import json
c = json.load(open('tests/data/train_multi.json'))
c['name'] = 'mens'; c['train']['epochs'] = 2; c['data']['path'] = '$work/multi.h5'; c['results_dir'] = '$work/r'
json.dump(c, open('$work/m.json', 'w'))
" && timeout 300 $S ensemble train "$work/m.json" --members 2 > "$work/log" 2>&1 &&
  $S predict "$work/r/mens/member-0/checkpoints/best.h5" "$work/multi.h5" -o "$work/m0.h5" >> "$work/log" 2>&1 &&
  $S predict "$work/r/mens/member-1/checkpoints/best.h5" "$work/multi.h5" -o "$work/m1.h5" >> "$work/log" 2>&1 &&
py "
import csv, json, h5py, numpy as np
ens = list(csv.DictReader(open('$work/r/mens/ensemble/probabilities.csv')))
rows = np.array([int(r['row']) for r in ens])
a, b = h5py.File('$work/m0.h5', 'r'), h5py.File('$work/m1.h5', 'r')
cols = list(ens[0].keys())[1:]
q = np.array([[float(r[c]) for c in cols] for r in ens])
want = np.concatenate([(a[h][:] + b[h][:])[rows] / 2 for h in ('kind', 'tags', 'score')], axis=1)
assert q.shape == want.shape, (q.shape, want.shape, cols)
d = np.abs(q - want).max(); assert d < 1e-5 * max(1, np.abs(want).max()), d
m = json.load(open('$work/r/mens/ensemble/metrics.json'))['metrics']
for k in ('test_accuracy.kind', 'test_f1.tags', 'test_exact_match.tags', 'test_r2.score', 'test_mae.score'):
    assert k in m, (k, sorted(m))
print('multi-task max diff', d, 'heads', cols[:3], '...')
" >> "$work/log" 2>&1 && [ -f "$work/r/mens/ensemble/kind_per_class.csv" ]
ok $? "multi-task ensemble (class, multi-label, regression): records = mean of predict's HDF5 records; every head's metrics"

# 8. extends
mkdir -p "$work/cfg/sub"
py "
import json
base = json.load(open('$work/c.json')); base['optimizer']['weight_decay'] = 0.5
json.dump(base, open('$work/cfg/sub/base.json', 'w'))
json.dump({'extends': 'sub/base.json', 'name': 'mid', 'train': {'epochs': 1}}, open('$work/cfg/mid.json', 'w'))
json.dump({'extends': 'mid.json', 'name': 'child', 'optimizer': {'lr': 0.002},
           'model': {'layers': [{'type': 'dense', 'units': 8}, {'type': 'relu'}, {'type': 'dense', 'units': 'classes'}]}},
          open('$work/cfg/child.json', 'w'))
"
(cd / && $S train "$work/cfg/child.json" > "$work/log" 2>&1) &&
py "
import json
c = json.load(open('$work/r/child/config.json'))
assert 'extends' not in c
assert c['name'] == 'child' and c['train']['epochs'] == 1 and c['train']['batch_size'] == 64, c['train']
assert c['optimizer']['lr'] == 0.002 and c['optimizer']['weight_decay'] == 0.5 and c['optimizer']['type'] == 'adamw'
assert [l['type'] for l in c['model']['layers']] == ['dense', 'relu', 'dense'] and c['model']['layers'][0]['units'] == 8
assert c['schedule']['type'] == 'warmup_cosine' and c['data']['shards'] == 4
" >> "$work/log" 2>&1
ok $? "extends: a chain of two (paths relative to each file), objects merged, arrays replaced; config.json resolved, without extends"

printf '{"extends": "b.json", "name": "a"}' > "$work/cfg/a.json"; printf '{"extends": "a.json"}' > "$work/cfg/b.json"
$S train "$work/cfg/a.json" > "$work/log" 2>&1
[ $? = 1 ] && has "extends: a cycle: $work/cfg/a.json -> $work/cfg/b.json -> $work/cfg/a.json"
ok $? "extends: a cycle is refused naming the chain"
printf '{"extends": "nope.json", "name": "a"}' > "$work/cfg/c.json"
$S train "$work/cfg/c.json" --set "extends=x" > "$work/log" 2>&1; r1=$?; has "nope.json does not exist"; r2=$?
$S train "$work/cfg/child.json" --set "extends=mid.json" > "$work/log" 2>&1; r3=$?
[ $r1 = 1 ] && [ $r2 = 0 ] && [ $r3 = 1 ] && has "extends: --set cannot change it"
ok $? "extends: a missing base is named; --set extends is refused"

# 9. recipes: one epoch each on the tiny dataset (phase 4's batch of 1024 does not fit it: 256)
r=0
for k in 1 2 3 4; do
  printf '{"extends": "%s/configs/recipes/phase%d.json", "name": "rec%d", "results_dir": "%s/rec", "data": {"path": "%s/tiny.h5"}, "train": {"threads": 1}}\n' \
    "$PWD" $k $k "$work" "$work" > "$work/rec$k.json"
  extra=(); [ $k = 4 ] && extra=(--set train.batch_size=256)
  timeout 120 $S train "$work/rec$k.json" --set train.epochs=1 "${extra[@]}" > "$work/log" 2>&1 || { r=1; break; }
  py "
import json
c = json.load(open('$work/rec/rec$k/config.json')); rec = json.load(open('configs/recipes/phase$k.json'))
assert c['model'] == rec['model'] and c['optimizer']['weight_decay'] == rec['optimizer']['weight_decay']
assert c['early_stopping']['enabled'] is True
" >> "$work/log" 2>&1 || { r=1; break; }
done
[ $r = 0 ]
ok $? "configs/recipes/phase1..4.json: a config extending each trains one epoch; its model and regularisation in config.json"

$S plan "$work/rec1.json" > "$work/log" 2>&1 && has "^recipe: configs/recipes/phase1.json"
ok $? "strata plan names the phase's recipe"

# 10. sbatch --ensemble: an array of members and a combining job afterok on it (fake sbatch)
mkdir -p "$work/fake"
cat > "$work/fake/sbatch" <<'EOF'
#!/bin/bash
n=$(cat "$FAKE_LOG/count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$FAKE_LOG/count"
printf '%s\n' "$@" > "$FAKE_LOG/sbatch.args.$n"
echo "Submitted batch job $((4100 + n))"
EOF
chmod +x "$work/fake/sbatch"
(export FAKE_LOG=$work PATH="$work/fake:$PATH"; cd "$work" && $S sbatch c.json --ensemble 3 --set name=sl --threads 2 > "$work/log" 2>&1)
D=$work/r/sl
[ $? = 0 ] && has "submitted batch job 4101 (array of 3 members" && has "submitted batch job 4102 (combines the members once array 4101" &&
  grep -q -- "--array=0-2" "$D/job.sbatch" && grep -q 'name=member-$task' "$D/job.sbatch" &&
  grep -q "0) args+=(--set 'seed=3')" "$D/job.sbatch" && grep -q "2) args+=(--set 'seed=5')" "$D/job.sbatch" &&
  grep -q "'data.split_seed=3'" "$D/job.sbatch" &&
  grep -qx "#SBATCH --dependency=afterok:4101" "$D/combine.sbatch" && grep -qx "#SBATCH --cpus-per-task=2" "$D/combine.sbatch" &&
  grep -q "ensemble eval \"\${members\[@\]}\" --data '$work/tiny.h5' --split test -o \"\$dir/ensemble\"" "$D/combine.sbatch" &&
  grep -q 'seq 0 2' "$D/combine.sbatch" && [ "$(cat "$work/sbatch.args.2")" = "$D/combine.sbatch" ] &&
  py "import json; s = json.load(open('$D/sweep.json')); assert s['ensemble'] == 3 and len(s['tasks']) == 3" &&
  bash -n "$D/combine.sbatch"
ok $? "sbatch --ensemble 3: member array (seeds 3..5, split_seed 3, member-<i>) and combine.sbatch afterok on its job id"

(cd "$work" && $S sbatch c.json --ensemble 2 --sweep optimizer.lr=1e-3,1e-2 --dry-run > "$work/log" 2>&1)
[ $? = 2 ] && has "cannot be combined"
ok $? "sbatch --ensemble with --sweep is a usage error"

exit $fail
