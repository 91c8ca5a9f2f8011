#!/usr/bin/env bash
# Measures sluice's example servers as contenders in the shared yardstick (../shared/bench by
# default), side by side with the peers it runs, server and load pinned to different cores.
#
#   bench/yardstick.sh echo|http|file [more suites...]
#
# Environment: YARDSTICK (the yardstick's folder), BIN (sluice's executables, default
# build/release/bin), ROUNDS, and every knob of the yardstick's run.sh (ECHO_SERVERS,
# HTTP_SERVERS, FILE_SERVERS, FILE_TESTS, ...). The peers default to the ones the issues name.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
yardstick=${YARDSTICK:-$here/../shared/bench}
bin=$(cd "${BIN:-$here/build/release/bin}" && pwd)
[ $# -gt 0 ] || set -- echo http file

if [ ! -x "$yardstick/run.sh" ]; then
  echo "no yardstick at $yardstick (set YARDSTICK)" >&2
  exit 1
fi
"$yardstick/deps.sh"

export ROUNDS=${ROUNDS:-3}
export ECHO_SERVERS=${ECHO_SERVERS-epoll uv uv_try netty}
export ECHO_CONTENDER="sluice:$bin/sluice-echo-server --port {port} --threads 1"
export HTTP_SERVERS=${HTTP_SERVERS-nginx netty}
export HTTP_CONTENDER="sluice:$bin/sluice-http-hello --port {port} --threads 1"
export FILE_SERVERS=${FILE_SERVERS-nginx}
export FILE_TESTS=${FILE_TESTS-large_sink small_64k}
for transfer in sendfile splice mmap copy; do
  export "FILE_CONTENDER_$transfer=sluice-$transfer:$bin/sluice-file-server --root {docroot} --port {port} --threads 1 --transfer $transfer"
done
exec "$yardstick/run.sh" "$@"
