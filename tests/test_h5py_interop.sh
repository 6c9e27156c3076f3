#!/usr/bin/env bash
# test_h5py_interop.sh — strata's dataset format read and written by h5py (Debian's
# /usr/bin/python3; another python3 may come first on PATH): h5py reads a dataset strata wrote
# (shapes, dtypes, chunks, labels, split, attributes), and strata reads and inspects datasets
# h5py wrote in the layout docs/data-format.md shows. Prints TAP.
set -u
cd "$(dirname "$0")/.."
S="$PWD/bin/strata"
PY=/usr/bin/python3
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
echo "1..6"
if ! "$PY" -c 'import h5py, numpy' 2>/dev/null; then
  for i in 1 2 3 4 5 6; do echo "ok $i # SKIP $PY lacks h5py"; done
  exit 0
fi
T=$(mktemp -d /tmp/strata_h5py.XXXXXX)
trap 'rm -rf "$T"' EXIT

# 1: h5py reads a dataset strata converted from CSV.
printf 'temp,"wind, max",weather\n1.5,2,sunny\n-3,4e2,rain\n5,6,"fog, thick"\n7,8,rain\n' > "$T/w.csv"
"$S" convert csv "$T/w.csv" --label weather -o "$T/w.h5" >/dev/null
"$PY" - "$T/w.h5" <<'EOF' 2>&1 | sed 's/^/# /'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    X, y = f["X"], f["y"]
    assert X.dtype == np.float32 and X.shape == (4, 2), (X.dtype, X.shape)
    assert X.chunks is not None and X.chunks[1:] == (2,) and X.compression is None, (X.chunks, X.compression)
    assert np.array_equal(X[:], np.array([[1.5, 2], [-3, 400], [5, 6], [7, 8]], np.float32)), X[:]
    assert y.dtype == np.int32 and list(y[:]) == [2, 1, 0, 1], (y.dtype, y[:])
    assert "split" not in f
    a = f.attrs
    assert int(a["strata_format"]) == 1 and int(a["n_classes"]) == 3, dict(a)
    assert [str(s) for s in a["class_names"]] == ["fog, thick", "rain", "sunny"], a["class_names"]
    assert [str(s) for s in a["feature_names"]] == ["temp", "wind, max"], a["feature_names"]
    assert "w.csv" in str(a["source"]), a["source"]
EOF
ok "${PIPESTATUS[0]}" "h5py reads a strata dataset converted from CSV: float32 X, int32 y, chunks of rows, class and feature names"

# 2: h5py reads the /split of an IDX conversion with a test set.
"$PY" - "$T" <<'EOF'
import gzip, struct, sys
d = sys.argv[1]
def idx(name, magic, dims, data):
    gzip.open(f"{d}/{name}", "wb").write(struct.pack(">I", magic) + b"".join(struct.pack(">I", x) for x in dims) + bytes(data))
idx("im.gz", 0x803, [4, 2, 2], range(16)); idx("lb.gz", 0x801, [4], [1, 0, 1, 0])
idx("tim.gz", 0x803, [2, 2, 2], [255] * 8); idx("tlb.gz", 0x801, [2], [0, 1])
EOF
"$S" convert idx "$T/im.gz" "$T/lb.gz" --test-images "$T/tim.gz" --test-labels "$T/tlb.gz" --class-names no,yes -o "$T/i.h5" >/dev/null
"$PY" - "$T/i.h5" <<'EOF' 2>&1 | sed 's/^/# /'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert f["X"].shape == (6, 4) and f["X"][5, 3] == 255.0 and f["X"][1, 0] == 4.0
    assert f["split"].dtype == np.uint8 and list(f["split"][:]) == [0, 0, 0, 0, 2, 2]
    assert list(f["y"][:]) == [1, 0, 1, 0, 0, 1]
    assert [str(s) for s in f.attrs["class_names"]] == ["no", "yes"]
EOF
ok "${PIPESTATUS[0]}" "h5py reads an IDX conversion: raw pixel values, /split uint8 marking the test set"

# 3-5: strata reads datasets h5py wrote as docs/data-format.md shows ([N, T, C] and [N, D]).
"$PY" - "$T" <<'EOF'
import sys, h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.standard_normal((30, 8, 3))
y = np.arange(30) % 3
with h5py.File(f"{d}/mine.h5", "w") as f:
    f.create_dataset("X", data=X.astype(np.float32), chunks=(min(len(X), 1024),) + X.shape[1:])
    f.create_dataset("y", data=y.astype(np.int32))
    f.attrs["strata_format"] = 1
    f.attrs["n_classes"] = 3
    f.attrs["class_names"] = ["walk", "run", "sit"]
# [N, D] with numpy's default int64 labels, a split, feature names and a source, no n_classes.
X2 = rng.standard_normal((12, 4)).astype(np.float32)
X2[3, 2] = np.nan
with h5py.File(f"{d}/flat.h5", "w") as f:
    f.create_dataset("X", data=X2, chunks=(12, 4))
    f.create_dataset("y", data=np.array([0, 1] * 6))
    f.create_dataset("split", data=np.array([0, 1, 2] * 4, np.uint8))
    f.attrs["class_names"] = ["no", "yes"]
    f.attrs["feature_names"] = ["a", "b", "c", "d"]
    f.attrs["source"] = "made by h5py"
EOF
out=$("$S" inspect "$T/mine.h5" --json); rc=$?
echo "$out" | "$PY" -c '
import json, sys
r = json.load(sys.stdin)
assert r["n"] == 30 and r["shape"] == [8, 3] and r["n_classes"] == 3, r
assert [(c["name"], c["count"]) for c in r["classes"]] == [("walk", 10), ("run", 10), ("sit", 10)], r["classes"]
assert r["nan"] == 0 and r["ok"] is True and r["splits"] is None, r
' 2>&1 | sed 's/^/# /'
[ "$rc" = 0 ] && [ "${PIPESTATUS[0]}" = 0 ]; ok $? "strata inspects an [N, T, C] dataset written by h5py as the docs show"
out=$("$S" inspect "$T/flat.h5" 2>/dev/null); rc=$?
[ "$rc" = 1 ] && echo "$out" | grep -q "splits        train 4, val 4, test 4" && echo "$out" | grep -q "source        made by h5py" &&
  echo "$out" | grep -q "features      a, b, c, d" && echo "$out" | grep -q '/X has 1 NaN and 0 Inf values (first at row 3, feature 2 "c")'
ok $? "strata inspects an [N, D] h5py dataset (int64 labels, split, feature names) and reports its NaN"
# A common slip, float64 features, is refused with the fix in the message.
"$PY" -c 'import h5py, sys, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("X", data=np.zeros((4, 2))); f.create_dataset("y", data=np.array([0, 1, 0, 1]))' "$T/f64.h5"
err=$("$S" inspect "$T/f64.h5" 2>&1); rc=$?
[ "$rc" = 1 ] && echo "$err" | grep -qF "f64.h5: /X has type float64, expected float32 (with numpy: X.astype(np.float32))"
ok $? "strata refuses float64 features from h5py and says how to fix them"
# 6 (issue 12): 100,000 feature names and 65,536 class names (dense attribute storage; compact
# attributes stopped at 64 KiB, about 4,000 names) written by strata convert csv, read by h5py.
"$PY" - "$T" <<'EOF'
import sys
d = sys.argv[1]
with open(f"{d}/wide.csv", "w") as f:
    f.write(",".join(f"f{i:06d}" for i in range(100000)) + ",y\n")
    for r in range(2):
        f.write(",".join("1" if i == r else "0" for i in range(100000)) + f",{r}\n")
with open(f"{d}/classes.csv", "w") as f:
    f.write("a,y\n" + "".join(f"{i},c{i:05d}\n" for i in range(65536)))
EOF
"$S" convert csv "$T/wide.csv" --label y -o "$T/wide.h5" >/dev/null && "$S" convert csv "$T/classes.csv" --label y -o "$T/classes.h5" >/dev/null
rc=$?
"$PY" - "$T" <<'EOF' 2>&1 | sed 's/^/# /'
import sys, h5py
d = sys.argv[1]
with h5py.File(f"{d}/wide.h5", "r") as f:
    fn = [str(s) for s in f.attrs["feature_names"]]
    assert len(fn) == 100000 and fn[0] == "f000000" and fn[-1] == "f099999", (len(fn), fn[:1], fn[-1:])
    assert f["X"].shape == (2, 100000) and int(f.attrs["n_classes"]) == 2
with h5py.File(f"{d}/classes.h5", "r") as f:
    cn = [str(s) for s in f.attrs["class_names"]]
    assert len(cn) == 65536 and cn[0] == "c00000" and cn[-1] == "c65535", (len(cn), cn[:1], cn[-1:])
    assert int(f.attrs["n_classes"]) == 65536 and f["y"][-1] == 65535
EOF
[ "$rc" = 0 ] && [ "${PIPESTATUS[0]}" = 0 ]
ok $? "100,000 feature names and 65,536 class names are written and h5py reads them"
exit $((failed > 0))
