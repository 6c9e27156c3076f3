#!/usr/bin/env bash
# triage.sh — groups the inputs a harness found (build/fuzz/crashes/<name>/ by default) by what
# went wrong: runs build/fuzz/fuzz_<name> on each and prints one line per input with the
# sanitizer's verdict, the first frame in strata's own sources (or "libhdf5 only" / "-") and the
# first frame of the stack. Usage: tests/fuzz/triage.sh NAME [FILE...]
set -u
cd "$(dirname "$0")/../.." || exit 1
name=$1; shift
[ $# -eq 0 ] && set -- build/fuzz/crashes/"$name"/*
for f in "$@"; do
  out=$(OMP_NUM_THREADS=1 timeout 60 build/fuzz/fuzz_"$name" -rss_limit_mb=2048 "$f" 2>&1)
  kind=$(printf '%s\n' "$out" | sed -n 's/^==[0-9]*==\( ERROR\|ERROR\): \(AddressSanitizer: [a-z-]*\|LeakSanitizer\|libFuzzer: [a-z-]*\).*/\2/p; s/^.*runtime error: \(.*\)/UBSan: \1/p' | head -1)
  ours=$(printf '%s\n' "$out" | grep -E '^ +#[0-9]+ .* in [a-z_0-9]+ .*/(core|sharding|jobs|mpi)/' | grep -v LLVMFuzzer | head -1 | sed 's/.* in //; s/ (.*//; s|.*/\(core\|sharding\|jobs\|mpi\)/|\1/|')
  [ -z "$ours" ] && printf '%s\n' "$out" | grep -q libhdf5 && ours="libhdf5 only"
  first=$(printf '%s\n' "$out" | grep -E '^ +#[0-9]+ ' | grep -v -E 'interceptor|__asan|__sanitizer|fuzzer::|malloc|calloc|realloc' | head -1 | sed 's/ *#[0-9]* 0x[0-9a-f]* in //; s/ (BuildId.*//; s|/work/[^ ]*/||')
  printf '%s | %s | %s | %s\n' "$(basename "$f")" "${kind:-none}" "${ours:--}" "${first:--}"
done
