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
# STRATA_BIN=path runs another build's convert and inspect (synth is always this build's), to
# show the test fails on one that reads whole files. Prints TAP.
set -u
cd "$(dirname "$0")/.." && . tests/util/tap.sh
[ -x /usr/bin/time ] || { echo "1..0 # SKIP no /usr/bin/time (GNU time, for the maximum RSS)"; exit 0; }
# Under AddressSanitizer (make test-asan) RSS counts the shadow memory and the quarantine of freed
# blocks, so it follows what was allocated, not what is held: the bounds mean nothing there.
ldd bin/strata 2>/dev/null | grep -q libasan && { echo "1..0 # SKIP a sanitizer build: RSS includes ASan's shadow and quarantine"; exit 0; }
SYN="$PWD/bin/strata"
S="${STRATA_BIN:-$SYN}"
echo "1..5"

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
exit $fail
