"""Shared pieces of the sluice-file-server tests (Python stdlib only).

  FileServer   starts the server on a free loopback port ("--port 0"; the port is read from the
               "listening on 127.0.0.1:PORT" line it logs to stderr), keeps draining its stderr
               and stdout (the access log) in threads, and stops it by PID: SIGTERM, then
               SIGKILL if it has not exited in time. Only the process started here is signalled.
  Checks       records each check as "ok" or "FAIL" (shared with the other Python drivers).
  HTTP helpers a raw-socket request/response reader (for exact bytes, pipelining, HEAD), curl.
  /proc helpers the server's open descriptors and file mappings.
"""
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
from sluice_server import Checks  # noqa: E402,F401  (the suites import it from here)

LISTENING_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
SKIP = 77  # ctest SKIP_RETURN_CODE


class HarnessError(Exception):
    pass


class FileServer:
    def __init__(self, binary, root, extra=(), name="sluice-file-server", wrapper=(),
                 start_timeout=20.0, stop_timeout=15.0):
        self.argv = list(wrapper) + [binary, "--root", root, "--host", "127.0.0.1",
                                     "--port", "0"] + list(extra)
        self.name = name
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process = None
        self.port = None
        self.exit_status = None
        self._err_lines = []
        self._out_lines = []
        self._lock = threading.Lock()
        self._port_seen = threading.Event()
        self._threads = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def pid(self):
        return self.process.pid

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        print("+ " + " ".join(self.argv), flush=True)
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for stream, lines, watch in ((self.process.stderr, self._err_lines, True),
                                     (self.process.stdout, self._out_lines, False)):
            thread = threading.Thread(target=self._drain, args=(stream, lines, watch),
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + self.start_timeout
        while not self._port_seen.wait(0.05):
            if self.process.poll() is not None:
                self._join()
                raise HarnessError("%s exited with status %s before listening:\n%s"
                                   % (self.name, self.process.returncode, self.log()))
            if time.monotonic() > deadline:
                self.stop()
                raise HarnessError("%s did not report its port within %.0f s:\n%s"
                                   % (self.name, self.start_timeout, self.log()))
        print("%s: pid %d on port %d" % (self.name, self.process.pid, self.port), flush=True)

    def stop(self):
        """SIGTERM, wait, SIGKILL if need be; returns the exit status (negative: a signal)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                print("%s: pid %d ignored SIGTERM, sending SIGKILL" % (self.name, self.pid),
                      flush=True)
                self.process.kill()
                self.process.wait()
        self._join()
        self.exit_status = self.process.returncode
        return self.exit_status

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def _join(self):
        for thread in self._threads:
            thread.join(2.0)

    def _drain(self, stream, lines, watch_port):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                lines.append(line)
            if watch_port and self.port is None:
                match = LISTENING_RE.search(line)
                if match and int(match.group(1)) != 0:
                    self.port = int(match.group(1))
                    self._port_seen.set()
        stream.close()

    def log(self, last=80):
        with self._lock:
            return "\n".join(self._err_lines[-last:])

    def stdout_lines(self):
        with self._lock:
            return list(self._out_lines)


# -- HTTP on a raw socket ---------------------------------------------------------------------

class Response:
    def __init__(self, status, reason, version, headers, body, complete):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers  # list of (name, value)
        self.body = body
        self.complete = complete  # the whole Content-Length arrived

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def __repr__(self):
        return "<%d %s %r body=%d bytes>" % (self.status, self.reason, self.headers,
                                             len(self.body))


class RawConnection:
    """A keep-alive connection that reads responses exactly as they come (no client logic)."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def read_head(self):
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        return version, int(status), reason, headers

    def read_response(self, head_request=False):
        version, status, reason, headers = self.read_head()
        length = None
        for name, value in headers:
            if name.lower() == "content-length":
                length = int(value)
        no_body = head_request or status in (204, 304) or 100 <= status < 200
        want = 0 if no_body or length is None else length
        complete = True
        while len(self.buffer) < want:
            try:
                self._fill()
            except (EOFError, ConnectionResetError):
                complete = False
                break
        body, self.buffer = self.buffer[:want], self.buffer[want:]
        return Response(status, reason, version, headers, body, complete)

    def read_until_closed(self, limit=None):
        """Everything until EOF or a reset; returns (bytes, how it ended)."""
        data = self.buffer
        self.buffer = b""
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError:
                return data, "reset"
            except socket.timeout:
                return data, "timeout"
            if not chunk:
                return data, "eof"
            data += chunk
            if limit is not None and len(data) >= limit:
                return data, "limit"


def request_bytes(method, target, headers=(), version="HTTP/1.1", host="127.0.0.1"):
    lines = ["%s %s %s" % (method, target, version), "Host: %s" % host]
    lines += ["%s: %s" % (name, value) for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def fetch(port, method, target, headers=(), version="HTTP/1.1", timeout=30.0):
    """One request on a fresh connection; the response read by Content-Length."""
    with RawConnection(port, timeout) as conn:
        conn.send(request_bytes(method, target, headers, version))
        return conn.read_response(head_request=(method == "HEAD"))


# -- curl -------------------------------------------------------------------------------------

def curl(args, timeout=60):
    argv = ["curl", "--silent", "--show-error", "--max-time", str(timeout - 5)] + list(args)
    print("+ " + " ".join(argv), flush=True)
    try:
        result = subprocess.run(argv, timeout=timeout, capture_output=True)
    except subprocess.TimeoutExpired as error:
        raise HarnessError("curl: no result within %d s" % timeout) from error
    return result.returncode, result.stdout, result.stderr.decode("utf-8", "replace")


# -- /proc ------------------------------------------------------------------------------------

def open_fds(pid):
    """{fd: target} of the process's open descriptors."""
    fds = {}
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            fds[int(name)] = os.readlink(os.path.join(base, name))
        except OSError:
            pass  # closed while listing
    return fds


def mapped_paths(pid):
    paths = set()
    with open("/proc/%d/maps" % pid) as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6:
                paths.add(parts[5].strip())
    return paths


def wait_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)
