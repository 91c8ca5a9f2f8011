#!/usr/bin/env bash
# Runs the allocator benchmark (sluice against glibc, jemalloc and mimalloc) and prints a table:
# ns per allocate+free pair for each allocator and sluice's ratio to the fastest other.
#   scripts/bench_alloc.sh [bin dir, default build/release/bin] [extra benchmark flags...]
set -euo pipefail
bin=${1:-build/release/bin}
shift $(($# > 0 ? 1 : 0))
here=$(cd "$(dirname "$0")/.." && pwd)

json=$(mktemp "${TMPDIR:-/tmp}/sluice-bench-alloc.XXXXXX.json")
trap 'rm -f "$json"' EXIT

# One core for the whole run, so that every allocator is measured on the same one: the last,
# which a desktop or a build is least likely to be busy on.
pin=()
if command -v taskset >/dev/null 2>&1; then
  pin=(taskset -c "$(($(nproc) - 1))")
fi

echo "Running sluice-bench-alloc (about a minute)..."
"${pin[@]}" "$bin/sluice-bench-alloc" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 \
  --benchmark_format=json "$@" >"$json"
echo
python3 "$here/bench/summarize_alloc.py" "$json"
