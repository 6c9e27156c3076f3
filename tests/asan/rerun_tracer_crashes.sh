#!/usr/bin/env bash
# rerun_tracer_crashes.sh LOGDIR — after `make test-asan`'s suite, in the sanitizer tree: passes
# when LOGDIR holds no sanitizer log, or when every log is LeakSanitizer's own stop-the-world
# tracer crashing at exit ("Tracer caught signal 11 ... LeakSanitizer has encountered a fatal
# error", google/sanitizers#1170: no leak or error is reported, the leak check itself died) in a
# cmocka test program that then passes when run again with clean logs. Any other report, a
# crash in anything else (bin/strata under a shell test), or a failing re-run fails. The logs are
# named by program (ASAN_OPTIONS log_exe_name=1: asan.<program>.<pid>). Prints what it did.
set -u
logs=$1
ls "$logs"/* > /dev/null 2>&1 || exit 0
again=()
for f in "$logs"/*; do
  if ! grep -q "Tracer caught signal" "$f" || grep -q "ERROR: \|runtime error" "$f"; then
    echo "test-asan: a sanitizer report: $f"; head -n 40 "$f"; exit 1
  fi
  prog=$(basename "$f" | sed 's/^[a-z]*\.\(.*\)\.[0-9]*$/\1/')
  [ -x "build/tests/$prog" ] || { echo "test-asan: LSan tracer crash in $prog (not a test program): $f"; exit 1; }
  again+=("build/tests/$prog")
done
echo "test-asan: LeakSanitizer's tracer crashed at exit in ${again[*]} (no report); running them again"
rm -f "$logs"/*
CMOCKA_MESSAGE_OUTPUT=TAP prove --exec '' $(printf '%s\n' "${again[@]}" | sort -u) || exit 1
if ls "$logs"/* > /dev/null 2>&1; then echo "test-asan: sanitizer logs on the re-run:"; head -n 40 "$logs"/*; exit 1; fi
echo "test-asan: the re-run is clean"
