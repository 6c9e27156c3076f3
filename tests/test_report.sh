#!/usr/bin/env bash
# test_report.sh — `strata report` (issue 16, docs/report.md) on real runs: a tiny 4-class run
# (tests/util/make_tiny.sh, 3 epochs) leaves its own report.html; `strata report RUN -o` has
# every section, one chart per curve of history.jsonl (each drawn), a 4×4 confusion heatmap
# holding confusion.csv's counts, one per-class-history line per class; val_per_class_history.csv
# has a row per (validation, class) whose last recalls are val_per_class.csv's, and a resume from
# epoch 1 does not repeat epochs; the HTML is well formed (every element closed, nothing
# external, no script); two runs overlay with both names in the legends (without -o: a usage
# error); a folder with only config.json and run.json says what is missing; a folder that is
# not a run fails naming it and writes nothing; a three-head run (class, multi-label,
# regression; tests/util/make_multi.py) has curves for every head; a CTC run has wer/cer curves
# and says it has no confusion matrix; a resumed run marks its restart. `strata sweep-report`
# names the report. Prints TAP.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
py() { /usr/bin/python3 - "$@"; }
S=bin/strata
echo "1..16"

tests/util/make_tiny.sh "$work/tiny.h5" > /dev/null
train() { # NAME EPOCHS [extra args]: the tiny config into $work/r/NAME
  local name=$1 epochs=$2; shift 2
  timeout 120 $S train tests/data/train_tiny.json --set "data.path=$work/tiny.h5" --set "results_dir=$work/r" \
    --set "name=$name" --set "train.epochs=$epochs" --set train.threads=1 "$@"
}
train t1 3 > "$work/log" 2>&1 && test -s "$work/r/t1/report.html" && grep -q '<section id="per-class-history">' "$work/r/t1/report.html"
ok $? "a 3-epoch run writes its own report.html at the end"

R=$work/r/t1
$S report "$R" -o "$work/one.html" > "$work/log" 2>&1 && grep -q "wrote $work/one.html" "$work/log" &&
py "$work/one.html" "$R" >> "$work/log" 2>&1 <<'PY'
import json, re, sys
html = open(sys.argv[1]).read(); run = sys.argv[2]
def section(i):
    m = re.search(r'<section id="%s">(.*?)</section>' % i, html, re.S); assert m, "no section " + i; return m.group(1)
for i in ["runs", "curves", "per-class", "per-class-history", "warnings", "config", "environment"]: section(i)
hist = [json.loads(l) for l in open(run + "/history.jsonl")]
metrics = {re.sub(r"^(train|val)_", "", k) for h in hist for k in h if re.match(r"(train|val)_", k)}
charts = re.findall(r'<svg class="chart".*?</svg>', section("curves"), re.S)
assert len(charts) == len(metrics) + 3, (len(charts), metrics)   # + learning rate, samples/s, the timeline
assert all("<polyline" in c for c in charts), "a chart without a line"
print("ok curves:", len(charts), sorted(metrics))
PY
ok $? "strata report RUN -o: every section; one drawn chart per history metric (train/val), LR, samples/s and epochs over wall-clock time"

py "$work/one.html" "$R" > "$work/log" 2>&1 <<'PY'
import csv, re, sys
html = open(sys.argv[1]).read(); run = sys.argv[2]
pc = re.search(r'<section id="per-class">(.*?)</section>', html, re.S).group(1)
maps = re.findall(r'<svg class="heatmap" data-classes="(\d+)".*?</svg>', pc, re.S)
rows = list(csv.reader(open(run + "/confusion.csv")))
K = len(rows) - 1
assert maps and int(maps[0]) == K == 4, maps
first = re.search(r'<svg class="heatmap".*?</svg>', pc, re.S).group(0)
assert first.count('class="cell"') == K * K
tips = [int(v) for v in re.findall(r"predicted \d+: (\d+) ", first)]
assert tips == [int(v) for r in rows[1:] for v in r[1:]], (tips, rows)
print("ok heatmap", K)
PY
ok $? "per-class: the test confusion heatmap has 4x4 cells holding confusion.csv's counts"

py "$work/one.html" "$R" > "$work/log" 2>&1 <<'PY'
import csv, re, sys
html = open(sys.argv[1]).read(); run = sys.argv[2]
ph = re.search(r'<section id="per-class-history">(.*?)</section>', html, re.S).group(1)
assert ph.count("<polyline") == 4, ph.count("<polyline")
for c in ["c0", "c1", "c2", "c3"]: assert ">%s</text>" % c in ph, c
rows = list(csv.DictReader(open(run + "/val_per_class_history.csv")))
assert [(int(r["epoch"]), int(r["class"])) for r in rows] == [(e, k) for e in (1, 2, 3) for k in range(4)]
last = {int(r["class"]): float(r["recall"]) for r in rows if r["epoch"] == "3"}
val = {int(r["class"]): float(r["recall"]) for r in csv.DictReader(open(run + "/val_per_class.csv"))}
assert all(abs(last[k] - val[k]) < 1e-6 for k in range(4)), (last, val)
print("ok")
PY
ok $? "per-class-history: one line per class; the CSV has epochs 1-3 x 4 classes, the last equal to val_per_class.csv"

train t2 3 > "$work/log" 2>&1 && rm -f "$work/r/t2/checkpoints/step-000000040.h5" "$work/r/t2/checkpoints/step-000000060.h5" &&
  train t2 3 --resume auto > "$work/log" 2>&1 && grep -q "resuming" "$work/log" &&
  py "$work/r/t2" >> "$work/log" 2>&1 <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/val_per_class_history.csv")))
assert [(int(r["epoch"]), int(r["class"])) for r in rows] == [(e, k) for e in (1, 2, 3) for k in range(4)], rows
PY
ok $? "a run resumed after epoch 1 (of 3) continues val_per_class_history.csv without repeating epochs 2-3"

grep -q 'class="restart"' "$work/r/t2/report.html" && ! grep -q 'class="restart"' "$R/report.html" &&
  grep -q '"time_unix_s":' "$work/r/t2/history.jsonl" && grep -q "epochs over wall-clock time" "$R/report.html" &&
  sed -n '/epochs over wall-clock time/,/<\/svg>/p' "$work/r/t2/report.html" | grep -q 'class="restart"'
ok $? "the resumed run's curves mark its restart with a vertical line (the uninterrupted run's have none), on the epoch axes and on the wall-clock timeline"

py "$work/one.html" > "$work/log" 2>&1 <<'PY'
import sys
from html.parser import HTMLParser
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}
class Check(HTMLParser):
    def __init__(s): super().__init__(); s.stack = []; s.bad = []
    def handle_starttag(s, t, a):
        if t in ("script", "link", "img", "iframe", "object"): s.bad.append("external or script: " + t)
        for k, v in a:
            if k in ("src",) or (k == "href" and not v.startswith("#")): s.bad.append("%s=%s" % (k, v))
        if t not in VOID: s.stack.append(t)
    def handle_startendtag(s, t, a): pass
    def handle_endtag(s, t):
        if t in VOID: return
        if not s.stack or s.stack[-1] != t: s.bad.append("</%s> closes <%s>" % (t, s.stack[-1] if s.stack else None)); return
        s.stack.pop()
text = open(sys.argv[1]).read()
assert text.startswith("<!DOCTYPE html>\n<html lang=\"en\">"), text[:40]
c = Check(); c.feed(text); c.close()
assert not c.bad and not c.stack, (c.bad[:5], c.stack)
print("ok well formed")
PY
ok $? "the HTML is well formed (every element closed in order), with no script and nothing fetched"

$S report "$R" "$work/r/t2" > "$work/log" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "need -o" "$work/log"
ok $? "two runs without -o: a usage error (exit 2)"

$S report "$R" "$work/r/t2" -o "$work/two.html" > "$work/log" 2>&1 &&
py "$work/two.html" >> "$work/log" 2>&1 <<'PY'
import re, sys
html = open(sys.argv[1]).read()
cur = re.search(r'<section id="curves">(.*?)</section>', html, re.S).group(1)
legends = re.findall(r'<g class="legend">.*?<text[^>]*>([^<]*)</text>', cur, re.S)
assert "t1 val" in legends and "t2 val" in legends and "t1 train" in legends, legends
runs = re.search(r'<section id="runs">(.*?)</section>', html, re.S).group(1)
assert runs.count("<tr>") == 3, runs   # header + two runs
PY
ok $? "two runs overlaid: both names in the legends, a row each in the runs table"

grep -q '<p class="none">none</p>' "$work/one.html" && cp -r "$R" "$work/warned" &&
py "$work/warned" > "$work/log" 2>&1 <<'PY' && $S report "$work/warned" >> "$work/log" 2>&1 &&
import json, sys
path = sys.argv[1] + "/history.jsonl"; lines = [json.loads(l) for l in open(path)]
lines[0]["collapse_warning"] = "predictions collapsing: one class <b>"
for i in (1, 2): lines[i]["health_warning"] = "validation loss %d above" % i
open(path, "w").write("".join(json.dumps(l) + "\n" for l in lines))
PY
py "$work/warned/report.html" >> "$work/log" 2>&1 <<'PY'
import re, sys
w = re.search(r'<section id="warnings">(.*?)</section>', open(sys.argv[1]).read(), re.S).group(1)
items = re.findall(r"<li>(.*?)</li>", w)
assert items == ["epoch 1, collapse_warning: predictions collapsing: one class &lt;b&gt;",
                 "epochs 2–3 (2 epochs), health_warning; the last: validation loss 2 above"], items
PY
ok $? "warnings: none for the tiny run; collapse and health warnings of history.jsonl listed, consecutive epochs folded, escaped"

mkdir -p "$work/going" && cp "$R/config.json" "$R/run.json" "$work/going/" &&
  $S report "$work/going" > "$work/log" 2>&1 && grep -q "history.jsonl is missing" "$work/going/report.html" &&
  grep -q "metrics.json is missing" "$work/going/report.html" && grep -q "val_per_class_history.csv is missing" "$work/going/report.html"
ok $? "a run with only config.json and run.json: report.html says what is missing"

mkdir -p "$work/many" && cp "$R/config.json" "$R/run.json" "$R/history.jsonl" "$work/many/" &&
py "$work/many" > "$work/log" 2>&1 <<'PY' && $S report "$work/many" >> "$work/log" 2>&1 &&
import sys
K, f = 197, open(sys.argv[1] + "/val_per_class_history.csv", "w")
f.write("epoch,head,class,name,support,recall,f1\n")
for e in (1, 2, 3):
    for k in range(K): f.write("%d,y,%d,n%d,10,%.6f,0.5\n" % (e, k, k, (k * 37 % K) / K * 0.9 + 0.01 * e))
f = open(sys.argv[1] + "/val_confusion.csv", "w")
f.write("true\\predicted," + ",".join("n%d" % k for k in range(K)) + "\n")
for i in range(K): f.write("n%d," % i + ",".join("9" if i == j else "1" if j == (i + 1) % K else "0" for j in range(K)) + "\n")
f = open(sys.argv[1] + "/val_per_class.csv", "w")
f.write("class,name,support,precision,recall,f1,accuracy\n")
for k in range(K): f.write("%d,n%d,10,0.9,0.9,0.9,0.9\n" % (k, k))
PY
py "$work/many/report.html" >> "$work/log" 2>&1 <<'PY'
import re, sys
html = open(sys.argv[1]).read()
ph = re.search(r'<section id="per-class-history">(.*?)</section>', html, re.S).group(1)
legend = re.findall(r'<g class="legend">.*?<text[^>]*>([^<]*)</text>', ph, re.S)
worst = sorted(range(197), key=lambda k: (k * 37 % 197))
want = ["n%d (worst)" % k for k in worst[:5]] + ["n%d (best)" % k for k in worst[-5:]] + ["mean of all classes"]
assert legend == want, (legend, want)
assert ph.count("<polyline") == 11 and "the 5 worst and the 5 best" in ph
pc = re.search(r'<section id="per-class">(.*?)</section>', html, re.S).group(1)
assert 'data-classes="197"' in pc and pc.count('class="cell"') == 197 * 197 and "<details>" in pc
PY
ok $? "197 classes: the 5 worst, the 5 best and the mean over epochs (said in the caption); a 197x197 heatmap, the table folded"

mkdir -p "$work/notrun" && echo x > "$work/notrun/file.txt"
$S report "$work/notrun" -o "$work/no.html" > "$work/log" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "$work/notrun is not a strata run folder" "$work/log" && [ ! -e "$work/no.html" ] &&
  [ ! -e "$work/notrun/report.html" ] && [ -z "$(ls "$work" | grep '\.tmp$')" ]
ok $? "a folder that is not a run: exit 1, the message names it, nothing written"

/usr/bin/python3 tests/util/make_multi.py "$work/multi.h5" > /dev/null 2>&1 &&
  timeout 120 $S train tests/data/train_multi.json --set "data.path=$work/multi.h5" --set "results_dir=$work/r" \
    --set name=m --set train.epochs=2 > "$work/log" 2>&1 &&
py "$work/r/m/report.html" >> "$work/log" 2>&1 <<'PY'
import re, sys
html = open(sys.argv[1]).read()
cur = re.search(r'<section id="curves">(.*?)</section>', html, re.S).group(1)
heads = re.findall(r"<h3>([^<]*)</h3>", cur)
for h in ["kind", "tags", "score"]: assert h in heads, heads
titles = re.findall(r'font-weight="bold">([^<]*)</text>', cur)
for t in ["kind: accuracy", "tags: f1", "score: r2", "score: loss"]: assert t in titles, (t, titles)
ph = re.search(r'<section id="per-class-history">(.*?)</section>', html, re.S).group(1)
assert ph.count("<polyline") >= 2 and "kind" in ph, ph[:200]
PY
ok $? "a three-head run (class, multi-label, regression): curves for every head, its class head's history"

/usr/bin/python3 tests/util/make_toy_ctc.py "$work/ctc.h5" > /dev/null 2>&1 &&
  timeout 120 $S train tests/data/train_ctc.json --set "data.path=$work/ctc.h5" --set "results_dir=$work/r" --set name=ctc \
    --set train.epochs=2 > "$work/log" 2>&1 &&
py "$work/r/ctc/report.html" >> "$work/log" 2>&1 <<'PY'
import re, sys
html = open(sys.argv[1]).read()
titles = re.findall(r'font-weight="bold">([^<]*)</text>', html)
assert "wer" in titles and "cer" in titles, titles
assert "no confusion matrix" in html and "val_per_class_history.csv is missing" in html
runs = re.search(r'<section id="runs">(.*?)</section>', html, re.S).group(1)
assert "val_wer" in runs, runs
PY
ok $? "a CTC run: wer and cer curves, best val_wer in the runs table, per-class sections say there is no class head"

$S sweep-report "$R" > "$work/log" 2>&1 && grep -q "$R/report.html" "$work/log"
ok $? "strata sweep-report names each run's report.html"

exit $fail
