"""Start a sluice example server on a free loopback port, stop it by PID (Python stdlib only).

    with SluiceServer([binary, "--host", "127.0.0.1"], name="sluice-http-echo") as server:
        ... server.port ...

Also the Checks record that the Python test drivers share.

The server is started with "--port 0", so the kernel picks a free port, and the port is read
from the line the example servers log to stderr: "... listening on 127.0.0.1:PORT ...". Its
stderr keeps being drained by a thread (so a chatty server never blocks on a full pipe) and is
printed when something goes wrong. On exit the server gets SIGTERM; if it has not exited within
`stop_timeout` seconds it gets SIGKILL. Only the process started here is ever signalled.
"""
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

LISTENING_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")

# ctest's SKIP_RETURN_CODE for these tests.
SKIP = 77


class ServerError(Exception):
    pass


class Checks:
    """Records each check as "ok" or "FAIL" with details; summary() is a suite's exit status."""

    def __init__(self):
        self.failures = []
        self.count = 0

    def expect(self, condition, what, detail=""):
        self.count += 1
        print("%s: %s%s" % ("ok  " if condition else "FAIL", what,
                            "" if condition or not detail else "\n      " + str(detail)[:3000]),
              flush=True)
        if not condition:
            self.failures.append(what)
        return condition

    def summary(self, suite):
        print("\n%s: %d checks, %d failed" % (suite, self.count, len(self.failures)), flush=True)
        for failure in self.failures:
            print("  FAILED: " + failure, flush=True)
        return 1 if self.failures else 0


class SluiceServer:
    def __init__(self, argv, name, start_timeout=15.0, stop_timeout=10.0):
        self.argv = list(argv) + ["--port", "0"]
        self.name = name
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process = None
        self.port = None
        self.exit_status = None
        self._lines = []
        self._lock = threading.Lock()
        self._port_seen = threading.Event()
        self._reader = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if not os.access(self.argv[0], os.X_OK):
            raise ServerError("%s: not an executable" % self.argv[0])
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._port_seen.wait(0.05):
            if self.process.poll() is not None:
                self._reader.join(1.0)
                raise ServerError("%s exited with status %s before listening:\n%s"
                                  % (self.name, self.process.returncode, self.log()))
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError("%s did not report its port within %.0f s:\n%s"
                                  % (self.name, self.start_timeout, self.log()))
        print("%s: pid %d listening on 127.0.0.1:%d" % (self.name, self.process.pid, self.port),
              flush=True)

    def stop(self):
        """SIGTERM, wait, SIGKILL if need be. Returns the exit status (negative: a signal)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                print("%s: pid %d ignored SIGTERM for %.0f s, sending SIGKILL"
                      % (self.name, self.process.pid, self.stop_timeout), flush=True)
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(2.0)
        self.exit_status = self.process.returncode
        return self.exit_status

    def alive(self):
        return self.process is not None and self.process.poll() is None

    # -- stderr ------------------------------------------------------------------------------
    def _drain(self):
        for raw in iter(self.process.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self._lines.append(line)
            if self.port is None:
                match = LISTENING_RE.search(line)
                if match and int(match.group(1)) != 0:
                    self.port = int(match.group(1))
                    self._port_seen.set()
        self.process.stderr.close()

    def log(self, last=200):
        with self._lock:
            return "\n".join(self._lines[-last:])


def run_bounded(argv, timeout, **kwargs):
    """subprocess.run with a time bound; the child is killed (by PID) if it overruns."""
    print("+ " + shlex.join(argv), flush=True)
    try:
        return subprocess.run(argv, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as error:
        # subprocess.run has already killed and reaped the child.
        raise ServerError("%s: no result within %.0f s" % (argv[0], timeout)) from error


def closed_port():
    """A loopback port that was free a moment ago: nothing listens there (for refused connects)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)
