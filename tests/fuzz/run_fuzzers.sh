#!/usr/bin/env bash
# Runs each libFuzzer target of a fuzz build for a while and summarises.
#   tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS]   (make fuzz: build/fuzz, 60)
# Seeds are generated into BUILD_DIR/fuzz/seeds/<target> (the HTTP ones from the conformance
# vectors in ../shared when present); what the fuzzer adds goes to BUILD_DIR/fuzz/corpus/<target>,
# crash inputs to BUILD_DIR/fuzz/artifacts/<target>/, the full output to BUILD_DIR/fuzz/logs/.
# Exits 1 if a target crashed (or found a leak, timeout or out-of-memory).
set -uo pipefail

build=${1:?usage: run_fuzzers.sh BUILD_DIR [SECONDS]}
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$build/fuzz
vectors=$repo/../shared/conformance/http1/vectors.json

mkdir -p "$work/logs"
python3 "$here/make_corpus.py" --out "$work/seeds" --vectors "$vectors" || exit 1
[[ -f $vectors ]] || echo "run_fuzzers: $vectors not found, HTTP seeds are the hand-written ones only"

# target  seed-dir  extra libFuzzer flags
targets=(
  "sluice-fuzz-http-request http_request -dict=$here/http.dict -max_len=24576"
  "sluice-fuzz-length-field length_field -max_len=4096"
  "sluice-fuzz-line line -max_len=4096"
)

status=0
summary=()
for entry in "${targets[@]}"; do
  read -r name seeds flags <<<"$entry"
  binary=$build/bin/$name
  if [[ ! -x $binary ]]; then
    echo "run_fuzzers: $binary missing" >&2
    status=1
    continue
  fi
  corpus=$work/corpus/$seeds
  artifacts=$work/artifacts/$seeds/
  log=$work/logs/$seeds.log
  mkdir -p "$corpus" "$artifacts"
  echo "== $name: ${seconds}s, log $log"
  # A hard bound above libFuzzer's own, in case a run wedges.
  # shellcheck disable=SC2086
  timeout --kill-after=10 $((seconds + 120)) "$binary" -max_total_time="$seconds" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts" $flags "$corpus" "$work/seeds/$seeds" \
    >"$log" 2>&1
  rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$done_line")
  ft=$(sed -nE 's/.* ft: ([0-9]+) .*/\1/p' <<<"$done_line")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9a-zA-Z]+) .*/\1/p' <<<"$done_line")
  crashes=$(find "$artifacts" -type f | wc -l)
  if [[ $rc -ne 0 ]]; then
    status=1
    echo "!! $name exited with status $rc; last lines of $log:"
    grep -E 'ERROR|SUMMARY|invariant|decode differently|deadly|Test unit written' "$log" | head -20
    tail -n 30 "$log"
  fi
  summary+=("$(printf '%-26s exit %-3s execs %-10s exec/s %-7s cov %-6s ft %-6s corpus %-12s artifacts %s' \
    "$name" "$rc" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")")
done

echo "== fuzz summary (${seconds}s each)"
printf '%s\n' "${summary[@]}"
exit $status
