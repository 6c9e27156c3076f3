#!/usr/bin/env bash
# test_inspect_sequences.sh — `strata inspect` on sequence targets (format 4, CTC): the figures of
# its text report and of --json (tokens' label counts and shares, labels per row, empty rows,
# bad rows, rows whose frames cannot hold their labels, the problems list) against the same
# figures computed in Python (Debian's /usr/bin/python3 with h5py) from the same files: the CTC
# toy set of tests/util/make_toy_ctc.py, and small handmade files with an empty row, rows too
# short for their labels (one by an adjacent repeat), a bad label and a bad length. Prints TAP.
set -u
cd "$(dirname "$0")/.."
S="$PWD/bin/strata"
PY=/usr/bin/python3
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
echo "1..7"
if ! "$PY" -c 'import h5py, numpy' 2>/dev/null; then
  for i in 1 2 3 4 5 6 7; do echo "ok $i # SKIP $PY lacks h5py"; done
  exit 0
fi
T=$(mktemp -d /tmp/strata_inspect_seq.XXXXXX)
trap 'rm -rf "$T"' EXIT

# What inspect should say, from the file alone: rows are bad when the length is outside 0..L_max
# or a label outside 1..V-1; the rest give the figures; a row needs len + adjacent repeats frames
# (frames: /lengths, else T; none for [N, D]).
cat > "$T/expect.py" <<'EOF'
import sys, h5py, numpy as np
def expect(path):
    with h5py.File(path, "r") as f:
        tok, lens = f["targets/text"][:], f["target_lengths/text"][:]
        voc = [v.decode() if isinstance(v, bytes) else str(v) for v in f["targets/text"].attrs["vocabulary"]]
        X = f["X"]
        frames = f["lengths"][:] if "lengths" in f else (np.full(len(lens), X.shape[1]) if X.ndim == 3 else None)
    V, L = len(voc), tok.shape[1]
    counts, per_row, bad, short = np.zeros(V, np.int64), [], 0, []
    for i, l in enumerate(lens):
        if not 0 <= l <= L or any(not 1 <= x < V for x in tok[i, :l]):
            bad += 1
            continue
        per_row.append(int(l))
        for x in tok[i, :l]:
            counts[x] += 1
        need = l + sum(int(tok[i, j] == tok[i, j - 1]) for j in range(1, l))
        if frames is not None and need > frames[i]:
            short.append((i, int(frames[i]), int(l), int(need - l)))
    total = counts.sum()
    return dict(kind="sequence", width=L + 1, max_len=L, n_tokens=V, bad=bad,
                vocabulary=[dict(id=k, token=voc[k], count=int(counts[k]), share=counts[k] / total if total else 0.0)
                            for k in range(V)],
                labels_per_row=dict(min=min(per_row), median=float(np.median(per_row)), max=max(per_row),
                                    mean=float(np.mean(per_row))),
                labels=int(total), empty_rows=per_row.count(0),
                too_short_rows=None if frames is None else len(short),
                first_too_short_row=short[0][0] if short else None), short
EOF

# Compares `strata inspect --json` (file $2) with expect(path $1); extra checks in $3 (Python,
# with j the JSON, t its target, e the expectation, short the short rows).
check_json() {
  "$PY" - "$1" "$2" "${3:-}" <<'EOF' 2>&1 | sed 's/^/# /'
import sys, json, math
sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0])
from expect import expect
e, short = expect(sys.argv[1])
j = json.load(open(sys.argv[2]))
t = j["targets"][0]
for k, v in e.items():
    if k == "vocabulary":
        assert len(t[k]) == len(v), (t[k], v)
        for a, b in zip(t[k], v):
            assert a["id"] == b["id"] and a["token"] == b["token"] and a["count"] == b["count"], (a, b)
            assert math.isclose(a["share"], b["share"], abs_tol=1e-12), (a, b)
    elif k == "labels_per_row":
        for q in v:
            assert math.isclose(t[k][q], v[q], abs_tol=1e-12), (k, q, t[k][q], v[q])
    else:
        assert t[k] == v, (k, t[k], v)
exec(sys.argv[3])
EOF
  return "${PIPESTATUS[0]}"
}

# 1-2: the CTC toy set: figures as Python computes them; nothing too short, no problems.
"$PY" tests/util/make_toy_ctc.py "$T/toy.h5" 200
"$S" inspect "$T/toy.h5" --json 2>/dev/null > "$T/toy.json"; rc=$?
check_json "$T/toy.h5" "$T/toy.json" 'assert j["problems"] == [] and j["ok"] and t["too_short_rows"] == 0, j["problems"]'
[ "$?" = 0 ] && [ "$rc" = 0 ]; ok $? "inspect --json on the CTC toy set: vocabulary counts and shares, labels per row, empty, bad, too short as computed in Python"
"$S" inspect "$T/toy.h5" 2>/dev/null > "$T/toy.txt"; rc=$?
"$PY" - "$T/toy.h5" "$T/toy.txt" <<'EOF' 2>&1 | sed 's/^/# /'
import sys
sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0])
from expect import expect
e, _ = expect(sys.argv[1])
txt, l = open(sys.argv[2]).read(), e["labels_per_row"]
head = (f"    text: sequence, vocabulary of 5 (with the blank), labels per row min {l['min']} / median {l['median']:g} / "
        f"max {l['max']} (mean {l['mean']:.2f}; L_max 4), 0 rows empty\n")
assert head in txt, (head, txt)
for v in e["vocabulary"]:
    row = f"{v['id']:3d}  {v['token']:<7s} {v['count']:10d} {100 * v['share']:6.2f}%"
    assert row in txt, (row, txt)
assert "every row has frames enough for its labels at input resolution" in txt, txt
assert "problems      none: ready to train" in txt, txt
EOF
[ "${PIPESTATUS[0]}" = 0 ] && [ "$rc" = 0 ]; ok $? "inspect text on the CTC toy set: the summary line and the token table (blank shown with 0)"

# A handmade file: vocabulary of 4, L_max 4, /X [7, 5, 2] with /lengths. Row 1 is empty, row 2
# has 4 labels with one adjacent repeat in 4 frames (needs 5), row 3 a label 7 (bad), row 4
# 3 labels in 2 frames, row 6 a length 5 > L_max (bad).
"$PY" - "$T" <<'EOF'
import sys, h5py, numpy as np
d = sys.argv[1]
tok = np.array([[1, 2, 0, 0], [0, 0, 0, 0], [1, 1, 2, 3], [3, 7, 0, 0], [2, 3, 1, 0], [1, 0, 0, 0], [1, 2, 3, 1]], np.int32)
lens = np.array([2, 0, 4, 2, 3, 1, 5], np.int32)
frames = np.array([5, 3, 4, 5, 2, 1, 5], np.int32)
def write(name, X, lengths):
    with h5py.File(f"{d}/{name}", "w") as f:
        f.attrs["strata_format"] = 4
        f.create_dataset("X", data=X)
        if lengths is not None:
            f.create_dataset("lengths", data=lengths)
        t = f.create_dataset("targets/text", data=tok)
        t.attrs["kind"] = "sequence"
        t.attrs["vocabulary"] = np.array([b"<blank>", b"x", b"y", b"z"], dtype=h5py.string_dtype())
        f.create_dataset("target_lengths/text", data=lens)
rng = np.random.default_rng(0)
write("hand.h5", rng.normal(size=(7, 5, 2)).astype(np.float32), frames)
write("nolen.h5", rng.normal(size=(7, 5, 2)).astype(np.float32), None)
write("flat.h5", rng.normal(size=(7, 6)).astype(np.float32), None)
EOF

# 3-4: the handmade file: figures, the problems and warnings lists and exit 1, the text lines.
"$S" inspect "$T/hand.h5" --json 2>/dev/null > "$T/hand.json"; rc=$?
check_json "$T/hand.h5" "$T/hand.json" '
assert e["bad"] == 2 and e["too_short_rows"] == 2 and e["first_too_short_row"] == 2 and e["empty_rows"] == 1, e
assert not j["ok"]
assert not [s for s in j["problems"] if "fewer frames" in s], j["problems"]
p = [s for s in j["warnings"] if "fewer frames" in s]
assert len(p) == 1 and "/targets/text: 2 rows have fewer frames than their labels need (first: row 2, 4 frames for 4 labels with 1 adjacent repeat: 5 needed)" in p[0], j["warnings"]
p = [s for s in j["problems"] if "refuses" in s]
assert len(p) == 1 and "/targets/text row 3: label 1 of the sequence is 7" in p[0] and "(2 bad rows)" in p[0], j["problems"]'
[ "$?" = 0 ] && [ "$rc" = 1 ]; ok $? "inspect --json on a handmade file: 2 bad rows, 1 empty, 2 too short (first row 2, by a repeat) as computed in Python; the bad rows a problem (exit 1), the short ones a warning (zero_infinity trains them as 0)"
"$S" inspect "$T/hand.h5" 2>/dev/null > "$T/hand.txt"; rc=$?
grep -q '^    text: sequence, vocabulary of 4 (with the blank), labels per row min 0 / median 2 / max 4 (mean 2.00; L_max 4), 1 row empty, 2 bad rows$' "$T/hand.txt" &&
  grep -q '^      2 rows have fewer frames than their labels need (first: row 2, 4 frames for 4 labels with 1 adjacent repeat: 5 needed); after the model.s striding more may: their losses are infinite (loss.zero_infinity, the default: 0 and no gradient)$' "$T/hand.txt" &&
  grep -q '^  warning: .*hand.h5: /targets/text: 2 rows have fewer frames' "$T/hand.txt" &&
  grep -Eq '^ +2  y +3  30\.00%$' "$T/hand.txt"
a=$?; [ "$a" = 0 ] || sed 's/^/# /' "$T/hand.txt"
[ "$a" = 0 ] && [ "$rc" = 1 ]; ok $? "inspect text on the handmade file: the summary line, the too-short line, its warning, a token row"

# 5: the same without /lengths: every row has T = 5 frames, enough for all.
"$S" inspect "$T/nolen.h5" --json 2>/dev/null > "$T/nolen.json"
check_json "$T/nolen.h5" "$T/nolen.json" 'assert t["too_short_rows"] == 0 and t["first_too_short_row"] is None and not [s for s in j["problems"] if "frames" in s], (t, j["problems"])'
ok $? "without /lengths the frames are T (5): no row too short, as computed in Python"

# 6: [N, D] data has no frames: too_short_rows is null and the text says it is not checked.
"$S" inspect "$T/flat.h5" --json 2>/dev/null > "$T/flat.json"
check_json "$T/flat.h5" "$T/flat.json" 'assert t["too_short_rows"] is None and t["first_too_short_row"] is None, t'
a=$?
"$S" inspect "$T/flat.h5" 2>/dev/null > "$T/flat.txt"; rc=$?
grep 'frames: /X is \[N, D\], so no row.s frames are checked' "$T/flat.txt" > /dev/null
[ "$?" = 0 ] && [ "$a" = 0 ] && [ "$rc" = 1 ]; ok $? "[N, D] data: too_short_rows null, the text says frames are not checked"

# 7: the check can fail: a mutated expectation (one label count off) is caught.
"$PY" - "$T/toy.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1])); j["targets"][0]["vocabulary"][1]["count"] += 1
json.dump(j, open(sys.argv[1], "w"))
EOF
check_json "$T/toy.h5" "$T/toy.json" >/dev/null 2>&1
[ "$?" != 0 ]; ok $? "the comparison fails when a count is off by one"

[ "$failed" = 0 ]
