#!/usr/bin/env python3
"""The echo server, the TCP proxy and the echo client as programs, over loopback (Python
stdlib only).

  server   --help; flags refused with a clear message and status 2; every byte echoed, with the
           peer's half-close answered by a FIN after the last byte; SIGINT and SIGTERM shut it
           down gracefully (status 0)
  proxy    --help, --backend-port required, 4 MiB relayed to the echo server and back with
           the half-close passed on both ways, SIGTERM
  client   interactive: stdin to the server, replies to stdout, a clean end after stdin's EOF;
           --bench against the real server; the exit status when the connect is refused or a
           stand-in server misbehaves

Every process is bounded in time: one that does not end by its deadline is killed and the
check fails. Only processes started here are signalled.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "http_conformance"))
from sluice_server import closed_port  # noqa: E402

LISTENING_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


class Checks:
    def __init__(self):
        self.failures = 0

    def check(self, name, ok, detail=""):
        print("%s  %s%s" % ("ok  " if ok else "FAIL", name,
                            "" if ok or not detail else "\n      " + detail.replace("\n", "\n      ")),
              flush=True)
        if not ok:
            self.failures += 1
        return ok


def run(argv, timeout, stdin_bytes=b""):
    """Runs argv to its end; (status, stdout, stderr, seconds), status None if it was killed."""
    print("+ " + " ".join(argv), flush=True)
    started = time.monotonic()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(stdin_bytes, timeout=timeout)
        status = process.returncode
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        status = None
    return status, out.decode(errors="replace"), err.decode(errors="replace"), \
        time.monotonic() - started


class EchoServer:
    """sluice-echo-server on a free loopback port, its stderr drained in a thread."""

    def __init__(self, binary, extra=()):
        self.argv = [binary, "--host", "127.0.0.1", "--port", "0"] + list(extra)
        self.lines = []
        self.port = None
        self._seen = threading.Event()

    def __enter__(self):
        print("+ " + " ".join(self.argv), flush=True)
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        if not self._seen.wait(20) or self.port is None:
            self.stop()
            raise RuntimeError("the server did not report its port:\n" + self.log())
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _drain(self):
        for raw in self.process.stderr:
            line = raw.decode(errors="replace")
            self.lines.append(line)
            match = LISTENING_RE.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self._seen.set()
        self._seen.set()

    def log(self):
        return "".join(self.lines)

    def signal(self, number, timeout=20):
        """Sends `number`; the exit status, or None if it did not exit in time (then killed)."""
        self.process.send_signal(number)
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            status = None
        self._thread.join(5)
        return status

    def stop(self):
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)


class StandIn:
    """A loopback server that treats each connection with `behave(sock)`, in a thread each."""

    def __init__(self, behave):
        self.behave = behave
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.connections = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        try:
            self.behave(sock)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stop = True
        self.listener.close()
        for sock in self.connections:
            try:
                sock.close()
            except OSError:
                pass
        return False


def stall(sock):
    """Reads what comes and never answers."""
    while sock.recv(65536):
        pass


# --- the server ------------------------------------------------------------------------------

def server_flags(checks, server):
    for argv, wanted in ((["--port", "70000"], "--port wants a whole number from 0 to 65535"),
                         (["--port", "7007", "--verbose"], "unknown option --verbose"),
                         (["--threads"], "--threads needs a value"),
                         (["--threads", "-2"], "--threads wants a whole number"),
                         (["7007"], "unexpected argument: 7007")):
        status, _, err, _ = run([server] + argv, 20)
        checks.check("server %s: status 2, '%s'" % (" ".join(argv), wanted),
                     status == 2 and ("sluice-echo-server: " + wanted) in err
                     and "Try 'sluice-echo-server --help'" in err,
                     "status %s, stderr: %s" % (status, err))


def help_text(checks, program, name, wanted_options):
    status, out, err, _ = run([program, "--help"], 20)
    checks.check("%s --help: usage on stdout, status 0" % name,
                 status == 0 and out.startswith("Usage: %s [options]\n" % name)
                 and all("--" + option in out for option in wanted_options) and err == "",
                 "status %s, stdout: %s, stderr: %s" % (status, out, err))


def echo_round_trip(checks, name, port):
    """Sends 4 MiB and half-closes on one thread, reads to the FIN on this one."""
    payload = os.urandom(4 << 20)
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    received = bytearray()

    def send_all():
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
    except OSError as error:
        checks.check(name, False, str(error))
        return
    finally:
        sender.join(30)
        sock.close()
    checks.check(name, bytes(received) == payload,
                 "%d bytes back of %d" % (len(received), len(payload)))


def server_echo(checks, server):
    with EchoServer(server, ["--threads", "2"]) as echo:
        echo_round_trip(checks, "server echoes 4 MiB, then FIN after the client's FIN", echo.port)


def server_backpressure(checks, server):
    """A peer that sends without reading: the server stops reading once it cannot write, so the
    peer can push only what the sockets' buffers and the server's high water mark hold; once
    the peer reads, every byte comes back."""
    total = 64 << 20
    payload = os.urandom(1 << 20) * 64
    with EchoServer(server) as echo:
        sock = socket.create_connection(("127.0.0.1", echo.port), timeout=30)
        sock.setblocking(False)
        pushed = 0
        idle_since = time.monotonic()
        while pushed < total and time.monotonic() - idle_since < 1.0:
            try:
                pushed += sock.send(payload[pushed:pushed + (1 << 20)])
                idle_since = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        held_back = pushed < 32 << 20
        sock.setblocking(True)
        received = bytearray()

        def send_rest():
            sock.sendall(payload[pushed:])
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send_rest, daemon=True)
        sender.start()
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
        sender.join(30)
        sock.close()
    checks.check("server stops reading from a peer that does not read, then echoes it all",
                 held_back and bytes(received) == payload,
                 "pushed %d bytes before the server stopped reading; %d of %d back"
                 % (pushed, len(received), total))


def server_signals(checks, server):
    for number in (signal.SIGINT, signal.SIGTERM):
        name = signal.Signals(number).name
        with EchoServer(server) as echo:
            idle = socket.create_connection(("127.0.0.1", echo.port), timeout=10)
            idle.sendall(b"ping")
            answer = idle.recv(16)
            status = echo.signal(number)
            closed = idle.recv(16) == b""
            idle.close()
            log = echo.log()
        checks.check("server %s: graceful shutdown, status 0" % name,
                     answer == b"ping" and status == 0 and closed
                     and "shutting down" in log and "stopped" in log,
                     "answer %r, status %s, connection closed %s, log:\n%s"
                     % (answer, status, closed, log))


# --- the proxy -------------------------------------------------------------------------------

def proxy_program(checks, server, proxy):
    help_text(checks, proxy, "sluice-tcp-proxy", ("backend-host", "backend-port", "port"))
    status, _, err, _ = run([proxy, "--port", "0"], 20)
    checks.check("proxy without --backend-port: status 2, says so",
                 status == 2 and "sluice-tcp-proxy: --backend-port is required" in err,
                 "status %s, stderr: %s" % (status, err))
    with EchoServer(server) as echo:
        with EchoServer(proxy, ["--backend-port", str(echo.port)]) as relay:
            echo_round_trip(checks, "proxy relays 4 MiB both ways, then the backend's FIN",
                            relay.port)
            status = relay.signal(signal.SIGTERM)
            checks.check("proxy SIGTERM: graceful shutdown, status 0", status == 0,
                         "status %s, log:\n%s" % (status, relay.log()))


# --- the client ------------------------------------------------------------------------------

def client_interactive(checks, server, client):
    lines = b"".join(b"line %d\n" % i for i in range(200))
    with EchoServer(server) as echo:
        status, out, err, _ = run([client, "--port", str(echo.port)], 30, lines)
    checks.check("client: stdin lines echoed to stdout, status 0 after EOF",
                 status == 0 and out.encode() == lines,
                 "status %s, %d of %d bytes, stderr: %s" % (status, len(out), len(lines), err))


def client_interactive_server_ends(checks, client):
    """The server ends the connection while stdin is still open: the client says so and exits
    with status 1 at once, rather than waiting for more input."""
    def close_after_line(sock):
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        sock.sendall(data)
        sock.close()

    with StandIn(close_after_line) as stand_in:
        argv = [client, "--port", str(stand_in.port)]
        print("+ " + " ".join(argv), flush=True)
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        process.stdin.write(b"hello\n")
        process.stdin.flush()  # and stdin stays open
        try:
            status = process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            status = None
        process.stdin.close()
        out = process.stdout.read().decode(errors="replace")
        err = process.stderr.read().decode(errors="replace")
    checks.check("client: a server that ends the connection first ends the client, status 1",
                 status == 1 and out == "hello\n" and "sluice-echo-client: " in err,
                 "status %s (None: still waiting on stdin after 20 s), stdout %r, stderr: %s"
                 % (status, out, err))


def client_interactive_missing_replies(checks, client):
    """After stdin's end, a server that does not echo everything makes the status 1."""
    def swallow_then_close(sock):
        while sock.recv(65536):
            pass
        sock.close()

    with StandIn(swallow_then_close) as stand_in:
        status, out, err, _ = run([client, "--port", str(stand_in.port)], 30, b"one\ntwo\n")
    checks.check("client: replies missing after stdin's end, status 1",
                 status == 1 and "sluice-echo-client: " in err,
                 "status %s, stdout %r, stderr: %s" % (status, out, err))


def client_refused(checks, client):
    port = str(closed_port())
    for argv in ([client, "--port", port], [client, "--port", port, "--bench", "--seconds", "1"]):
        status, _, err, _ = run(argv, 30)
        checks.check("client %s: refused connect, status 1" % " ".join(argv[1:]),
                     status == 1 and "refused" in err.lower(), "status %s, stderr: %s" % (status, err))


def client_bench(checks, server, client):
    with EchoServer(server) as echo:
        status, out, err, _ = run([client, "--port", str(echo.port), "--bench", "--connections",
                                   "4", "--size", "100", "--depth", "8", "--seconds", "1"], 60)
    checks.check("client --bench against the echo server: status 0, no errors",
                 status == 0 and "messages/s" in out and "errors 0" in out,
                 "status %s, stdout: %s, stderr: %s" % (status, out, err))


def client_bench_stand_ins(checks, client):
    """--bench against servers that misbehave: each run ends in bounded time with status 1."""
    def close_early(sock):
        sock.recv(100)
        sock.close()

    def echo_twice(sock):
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            sock.sendall(chunk + chunk)

    # A stalled server leaves every connection's messages in flight: the run still ends soon
    # after its --seconds (the connections share one wait for their last replies).
    for name, behave, connections in (("never answers", stall, 16),
                                      ("closes each connection early", close_early, 4),
                                      ("echoes everything twice", echo_twice, 4)):
        with StandIn(behave) as stand_in:
            status, out, err, seconds = run(
                [client, "--port", str(stand_in.port), "--bench", "--connections",
                 str(connections), "--size", "64", "--depth", "4", "--seconds", "1"], 90)
        checks.check("client --bench, a server that %s: status 1, ended by itself" % name,
                     status == 1 and "errors" in out and "Sanitizer" not in err
                     and "runtime error" not in err,
                     "status %s (None: still running after 90 s) after %.1f s, stdout: %s, "
                     "stderr: %s" % (status, seconds, out, err[-2000:]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--client", required=True)
    parser.add_argument("--proxy", required=True)
    args = parser.parse_args()
    checks = Checks()
    help_text(checks, args.server, "sluice-echo-server",
              ("host", "port", "threads", "reuseport", "help"))
    help_text(checks, args.client, "sluice-echo-client",
              ("host", "port", "bench", "connections", "size", "depth", "seconds", "threads"))
    server_flags(checks, args.server)
    server_echo(checks, args.server)
    server_backpressure(checks, args.server)
    server_signals(checks, args.server)
    proxy_program(checks, args.server, args.proxy)
    client_interactive(checks, args.server, args.client)
    client_interactive_server_ends(checks, args.client)
    client_interactive_missing_replies(checks, args.client)
    client_refused(checks, args.client)
    client_bench(checks, args.server, args.client)
    client_bench_stand_ins(checks, args.client)
    print("%d check(s) failed" % checks.failures if checks.failures else "all checks passed")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
