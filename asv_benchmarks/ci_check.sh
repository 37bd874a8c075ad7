#!/usr/bin/env bash
# Run every asv benchmark once, in the current environment, with the zygcy
# that is installed there: a broken benchmark fails this script (asv exits
# non-zero). Nothing is timed for keeps: --quick runs each benchmark a single
# time and --python=same saves no results.
#
#   bash asv_benchmarks/ci_check.sh
set -euo pipefail
cd "$(dirname "$0")"

if ! python -m asv --version >/dev/null 2>&1; then
    echo "ci_check.sh: asv is not installed; pip install asv (or pip install -e '.[bench]')" >&2
    exit 1
fi

# asv wants a description of the machine before it runs anything; on a fresh
# machine write one without questions.
python -m asv machine --yes --machine ci-check >/dev/null

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
ZYGCY_BENCH_CI=1 python -m asv run --quick --python=same --machine ci-check --show-stderr "$@" >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ] || grep -q "failed$" "$log"; then
    cat "$log"
    echo "ci_check.sh: an asv benchmark is broken (asv exit status $status); see above" >&2
    exit 1
fi
n=$(grep -c " ok$" "$log" || true)
echo "ci_check.sh: all $n asv benchmarks ran once"
