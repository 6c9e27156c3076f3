#!/usr/bin/env bash
# test_bad_inputs.sh — the bad-input battery: every tests/bad_inputs/*.case is one wrong input
# (a config, a CSV, IDX files, an HDF5 dataset or checkpoint) and the strata command run on it.
# Each must end with the expected non-zero exit code, a message holding the expected fragment,
# and no file left behind. A reviewer adds a case by adding a file; the format:
#
#   # what the case checks (comment lines are ignored)
#   setup: SHELL COMMAND        optional, repeatable: makes inputs in {dir} (run from the repo)
#   cmd: strata train {cases}/x.json --set results_dir={dir}/results ...
#   exit: 1                     the expected exit code
#   message: train.batch_size   a fragment the output (stdout + stderr) must contain; repeatable
#   skip-root: REASON           optional: skip when run as root (e.g. permissions do not apply)
#   skip-asan: REASON           optional: skip in `make test-asan` (ASAN_OPTIONS set): a memory error
#                               inside a library that is not strata's (libhdf5 on a damaged file)
#
# In setup and cmd, {dir} is the case's own empty folder, {cases} is tests/bad_inputs, {tiny} a
# 1,600-row dataset (tests/util/make_tiny.sh) shared by all cases (read-only), {seq} an 800 x
# [16, 3] sequence dataset (tests/util/make_seq.py). `strata` is bin/strata (also under mpirun).
# "No file left behind": the listing of {dir} after cmd equals the one before it. Prints TAP.
set -u
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)
export PATH="$repo/bin:$PATH" STRATA_PROGRESS=never OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d /tmp/strata_bad_inputs.XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
tests/util/make_tiny.sh "$work/tiny.h5" >/dev/null || { echo "1..0 # SKIP could not make the tiny dataset"; exit 1; }
/usr/bin/python3 tests/util/make_seq.py "$work/seq.h5" >/dev/null 2>&1 || { echo "1..0 # SKIP could not make the sequence dataset"; exit 1; }
chmod a-w "$work/tiny.h5" "$work/seq.h5"

cases=(tests/bad_inputs/*.case)
echo "1..${#cases[@]}"
n=0; failed=0
comment() { sed 's/^/# /'; }
subst() { local s=$1; s=${s//\{dir\}/$dir}; s=${s//\{cases\}/$repo/tests/bad_inputs}; s=${s//\{tiny\}/$work/tiny.h5}; s=${s//\{seq\}/$work/seq.h5}; printf '%s' "$s"; }
field() { sed -n "s/^$1:[[:space:]]*//p" "$2"; }

for c in "${cases[@]}"; do
  n=$((n+1)); name=$(basename "$c" .case)
  dir=$work/$name; mkdir -p "$dir"
  skip=$(field skip-root "$c")
  if [ -n "$skip" ] && [ "$(id -u)" = 0 ]; then echo "ok $n - $name # SKIP as root: $skip"; continue; fi
  skip=$(field skip-asan "$c")
  if [ -n "$skip" ] && [ -n "${ASAN_OPTIONS:-}" ]; then echo "ok $n - $name # SKIP under AddressSanitizer: $skip"; continue; fi
  cmd=$(field cmd "$c"); want_rc=$(field exit "$c")
  if [ -z "$cmd" ] || [ -z "$want_rc" ]; then echo "not ok $n - $name: the case has no cmd: or exit: line"; failed=$((failed+1)); continue; fi
  why=""
  while IFS= read -r s; do
    [ -z "$s" ] && continue
    out=$(bash -c "$(subst "$s")" 2>&1) || { why="setup failed: $s"; printf '%s\n' "$out" | comment; break; }
  done < <(field setup "$c")
  if [ -z "$why" ]; then
    before=$(cd "$dir" && find . | sort)
    out=$(timeout 300 bash -c "$(subst "$cmd")" 2>&1); rc=$?
    after=$(cd "$dir" && find . | sort)
    if [ "$rc" != "$want_rc" ]; then why="exit code $rc, expected $want_rc"; fi
    while IFS= read -r m; do
      [ -z "$m" ] && continue
      printf '%s' "$out" | grep -qF -- "$m" || why="${why:+$why; }no message containing \"$m\""
    done < <(field message "$c")
    if [ "$before" != "$after" ]; then
      why="${why:+$why; }files left behind: $(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed -n 's/^> //p' | tr '\n' ' ')"
    fi
  fi
  if [ -z "$why" ]; then echo "ok $n - $name"; else
    echo "not ok $n - $name: $why"; failed=$((failed+1))
    printf '%s\n' "$out" | tail -n 15 | comment
  fi
done
[ "$failed" = 0 ]
