#!/usr/bin/env bash
# test_stream_runs.sh — data.stream (docs/streaming.md): a streamed run gives the bits of the
# in-memory run with the same windowed order in exact mode — the MLP (BatchNorm, dropout, repeat
# 2, 16 blocks of 100 rows) at P = 1, 2, 4; the variable-length sequence model (/lengths with
# garbage padding, BatchNorm, SE, LSTM, GRU; repeat 2, 12 blocks of 50 rows) at P = 1, 2, 4; a
# streamed run stopped mid-epoch at P = 2 and resumed at P = 4 (all with the next block's share
# read by the background thread); the log and run.json report the blocks held and the
# bookkeeping bytes per row; a gzip-compressed /X (no background read: the next block goes into
# a spare slot) gives the same bits; a budget too small is refused at start-up naming the
# numbers. The val and test rows are streamed too (read pass by pass when evaluated: the log says
# so): the history's val metrics (compare_runs.py) and metrics.json's test metrics have the
# in-memory bits, with pread and with HDF5 reads (compressed /X); NaNs in val and test rows are refused at
# start-up naming the first, as in memory; a streamed run resumed with more epochs than it was
# started with plans its slots for them and equals the in-memory one. Prints TAP.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
tests/util/make_tiny.sh "$work/tiny.h5" > /dev/null
/usr/bin/python3 scripts/make_varlen.py "$work/varlen.h5" --n 600 --t-max 24 --min-length 4 --garbage-padding > /dev/null
run() { # P config data name [args...]
  local P=$1 cfg=$2 data=$3 name=$4; shift 4
  timeout 120 mpirun -np "$P" --oversubscribe --bind-to none bin/strata train "$cfg" --set "data.path=$data" \
    --set "results_dir=$work/r" --set "name=$name" --set reproducible=exact --set train.threads=1 \
    --set data.repeat=2 --set data.order=windowed "$@" > "$work/log-$name" 2>&1
}
same() { /usr/bin/python3 tests/util/compare_runs.py "$work/r/$1" "$work/r/$2" > "$work/cmp" 2>&1; }
# test metrics (metrics.json, apart from the checkpoint's path) equal, and not empty
same_test() { /usr/bin/python3 -c "
import json, sys
a, b = (json.load(open('$work/r/' + r + '/metrics.json')) for r in sys.argv[1:3])
for m in (a, b): m.pop('checkpoint', None)
sys.exit(not (a == b and a['n_samples'] > 0 and a['split'] == 'test'))" "$1" "$2"; }
MLP=(tests/data/train_tiny.json "$work/tiny.h5")
M=(--set train.epochs=3 --set data.window_rows=100)
VAR=(tests/data/train_varlen.json "$work/varlen.h5")
V=(--set data.bucket_by_length=false --set data.window_rows=50)
ST=(--set data.stream=true)
echo "1..10"

run 1 "${MLP[@]}" m1 "${M[@]}" && run 1 "${MLP[@]}" s1 "${M[@]}" "${ST[@]}" && run 2 "${MLP[@]}" s2 "${M[@]}" "${ST[@]}" &&
  run 4 "${MLP[@]}" s4 "${M[@]}" "${ST[@]}" && same m1 s1 && same m1 s2 && same m1 s4
ok $? "MLP streamed at P=1, 2, 4 equals the in-memory windowed run bit for bit ($(cat "$work/cmp"))"

same_test m1 s1 && same_test m1 s2 && same_test m1 s4 &&
  grep -q "val/test rows read when evaluated, [0-9.]* MiB (pread)" "$work/log-s2" &&
  ! grep -q "val/test rows read" "$work/log-m1"
ok $? "MLP streamed at P=1, 2, 4: val/test rows read when evaluated, test metrics equal the in-memory run's"

run 1 "${VAR[@]}" v1 "${V[@]}" && run 1 "${VAR[@]}" vs1 "${V[@]}" "${ST[@]}" && run 2 "${VAR[@]}" vs2 "${V[@]}" "${ST[@]}" &&
  run 4 "${VAR[@]}" vs4 "${V[@]}" "${ST[@]}" && same v1 vs1 && same v1 vs2 && same v1 vs4 &&
  same_test v1 vs1 && same_test v1 vs2 && same_test v1 vs4
ok $? "variable lengths (/lengths, garbage padding, LSTM, GRU) streamed at P=1, 2, 4 equals in memory ($(cat "$work/cmp"))"

run 2 "${MLP[@]}" r24 "${M[@]}" "${ST[@]}" --stop-after-steps 53 && run 4 "${MLP[@]}" r24 "${M[@]}" "${ST[@]}" --resume auto &&
  same m1 r24
ok $? "streamed, stopped at P=2 (step 53, mid-epoch 2) and resumed at P=4: equals the in-memory run ($(cat "$work/cmp"))"

run 2 "${MLP[@]}" xm "${M[@]}" --set train.epochs=1 && run 2 "${MLP[@]}" xm "${M[@]}" --set train.epochs=4 --resume auto &&
  run 2 "${MLP[@]}" xs "${M[@]}" "${ST[@]}" --set train.epochs=1 &&
  run 2 "${MLP[@]}" xs "${M[@]}" "${ST[@]}" --set train.epochs=4 --resume auto && same xm xs && same_test xm xs &&
  [ "$(grep -c '"epoch"' "$work/r/xs/history.jsonl")" = 4 ]
ok $? "a streamed run planned for 1 epoch and resumed for 4 (its slots sized again at start-up) equals the in-memory one ($(cat "$work/cmp"))"

cp "$work/log-s2" "$work/log"
has "order windowed (blocks of 100 rows of the file); streamed within data.memory_budget_mb 1024 MiB a rank" &&
  has "streamed: up to [0-9]* blocks x [0-9]* rows of this rank's shards = .* bookkeeping [0-9.]* bytes per row of the file; the next block's share read in the background" &&
  /usr/bin/python3 -c "import json,sys; m=json.load(open('$work/r/s2/run.json'))['data_memory']; sys.exit(not (m['stream'] and 0 < m['bookkeeping_bytes_per_row'] < 64 and m['stream_bytes'] > 0))"
ok $? "the log and run.json data_memory report the blocks held, the budget and the bookkeeping bytes per row"

/usr/bin/python3 -c "
import h5py, numpy as np
with h5py.File('$work/wide.h5', 'w') as f:
    f['X'] = np.random.default_rng(0).normal(size=(4000, 300)).astype('f4'); f['y'] = (np.arange(4000) % 4).astype('i4')
"
timeout 60 mpirun -np 2 --oversubscribe --bind-to none bin/strata train tests/data/train_tiny.json --set "data.path=$work/wide.h5" \
  --set "results_dir=$work/r" --set name=budget --set data.order=windowed --set data.window_rows=2000 --set data.stream=true \
  --set data.memory_budget_mb=1 > "$work/log" 2>&1
rc=$?
[ $rc != 0 ] && has "data.memory_budget_mb 1: a rank holds up to .* MiB of blocks and evaluation reads (rank 0: [0-9]* blocks x [0-9]* rows of its shards in the fullest block x 1212 bytes a row + [0-9.]* MiB to read val/test rows; data.window_rows 2000, 2 ranks)"
ok $? "a budget smaller than the blocks is refused at start-up, naming the numbers"

/usr/bin/python3 -c "
import h5py
with h5py.File('$work/tiny.h5') as a, h5py.File('$work/gz.h5', 'w') as b:
    for k in a: a.copy(k, b) if k != 'X' else b.create_dataset('X', data=a['X'][()], compression='gzip', chunks=(100, 8))
    for k, v in a.attrs.items(): b.attrs[k] = v
"
run 2 tests/data/train_tiny.json "$work/gz.h5" gz2 "${M[@]}" "${ST[@]}" && same m1 gz2 && same_test m1 gz2 &&
  grep -q "val/test rows read when evaluated, [0-9.]* MiB (HDF5 reads)" "$work/log-gz2" &&
  grep -q "the next block read ahead into a spare slot (no background read: /X is filtered (compressed))" "$work/log-gz2"
ok $? "a compressed /X is read ahead synchronously and its val/test rows with HDF5, with the same bits ($(cat "$work/cmp"))"

/usr/bin/python3 -c "
import h5py, numpy as np, shutil
shutil.copy('$work/tiny.h5', '$work/nan.h5')
with h5py.File('$work/nan.h5', 'r+') as f:
    n = f['X'].shape[0]; f['split'] = np.where(np.arange(n) % 10 == 1, 1, np.where(np.arange(n) % 10 == 2, 2, 0)).astype('i4')
    f['X'][501, 3] = float('nan'); f['X'][502, 4] = float('nan')
"
run 2 tests/data/train_tiny.json "$work/nan.h5" nanval "${M[@]}" "${ST[@]}"
rc=$?; cp "$work/log-nanval" "$work/log"
[ $rc != 0 ] && has "2 non-finite feature values (NaN or Inf), the first in row 501" &&
  ! run 2 tests/data/train_tiny.json "$work/nan.h5" nanmem "${M[@]}" && grep -q "the first in row 501" "$work/log-nanmem"
ok $? "NaNs in a val and a test row (predefined /split) are refused at start-up naming the first, streamed as in memory"

run 1 "${MLP[@]}" noorder --set data.order=shuffle "${ST[@]}"
rc=$?; cp "$work/log-noorder" "$work/log"
[ $rc != 0 ] && has 'data.stream needs data.order "windowed"'
ok $? "data.stream with the shuffle order is refused"
exit $fail
