# tap.sh — the prelude of a shell test, sourced from the repository root
# (`cd "$(dirname "$0")/.." && . tests/util/tap.sh`): one thread per rank, Open MPI as root over
# loopback, no progress lines, no injected faults; $work a temporary folder removed at exit;
# `ok STATUS TEXT` prints one TAP line (and, when STATUS is not 0, the tail of $work/log) and
# sets fail=1; `has TEXT` looks for TEXT in $work/log; `tap_need_python MODULE... -- REASON`
# prints a TAP skip naming REASON and exits when /usr/bin/python3 cannot import a module.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
unset STRATA_FAULT

tap_need_python() {
  local mods=() m
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do mods+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  for m in "${mods[@]}"; do
    if ! /usr/bin/python3 -c "import $m" 2> /dev/null; then
      echo "1..0 # SKIP no $*: /usr/bin/python3 cannot import $m (scripts/install-deps.sh)"; exit 0
    fi
  done
}

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; [ -f "$work/log" ] && sed 's/^/#   /' "$work/log" | tail -15; fi; }
has() { grep -q -- "$1" "$work/log"; }
