#!/usr/bin/env bash
# test_configs.sh — every runnable config in configs/ trains unchanged, only data.path set, on a
# small dataset of its input shape and targets (1,500-1,600 rows; the defaults are in epochs or fractions, not in
# steps that fit one dataset). A config without an entry in the table below fails the test: add a
# small dataset for it. Config fragments meant to be extended are named *.part.json and skipped.
# Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; sed 's/^/#   /' "$work/log" | tail -8; fi; }
# config → the small dataset's shape: rows features classes [positions]
small_shape() {
  case "$1" in
    configs/fashion_mlp.json|configs/fashion_mlp_augment.json) echo "1500 784 10" ;;  # 28x28 images as 784 features, 10 classes
    configs/tiny_test.json) echo "1500 8 4" ;;
    configs/phase4_stream.json) echo "1500 256 10" ;;     # a small stand-in for strata synth's 20M x 256 file
    configs/fashion_seq_cnn.json|configs/fashion_seq_optimized.json|configs/fashion_seq_bilstm.json)
      echo "1500 28 10 28" ;;                            # 28 steps of 28 features, 10 classes
    configs/fashion_multitask.json) echo "multitask" ;;  # made by scripts/make_fashion_multitask.py --limit 750
    configs/recommender.json) echo "recommender" ;;      # made by scripts/make_recommender.py --scenarios 400
    configs/varlen_conv_bilstm.json) echo "varlen" ;;    # made by scripts/make_varlen.py --n 600 (lengths 16..64)
    configs/ctc_digits.json) echo "digits" ;;            # 400 spoken digit strings (espeak-ng), convert audio
    *) echo "" ;;
  esac
}
# small_data SHAPE OUT: writes the small dataset.
small_data() {
  case "$1" in
    multitask) /usr/bin/python3 scripts/make_fashion_multitask.py --limit 750 "$2" > /dev/null ;;
    recommender) /usr/bin/python3 scripts/make_recommender.py "$work/rec" --scenarios 400 > /dev/null &&
      bin/strata convert csv "$work/rec.csv" --target category:category:class --target tools:tool_0..tool_44:multilabel \
        --target reward:reward:regression --group scenario --split-column split -o "$2" > /dev/null ;;
    varlen) /usr/bin/python3 scripts/make_varlen.py "$2" --n 600 --garbage-padding > /dev/null ;;
    digits) scripts/make_spoken_digits.sh "$work/digits" --utterances 400 > /dev/null &&
      bin/strata convert audio "$work/digits/manifest.csv" -o "$2" > /dev/null ;;
    *) /usr/bin/python3 tests/util/make_small.py "$2" $1 ;;
  esac
}
configs=$(ls configs/*.json | grep -v '\.part\.json$')
echo "1..$(echo "$configs" | wc -l)"
for cfg in $configs; do
  shape=$(small_shape "$cfg")
  if [ -z "$shape" ]; then echo "no small dataset for $cfg" > "$work/log"; ok 1 "$cfg: has a small dataset in tests/test_configs.sh"; continue; fi
  data="$work/$(basename "$cfg" .json).h5"
  small_data "$shape" "$data"
  timeout 300 mpirun -np 2 --oversubscribe --bind-to none bin/strata train "$cfg" --set "data.path=$data" \
    --set "results_dir=$work/r" > "$work/log" 2>&1
  rc=$?
  [ $rc = 0 ] && grep -q "accuracy" "$work/log"
  ok $? "$cfg runs unchanged on a small dataset ($shape; data.path set, 2 ranks; exit $rc)"
done
exit $fail
