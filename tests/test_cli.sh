#!/usr/bin/env bash
# test_cli.sh — the strata command line: generated docs agree with the key tables, kernel
# selection is reported, bad commands fail. Prints TAP for prove.
set -u
cd "$(dirname "$0")/.."
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
echo "1..7"

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
# Every command of the table (the rows `strata help` lists): --help prints its usage on stdout and
# exits 0; an unknown option is a usage error (exit 2) that names the option.
cmds=$(bin/strata help | sed -n 's/^  strata //p' | awk '{ c = $1; if ($2 ~ /^[a-z][a-z-]*$/) c = c " " $2; print c }')
bad=0
while read -r cmd; do
  # shellcheck disable=SC2086
  out=$(bin/strata $cmd --help 2>/dev/null); rc=$?
  [ $rc = 0 ] && echo "$out" | grep -qF "usage: strata $cmd " || { echo "# strata $cmd --help: exit $rc, output: $out"; bad=1; }
done <<< "$cmds"
[ $bad = 0 ] && [ "$(echo "$cmds" | wc -l)" -ge 10 ]
ok $? "strata <command> --help prints the command's usage and exits 0, for every command in the table ($(echo "$cmds" | paste -sd, -))"

bad=0
while read -r cmd; do
  # shellcheck disable=SC2086
  err=$(bin/strata $cmd --no-such-option 2>&1 >/dev/null); rc=$?
  [ $rc = 2 ] && echo "$err" | grep -qF 'unknown option "--no-such-option"' || { echo "# strata $cmd --no-such-option: exit $rc: $err"; bad=1; }
done <<< "$cmds"
[ $bad = 0 ]
ok $? "an unknown option is a usage error (exit 2) naming the option, for every command in the table"

exit $((failed > 0))
