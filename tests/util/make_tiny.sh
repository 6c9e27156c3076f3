#!/usr/bin/env bash
# make_tiny.sh OUT.h5 — a small 4-class dataset (1,600 samples × 8 features, imbalanced) made
# with awk and `strata convert csv`, for the training tests.
set -eu
out=$1
csv=$(mktemp --suffix=.csv)
awk 'BEGIN { srand(7); printf "f0,f1,f2,f3,f4,f5,f6,f7,label\n";
  for (i = 0; i < 1600; i++) {
    c = (i % 10 < 4) ? 0 : (i % 10 < 7) ? 1 : (i % 10 < 9) ? 2 : 3;
    for (j = 0; j < 8; j++) { x = rand() * 2 - 1 + (j == c ? 1.5 : 0) + (j == c + 4 ? -1 : 0); printf "%.5f,", x }
    printf "c%d\n", c } }' > "$csv"
bin/strata convert csv "$csv" --label label -o "$out" > /dev/null
rm -f "$csv"
