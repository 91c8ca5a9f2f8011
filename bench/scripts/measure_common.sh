# Sourced by the measuring scripts beside it: a scratch folder ($work) removed on exit, a check
# that perf is installed, and servers started on CPU 0 (their load goes on CPU 1).
# The sourcing script sets $port first.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v perf >/dev/null || { echo "needs perf (linux-perf)" >&2; exit 1; }

# start_server NAME COMMAND...: runs COMMAND on CPU 0 (output in $work/NAME.log), waits up to
# 5 s for $port to listen, and sets $server to its PID.
start_server() {
  local name=$1
  shift
  taskset -c 0 "$@" >"$work/$name.log" 2>&1 &
  server=$!
  for _ in $(seq 50); do
    ss -Hltn "sport = :$port" | grep -q LISTEN && return 0
    sleep 0.1
  done
  echo "$name did not listen on port $port" >&2
  return 1
}

stop_server() {
  kill -TERM "$server"
  wait "$server" || true
}

# The CPU time a process has used so far, in clock ticks: "user system".
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
