#!/usr/bin/env bash
# test_data_cli.sh — the data commands end to end (strata convert idx|csv, strata inspect) on
# small files generated here: a successful convert + inspect, and every bad input of issue 3
# with its message, a non-zero exit status and no output file left behind; convert csv with
# --target/--group/--allow-missing and what inspect says about targets and groups (issue 13).
# Prints TAP.
set -u
cd "$(dirname "$0")/.."
S="$PWD/bin/strata"
T=$(mktemp -d /tmp/strata_data_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
skip() { n=$((n+1)); echo "ok $n # SKIP $1"; }
echo "1..42"

# run NAME CMD...: runs a strata command, keeping its status, stdout and stderr.
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# fails_with STATUS TEXT OUTFILE DESCRIPTION: the last run exited STATUS, said TEXT on stderr
# (as "strata: ..."), and left neither OUTFILE nor OUTFILE.tmp.
fails_with() {
  local want=$1 text=$2 out=$3 what=$4 good=0
  [ "$rc" = "$want" ] || { echo "# exit status $rc, expected $want"; good=1; }
  grep -qF -- "$text" "$T/err" || { echo "# stderr lacks: $text"; sed 's/^/#   /' "$T/err"; good=1; }
  grep -q '^strata: ' "$T/err" || { echo "# stderr does not start with 'strata: '"; good=1; }
  if [ -n "$out" ] && { [ -e "$out" ] || [ -e "$out.tmp" ]; }; then echo "# $out was left behind"; good=1; fi
  ok $good "$what"
}

# IDX files: 6 images of 2x3 and their labels, plain or gzip'ed, plus broken variants.
python3 - "$T" <<'EOF'
import gzip, struct, sys
d = sys.argv[1]
def idx(name, magic, dims, data, gz=True):
    b = struct.pack('>I', magic) + b''.join(struct.pack('>I', x) for x in dims) + bytes(data)
    (gzip.open if gz else open)(f"{d}/{name}", 'wb').write(b)
idx('im.gz', 0x803, [6, 2, 3], [(7 * i) % 256 for i in range(36)])
idx('lb.gz', 0x801, [6], [0, 1, 2, 1, 0, 2])
idx('lb5.gz', 0x801, [5], [0, 1, 2, 1, 0])
idx('tim', 0x803, [3, 2, 3], range(18), gz=False)
idx('tlb', 0x801, [3], [2, 0, 1], gz=False)
big = gzip.compress(struct.pack('>IIII', 0x803, 50, 10, 10) + bytes((i * 31 + i // 7) % 256 for i in range(5000)))
open(f"{d}/trunc.gz", 'wb').write(big[:len(big) // 2])
idx('lb50.gz', 0x801, [50], [i % 3 for i in range(50)])  # trunc.gz's labels: the images are streamed after the counts match
EOF

# 1-3: a successful conversion with a test set, and its inspection.
run "$S" convert idx "$T/im.gz" "$T/lb.gz" --test-images "$T/tim" --test-labels "$T/tlb" --class-names a,b,c -o "$T/ok.h5"
[ "$rc" = 0 ] && grep -q "wrote $T/ok.h5: 9 samples (6 train + 3 test, marked by /split)" "$T/out"
r=$?; [ $r = 0 ] || sed 's/^/#   /' "$T/out" "$T/err"
ok $r "convert idx writes a dataset with its test set"
run "$S" inspect "$T/ok.h5"
[ "$rc" = 0 ] && grep -q "samples       9" "$T/out" && grep -q "splits        train 6, val 0, test 3" "$T/out" &&
  grep -qE "^ +2  c +3 +33.33% +2 +0 +1$" "$T/out" && grep -q "phase         1 (fewer than 2,500 samples): 1 rank on 1 node" "$T/out" &&
  grep -q "problems      none" "$T/out"
ok $? "inspect reports samples, splits, class counts and shares, the phase and no problems"
run "$S" inspect "$T/ok.h5" --json
[ "$rc" = 0 ] && python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["n"] == 9 and r["shape"] == [6] and r["splits"] == {"train": 6, "val": 0, "test": 3}, r
assert [c["count"] for c in r["classes"]] == [3, 3, 3] and r["phase"]["phase"] == 1 and r["ok"] is True, r
' "$T/out"
ok $? "inspect --json prints the same as JSON"

# 4-6: broken IDX input.
run "$S" convert idx "$T/trunc.gz" "$T/lb50.gz" -o "$T/o.h5"
fails_with 1 "trunc.gz: truncated gzip file" "$T/o.h5" "a truncated gzip file is refused, naming the file"
run "$S" convert idx "$T/lb.gz" "$T/im.gz" -o "$T/o.h5"
fails_with 1 "lb.gz: expected IDX magic 0x00000803 (images) but found 0x00000801 (labels)" "$T/o.h5" "wrong IDX magic is refused"
run "$S" convert idx "$T/im.gz" "$T/lb5.gz" -o "$T/o.h5"
fails_with 1 "im.gz has 6 images but $T/lb5.gz has 5 labels" "$T/o.h5" "an image/label count mismatch is refused"

# 7-11: broken CSV input.
printf '' > "$T/empty.csv"
run "$S" convert csv "$T/empty.csv" --label y -o "$T/o.h5"
fails_with 1 "empty.csv: empty file" "$T/o.h5" "an empty CSV file is refused"
printf 'a,b,y\n1,2,x\n3,4\n' > "$T/ragged.csv"
run "$S" convert csv "$T/ragged.csv" --label y -o "$T/o.h5"
fails_with 1 "ragged.csv: line 3 has 2 fields but the header has 3" "$T/o.h5" "a ragged CSV row is refused, naming its line"
printf 'a,b,y\r\n1,2,x\r\n3,abc,y\r\n' > "$T/nonnum.csv"
run "$S" convert csv "$T/nonnum.csv" --label y -o "$T/o.h5"
fails_with 1 'nonnum.csv: line 3, column "b": "abc" is not a number' "$T/o.h5" "a non-numeric cell is refused, naming line and column"
run "$S" convert csv "$T/nonnum.csv" --label species -o "$T/o.h5"
fails_with 1 'no label column "species" in the header; the columns are: "a", "b", "y"' "$T/o.h5" "a missing label column is refused, listing the columns"
run "$S" convert csv "$T/nonnum.csv" --label y --drop-bad-rows -o "$T/drop.h5"
[ "$rc" = 0 ] && grep -q 'dropped 1 bad row (first: line 3, column "b": "abc" is not a number)' "$T/out" && [ -f "$T/drop.h5" ]
ok $? "--drop-bad-rows drops the row and says how many"

# 12-14: a label id outside 0..K-1 and a file that is not a strata dataset (written with h5py).
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  /usr/bin/python3 - "$T" <<'EOF'
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(f"{d}/badlabel.h5", "w") as f:
    f.create_dataset("X", data=np.zeros((6, 2), np.float32))
    f.create_dataset("y", data=np.array([0, 1, 0, 1, 12, 0], np.int32))
    f.attrs["n_classes"] = 10
with h5py.File(f"{d}/other.h5", "w") as f:
    f.create_dataset("data", data=np.zeros((6, 2), np.float32))
EOF
  run "$S" inspect "$T/badlabel.h5"
  fails_with 1 "problem" "" "inspect fails on a label outside 0..K-1"
  grep -q "badlabel.h5: /y\[4\] = 12 is outside 0..9" "$T/out"; ok $? "inspect names the row and value of the bad label"
  run "$S" inspect "$T/other.h5"
  fails_with 1 "other.h5: not a strata dataset: no /X dataset" "" "an HDF5 file that is not a strata dataset is refused"
else
  skip "/usr/bin/python3 has no h5py"; skip "/usr/bin/python3 has no h5py"; skip "/usr/bin/python3 has no h5py"
fi

# 15-17: NaN features are converted, then reported by inspect (text and JSON).
printf 'a,b,y\n1,nan,0\n3,4,1\n5,6,1\n1,2,0\n1,2,0\n3,inf,1\n' > "$T/nan.csv"
run "$S" convert csv "$T/nan.csv" --label y -o "$T/nan.h5"
[ "$rc" = 0 ] && grep -q "integer labels used as class ids" "$T/out"; ok $? "a CSV with nan/inf cells converts (integer labels as ids)"
run "$S" inspect "$T/nan.h5"
fails_with 1 "nan.h5: 1 problem would make training fail" "" "inspect exits 1 on NaN features"
grep -q '/X has 1 NaN and 1 Inf values (first at row 0, feature 1 "b")' "$T/out"; ok $? "inspect counts NaN and Inf and names the first"

# 18: a file that is not HDF5 at all.
run "$S" inspect "$T/nan.csv"
fails_with 1 "nan.csv: not an HDF5 file" "" "a file that is not HDF5 is refused clearly"

# 19: a failed conversion leaves an existing output file untouched.
cp "$T/ok.h5" "$T/keep.h5"; before=$(md5sum < "$T/keep.h5")
run "$S" convert csv "$T/ragged.csv" --label y -o "$T/keep.h5"
[ "$rc" = 1 ] && [ "$(md5sum < "$T/keep.h5")" = "$before" ] && [ ! -e "$T/keep.h5.tmp" ]
ok $? "a failed conversion does not touch an existing file at the output path"

# 20-21: usage errors exit 2.
run "$S" convert csv "$T/nan.csv" --label y
fails_with 2 "-o OUT.h5 is required" "" "a missing -o is a usage error (status 2)"
run "$S" convert idx "$T/im.gz" "$T/lb.gz" --bogus -o "$T/o.h5"
fails_with 2 'unknown option "--bogus"' "$T/o.h5" "an unknown option is a usage error (status 2)"

# 22: help lists the data commands.
"$S" help | grep -q "strata convert csv FILE --label COLUMN"; ok $? "strata help lists the data commands"

# 23-24 (issue 12): an output that is the input, by path, symlink or hard link, is refused and
# the input survives.
printf 'a,b,y\n1,2,x\n3,4,z\n5,6,x\n' > "$T/self.csv"; before=$(md5sum < "$T/self.csv")
run "$S" convert csv "$T/self.csv" --label y -o "$T/self.csv"
fails_with 1 "$T/self.csv: the output is the input $T/self.csv" "" "convert csv refuses -o its own input"
ln -s "$T/self.csv" "$T/self-link.h5"; ln "$T/im.gz" "$T/im-hard.h5"
run "$S" convert csv "$T/self.csv" --label y -o "$T/self-link.h5"; r1=$rc; grep -q "the output is the input" "$T/err"; g1=$?
run "$S" convert idx "$T/im.gz" "$T/lb.gz" -o "$T/im-hard.h5"; r2=$rc; grep -q "im-hard.h5: the output is the input $T/im.gz" "$T/err"; g2=$?
[ $r1 = 1 ] && [ $g1 = 0 ] && [ $r2 = 1 ] && [ $g2 = 0 ] && [ "$(md5sum < "$T/self.csv")" = "$before" ] &&
  "$S" inspect "$T/ok.h5" >/dev/null && python3 -c 'import gzip,sys; gzip.open(sys.argv[1]).read()' "$T/im.gz"
ok $? "convert refuses an output that is a symlink or hard link to an input; the inputs are intact"

# 25-27 (issue 12): one class, and a class that /split keeps out of train, are refused by training
# (and the second is a problem for inspect).
python3 - "$T" <<'EOF2'
import sys
d = sys.argv[1]
with open(f"{d}/one.csv", "w") as f:
    f.write("a,b,y\n" + "".join(f"{i},{i % 7},cat\n" for i in range(300)))
with open(f"{d}/unseen.csv", "w") as f:
    f.write("a,b,y,part\n")
    for i in range(600):
        c = i % 3
        f.write(f"{i % 11 + c},{i % 5},{'abc'[c]},{'test' if c == 2 or i % 5 == 0 else 'train'}\n")
EOF2
"$S" convert csv "$T/one.csv" --label y -o "$T/one.h5" >/dev/null &&
  "$S" convert csv "$T/unseen.csv" --label y --split-column part -o "$T/unseen.h5" >/dev/null
TRAIN=(train tests/data/train_tiny.json --set "results_dir=$T/results" --set train.threads=1 --set train.epochs=1)
run "$S" "${TRAIN[@]}" --set "data.path=$T/one.h5" --set name=one
fails_with 1 "$T/one.h5: only 1 class (n_classes); a classifier needs at least 2" "" "training on one class is refused"
run "$S" inspect "$T/unseen.h5"
grep -q 'problem: .*unseen.h5: class "c" (id 2) has no training rows (/split puts its 0 val and 200 test rows outside train)' "$T/out" &&
  [ "$rc" = 1 ]
ok $? "inspect reports a class that /split keeps out of train"
run "$S" "${TRAIN[@]}" --set "data.path=$T/unseen.h5" --set name=unseen
fails_with 1 "$T/unseen.h5: split: class 2 (\"c\") has no training rows but 0 in val and 200 in test" "" \
  "training refuses a class that /split keeps out of train"

# 28 (issue 12): a header claiming 4 GB of labels in a 14-byte file is read as short, without
# allocating 4 GB first (under a 3 GB address-space limit the old reader ran out of memory).
printf '\x00\x00\x08\x01\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00' > "$T/hugelb"
if [ -n "${ASAN_OPTIONS:-}" ]; then  # ASan reserves terabytes of address space: no ulimit -v under it
  n=$((n+1)); echo "ok $n # skip under AddressSanitizer (ulimit -v leaves it no room for its shadow memory)"
else
run bash -c "ulimit -v 3000000; exec \"$S\" convert idx \"$T/im.gz\" \"$T/hugelb\" -o \"$T/o.h5\""
fails_with 1 "hugelb: file is shorter than its header says: 4294967295 bytes of data for 4294967295 labels expected, 6 found" \
  "$T/o.h5" "an IDX header claiming 4 GB is refused as short, without a 4 GB allocation"
fi

# 29-37 (issue 13): targets and groups. A class, a multi-label range and a regression target, a
# string group column and a split column; then inspect (text and JSON) and each refusal.
python3 - "$T" <<'EOF3'
import sys
d = sys.argv[1]
with open(f"{d}/rec.csv", "w") as f:
    f.write("scenario,split,age,budget,category,tool_0,tool_1,tool_2,reward\n")
    for s in range(12):
        for v in range(3):
            f.write(f"s{s % 5},{'test' if s % 4 == 0 else 'train'},{20 + s + v},{10 * s + 1},"
                    f"{['book', 'food', 'home'][s % 3]},{s % 2},{v % 2},{(s + v) % 2},{s * 0.5 + v:.2f}\n")
EOF3
REC=(--target category:category:class --target tools:tool_0..tool_2:multilabel --target reward:reward:regression
     --group scenario --split-column split)
run "$S" convert csv "$T/rec.csv" "${REC[@]}" -o "$T/rec.h5"
[ "$rc" = 0 ] && grep -q "wrote $T/rec.h5: 36 samples, 2 features$" "$T/out" &&
  grep -q "target category: class, 3 classes (string labels, ids in sorted order)" "$T/out" &&
  grep -q "target tools: multilabel, 3 columns" "$T/out" && grep -q "groups: 5" "$T/out"
r=$?; [ $r = 0 ] || sed 's/^/#   /' "$T/out" "$T/err"
ok $r "convert csv --target (class, multilabel range, regression) --group --split-column"
run "$S" inspect "$T/rec.h5"
[ "$rc" = 0 ] && grep -q "classes       no /y" "$T/out" && grep -q "targets       3 in /targets" "$T/out" &&
  grep -qE "^ +2  home +12 +33.33% +9 +0 +3$" "$T/out" &&
  grep -q "tools: multilabel, 3 labels, 1.33 labels per row on average" "$T/out" &&
  grep -qE "^ +tool_1 +12 +33.33%$" "$T/out" && grep -qE "^ +reward +3.75 +1.909 +0 +7.5 +0$" "$T/out" &&
  grep -q "groups        5 (rows per group: min 6, median 6, max 9)" "$T/out"
r=$?; [ $r = 0 ] || sed 's/^/#   /' "$T/out" "$T/err"
ok $r "inspect shows class counts by split, label frequencies, regression figures and groups of a file without /y"
run "$S" inspect "$T/rec.h5" --json
[ "$rc" = 0 ] && python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
t = {x["name"]: x for x in r["targets"]}
assert r["has_y"] is False and r["n"] == 36 and r["classes"] == [] and r["splits"] == {"train": 27, "val": 0, "test": 9}, r
assert [c["test"] for c in t["category"]["classes"]] == [3, 3, 3], t
assert [l["count"] for l in t["tools"]["labels"]] == [18, 12, 18] and abs(t["tools"]["mean_labels"] - 4 / 3) < 1e-12, t
c = t["reward"]["columns"][0]
assert abs(c["mean"] - 3.75) < 1e-6 and c["min"] == 0 and c["max"] == 7.5 and c["missing"] == 0, c
assert r["groups"] == {"n_groups": 5, "rows_min": 6, "rows_median": 6, "rows_max": 9, "across_parts": 3}, r["groups"]
assert "imbalance" in r and "phase" in r and r["ok"] is True, r
' "$T/out"
ok $? "inspect --json has the targets array and the groups object; the old keys stay"
run "$S" convert csv "$T/rec.csv" --target tools:tool_0..tool_9:multilabel -o "$T/o.h5"
fails_with 1 "rec.csv: --target tools: no column \"tool_9\" in the header" "$T/o.h5" "a target naming an unknown column is refused, naming it"
awk -F, -v OFS=, 'NR == 5 { $7 = 7 } 1' "$T/rec.csv" > "$T/rec_bad.csv"
run "$S" convert csv "$T/rec_bad.csv" "${REC[@]}" -o "$T/o.h5"
fails_with 1 'rec_bad.csv: line 5, column "tool_1": "7" is not 0 or 1 (target tools is multilabel)' "$T/o.h5" \
  "a multilabel cell that is not 0 or 1 is refused, naming line and column"
awk -F, -v OFS=, 'NR == 3 { $5 = "" } 1' "$T/rec.csv" > "$T/rec_miss.csv"
run "$S" convert csv "$T/rec_miss.csv" "${REC[@]}" -o "$T/o.h5"
fails_with 1 'rec_miss.csv: line 3, column "category": missing value (target category; --allow-missing' "$T/o.h5" \
  "an empty class cell is refused without --allow-missing"
run "$S" convert csv "$T/rec_miss.csv" "${REC[@]}" --allow-missing -o "$T/miss.h5"
[ "$rc" = 0 ] && grep -q "target category: class, 3 classes (string labels, ids in sorted order), 1 missing" "$T/out" &&
  "$S" inspect "$T/miss.h5" | grep -q "category: class, 3 classes, 1 missing"
ok $? "with --allow-missing the empty class cell is missing (-1), counted by convert and inspect"
run "$S" convert csv "$T/rec.csv" --target category:class -o "$T/o.h5"
fails_with 2 '--target "category:class": expected NAME:COLUMNS:KIND' "$T/o.h5" "a malformed --target is a usage error"
run "$S" convert csv "$T/rec.csv" -o "$T/o.h5"
fails_with 2 "--label COLUMN is required (or --target NAME:COLUMNS:KIND)" "$T/o.h5" "neither --label nor --target is a usage error"

# 38: the multi-target h5py example of docs/data-format.md writes a file strata inspects as it says.
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  # the python block of docs/data-format.md that writes multi.h5
  awk '/^```python$/ { on = 1; block = ""; next } /^```$/ { if (on && block ~ /multi\.h5/) printf "%s", block; on = 0; next }
       on { block = block $0 "\n" }' docs/data-format.md > "$T/multi.py"
  (cd "$T" && /usr/bin/python3 multi.py) && run "$S" inspect "$T/multi.h5"
  [ "$rc" = 0 ] && grep -q "category: class, 4 classes, 10 missing" "$T/out" && grep -q "tools: multilabel, 5 labels" "$T/out" &&
    grep -q "reward: regression, 1 column" "$T/out" && grep -q "groups        250 (rows per group: min 4, median 4, max 4)" "$T/out"
  ok $? "the multi-target h5py example of docs/data-format.md inspects as documented"
else
  skip "/usr/bin/python3 has no h5py"
fi

# 39-41 (issue 14): --shape T,C stores the feature columns as [T, C] sequences, time-major.
printf 'a,b,c,d,e,f,y\n1,2,3,4,5,6,0\n6,5,4,3,2,1,1\n1,1,1,1,1,1,0\n2,2,2,2,2,2,1\n' > "$T/seq.csv"
run "$S" convert csv "$T/seq.csv" --label y --shape 3,2 -o "$T/seq.h5"
[ "$rc" = 0 ] && "$S" inspect "$T/seq.h5" 2>/dev/null | grep -q "sample shape  \[3, 2\] (positions, channels)" &&
  { ! /usr/bin/python3 -c 'import h5py' 2>/dev/null ||
    /usr/bin/python3 -c 'import h5py,sys; x=h5py.File(sys.argv[1])["X"]; assert x.shape == (4, 3, 2) and x[0].tolist() == [[1, 2], [3, 4], [5, 6]], x[0]' "$T/seq.h5"; }
ok $? "convert csv --shape 3,2: six columns become [3, 2] sequences, column t*C + c at step t, channel c"
run "$S" convert csv "$T/seq.csv" --label y --shape 4,2 -o "$T/seq4.h5"
fails_with 1 "--shape 4,2 needs 8 feature columns (T x C), the file has 6" "$T/seq4.h5" "--shape that does not match the columns is refused, naming both counts"
run "$S" convert csv "$T/seq.csv" --label y --shape 4x2 -o "$T/seqx.h5"
fails_with 2 "--shape 4x2: expected T,C" "$T/seqx.h5" "a malformed --shape is a usage error"

# 42: convert idx --sequence stores each image as [rows, cols] (Debian's Fashion-MNIST test set).
FM=/usr/share/datasets/fashion-mnist
if [ -f "$FM/t10k-images-idx3-ubyte.gz" ]; then
  run "$S" convert idx "$FM/t10k-images-idx3-ubyte.gz" "$FM/t10k-labels-idx1-ubyte.gz" --sequence -o "$T/fseq.h5"
  [ "$rc" = 0 ] && grep -q "as \[28, 28\] float32 sequences" "$T/out" &&
    "$S" inspect "$T/fseq.h5" 2>/dev/null | grep -q "sample shape  \[28, 28\] (positions, channels)"
  ok $? "convert idx --sequence: 28x28 images become [28, 28] sequences (28 steps of 28 features)"
else
  skip "no Fashion-MNIST in $FM"
fi

exit $((failed > 0))
