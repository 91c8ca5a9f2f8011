#!/usr/bin/env bash
# How often each echo server goes back to the kernel for more work, and what that does to the
# load generator: per message, the server's epoll_wait calls and context switches (perf
# tracepoints), its CPU time split into user and kernel time (/proc), and the client's CPU
# time. When the load generator's core is the bottleneck, messages/s follows the client's cost
# per message, which includes waking a server that sleeps. Rounds alternate the raw epoll, raw
# libuv and sluice servers; server on CPU 0, load on CPU 1, 5 s per sample.
#   bench/scripts/echo_wakeups.sh [rounds] [loadgen args] [bin dir] [yardstick dir]
#   bench/scripts/echo_wakeups.sh 3 "-s 16384 -c 16 -p 4"
set -euo pipefail
rounds=${1:-3}
workload=${2:--s 16384 -c 16 -p 4}
bin=$(cd "${3:-build/release/bin}" && pwd)
yardstick=$(cd "${4:-../shared/bench}" && pwd)
port=${PORT:-17191}
# shellcheck source=measure_common.sh
source "$(dirname "$0")/measure_common.sh"
events=syscalls:sys_enter_epoll_wait,context-switches

measure() {  # name command... ; prints one row
  local name=$1
  shift
  start_server "$name" "$@"
  perf stat -x, -e "$events" -p "$server" -o "$work/$name.perf" &
  local counter=$!
  read -r user0 system0 < <(cpu_ticks "$server")
  # shellcheck disable=SC2086  # the workload is a list of loadgen options
  taskset -c 1 perf stat -x, -e task-clock -o "$work/$name.client" \
    "$yardstick/build/loadgen" $workload -T 5 "127.0.0.1:$port" >"$work/$name.out" 2>&1
  read -r user1 system1 < <(cpu_ticks "$server")
  kill -INT "$counter"
  wait "$counter" || true
  stop_server
  local rate client_ms
  rate=$(grep -oE 'msgs_per_s=[0-9]+' "$work/$name.out" | cut -d= -f2)
  client_ms=$(awk -F, '/task-clock/ {print $1}' "$work/$name.client")
  awk -F, -v name="$name" -v rate="$rate" -v client_ms="$client_ms" -v hz="$(getconf CLK_TCK)" \
      -v user=$((user1 - user0)) -v kernel=$((system1 - system0)) '
    /epoll_wait/ { waits = $1 } /context-switches/ { switches = $1 }
    END {
      n = rate * 5
      us = 1e6 / hz / n
      printf "%-7s %9.0f %8.3f %8.4f %8.3f %8.3f %8.4f %8.4f\n", name, rate,
             (user + kernel) * us, user * us, kernel * us, client_ms * 1e3 / n, waits / n,
             switches / n
    }' "$work/$name.perf"
}

printf "%-7s %9s %8s %8s %8s %8s %8s %8s\n" server "msgs/s" "srv us" "user us" "sys us" \
  "cli us" "e_wait" "cswitch"
printf "%-7s %9s %8s %8s %8s %8s %8s %8s\n" "" "" "/msg" "/msg" "/msg" "/msg" "/msg" "/msg"
for _ in $(seq "$rounds"); do
  measure epoll "$yardstick/build/epoll_echo" "$port"
  measure uv "$yardstick/build/uv_echo" "$port" -m write
  measure sluice "$bin/sluice-echo-server" --host 127.0.0.1 --port "$port" --threads 1
done
