#!/usr/bin/env bash
# test_reproducible.sh — reproducible: "exact" gives bitwise-identical parameters, BatchNorm
# buffers, optimizer state and history (all but timing) at P = 1, 2, 3, 4 ranks and with 1 or 2
# threads (ranks × threads ≤ cores), for an MLP with BatchNorm and dropout, for a 1-D CNN, and for
# variable-length sequences (/lengths, length buckets, strided conv, BatchNorm, SE, LSTM, GRU), and for
# CTC on sequence targets (with `strata eval`'s decoded.csv the same at P = 1 and 2);
# a run checkpointed at one P and resumed at another ends identical too; `strata eval` gives the
# same metrics at any P; `strata verify` reports agreement; the divergence check catches a
# corrupted replica. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5"
/usr/bin/python3 tests/util/make_seq.py "$work/seq.h5"
/usr/bin/python3 scripts/make_varlen.py "$work/varlen.h5" --n 600 --t-max 24 --min-length 4 --garbage-padding > /dev/null
/usr/bin/python3 tests/util/make_toy_ctc.py "$work/ctc.h5" 480 2
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
run() { # P config name [args...]
  local P=$1 cfg=$2 name=$3 data=$work/tiny.h5; shift 3
  case "$cfg" in tests/data/train_cnn.json|tests/data/train_seq_layers.json) data=$work/seq.h5 ;; esac
  case "$cfg" in tests/data/train_varlen.json) data=$work/varlen.h5 ;; tests/data/train_ctc.json) data=$work/ctc.h5 ;; esac
  timeout 120 mpirun -np "$P" --oversubscribe --bind-to none bin/strata train "$cfg" --set "data.path=$data" \
    --set "results_dir=$work/r" --set "name=$name" --set reproducible=exact "$@" > "$work/log-$name" 2>&1
}
same() { /usr/bin/python3 tests/util/compare_runs.py "$work/r/$1" "$work/r/$2" > "$work/cmp" 2>&1; }
echo "1..15"

MLP=tests/data/train_tiny.json
run 1 $MLP m1 --set train.threads=1 && run 2 $MLP m2 && run 3 $MLP m3 && run 4 $MLP m4 && run 1 $MLP m1t2 --set train.threads=2
built=$?
for r in m2 m3 m4; do
  [ $built = 0 ] && same m1 $r; ok $? "MLP (BatchNorm, dropout, clipping, warmup+cosine): P=${r#m} equals P=1 bit for bit ($(cat "$work/cmp"))"
done
[ $built = 0 ] && same m1 m1t2; ok $? "MLP: 2 threads equals 1 thread bit for bit ($(cat "$work/cmp"))"

CNN=tests/data/train_cnn.json
run 1 $CNN c1 && run 2 $CNN c2 && run 4 $CNN c4 && same c1 c2 && same c1 c4
ok $? "1-D CNN (conv1d, parallel branches, BatchNorm, pooling, dropout): P=1, 2, 4 identical ($(cat "$work/cmp"))"

SEQ=tests/data/train_seq_layers.json
run 1 $SEQ s1 && run 2 $SEQ s2 && same s1 s2
ok $? "sequence layers (reshape, conv_transpose1d, squeeze_excite, upsample1d, permute): P=2 equals P=1 bit for bit ($(cat "$work/cmp"))"

VAR=tests/data/train_varlen.json
run 1 $VAR v1 && run 2 $VAR v2 && run 4 $VAR v4 && same v1 v2 && same v1 v4
ok $? "variable lengths (/lengths with garbage padding, length buckets, strided conv, BatchNorm, SE, LSTM, GRU): P=1, 2, 4 identical ($(cat "$work/cmp"))"
for P in 1 2; do
  timeout 60 mpirun -np $P --bind-to core bin/strata eval "$work/r/v1/checkpoints/best.h5" "$work/varlen.h5" \
    --split test --out "$work/veval-$P" > "$work/log-veval-$P" 2>&1
done
cmp -s "$work/veval-1/metrics.json" "$work/veval-2/metrics.json" && grep -q "samples" "$work/log-veval-1"
ok $? "strata eval of the variable-length model: the same metrics.json at P=1 and P=2"

CTC=tests/data/train_ctc.json
run 1 $CTC k1 && run 2 $CTC k2 && run 4 $CTC k4 && same k1 k2 && same k1 k4
ok $? "CTC (sequence targets, stride-2 conv mapping the lengths, BatchNorm, SE, BiLSTM, beam decoding, val_wer): P=1, 2, 4 identical ($(cat "$work/cmp"))"
for P in 1 2; do
  timeout 60 mpirun -np $P --bind-to core bin/strata eval "$work/r/k1/checkpoints/best.h5" "$work/ctc.h5" \
    --split all --out "$work/ceval-$P" > "$work/log-ceval-$P" 2>&1
done
cmp -s "$work/ceval-1/metrics.json" "$work/ceval-2/metrics.json" && cmp -s "$work/ceval-1/decoded.csv" "$work/ceval-2/decoded.csv" \
  && [ "$(wc -l < "$work/ceval-1/decoded.csv")" = 481 ] && grep -q "reference:" "$work/log-ceval-2" && grep -q "WER" "$work/log-ceval-2"
ok $? "strata eval of the CTC model: the same metrics.json and decoded.csv (480 rows in row order) at P=1 and P=2"

run 2 $MLP r24 --stop-after-steps 50 && run 4 $MLP r24 --resume auto && same m1 r24
ok $? "checkpointed at P=2 (step 50, mid-epoch) and resumed at P=4: equal to the uninterrupted run ($(cat "$work/cmp"))"

run 4 $MLP r41 --stop-after-steps 70 && run 1 $MLP r41 --resume auto --set train.threads=1 && same m1 r41
ok $? "checkpointed at P=4 (step 70) and resumed at P=1: equal to the uninterrupted run ($(cat "$work/cmp"))"

bin/strata verify $MLP --steps 25 --ranks 1,2,3 --set "data.path=$work/tiny.h5" --set reproducible=exact > "$work/verify" 2>&1
rc=$?; [ $rc = 0 ] && grep -q "identical: every tensor has the same bits after each of 25 steps" "$work/verify"
ok $? "strata verify --ranks 1,2,3 reports identical tensors for 25 steps"

# The CNN's val split: 72 rows, one evaluation block. Its last GEMM (N = 3 classes) gives other
# bits for a row in a 36-row pass than in a 72-row one with this BLIS, so before whole blocks P=2
# (two 36-row passes) differed from P=1. One thread per rank (--bind-to core): only P differs.
for P in 1 2; do
  timeout 60 mpirun -np $P --bind-to core bin/strata eval "$work/r/c1/checkpoints/best.h5" "$work/seq.h5" \
    --split val --out "$work/eval-$P" > "$work/log-eval-$P" 2>&1
done
grep -q "72 samples" "$work/log-eval-1" && cmp -s "$work/eval-1/metrics.json" "$work/eval-2/metrics.json" &&
  cmp -s "$work/eval-1/confusion.csv" "$work/eval-2/confusion.csv"
ok $? "strata eval of the CNN (val split): metrics.json and confusion.csv have the same bytes at P=1 and P=2 (whole 512-row evaluation blocks)"

STRATA_FAULT=1:7:perturb run 2 $MLP div --set train.divergence_check_every=5; rc=$?
[ $rc != 0 ] && grep -q "replica divergence at step 10: the parameters of rank 1 differ from rank 0's" "$work/log-div"
ok $? "a replica perturbed on rank 1 at step 7 is caught by the divergence check at step 10"
exit $fail
