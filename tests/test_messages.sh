#!/usr/bin/env bash
# test_messages.sh — what a user reads when something is wrong (issue 12): an error every rank
# finds identically (a bad config) is printed once, by rank 0; `strata sbatch --dry-run` warns
# when data.path does not exist here. Prints TAP.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo STRATA_PROGRESS=never
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; sed 's/^/#   /' "$work/log" | tail -8; fi; }
echo "1..2"

timeout 60 mpirun -np 2 --oversubscribe bin/strata train configs/tiny_test.json --set train.batch_size=abc > "$work/log" 2>&1
rc=$?
[ $rc != 0 ] && [ "$(grep -c 'train.batch_size (--set train.batch_size=abc): expected a positive integer' "$work/log")" = 1 ]
ok $? "a config error at 2 ranks is printed once (exit $rc)"

bin/strata sbatch configs/tiny_test.json --set "data.path=$work/missing.h5" --set "results_dir=$work/r" --dry-run > "$work/log" 2>&1
rc=$?
[ $rc = 0 ] && grep -q "warning: data.path $work/missing.h5 does not exist here" "$work/log" && grep -q '^#SBATCH' "$work/log"
ok $? "sbatch --dry-run with a data.path missing here warns and still prints the script (exit $rc)"
exit $fail
