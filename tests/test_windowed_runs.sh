#!/usr/bin/env bash
# test_windowed_runs.sh — data.order "windowed" in whole training runs (docs/streaming.md): an
# MLP run with blocks of 100 file rows (16 blocks), data.repeat 2 and dropout is bitwise
# identical at P = 1, 2, 4 in exact mode; checkpointed mid-epoch at P = 2 and resumed at P = 4
# it equals the straight run; the order is really another one (the run differs from the
# shuffled one); the run log names the order. Prints TAP.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
tests/util/make_tiny.sh "$work/tiny.h5" > /dev/null
run() { # P name [args...]
  local P=$1 name=$2; shift 2
  timeout 120 mpirun -np "$P" --oversubscribe --bind-to none bin/strata train tests/data/train_tiny.json \
    --set "data.path=$work/tiny.h5" --set "results_dir=$work/r" --set "name=$name" --set reproducible=exact \
    --set train.threads=1 --set train.epochs=3 --set data.repeat=2 "$@" > "$work/log-$name" 2>&1
}
same() { /usr/bin/python3 tests/util/compare_runs.py "$work/r/$1" "$work/r/$2" > "$work/cmp" 2>&1; }
WIN=(--set data.order=windowed --set data.window_rows=100)
echo "1..4"

run 1 w1 "${WIN[@]}" && run 2 w2 "${WIN[@]}" && run 4 w4 "${WIN[@]}"
built=$?
[ $built = 0 ] && same w1 w2 && same w1 w4
ok $? "windowed order (16 blocks of 100 rows, repeat 2, dropout, BatchNorm): P=1, 2, 4 identical ($(cat "$work/cmp"))"

run 1 s1 && ! same w1 s1
ok $? "the windowed run differs from the shuffled one (the order is used)"

run 2 r24 "${WIN[@]}" --stop-after-steps 53 && run 4 r24 "${WIN[@]}" --resume auto && same w1 r24
ok $? "windowed: checkpointed at P=2 (step 53, mid-epoch 2) and resumed at P=4 equals the straight run ($(cat "$work/cmp"))"

cp "$work/log-w2" "$work/log"
has "steps per epoch; order windowed (blocks of 100 rows of the file)" && grep -q "order shuffle" "$work/log-s1"
ok $? "the run log names the order and the block size"
exit $fail
