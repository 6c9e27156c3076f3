#!/usr/bin/env bash
# test_generators.sh — the two multi-task demonstration datasets (docs/multitask.md):
# scripts/make_fashion_multitask.py (Fashion-MNIST with fine, coarse and intensity targets, read
# back with h5py: layout, dtypes, attributes, the coarse mapping and the intensity of every row,
# the same /X, /y, /split as `strata convert idx`) and scripts/make_recommender.py (the CSV's
# header, groups inside one split part, byte-identical output per seed, ceilings in (0, 1) and
# recomputed from the CSV with the script's own rule). Debian's /usr/bin/python3 (h5py, numpy).
# Prints TAP.
set -u
cd "$(dirname "$0")/.."
S="$PWD/bin/strata"
PY=/usr/bin/python3
FM=/usr/share/datasets/fashion-mnist
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
skip() { n=$((n+1)); echo "ok $n # SKIP $1"; }
echo "1..10"
if ! "$PY" -c 'import h5py, numpy' 2>/dev/null; then
  for i in $(seq 10); do echo "ok $i # SKIP $PY lacks h5py or numpy"; done
  exit 0
fi
T=$(mktemp -d /tmp/strata_gen.XXXXXX)
trap 'rm -rf "$T"' EXIT

# 1-5: Fashion-MNIST, the full 70,000 images (about 2 s).
if [ ! -f "$FM/train-images-idx3-ubyte.gz" ]; then
  for i in 1 2 3 4 5; do skip "$FM is missing (Debian package dataset-fashion-mnist)"; done
else
  t0=$(date +%s%N)
  out=$("$PY" scripts/make_fashion_multitask.py "$T/fm.h5"); rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "# $out ($ms ms)"
  [ "$rc" = 0 ] && [ -f "$T/fm.h5" ] && [ ! -e "$T/fm.h5.tmp" ] && echo "$out" | grep -q "70000 rows (60000 train, 10000 test)" &&
    [ "$ms" -lt 30000 ]
  ok $? "make_fashion_multitask.py writes 70,000 rows in under 30 s and prints a summary"

  "$PY" - "$T/fm.h5" <<'EOF' 2>&1 | sed 's/^/# /'
import sys, h5py, numpy as np
def strs(obj, name, n=None):
    a = obj.attrs.get_id(name)
    t = a.get_type()
    assert isinstance(t, h5py.h5t.TypeStringID) and t.is_variable_str() and t.get_cset() == h5py.h5t.CSET_UTF8, (name, t)
    v = obj.attrs[name]
    return str(v) if n is None else [str(s) for s in v]
def int32(obj, name):
    a = obj.attrs.get_id(name)
    assert a.dtype == np.int32 and a.shape == (), (name, a.dtype, a.shape)
    return int(obj.attrs[name])
with h5py.File(sys.argv[1], "r") as f:
    X, y, sp = f["X"], f["y"], f["split"]
    assert X.dtype == np.float32 and X.shape == (70000, 784), (X.dtype, X.shape)
    assert X.chunks == (334, 784) and X.compression is None, (X.chunks, X.compression)
    assert y.dtype == np.int32 and y.shape == (70000,) and sp.dtype == np.uint8 and sp.shape == (70000,)
    s = sp[:]
    assert (s[:60000] == 0).all() and (s[60000:] == 2).all(), np.bincount(s)
    assert int32(f, "strata_format") == 2 and int32(f, "n_classes") == 10
    fine_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert strs(f, "class_names", 10) == fine_names
    assert strs(f, "source").startswith("idx: images train-images-idx3-ubyte.gz, labels train-labels-idx1-ubyte.gz; "
                                        "test images t10k-images-idx3-ubyte.gz, test labels t10k-labels-idx1-ubyte.gz")
    assert "feature_names" not in f.attrs
    t = f["targets"]
    assert list(t) == ["fine", "coarse", "intensity"], list(t)   # in creation order
    assert t["fine"].dtype == np.int32 and t["fine"].shape == (70000,)
    assert strs(t["fine"], "kind") == "class" and int32(t["fine"], "n_classes") == 10
    assert strs(t["fine"], "class_names", 10) == fine_names
    assert t["coarse"].dtype == np.int32 and t["coarse"].shape == (70000,)
    assert strs(t["coarse"], "kind") == "class" and int32(t["coarse"], "n_classes") == 4
    assert strs(t["coarse"], "class_names", 4) == ["tops", "trousers", "footwear", "bags"]
    r = t["intensity"]
    assert r.dtype == np.float32 and r.shape == (70000, 1) and strs(r, "kind") == "regression"
    assert strs(r, "column_names", 1) == ["intensity"]
    assert all("allow_missing" not in d.attrs for d in t.values())
EOF
  ok "${PIPESTATUS[0]}" "the fashion file has the format-2 layout: /X [70000, 784] chunked by rows, /y, /split, root attrs, /targets fine, coarse, intensity with kinds and names"

  "$PY" - "$T/fm.h5" <<'EOF' 2>&1 | sed 's/^/# /'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    X, y = f["X"][:], f["y"][:]
    fine, coarse, inten = f["targets/fine"][:], f["targets/coarse"][:], f["targets/intensity"][:]
assert np.array_equal(fine, y)
groups = {0: "tops", 2: "tops", 3: "tops", 4: "tops", 6: "tops", 1: "trousers", 5: "footwear", 7: "footwear",
          9: "footwear", 8: "bags"}
want = np.array([["tops", "trousers", "footwear", "bags"].index(groups[c]) for c in y])
bad = np.flatnonzero(coarse != want)
assert len(bad) == 0, f"{len(bad)} rows with a wrong coarse class, first {bad[:5]}"
assert np.bincount(coarse).tolist() == [35000, 7000, 21000, 7000], np.bincount(coarse)
ref = X.astype(np.float64).mean(axis=1) / 255
err = np.abs(inten[:, 0] - ref).max()
assert err <= 1e-6, err
assert 0 < inten.min() and inten.max() < 1 and X.min() == 0 and X.max() == 255 and (X == np.round(X)).all()
print(f"intensity max |error| {err:.2e}, mean {inten.mean():.4f}")
EOF
  ok "${PIPESTATUS[0]}" "every row: fine equals /y, coarse follows tops {0,2,3,4,6} trousers {1} footwear {5,7,9} bags {8}, intensity = mean(X)/255 within 1e-6"

  if [ ! -x "$S" ]; then
    skip "$S is not built"
  else
    "$S" convert idx "$FM/train-images-idx3-ubyte.gz" "$FM/train-labels-idx1-ubyte.gz" \
      --test-images "$FM/t10k-images-idx3-ubyte.gz" --test-labels "$FM/t10k-labels-idx1-ubyte.gz" \
      --class-names "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot" -o "$T/ref.h5" >/dev/null
    rc=$?
    "$PY" - "$T/fm.h5" "$T/ref.h5" <<'EOF' 2>&1 | sed 's/^/# /'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "r") as b:
    for k in ("X", "y", "split"):
        assert a[k].dtype == b[k].dtype and a[k].chunks == b[k].chunks and np.array_equal(a[k][:], b[k][:]), k
    assert list(a.attrs["class_names"]) == list(b.attrs["class_names"])
    assert str(a.attrs["source"]).startswith(str(b.attrs["source"]) + "; "), (a.attrs["source"], b.attrs["source"])
    assert set(b.attrs) - {"strata_format"} <= set(a.attrs), (set(a.attrs), set(b.attrs))
EOF
    [ "$rc" = 0 ] && [ "${PIPESTATUS[0]}" = 0 ]
    ok $? "/X, /y, /split, chunks, class names and source are those strata convert idx writes"
  fi

  "$PY" scripts/make_fashion_multitask.py "$T/a.h5" --limit 40 >/dev/null &&
    "$PY" scripts/make_fashion_multitask.py "$T/b.h5" --limit 40 >/dev/null && cmp -s "$T/a.h5" "$T/b.h5" &&
    "$PY" -c 'import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert f["X"].shape == (80, 784) and f["X"].chunks == (80, 784) and np.bincount(f["split"][:]).tolist() == [40, 0, 40]' "$T/a.h5"
  ok $? "--limit 40 keeps 40 train and 40 test rows; two runs give identical bytes"
fi

# 6-10: the recommender, small sizes.
R="$T/rec"
out=$("$PY" scripts/make_recommender.py "$R" --scenarios 500 --variants 3 --seed 7); rc=$?
echo "$out" | sed 's/^/# /'
want="scenario,split,age,budget,relationship,occasion,budget_tier,preference"
for i in 0 1 2 3 4 5 6; do want="$want,hobby_$i"; done
want="$want,category"
for i in $(seq 0 44); do want="$want,tool_$i"; done
want="$want,reward"
[ "$rc" = 0 ] && [ "$(head -n 1 "$R.csv")" = "$want" ] && [ "$(wc -l < "$R.csv")" = 1501 ] && echo "$out" | grep -q "ceiling"
ok $? "make_recommender.py writes 1,500 rows under the documented header and prints the ceiling table"

"$PY" - "$R.csv" <<'EOF' 2>&1 | sed 's/^/# /'
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1])))
parts = collections.defaultdict(set)
for r in rows:
    parts[r["scenario"]].add(r["split"])
    assert 1 <= sum(int(r[f"hobby_{h}"]) for h in range(7)) <= 3, r
    assert 0 <= int(r["category"]) < 8 and 0 <= int(r["relationship"]) < 11 and 0 <= int(r["occasion"]) < 10
    assert 0 <= int(r["budget_tier"]) < 4 and 0 <= int(r["preference"]) < 7
    assert all(r[f"tool_{j}"] in ("0", "1") for j in range(45))
span = [s for s, p in parts.items() if len(p) > 1]
assert not span, f"scenarios in both parts: {span[:5]}"
assert len(parts) == 500 and all(c == 3 for c in collections.Counter(r["scenario"] for r in rows).values())
n_test = sum(p == {"test"} for p in parts.values())
assert n_test == 100, n_test
EOF
ok "${PIPESTATUS[0]}" "a scenario's 3 variants share one split part; exactly 20% of the scenarios are test; ids, hobbies and tools in range"

"$PY" scripts/make_recommender.py "$T/same" --scenarios 500 --variants 3 --seed 7 >/dev/null &&
  cmp -s "$R.csv" "$T/same.csv" && cmp -s "$R.ceiling.json" "$T/same.ceiling.json" &&
  "$PY" scripts/make_recommender.py "$T/other" --scenarios 500 --variants 3 --seed 8 >/dev/null &&
  ! cmp -s "$R.csv" "$T/other.csv" && ! cmp -s "$R.ceiling.json" "$T/other.ceiling.json"
ok $? "the same seed gives identical bytes (CSV and ceiling JSON), another seed different ones"

"$PY" - "$R.ceiling.json" <<'EOF' 2>&1 | sed 's/^/# /'
import json, sys
j = json.load(open(sys.argv[1]))
for part in ("train", "test"):
    c, b = j["ceiling"][part], j["baseline"][part]
    assert set(c) == {"category_accuracy", "tools_micro_f1", "reward_r2"}, c
    for k, v in c.items():
        assert isinstance(v, float) and 0 < v < 1, (part, k, v)
        assert v > b[k] + 0.2, (part, k, v, b[k])
assert j["rows"] == {"train": 1200, "test": 300} and j["seed"] == 7, j
EOF
ok "${PIPESTATUS[0]}" "the ceiling JSON's numbers lie in (0, 1), each well above its baseline"

# The ceilings recomputed from the CSV alone, with the script's rule applied to the written columns.
"$PY" - "$R" scripts/make_recommender.py <<'EOF' 2>&1 | sed 's/^/# /'
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("rec", sys.argv[2])
rec = importlib.util.module_from_spec(spec); spec.loader.exec_module(rec)
d = np.genfromtxt(sys.argv[1] + ".csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
x = {k: d[k] for k in ("relationship", "occasion", "budget_tier", "preference", "age", "budget")}
x["hobby"] = np.stack([d[f"hobby_{h}"] for h in range(7)], 1)
tools = np.stack([d[f"tool_{j}"] for j in range(45)], 1)
_, c_star, prob, v = rec.apply_rule(rec.make_rule(), x)
j = json.load(open(sys.argv[1] + ".ceiling.json"))
for part in ("train", "test"):
    m = d["split"] == part
    got = rec.metrics(c_star[m], d["category"][m], (prob[m] >= 0.5).astype(np.int64), tools[m], v[m], d["reward"][m])
    for k, want in j["ceiling"][part].items():
        assert abs(got[k] - want) < 1e-5, (part, k, got[k], want)
EOF
ok "${PIPESTATUS[0]}" "the ceilings are the rule's scores recomputed from the CSV's written columns"
exit $((failed > 0))
