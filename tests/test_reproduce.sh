#!/usr/bin/env bash
# test_reproduce.sh — `strata reproduce RUN [--ranks P]`: a tiny reproducible: "exact" run trained
# at P=2 is reproduced at P=1 and at P=2 ("identical", exit 0, the re-run in RUN/reproduce-<n>/);
# a run stopped by --stop-after-steps is compared over the lines it has; a tampered history value
# is reported with its epoch and key (exit 1); a fast-mode run gets the "only expected with
# reproducible: exact" note; once its dataset's labels change it is refused naming the
# fingerprint (exit 1); no RUN is a usage error (exit 2). Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5"
cp "$work/tiny.h5" "$work/other.h5"
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
train() { # P name data [args...]
  local P=$1 name=$2 data=$3; shift 3
  timeout 120 mpirun -np "$P" --oversubscribe --bind-to none bin/strata train tests/data/train_tiny.json \
    --set "data.path=$data" --set "results_dir=$work/r" --set "name=$name" --set train.threads=1 "$@" \
    > "$work/log-$name" 2>&1
}
repro() { # out-name args...
  local out=$1; shift
  timeout 180 bin/strata reproduce "$@" > "$work/$out" 2>&1
  echo $? > "$work/$out.rc"
}
rc() { cat "$work/$1.rc"; }
has() { grep -q -- "$2" "$work/$1"; }
echo "1..10"

train 2 ex "$work/tiny.h5" --set reproducible=exact; built=$?
repro p1 "$work/r/ex" --ranks 1
[ $built = 0 ] && [ "$(rc p1)" = 0 ] && has p1 "^identical: 6 history lines" && [ -s "$work/r/ex/reproduce-1/history.jsonl" ]
ok $? "exact run at P=2 reproduced at P=1: identical, exit 0, re-run in RUN/reproduce-1 ($(tail -1 "$work/p1"))"
repro p2 "$work/r/ex" --ranks 2
[ "$(rc p2)" = 0 ] && has p2 "^identical" && has p2 "at 2 ranks into $work/r/ex/reproduce-2" && [ -d "$work/r/ex/reproduce-2" ]
ok $? "exact run reproduced at P=2: identical in RUN/reproduce-2 ($(tail -1 "$work/p2"))"

train 2 st "$work/tiny.h5" --set reproducible=exact --stop-after-steps 50
repro st "$work/r/st"
[ "$(rc st)" = 0 ] && has st "^identical: 2 history lines .*up to step 40" && has st "recorded at 2 ranks) at 2 ranks"
ok $? "a run stopped after 50 steps: compared over its 2 lines, at its recorded P=2 ($(tail -1 "$work/st"))"

mkdir "$work/r/tam" && cp "$work/r/ex/"*.json "$work/r/ex/history.jsonl" "$work/r/tam/"
/usr/bin/python3 - "$work/r/tam/history.jsonl" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
lines[2]["val_loss"] = lines[2]["val_loss"] * (1 + 1e-12) + 1e-15
open(sys.argv[1], "w").write("".join(json.dumps(l) + "\n" for l in lines))
EOF
repro tam "$work/r/tam" --ranks 1
[ "$(rc tam)" = 1 ] && has tam "^differs at step 60: line 3 (epoch 3): val_loss: [0-9.e-]* vs [0-9.e-]* (recorded vs re-run"
ok $? "a tampered val_loss on line 3: exit 1 naming epoch 3, step 60 and val_loss ($(grep differs "$work/tam"))"

train 2 fast "$work/other.h5"
repro fast "$work/r/fast" --ranks 1
[ "$(rc fast)" = 0 ] && has fast 'reproducible: "fast": bitwise equality is only expected with reproducible: "exact"'
ok $? "a fast-mode run: the note that bitwise equality needs exact, exit 0 (same epochs) ($(grep -c . "$work/fast") lines)"
if has fast "^differs"; then has fast "largest differences over 6 lines (.*param_hash differs on" && has fast "  train_loss " \
  && ! has fast eval_seconds; else has fast "^identical"; fi
ok $? "fast mode: a difference comes with each key's largest difference (timing keys left out), or identical"

/usr/bin/python3 - "$work/other.h5" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    f["y"][0] = (f["y"][0] + 1) % 4
EOF
repro changed "$work/r/fast"
[ "$(rc changed)" = 1 ] && has changed "refused: $work/other.h5 has dataset fingerprint [0-9a-f]*, the run recorded [0-9a-f]*" \
  && [ ! -e "$work/r/fast/reproduce-2" ]
ok $? "a changed dataset is refused naming both fingerprints, exit 1, nothing re-run ($(cat "$work/changed"))"

repro usage; [ "$(rc usage)" = 2 ] && has usage "usage: strata reproduce RUN"
ok $? "no RUN: usage error, exit 2"
repro badr "$work/r/ex" --ranks 0; [ "$(rc badr)" = 2 ]
ok $? "--ranks 0: usage error, exit 2 ($(head -1 "$work/badr"))"
repro none "$work/r/missing"; [ "$(rc none)" = 1 ] && has none "missing/run.json"
ok $? "a folder that is not a run: exit 1 naming run.json ($(cat "$work/none"))"
exit $fail
