#!/usr/bin/env python3
"""Hostile clients against sluice-http-echo and sluice-file-server on free loopback ports.

    run_abuse.py --http-echo BIN --file-server BIN [--connections N] [--vectors FILE]

Each server gets a fixed number of connections from eight client threads with fixed seeds:
  - http-echo: requests mutated from a built-in set and, when present, the conformance suite's
    vectors (bytes flipped, cut out, repeated; framing headers, huge lines, chunk sizes and
    CONNECT inserted), several pipelined per connection, sent in random pieces;
  - file-server, once per transfer mechanism (sendfile, splice, mmap, copy): GET, HEAD and
    other methods on files, directories, symlinks out of the root, a FIFO and traversal
    attempts, with random ranges and conditional headers, while another thread truncates and
    replaces the largest file under the transfers.
A connection ends in one of three ways: the client half-closes and reads to the end, resets
(SO_LINGER 0) before or after reading part of the answer, or just closes after a short wait.

After each run the server must still be healthy: alive; answering a well-formed request
correctly; back to the descriptors it had before the load (no connection or file left open);
no 500 in any answer; nothing logged at warning level or above and no sanitizer report; and
exiting with status 0 on SIGTERM (the debug build's leak check runs then). The load is a count
of connections, not a duration, and nothing here measures time: a slow machine only takes
longer.
"""
import argparse
import json
import os
import random
import re
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "http_conformance"))
from sluice_server import Checks, ServerError, SluiceServer  # noqa: E402

CLIENT_THREADS = 8
BAD_LOG_RE = re.compile(r"\[(warning|error|critical)\]|AddressSanitizer|LeakSanitizer|"
                        r"runtime error:")
STATUS_RE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")

ECHO_SEEDS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    b"PUT /x HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc",
    b"POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
    b"GET /u HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"HEAD /h HTTP/1.1\r\nHost: a\r\nX-Many: 1\r\nX-Many: 2\r\n\r\n",
]
INSERTS = [b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n", b"Content-Length: -1\r\n",
           b"Expect: 100-continue\r\n", b"Connection: close\r\n",
           b"Upgrade: x\r\nConnection: upgrade\r\n", b"\r\n\r\n", b"0\r\n\r\n",
           b"ffffffffffffffff\r\n", b"Transfer-Encoding: gzip, chunked\r\n", b" \t", b"\x00",
           b"\r", b"\n"]


class Run:
    """What one server's clients saw, shared between their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.refused = 0
        self.statuses = {}

    def record(self, answer):
        with self.lock:
            self.connections += 1
            for status in STATUS_RE.findall(answer):
                self.statuses[status.decode()] = self.statuses.get(status.decode(), 0) + 1

    def record_refused(self):
        with self.lock:
            self.refused += 1


def mutate(rng, raw):
    data = bytearray(raw)
    for _ in range(rng.randint(0, 4)):
        if not data:
            break
        at = rng.randrange(len(data))
        operation = rng.randrange(6)
        if operation == 0:
            data[at] = rng.randrange(256)
        elif operation == 1:
            del data[at:at + rng.randint(1, 8)]
        elif operation == 2:
            data[at:at] = bytes(rng.choice(b'\r\n :;,"0123456789abcdefxX-\t\x00')
                                for _ in range(rng.randint(1, 4)))
        elif operation == 3:
            start = rng.randrange(len(data))
            data[at:at] = data[start:start + rng.randint(1, 64)]
        elif operation == 4:
            data[at:at] = rng.choice(INSERTS)
        else:
            data[at:at] = b"A" * rng.choice([100, 5000, 20000])
    return bytes(data)


def echo_payload(rng, seeds):
    parts = []
    for _ in range(rng.randint(1, 5)):
        raw = rng.choice(seeds)
        parts.append(mutate(rng, raw) if rng.random() < 0.7 else raw)
    if rng.random() < 0.1:
        parts.insert(0, b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n")
    return b"".join(parts)


FILE_TARGETS = ["/", "/index.html", "/big.bin", "/sub", "/sub/", "/sub/a.txt",
                "/sub/deeper/mid.dat", "/sub/out", "/sub/in.html", "/fifo", "/sp%20ace%25.txt",
                "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/sub/%2f..%2f..%2fetc", "/a%00b",
                "/sub/..", "/sub/%2e", "//big.bin", "/big.bin?x=1", "/nonexistent",
                "/sub/deeper/../../big.bin", "/%zz", "/" + "a" * 300, "*", "http://h/big.bin"]
FILE_METHODS = ["GET"] * 8 + ["HEAD"] * 2 + ["POST", "PUT", "DELETE", "OPTIONS", "get"]
RANGES = ["0-0", "0-", "-1", "-0", "5-2", "100-99999999", "299999-", "0-1,5-6", "abc", "-",
          "1-2-3", "18446744073709551616-", "99999999999999999999-1"]
DATES = ["Sun, 06 Nov 2094 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
         "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "bogus", ""]


def file_payload(rng):
    requests = []
    for _ in range(rng.randint(1, 6)):
        lines = ["%s %s HTTP/1.%d" % (rng.choice(FILE_METHODS), rng.choice(FILE_TARGETS),
                                       rng.choice([1, 1, 1, 0])), "Host: x"]
        if rng.random() < 0.3:
            lines.append("Range: bytes=" + rng.choice(
                RANGES + ["%d-%d" % (rng.randrange(400000), rng.randrange(400000))]))
        if rng.random() < 0.2:
            lines.append("If-None-Match: " + rng.choice(['*', '"x"', 'W/"x"', '"', '""', 'x']))
        if rng.random() < 0.2:
            lines.append("If-Modified-Since: " + rng.choice(DATES))
        if rng.random() < 0.1:
            lines.append("If-Range: " + rng.choice(['"x"', DATES[1], "junk"]))
        if rng.random() < 0.1:
            lines.append("Connection: close")
        requests.append("\r\n".join(lines) + "\r\n\r\n")
    return "".join(requests).encode("latin-1")


def one_connection(rng, port, payload, run):
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    except OSError:
        run.record_refused()
        return
    answer = b""
    try:
        sent = 0
        while sent < len(payload):
            piece = rng.randint(1, len(payload) - sent) if rng.random() < 0.5 else len(payload)
            sock.sendall(payload[sent:sent + piece])
            sent += piece
        ending = rng.random()
        if ending < 0.15:  # abort, maybe after part of the answer
            if rng.random() < 0.5:
                answer = sock.recv(rng.randint(1, 5000))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif ending < 0.9:  # half-close and read every answer
            sock.shutdown(socket.SHUT_WR)
            while True:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                answer += chunk
        else:  # wait a moment for what comes, then go
            sock.settimeout(0.2)
            try:
                while True:
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        break
                    answer += chunk
            except socket.timeout:
                pass
    except OSError:
        pass  # the server may close or reset first: bad input is allowed to end a connection
    finally:
        sock.close()
    run.record(answer)


def load(port, connections, seed, make_payload):
    run = Run()

    def client(index):
        rng = random.Random(seed * 1000 + index)
        for _ in range(connections // CLIENT_THREADS):
            one_connection(rng, port, make_payload(rng), run)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fds(pid):
    """The descriptors `pid` holds at rest: the fewest of a few counts. The server logs its
    port as soon as its bind completes, while the listener's loop thread is still finishing
    that task and can hold a descriptor for a moment (a sanitizer's probe pipe)."""
    counts = []
    for _ in range(5):
        counts.append(open_fds(pid))
        time.sleep(0.05)
    return min(counts)


def exchange(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return answer
            answer += chunk


def abuse(checks, argv, name, connections, seed, make_payload, probe, expected):
    server = SluiceServer(argv, name)
    try:
        server.start()
        pid = server.process.pid
        baseline = settled_fds(pid)
        run = load(server.port, connections, seed, make_payload)
        print("%s: %d connections (%d refused), answers by status %s"
              % (name, run.connections, run.refused, json.dumps(run.statuses, sort_keys=True)),
              flush=True)
        checks.expect(server.alive(), name + ": alive after the load")
        checks.expect(run.refused == 0, name + ": every connection accepted")
        checks.expect("500" not in run.statuses, name + ": no 500 answers")
        answer = exchange(server.port, probe)
        checks.expect(answer.startswith(b"HTTP/1.1 200 ") and expected in answer,
                      name + ": a well-formed request is answered", repr(answer[:300]))
        deadline = time.monotonic() + 30
        while open_fds(pid) != baseline and time.monotonic() < deadline:
            time.sleep(0.1)
        checks.expect(open_fds(pid) == baseline,
                      "%s: back to its %d descriptors" % (name, baseline),
                      "now %d: %s" % (open_fds(pid), sorted(
                          os.readlink("/proc/%d/fd/%s" % (pid, fd))
                          for fd in os.listdir("/proc/%d/fd" % pid))))
    finally:
        status = server.stop()
    checks.expect(status == 0, name + ": exits with status 0 on SIGTERM", "status %s" % status)
    bad = [line for line in server.log(100000).splitlines() if BAD_LOG_RE.search(line)]
    checks.expect(not bad, name + ": nothing logged at warning level or above",
                  "\n      ".join(bad[:10]))


def make_site(root):
    with open(os.path.join(root, "index.html"), "wb") as out:
        out.write(b"<h1>abuse</h1>\n")
    with open(os.path.join(root, "big.bin"), "wb") as out:
        out.write(random.Random(7).randbytes(300000))
    os.makedirs(os.path.join(root, "sub", "deeper"))
    with open(os.path.join(root, "sub", "a.txt"), "wb") as out:
        out.write(b"a\n")
    with open(os.path.join(root, "sub", "deeper", "mid.dat"), "wb") as out:
        out.write(random.Random(8).randbytes(70000))
    with open(os.path.join(root, "sp ace%.txt"), "wb") as out:
        out.write(b"space\n")
    os.symlink("/etc/passwd", os.path.join(root, "sub", "out"))
    os.symlink("../index.html", os.path.join(root, "sub", "in.html"))
    os.mkfifo(os.path.join(root, "fifo"))


def change_files(root, stop, seed):
    """Shrinks and replaces big.bin under the transfers until told to stop."""
    rng = random.Random(seed)
    path = os.path.join(root, "big.bin")
    while not stop.wait(rng.random() * 0.05):
        if rng.random() < 0.5:
            os.truncate(path, rng.randrange(300000))
        else:
            with open(path + ".new", "wb") as out:
                out.write(rng.randbytes(300000))
            os.rename(path + ".new", path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-echo", required=True)
    parser.add_argument("--file-server", required=True)
    parser.add_argument("--connections", type=int, default=2000,
                        help="connections for http-echo; half as many per transfer mechanism")
    parser.add_argument("--vectors", default="",
                        help="the conformance suite's vectors.json, used as more seeds if present")
    args = parser.parse_args()

    seeds = list(ECHO_SEEDS)
    if args.vectors and os.path.isfile(args.vectors):
        with open(args.vectors, encoding="utf-8") as vectors:
            seeds += [case["raw"].encode("latin-1") for case in json.load(vectors)["cases"]]
    print("http-echo seeds: %d requests" % len(seeds), flush=True)

    checks = Checks()
    try:
        abuse(checks, [args.http_echo, "--host", "127.0.0.1"], "sluice-http-echo",
              args.connections, 1, lambda rng: echo_payload(rng, seeds),
              b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nprobe", b"probe")
        for number, mechanism in enumerate(["sendfile", "splice", "mmap", "copy"]):
            with tempfile.TemporaryDirectory(prefix="sluice-abuse-") as root:
                make_site(root)
                stop = threading.Event()
                changer = threading.Thread(target=change_files, args=(root, stop, number))
                changer.start()
                try:
                    abuse(checks, [args.file_server, "--root", root, "--host", "127.0.0.1",
                                   "--transfer", mechanism], "sluice-file-server " + mechanism,
                          args.connections // 2, 2 + number, file_payload,
                          b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", b"<h1>abuse</h1>")
                finally:
                    stop.set()
                    changer.join()
    except ServerError as error:
        checks.expect(False, str(error))
    return checks.summary("http_abuse")


if __name__ == "__main__":
    sys.exit(main())
