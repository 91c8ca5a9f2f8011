#!/usr/bin/env bash
# Runs the demo servers until Ctrl-C:
#   echo server   127.0.0.1:7007
#   file server   127.0.0.1:8080  (a small bundled site and a large generated file)
#   hello server  127.0.0.1:8081
#   TCP proxy     127.0.0.1:9000, to the echo server
#   CONNECT proxy 127.0.0.1:3128, tunnels to 8080 and 8081
set -euo pipefail
bin=${1:-build/release/bin}
here=$(cd "$(dirname "$0")/.." && pwd)
site_parent=$(dirname "$bin")
"$here/scripts/make_demo_site.sh" "$site_parent"

pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

"$bin/sluice-echo-server" --host 127.0.0.1 --port 7007 --threads 1 & pids+=($!)
"$bin/sluice-file-server" --root "$site_parent/www" --host 127.0.0.1 --port 8080 --threads 1 & pids+=($!)
"$bin/sluice-http-hello" --host 127.0.0.1 --port 8081 --threads 1 & pids+=($!)
"$bin/sluice-chat-server" --host 127.0.0.1 --port 7008 --threads 2 & pids+=($!)
"$bin/sluice-tcp-proxy" --host 127.0.0.1 --port 9000 --backend-port 7007 & pids+=($!)
# The demo tunnels to its own servers, on loopback, which the proxy refuses unless told.
"$bin/sluice-connect-proxy" --host 127.0.0.1 --port 3128 --allow-ports 8080,8081 --allow-private-targets & pids+=($!)
sleep 0.5

cat <<TXT

sluice demo servers are running (Ctrl-C stops them):

  echo    127.0.0.1:7007   $bin/sluice-echo-client --port 7007      (type lines, Ctrl-D ends)
                           $bin/sluice-echo-client --port 7007 --bench --connections 8 --seconds 3
  chat    127.0.0.1:7008   $bin/sluice-echo-client --port 7008      (in two terminals: lines go
                                                                     to the other members)
  files   127.0.0.1:8080   curl -i http://127.0.0.1:8080/
                           curl -o /dev/null -w '%{size_download} bytes at %{speed_download} B/s\n' http://127.0.0.1:8080/big.bin
                           curl -i -H 'Range: bytes=0-99' http://127.0.0.1:8080/big.bin -o /dev/null -D -
  hello   127.0.0.1:8081   curl -i http://127.0.0.1:8081/plaintext
  proxy   127.0.0.1:9000   $bin/sluice-echo-client --port 9000      (the echo server, through it)
  tunnel  127.0.0.1:3128   curl -p -x http://127.0.0.1:3128 http://127.0.0.1:8081/plaintext

TXT
wait
