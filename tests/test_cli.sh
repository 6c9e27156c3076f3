#!/usr/bin/env bash
# test_cli.sh — the strata command line: generated docs agree with the key tables, kernel
# selection is reported, bad commands fail. Prints TAP for prove.
set -u
cd "$(dirname "$0")/.."
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
echo "1..5"

bin/strata help reference --markdown > /tmp/strata_ref.$$ 2>&1
diff -q /tmp/strata_ref.$$ docs/reference.md >/dev/null
ok $? "docs/reference.md equals 'strata help reference --markdown' (run 'make docs' after changing a key table)"
rm -f /tmp/strata_ref.$$

bin/strata help nonsense >/dev/null 2>&1
[ $? = 2 ]; ok $? "an unknown help topic exits with status 2"

bin/strata frobnicate >/dev/null 2>&1
[ $? = 2 ]; ok $? "an unknown command exits with status 2"

info=$(env -u BLIS_ARCH_TYPE -u STRATA_BLIS_ARCH bin/strata info --json)
if grep -q avx512f /proc/cpuinfo && grep -q avx512dq /proc/cpuinfo && grep -q avx512bw /proc/cpuinfo && grep -q avx512vl /proc/cpuinfo; then
  echo "$info" | grep -q '"blis_kernels": "skx"'; ok $? "on an AVX-512 CPU strata selects BLIS's skx kernels ($info)"
  keep=$(env -u BLIS_ARCH_TYPE STRATA_BLIS_ARCH=keep bin/strata info --json)
  if echo "$keep" | grep -q '"blis_kernels": "skx"'; then
    ok 0 "# SKIP BLIS itself picks skx on this CPU"
  else
    echo "$keep" | grep -q '"blis_warning": "BLIS runs'; ok $? "STRATA_BLIS_ARCH=keep leaves BLIS's choice and warns that it is slow ($keep)"
  fi
else
  ok 0 "# SKIP no AVX-512 on this CPU"
  ok 0 "# SKIP no AVX-512 on this CPU"
fi
exit $((failed > 0))
