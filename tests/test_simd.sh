#!/usr/bin/env bash
# test_simd.sh — the hot loops compiled as AVX-512/AVX2 clones (core/simd.h) give the same bits
# as the portable build. build/tests/simd_digest (the clone the CPU selects),
# build/tests/simd_digest_baseline (the same sources built with -DST_NO_CLONES, SSE2) and
# build/tests/simd_digest_avx2 (AVX2 only; run when the CPU has AVX2) must print the same hash
# for every kernel and for three training steps of an MLP. TAP output.
set -u
cd "$(dirname "$0")/.."
n=0 failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
hash_of() { echo "$1" | awk -v k="$2" '$1 == k {print $2}'; }

wide=$(build/tests/simd_digest); rc1=$?
base=$(build/tests/simd_digest_baseline); rc2=$?
ok $((rc1 + rc2)) "the digest programs run ($(echo "$wide" | head -1))"
kernels=$(echo "$base" | grep -v '^#' | awk '{print $1}')
[ "$(echo "$kernels" | wc -w)" -ge 15 ]; ok $? "the digest covers every cloned kernel ($(echo $kernels | wc -w) hashes)"
for k in $kernels; do
  a=$(hash_of "$wide" "$k") b=$(hash_of "$base" "$k")
  [ -n "$a" ] && [ "$a" = "$b" ]; ok $? "$k: the CPU's clone $a = baseline $b"
done
if echo "$wide" | grep -q 'avx2 1'; then
  avx2=$(build/tests/simd_digest_avx2)
  [ "$(echo "$avx2" | grep -v '^#')" = "$(echo "$base" | grep -v '^#')" ]; ok $? "the AVX2 build prints the same hashes as the baseline"
else
  ok 0 "# SKIP no AVX2 on this CPU"
fi
# The variants really are different builds.
! nm build/tests/simd_digest_baseline | grep -q 'relu_forward_span\.avx512f'; ok $? "the baseline build has no AVX-512 clone"
nm build/tests/simd_digest | grep -q 'relu_forward_span\.avx512f'; ok $? "the normal build has AVX-512 clones"
echo "1..$n"
[ "$failed" = 0 ]
