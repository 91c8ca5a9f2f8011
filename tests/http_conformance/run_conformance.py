#!/usr/bin/env python3
"""The HTTP/1.1 conformance suite (../shared/conformance/http1) against sluice-http-echo.

    run_conformance.py --server BIN --suite DIR [--splits none,bytes] [--budget SECONDS]

Starts the echo server on a free loopback port, runs the suite's run.py once per split mode
(every vector must pass in each), stops the server by PID with SIGTERM and checks that it
exited cleanly. Exits 77 (ctest SKIP_RETURN_CODE) when the suite directory is absent.
"""
import argparse
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_server import ServerError, SluiceServer, run_bounded, skip  # noqa: E402

SUMMARY_RE = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)


def check_connect_refused(port):
    """The suite leaves CONNECT out; the echo server answers it 501 and stays HTTP, where a
    200 would have opened a tunnel (and, before CONNECT was parsed, a 400 closed it)."""
    request = (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
               b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    statuses = re.findall(rb"^HTTP/1\.1 (\d{3})", received, re.M)
    if statuses != [b"501", b"200"] or b'"/after"' not in received:
        return ["CONNECT: expected 501 and then the pipelined GET echoed, got %r" % received[:400]]
    print("CONNECT: 501, then the pipelined GET answered on the same connection", flush=True)
    return []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="the sluice-http-echo binary")
    parser.add_argument("--suite", required=True, help="the conformance/http1 directory")
    parser.add_argument("--splits", default="none,bytes")
    parser.add_argument("--budget", type=float, default=240.0,
                        help="seconds allowed for each run of the suite")
    args = parser.parse_args()

    runner = os.path.join(args.suite, "run.py")
    if not os.path.isfile(runner):
        skip("%s not found: the shared conformance suite is absent" % runner)

    failures = []
    with SluiceServer([args.server, "--host", "127.0.0.1"], "sluice-http-echo") as server:
        for split in args.splits.split(","):
            started = time.monotonic()
            result = run_bounded([sys.executable, runner, "--host", "127.0.0.1", "--port",
                                  str(server.port), "--split", split],
                                 timeout=args.budget, capture_output=True)
            out = result.stdout.decode("utf-8", "replace")
            err = result.stderr.decode("utf-8", "replace")
            summary = SUMMARY_RE.findall(out + err)
            elapsed = time.monotonic() - started
            if result.returncode != 0 or not summary or summary[-1][1] != "0":
                sys.stdout.write(out)
                sys.stdout.write(err)
                failures.append("--split %s: exit status %d, %s" % (
                    split, result.returncode,
                    "%s passed, %s failed" % summary[-1] if summary else "no summary line"))
            else:
                print("--split %s: %s passed, 0 failed (%.1f s)" % (split, summary[-1][0], elapsed),
                      flush=True)
            if not server.alive():
                failures.append("the server died during --split %s" % split)
                break
        if server.alive():
            failures += check_connect_refused(server.port)
    if server.exit_status not in (0, None):
        failures.append("the server exited with status %s after SIGTERM" % server.exit_status)
    if failures:
        print("server log (last lines):\n" + server.log(50))
        for failure in failures:
            print("FAILED: " + failure)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ServerError as error:
        print("FAILED: %s" % error)
        sys.exit(1)
