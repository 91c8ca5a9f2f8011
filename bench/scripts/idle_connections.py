#!/usr/bin/env python3
"""Measures what idle connections cost sluice-echo-server in resident memory.

Starts the server, reads its RSS, opens N connections (each echoes one byte once, so it is
fully set up), reads the RSS again, and prints (after - before) / N.

    bench/scripts/idle_connections.py [--bin build/release/bin] [--connections 10000]
"""
import argparse
import re
import resource
import socket
import subprocess
import sys
import threading
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="build/release/bin")
    parser.add_argument("--connections", type=int, default=10000)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = subprocess.Popen([f"{args.bin}/sluice-echo-server", "--port", "0", "--threads", "1"],
                              stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.time() + 10
        while port is None and time.time() < deadline:
            line = server.stderr.readline()
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
        if port is None:
            sys.exit("the server did not report its port")
        # Keep draining the log so that the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
        # Warm the server up with one connection first, so that one-time costs (the loop's
        # arena, libuv's first allocations) are in the baseline.
        with socket.create_connection(("127.0.0.1", port)) as warm:
            warm.sendall(b"x")
            warm.recv(1)
        time.sleep(0.2)
        before = rss_kib(server.pid)
        sockets = []
        for _ in range(args.connections):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"x")
            sockets.append(s)
        for s in sockets:
            s.settimeout(10)
            if s.recv(1) != b"x":
                sys.exit("echo failed")
        time.sleep(0.5)
        after = rss_kib(server.pid)
        per = (after - before) * 1024 / args.connections
        print(f"RSS before {before} KiB, with {args.connections} idle connections {after} KiB: "
              f"{per:.0f} bytes per connection")
        for s in sockets:
            s.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
