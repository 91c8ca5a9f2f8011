#!/usr/bin/env bash
# Runs the demo: for now the allocator benchmark with a short summary.
set -euo pipefail
bin=${1:-build/release/bin}
exec "$bin/sluice-bench-alloc" --benchmark_min_time=0.2
