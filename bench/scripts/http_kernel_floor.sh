#!/usr/bin/env bash
# Splits the server CPU of a keep-alive plaintext request into user and kernel time, for
# sluice-http-hello and nginx (the yardstick's configuration), and counts what each server asks
# of the kernel per request: system calls, loop wake-ups (epoll_wait) and context switches.
# Rounds alternate the two servers; each round is 2 s of warm-up then 5 s measured under wrk
# (64 connections), server on CPU 0, wrk on CPU 1. CPU time comes from /proc/PID/stat,
# counts from perf's syscall tracepoints.
#   bench/scripts/http_kernel_floor.sh [rounds] [bin dir] [yardstick dir]
set -euo pipefail
rounds=${1:-3}
bin=$(cd "${2:-build/release/bin}" && pwd)
yardstick=$(cd "${3:-../shared/bench}" && pwd)
port=${PORT:-17181}
# shellcheck source=measure_common.sh
source "$(dirname "$0")/measure_common.sh"
mkdir -p "$work/nginx/tmp"
sed -e "s#@PORT@#$port#g; s#@PREFIX@#$work/nginx#g" "$yardstick/conf/nginx-http.conf.in" \
  > "$work/nginx/nginx.conf"
events=syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_writev
events=$events,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,context-switches

measure() {  # name command... ; prints one row
  local name=$1 worker
  shift
  start_server "$name" "$@"
  worker=$(pgrep -P "$server" nginx | head -1 || true)
  [ -n "$worker" ] || worker=$server
  taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:$port/" >/dev/null
  perf stat -x, -e "$events" -p "$worker" -o "$work/$name.perf" &
  local counter=$!
  read -r user0 system0 < <(cpu_ticks "$worker")
  taskset -c 1 wrk -t1 -c64 -d5s "http://127.0.0.1:$port/" >"$work/$name.wrk"
  read -r user1 system1 < <(cpu_ticks "$worker")
  kill -INT "$counter"
  wait "$counter" || true
  stop_server
  local requests
  requests=$(awk '/requests in/ {print $1}' "$work/$name.wrk")
  awk -F, -v name="$name" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
      -v user_ticks=$((user1 - user0)) -v kernel_ticks=$((system1 - system0)) '
    /sys_enter_recvfrom/ { recv = $1 } /sys_enter_sendto/ { send += $1 }
    /sys_enter_writev/ { send += $1 } /sys_enter_epoll_wait/ { waits = $1 }
    /sys_enter_epoll_ctl/ { ctl = $1 } /context-switches/ { switches = $1 }
    END {
      us = 1e6 / hz / n
      printf "%-7s %9.0f %7.2f %7.2f %7.2f %6.3f %6.3f %7.3f %7.4f %7.4f\n", name, n / 5,
             user_ticks * us, kernel_ticks * us, (user_ticks + kernel_ticks) * us, recv / n,
             send / n, waits / n, ctl / n, switches / n
    }' "$work/$name.perf"
}

printf "%-7s %9s %7s %7s %7s %6s %6s %7s %7s %7s\n" server "req/s" "user" "kernel" "total" \
  "recv" "send" "e_wait" "e_ctl" "cswitch"
printf "%-7s %9s %7s %7s %7s %6s %6s %7s %7s %7s\n" "" "" "us/req" "us/req" "us/req" "/req" \
  "/req" "/req" "/req" "/req"
for _ in $(seq "$rounds"); do
  measure nginx nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"
  measure sluice "$bin/sluice-http-hello" --host 127.0.0.1 --port "$port" --threads 1
done
