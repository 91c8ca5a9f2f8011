#!/usr/bin/env bash
# Counts the system calls sluice-echo-server makes under pipelined load (64 B messages, 64
# connections, 16 in flight each), to show one gathered write per read batch and no epoll_ctl
# per message.
#   bench/scripts/strace_echo.sh [bin dir] [loadgen]
set -euo pipefail
bin=${1:-build/release/bin}
loadgen=${2:-../shared/bench/build/loadgen}
port=${PORT:-17099}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

taskset -c 0 "$bin/sluice-echo-server" --port "$port" --threads 1 2>/dev/null &
server=$!
sleep 0.5
strace -c -f -p "$server" -o "$out" &
tracer=$!
sleep 0.5
taskset -c 1 "$loadgen" -s 64 -c 64 -p 16 -T 5 "127.0.0.1:$port" | tail -1
kill -INT "$tracer"
wait "$tracer" || true
kill -TERM "$server"
wait "$server" || true

cat "$out"
awk '
  $NF == "recvfrom" { recv = $4 } $NF == "sendmsg" { sendmsg = $4 } $NF == "sendto" { sendto = $4 }
  $NF == "epoll_wait" { waits = $4 } $NF == "epoll_ctl" { ctl = $4 } $NF == "write" { write = $4 }
  $NF == "writev" { writev = $4 }
  END {
    printf "\nwake-ups (epoll_wait) %d, recv calls %d, gathered writes (sendmsg+sendto+writev) %d, " \
           "write %d, epoll_ctl %d\n", waits, recv, sendmsg + sendto + writev, write, ctl
    printf "gathered writes per recv call: %.3f\n", (sendmsg + sendto + writev) / (recv ? recv : 1)
  }' "$out"
