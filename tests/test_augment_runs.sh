#!/usr/bin/env bash
# test_augment_runs.sh — augmentation and data.repeat in whole training runs (docs/augmentation.md):
# the training path hands out training rows only on grouped data (build/tests/mpi_augment at P =
# 1, 2); an augmented run with data.repeat 2 and dropout is bitwise identical at P = 1, 2, 4 in
# exact mode; checkpointed mid-epoch at P = 2 and resumed at P = 1 it equals the straight run;
# repeat 3 makes epochs of 3x the steps; augmentation changes the run (a test that can fail); a
# variable-length sequence run with time shift/mask/stretch/crop and feature masks is the same at
# P = 1, 2, 4; both again with mixup (and cutmix on sequences) on top, and the mixed MLP run
# resumed mid-epoch at another P. Prints TAP.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
tests/util/make_tiny.sh "$work/tiny.h5" > /dev/null
/usr/bin/python3 scripts/make_varlen.py "$work/varlen.h5" --n 600 --t-max 24 --min-length 4 --garbage-padding > /dev/null
AUG='augment=[{"op":"gaussian_noise","sigma":0.2,"p":0.8},{"op":"scale","min":0.8,"max":1.2},
  {"op":"feature_dropout","rate":0.1,"p":0.5},{"op":"jitter","columns":[0,2],"relative":0.25}]'
SEQAUG='augment=[{"op":"time_shift","max_steps":2,"mode":"pad"},{"op":"time_mask","count":2,"max_width":3},
  {"op":"feature_mask","count":1,"max_width":1,"p":0.5},{"op":"time_stretch","min":0.8,"max":1.25,"p":0.5},
  {"op":"random_crop","min_fraction":0.7,"p":0.3},{"op":"gaussian_noise","sigma_fraction_of_std":0.1}]'
run() { # P config name [args...]
  local P=$1 cfg=$2 name=$3 data=$work/tiny.h5; shift 3
  case "$cfg" in tests/data/train_varlen.json) data=$work/varlen.h5 ;; esac
  timeout 120 mpirun -np "$P" --oversubscribe --bind-to none bin/strata train "$cfg" --set "data.path=$data" \
    --set "results_dir=$work/r" --set "name=$name" --set reproducible=exact --set train.threads=1 "$@" > "$work/log-$name" 2>&1
}
same() { /usr/bin/python3 tests/util/compare_runs.py "$work/r/$1" "$work/r/$2" > "$work/cmp" 2>&1; }
first_step() { sed -n '1s/.*"step":\([0-9]*\).*/\1/p' "$work/r/$1/history.jsonl"; }
echo "1..10"

for P in 1 2; do
  timeout 120 mpirun -np $P --oversubscribe --bind-to none build/tests/mpi_augment "$work" > "$work/grouped-$P" 2>&1
  ok $? "grouped data, repeat 3 + augmentation at P=$P: $(grep -E '^(PASS|FAIL)' "$work/grouped-$P" || tail -3 "$work/grouped-$P")"
done

MLP=tests/data/train_tiny.json
run 1 $MLP a1 --set data.repeat=2 --set "$AUG" && run 2 $MLP a2 --set data.repeat=2 --set "$AUG" &&
  run 4 $MLP a4 --set data.repeat=2 --set "$AUG"
built=$?
[ $built = 0 ] && same a1 a2 && same a1 a4
ok $? "augmented MLP (noise, scale, feature dropout, relative jitter; repeat 2; dropout): P=1, 2, 4 identical ($(cat "$work/cmp"))"

run 2 $MLP ar --set data.repeat=2 --set "$AUG" --stop-after-steps 50 && run 1 $MLP ar --set data.repeat=2 --set "$AUG" --resume auto &&
  same a1 ar
ok $? "augmented run checkpointed at P=2 (step 50, mid-epoch 2 of 40-step epochs) and resumed at P=1 equals the straight run ($(cat "$work/cmp"))"

run 1 $MLP plain && run 1 $MLP rep3 --set data.repeat=3 --set train.epochs=2
s_plain=$(first_step plain); s_rep=$(first_step rep3)
[ -n "$s_plain" ] && [ "$s_rep" = $((3 * s_plain)) ]
ok $? "data.repeat 3: the first epoch has $s_rep optimizer steps, 3 x the plain run's $s_plain"

run 1 $MLP a1k1 --set "$AUG" && ! same plain a1k1
ok $? "augmentation changes the run (same seed, repeat 1: $(head -c 120 "$work/cmp"))"

VAR=tests/data/train_varlen.json
run 1 $VAR v1 --set "$SEQAUG" && run 2 $VAR v2 --set "$SEQAUG" && run 4 $VAR v4 --set "$SEQAUG" && same v1 v2 && same v1 v4
ok $? "variable-length sequences with time shift/mask/stretch/crop, feature masks and noise (length buckets, LSTM, GRU): P=1, 2, 4 identical ($(cat "$work/cmp"))"

run 1 $VAR vplain && ! same vplain v1
ok $? "the sequence augmentation changes the run"

MIX='mixup={"alpha":0.4,"p":0.8}'
run 1 $MLP m1 --set data.repeat=2 --set "$AUG" --set "$MIX" && run 2 $MLP m2 --set data.repeat=2 --set "$AUG" --set "$MIX" &&
  run 4 $MLP m4 --set data.repeat=2 --set "$AUG" --set "$MIX" && same m1 m2 && same m1 m4 &&
  run 4 $MLP mr --set data.repeat=2 --set "$AUG" --set "$MIX" --stop-after-steps 50 &&
  run 2 $MLP mr --set data.repeat=2 --set "$AUG" --set "$MIX" --resume auto && same m1 mr && ! same a1 m1
ok $? "augmentation + repeat 2 + mixup (MLP): P=1, 2, 4 identical, resumed mid-epoch (P=4 -> 2) equal, and mixup changes it ($(cat "$work/cmp"))"

run 1 $VAR vm1 --set "$SEQAUG" --set "$MIX" --set 'cutmix={"alpha":1.0,"p":0.3}' &&
  run 2 $VAR vm2 --set "$SEQAUG" --set "$MIX" --set 'cutmix={"alpha":1.0,"p":0.3}' &&
  run 4 $VAR vm4 --set "$SEQAUG" --set "$MIX" --set 'cutmix={"alpha":1.0,"p":0.3}' && same vm1 vm2 && same vm1 vm4
ok $? "variable-length sequences with the time augmentations + mixup + cutmix: P=1, 2, 4 identical ($(cat "$work/cmp"))"
exit $fail
