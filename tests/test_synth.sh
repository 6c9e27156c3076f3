#!/usr/bin/env bash
# test_synth.sh — `strata synth` (issue 18): the file's data does not depend on the number of
# ranks writing it (1, 2 and 4 ranks, bit for bit), inspect sees the shape and the classes, a
# small MLP learns it well above chance, /lengths and /groups, the CSV and IDX inputs convert
# back to the same labels, and bad options are usage errors. Prints TAP.
set -u
cd "$(dirname "$0")/.." && . tests/util/tap.sh
tap_need_python h5py numpy -- h5py to compare files
S="$PWD/bin/strata"
echo "1..8"
SYN=(--rows 3000 --features 20 --classes 5 --seed 7 --piece-mb 1)

# 1: 1, 2 and 4 ranks (pieces of 1 MiB: several pieces a rank) write the same /X and /y bits.
"$S" synth "$work/p1.h5" "${SYN[@]}" > "$work/log" 2>&1 &&
  "$S" synth "$work/p2.h5" "${SYN[@]}" --ranks 2 >> "$work/log" 2>&1 &&
  "$S" synth "$work/p4.h5" "${SYN[@]}" --ranks 4 >> "$work/log" 2>&1 &&
  /usr/bin/python3 - "$work" >> "$work/log" 2>&1 <<'EOF'
import sys, h5py, numpy as np
d = sys.argv[1]
a = h5py.File(f"{d}/p1.h5", "r")
assert a["X"].shape == (3000, 20) and a["X"].dtype == np.float32 and a["y"].dtype == np.int32
for p in (2, 4):
    b = h5py.File(f"{d}/p{p}.h5", "r")
    for k in ("X", "y"):
        assert a[k][:].tobytes() == b[k][:].tobytes(), (p, k)
    assert sorted(b.attrs) == sorted(a.attrs) and b.attrs["n_classes"] == 5, dict(b.attrs)
EOF
ok $? "synth at 1, 2 and 4 ranks writes identical /X and /y"
has "on 2 ranks" && has "on 4 ranks"; ok $? "--ranks P runs under mpirun -np P and says so"

# 2: inspect sees the rows, the shape and the classes, no problems.
"$S" inspect "$work/p2.h5" --json > "$work/log" 2>&1 && /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["n"] == 3000 and r["shape"] == [20] and r["n_classes"] == 5 and r["ok"], r
assert all(400 < c["count"] < 800 for c in r["classes"]), r["classes"]
' "$work/log"
ok $? "inspect: 3000 rows of [20], 5 classes of about 600 rows each, ready to train"

# 3: learnable: a small MLP on 10,000 rows well above chance (20%) after 3 epochs.
"$S" synth "$work/learn.h5" --rows 10000 --features 32 --classes 5 --seed 2 > "$work/log" 2>&1 &&
  "$S" train tests/data/train_tiny.json --set "data.path=$work/learn.h5" --set "results_dir=$work/results" \
    --set name=synth --set train.epochs=3 --set train.threads=1 >> "$work/log" 2>&1 &&
  /usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
acc = m.get("test_accuracy", m.get("metrics", {}).get("test_accuracy"))
print("# test accuracy", acc, file=sys.stderr)
assert acc is not None and acc > 0.6, m
' "$work/results/synth/metrics.json" >> "$work/log" 2>&1
ok $? "an MLP trained on synth data reaches > 60% test accuracy (chance 20%)"

# 4: /lengths ([T, C] rows, the steps past each length zero) and /groups.
"$S" synth "$work/seq.h5" --rows 500 --shape 12,3 --classes 3 --lengths --groups 40 > "$work/log" 2>&1 &&
  "$S" inspect "$work/seq.h5" --json > "$work/seq.json" 2>> "$work/log" &&
  /usr/bin/python3 - "$work" >> "$work/log" 2>&1 <<'EOF'
import sys, json, h5py, numpy as np
d = sys.argv[1]
f = h5py.File(f"{d}/seq.h5", "r")
X, L, G = f["X"][:], f["lengths"][:], f["groups"][:]
assert X.shape == (500, 12, 3) and L.min() >= 6 and L.max() <= 12 and f.attrs["strata_format"] == 3
assert all((X[i, L[i]:] == 0).all() and (X[i, :L[i]] != 0).all() for i in range(500))
assert G.dtype == np.int64 and 0 <= G.min() and G.max() < 40
r = json.load(open(f"{d}/seq.json"))
assert r["shape"] == [12, 3] and r["ok"], r
EOF
ok $? "--lengths: lengths in [6, 12] with zero padding past them; --groups 40: ids in [0, 40)"

# 5-6: CSV and IDX inputs convert back to the labels synth drew (the same seed: the same rows).
"$S" synth "$work/ref.h5" --rows 300 --features 6 --classes 4 --seed 5 > "$work/log" 2>&1 &&
  "$S" synth "$work/in.csv" --rows 300 --features 6 --classes 4 --seed 5 --format csv >> "$work/log" 2>&1 &&
  "$S" convert csv "$work/in.csv" --label label -o "$work/csv.h5" >> "$work/log" 2>&1 &&
  "$S" synth "$work/in.idx" --rows 300 --features 6 --classes 4 --seed 5 --format idx >> "$work/log" 2>&1 &&
  "$S" convert idx "$work/in.idx" "$work/in.idx.labels" -o "$work/idx.h5" >> "$work/log" 2>&1 &&
  /usr/bin/python3 - "$work" >> "$work/log" 2>&1 <<'EOF'
import sys, h5py, numpy as np
d = sys.argv[1]
ref = h5py.File(f"{d}/ref.h5", "r")
X, y = ref["X"][:], ref["y"][:]
c = h5py.File(f"{d}/csv.h5", "r")
assert (c["y"][:] == y).all() and np.allclose(c["X"][:], X, rtol=1e-6, atol=1e-6)
i = h5py.File(f"{d}/idx.h5", "r")
assert (i["y"][:] == y).all()
assert (i["X"][:] == np.clip(np.rint(128 + 32 * X), 0, 255)).all()
EOF
ok $? "--format csv and --format idx convert back to the same labels and features (IDX: 128 + 32x as bytes)"

# 7: bad options are usage errors naming them, and nothing is written.
"$S" synth "$work/bad.h5" --rows 10 --features 4 --lengths > "$work/log" 2>&1; r1=$?
has "--lengths needs sequences"; h1=$?
"$S" synth "$work/bad.h5" --rows 10 --features 4 --classes 300 --format idx > "$work/log" 2>&1; r2=$?
has "IDX labels are bytes"; h2=$?
"$S" synth "$work/bad.h5" --rows 10 > "$work/log" 2>&1; r3=$?
[ "$r1$r2$r3" = 222 ] && [ "$h1$h2" = 00 ] && has "features D" && [ ! -e "$work/bad.h5" ]
ok $? "--lengths without --shape, > 256 classes for IDX, no --features: usage errors (exit 2)"

# 8: an output that cannot be created fails naming the temporary file, leaving nothing.
"$S" synth "$work/no/such/dir/x.h5" --rows 10 --features 4 > "$work/log" 2>&1; r=$?
[ "$r" = 1 ] && has "x.h5: cannot create the temporary file" && has "nothing was written" && [ ! -e "$work/no" ]
ok $? "an output folder that does not exist: exit 1, the file named, nothing written"
exit $fail
