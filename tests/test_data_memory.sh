#!/usr/bin/env bash
# test_data_memory.sh — `strata inspect`, `strata convert idx` and `strata convert csv` keep
# memory bounded (issue 18):
# each runs on a small synthetic input and on one 8x larger under /usr/bin/time -v, and the
# larger run's maximum RSS may exceed the smaller's by at most a few MB — far less than the data
# (a whole-file read of the wide pair's /X alone adds 180 MB; of the tall pair's /y, 56 MB):
#   wide: 25,000 and 200,000 rows x 256 features (IDX input 6.4 / 51 MB, /X 26 / 205 MB)
#   tall: 1,000,000 and 8,000,000 rows x 2 features (/y 4 / 32 MB as int32)
#   csv: 40,000 and 320,000 rows x 32 features (CSV 13 / 104 MB; /X 5 / 41 MB)
# The smaller inputs are large enough that every block buffer (4-16 MiB) is already full size.
# Bounds: convert idx +12 MB (it keeps the labels, 1 byte a row: 1.75 MB more), inspect +6 MB,
# convert csv +16 MB (it keeps a pointer to each row's label, its line and class id, ~20 bytes a row:
# 6 MB more; the base build, which held the text and /X, grew by 140 MB).
# A streamed training run's start-up (data.stream, issue 18's "budget + <= 32 bytes a row +
# a constant"): the same tall pair (1,000,000 and 8,000,000 rows x 2 features: the rows are 8
# bytes, so the per-row bookkeeping dominates), 2 ranks, a 16 MiB budget, one step: the larger
# run's max RSS (the larger rank's) may exceed the smaller's by at most 32 bytes a row of the 7M
# rows more (224 MB). Each rank holds every row's label (4), its training ids (8 a row of its
# shards), the shard map (8 a training row), the sampler's order, val/test ids and labels and the
# weight keys: ~20 bytes a row at 2 ranks, ~31 at one; the split and the shard map take 4 bytes
# a row of scratch at start-up (sharding/keyed_walk.h). The base build sorted every row at once
# (24 bytes a row, plus copies of the training ids and labels and the shard map's lookup, the
# fingerprint's labels and the sampler's full sort scratch): +70 bytes a row (466 MB) at 2 ranks.
# The bound is the issue's, without a tolerance: measured +18 (84 -> 206 MB).
# STRATA_BIN=path runs another build's convert, inspect and train (synth is always this build's),
# to show the test fails on one that reads whole files. Prints TAP.
set -u
cd "$(dirname "$0")/.." && . tests/util/tap.sh
[ -x /usr/bin/time ] || { echo "1..0 # SKIP no /usr/bin/time (GNU time, for the maximum RSS)"; exit 0; }
# Under AddressSanitizer (make test-asan) RSS counts the shadow memory and the quarantine of freed
# blocks, so it follows what was allocated, not what is held: the bounds mean nothing there.
ldd bin/strata 2>/dev/null | grep -q libasan && { echo "1..0 # SKIP a sanitizer build: RSS includes ASan's shadow and quarantine"; exit 0; }
SYN="$PWD/bin/strata"
S="${STRATA_BIN:-$SYN}"
echo "1..6"

# rss NAME CMD...: runs CMD under /usr/bin/time -v; prints its maximum RSS in kB (-1 on failure).
rss() {
  local name=$1; shift
  if ! /usr/bin/time -v "$@" > "$work/$name.out" 2> "$work/$name.time"; then
    cat "$work/$name.out" "$work/$name.time" > "$work/log"; echo -1; return
  fi
  awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time"
}
# grows NAME SMALL_KB LARGE_KB BOUND_MB: the larger run grew by less than BOUND_MB.
grows() {
  local d=$(( ($3 - $2) / 1024 ))
  echo "# $1: max RSS $(( $2 / 1024 )) MB -> $(( $3 / 1024 )) MB (+$d MB, bound +$4 MB)"
  [ "$2" -gt 0 ] && [ "$3" -gt 0 ] && [ "$d" -lt "$4" ]
}

for rows in 25000 200000; do
  "$SYN" synth "$work/w$rows.idx" --rows $rows --features 256 --classes 10 --format idx > "$work/log" 2>&1 ||
    { ok 1 "synth --format idx ($rows rows)"; exit 1; }
done
for rows in 40000 320000; do
  "$SYN" synth "$work/c$rows.csv" --rows $rows --features 32 --classes 10 --format csv > "$work/log" 2>&1 ||
    { ok 1 "synth --format csv ($rows rows)"; exit 1; }
done
for rows in 1000000 8000000; do
  "$SYN" synth "$work/t$rows.h5" --rows $rows --features 2 --classes 10 > "$work/log" 2>&1 ||
    { ok 1 "synth ($rows rows)"; exit 1; }
done

a=$(rss cs "$S" convert idx "$work/w25000.idx" "$work/w25000.idx.labels" -o "$work/w25000.h5")
b=$(rss cl "$S" convert idx "$work/w200000.idx" "$work/w200000.idx.labels" -o "$work/w200000.h5")
grows "convert idx, 25,000 -> 200,000 rows x 256" "$a" "$b" 12
ok $? "convert idx: 8x the rows (51 MB of pixels, 205 MB of /X) costs < 12 MB more memory"

a=$(rss is "$S" inspect "$work/w25000.h5")
b=$(rss il "$S" inspect "$work/w200000.h5")
grows "inspect, 25,000 -> 200,000 rows x 256" "$a" "$b" 6
ok $? "inspect: 8x the rows of /X (205 MB) costs < 6 MB more memory"

a=$(rss ts "$S" inspect "$work/t1000000.h5")
b=$(rss tl "$S" inspect "$work/t8000000.h5")
grows "inspect, 1,000,000 -> 8,000,000 rows x 2" "$a" "$b" 6
ok $? "inspect: 8x the labels (8,000,000 rows) costs < 6 MB more memory"

a=$(rss vs "$S" convert csv "$work/c40000.csv" --label label -o "$work/c40000.h5")
b=$(rss vl "$S" convert csv "$work/c320000.csv" --label label -o "$work/c320000.h5")
grows "convert csv, 40,000 -> 320,000 rows x 32" "$a" "$b" 16
ok $? "convert csv: 8x the rows (104 MB of CSV, 41 MB of /X) costs < 16 MB more memory"

grep -q "samples       8000000" "$work/tl.out" && grep -q "problems      none" "$work/tl.out"
ok $? "inspect of the 8,000,000-row file reports its rows and no problems"

# train_rss NAME FILE: max RSS (kB) of a streamed run's start-up and first step on 2 ranks.
train_rss() {
  rss "$1" mpirun -np 2 --oversubscribe --bind-to none "$S" train tests/data/train_tiny.json --set "data.path=$2" \
    --set "results_dir=$work/r" --set "name=$1" --set train.threads=1 --set data.order=windowed \
    --set data.stream=true --set data.memory_budget_mb=16 --set data.shards=4 --stop-after-steps 1
}
a=$(train_rss ss "$work/t1000000.h5")
b=$(train_rss sl "$work/t8000000.h5")
per_row=$(( ($b - $a) * 1024 / 7000000 ))
echo "# streamed start-up, 1,000,000 -> 8,000,000 rows x 2, 2 ranks: max RSS $(( a / 1024 )) MB -> $(( b / 1024 )) MB" \
  "(+$per_row bytes a row of the file, bound 32; $(grep -ho 'bookkeeping [0-9.]* bytes per row' "$work/sl.out"))"
[ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ "$per_row" -le 32 ] && { [ -n "${STRATA_BIN:-}" ] || # (another build: RSS only)
  /usr/bin/python3 -c "import json,sys; m=json.load(open('$work/r/sl/run.json'))['data_memory']
sys.exit(not m['bookkeeping_bytes_per_row'] <= m['startup_peak_bytes_per_row'] <= 32)"; }
ok $? "a streamed run's start-up: 8x the rows costs <= 32 bytes a row of the file more memory (2 ranks); run.json's computed start-up peak is <= 32"
exit $fail
