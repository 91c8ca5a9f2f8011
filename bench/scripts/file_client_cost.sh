#!/usr/bin/env bash
# What the client does per 64 KiB response, against sluice-file-server (sendfile) and nginx (the
# yardstick's file configuration): wrk's system calls and context switches per request (perf
# tracepoints) and loopback packets per request (/proc/net/dev). When wrk's core is the
# bottleneck, requests/s can only differ between servers that make it do different work.
# Rounds alternate the two servers: server on CPU 0, wrk (16 connections) on CPU 1, 5 s each.
#   bench/scripts/file_client_cost.sh [rounds] [bin dir] [yardstick dir]
set -euo pipefail
rounds=${1:-2}
bin=$(cd "${2:-build/release/bin}" && pwd)
yardstick=$(cd "${3:-../shared/bench}" && pwd)
port=${PORT:-17281}
# shellcheck source=measure_common.sh
source "$(dirname "$0")/measure_common.sh"
root=$work/www
mkdir -p "$root" "$work/nginx/tmp"
head -c 65536 /dev/urandom >"$root/64k.bin"
chmod 755 "$work" "$root" && chmod 644 "$root/64k.bin"  # nginx workers run as nobody
sed -e "s#@PORT@#$port#g; s#@PREFIX@#$work/nginx#g; s#@DOCROOT@#$root#g" \
  "$yardstick/conf/nginx-file.conf.in" >"$work/nginx/nginx.conf"
events=syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_ioctl
events=$events,syscalls:sys_enter_epoll_wait,context-switches

lo_packets() { awk '$1 == "lo:" {print $3}' /proc/net/dev; }

measure() {  # name command... ; prints one row
  local name=$1
  shift
  start_server "$name" "$@"
  local url=http://127.0.0.1:$port/64k.bin
  local answer
  answer=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$url")
  if [ "$answer" != "200 65536" ]; then
    echo "$name answered '$answer' to GET /64k.bin, not '200 65536'" >&2
    stop_server
    exit 1
  fi
  taskset -c 1 wrk -t1 -c16 -d2s "$url" >/dev/null
  local packets0 packets1
  packets0=$(lo_packets)
  taskset -c 1 perf stat -x, -e "$events" -o "$work/$name.perf" wrk -t1 -c16 -d5s "$url" \
    >"$work/$name.wrk"
  packets1=$(lo_packets)
  stop_server
  local requests
  requests=$(awk '/requests in/ {print $1}' "$work/$name.wrk")
  awk -F, -v name="$name" -v n="$requests" -v packets=$((packets1 - packets0)) '
    /sys_enter_read/ { reads = $1 } /sys_enter_write/ { writes = $1 }
    /sys_enter_ioctl/ { ioctls = $1 } /sys_enter_epoll_wait/ { waits = $1 }
    /context-switches/ { switches = $1 }
    END {
      printf "%-7s %8.0f %7.3f %7.3f %7.3f %7.3f %8.4f %8.3f\n", name, n / 5, reads / n,
             ioctls / n, writes / n, waits / n, switches / n, packets / n
    }' "$work/$name.perf"
}

printf "%-7s %8s %7s %7s %7s %7s %8s %8s\n" server "req/s" read ioctl write e_wait cswitch \
  packets
printf "%-7s %8s %7s %7s %7s %7s %8s %8s\n" "" "" "/req" "/req" "/req" "/req" "/req" "/req"
for _ in $(seq "$rounds"); do
  measure nginx nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"
  measure sluice "$bin/sluice-file-server" --root "$root" --host 127.0.0.1 --port "$port" \
    --threads 1
done
