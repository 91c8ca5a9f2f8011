#!/usr/bin/env python3
"""sluice-chat-server as a program, over loopback (Python stdlib only).

  room       welcomes with the number of others, announces joins and departures, sends each
             line to every other member (not back to its sender) with the sender's name
  limits     a line over --max-line is refused with a message (none to a member that does
             not read) and the connection goes on; a member that stops reading is dropped as
             a slow consumer while the others keep receiving; a half-close ends the membership
  idle       --idle-seconds: a silent member on which nothing moves is told and closed, at
             the next period when the notice cannot reach it
  signals    SIGTERM shuts the server down with status 0

Every wait is bounded; only processes started here are signalled.
"""
import argparse
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_echo_programs import Checks, EchoServer  # noqa: E402

WELCOME_RE = re.compile(r"welcome, you are (#\d+); (\d+) others? (?:is|are) here")


class Member:
    """A chat client that reads in a thread of its own, keeping the lines it received."""

    def __init__(self, port, receive_buffer=0, reading=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.lines = []
        self.ended = threading.Event()
        self.reading = threading.Event()
        self.changed = threading.Condition()
        if reading:
            self.reading.set()
        self._pending = b""
        self._awaited = {}  # line -> Event set when it arrives
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        welcome = self.wait_for(lambda line: line.startswith("welcome"))
        match = WELCOME_RE.match(welcome or "")
        self.name = match.group(1) if match else None
        self.others_at_join = int(match.group(2)) if match else None

    def _read(self):
        while True:
            self.reading.wait()
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            self._pending += data
            *complete, self._pending = self._pending.split(b"\n")
            with self.changed:
                for raw in complete:
                    line = raw.decode(errors="replace")
                    self.lines.append(line)
                    if line in self._awaited:
                        self._awaited[line].set()
                self.changed.notify_all()
        with self.changed:
            self.ended.set()
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=10):
        """The first line received that `predicate` accepts, or None by the deadline."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.ended.is_set():
                    return None
                self.changed.wait(left)

    def expect(self, line):
        """An Event set once `line` has been received (already set if it has)."""
        arrived = threading.Event()
        with self.changed:
            self._awaited[line] = arrived
            if line in self.lines:
                arrived.set()
        return arrived

    def wait_lines(self, count, timeout=10):
        """True once `count` lines have been received, False at the deadline or the end."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.lines) < count:
                left = deadline - time.monotonic()
                if left <= 0 or self.ended.is_set():
                    return False
                self.changed.wait(left)
            return True

    def wait_ended(self, timeout=10):
        return self.ended.wait(timeout)

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        # A close alone would leave the socket open under the reader's blocked recv: no FIN.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def test_room(checks, server):
    # Each joins once the one before is in the room: once the members there have heard of it.
    a = Member(server.port)
    b = Member(server.port)
    a.wait_for(lambda line: line == b.name + " joined")
    c = Member(server.port)
    checks.check("welcomes count the others already there",
                 (a.others_at_join, b.others_at_join, c.others_at_join) == (0, 1, 2),
                 repr((a.others_at_join, b.others_at_join, c.others_at_join)))
    checks.check("members already there hear of a join",
                 a.wait_for(lambda l: l == c.name + " joined") is not None
                 and b.wait_for(lambda l: l == c.name + " joined") is not None, repr(a.lines))

    a.send(b"hello, room\r\nsecond line\n")
    said = "%s: second line" % a.name
    checks.check("a line reaches every other member, named, CRLF or LF",
                 b.wait_for(lambda l: l == said) is not None
                 and c.wait_for(lambda l: l == said) is not None
                 and ("%s: hello, room" % a.name) in b.lines, repr(b.lines))
    checks.check("a line does not come back to its sender",
                 a.wait_for(lambda l: l.startswith(a.name + ":"), timeout=0.5) is None,
                 repr(a.lines))

    b.send(b"x" * 200 + b"\n" + b"after the long one\n")
    checks.check("a line over --max-line is refused, to its sender only",
                 b.wait_for(lambda l: "too long" in l) is not None
                 and not any("xxxx" in line for line in a.lines + c.lines), repr(b.lines))
    checks.check("the sender's next line goes through",
                 a.wait_for(lambda l: l == "%s: after the long one" % b.name) is not None,
                 repr(a.lines))

    c.close()
    checks.check("a departure is announced to the others",
                 a.wait_for(lambda l: l == c.name + " left") is not None
                 and b.wait_for(lambda l: l == c.name + " left") is not None, repr(a.lines))

    b.sock.shutdown(socket.SHUT_WR)
    checks.check("a half-close ends the membership: the server closes, the others hear",
                 b.wait_ended() and a.wait_for(lambda l: l == b.name + " left") is not None,
                 repr(a.lines))
    a.close()
    b.close()


def test_slow_consumer(checks, server):
    talker = Member(server.port)
    listener = Member(server.port)
    stalled = Member(server.port, receive_buffer=4096)
    stalled.reading.clear()  # from now on it reads nothing
    line = b"y" * 60 + b"\n"  # within --max-line
    # In batches well under the server's high water mark (64 KiB), each let through to the
    # listener before the next: a member that reads, however slowly, must not look like one
    # that does not.
    batch = 200
    start = len(listener.lines)
    dropped = listener.expect(stalled.name + " left")
    lines_sent = 0
    while lines_sent * len(line) < 64 * 1024 * 1024 and not dropped.is_set():
        talker.send(line * batch)
        lines_sent += batch
        if not listener.wait_lines(start + lines_sent, timeout=30):
            break
    sent = lines_sent * len(line)
    checks.check("a member that stops reading is dropped (after %d KiB of lines)" % (sent // 1024),
                 dropped.is_set(), "%d lines heard by the listener" % len(listener.lines))
    last = "%s: the end" % talker.name
    talker.send(b"the end\n")
    heard_last = listener.wait_for(lambda l: l == last, timeout=60) is not None
    talker_lines = sum(1 for l in listener.lines if l.startswith(talker.name + ":"))
    checks.check("the members who read keep receiving, in full",
                 heard_last and talker_lines == lines_sent + 1,
                 "%d of the talker's %d lines" % (talker_lines, lines_sent + 1))
    # Draining megabytes through its small window could take long on a busy host; a closed
    # socket that receives data answers with a reset instead, at once.
    stalled.send(b"still here?\n")
    stalled.reading.set()
    checks.check("the dropped member's connection ends", stalled.wait_ended(30))
    for member in (talker, listener, stalled):
        member.close()


def test_idle(checks, binary):
    with EchoServer(binary, ["--idle-seconds", "1", "--max-line", "8"]) as server:
        silent = Member(server.port)
        checks.check("a silent member is told it was idle, then closed",
                     silent.wait_for(lambda l: "idle" in l, timeout=10) is not None
                     and silent.wait_ended(10), repr(silent.lines))
        silent.close()
        test_idle_without_reading(checks, server)
        checks.check("SIGTERM: status 0", server.signal(signal.SIGTERM) == 0, server.log())


def flood_refusals(flooder, observer, lines):
    """Has `flooder` send `lines` lines over --max-line (8), each answered with a refusal, and
    returns once the server has read them all. A line every thousand goes to the room and keeps
    `observer` from idling; the last one says the server is through."""
    batch = 1000
    flood = (b"x" * 9 + b"\n") * batch + b"still\n"
    flood = flood * (lines // batch) + b"through\n"
    flooder.send(flood)
    return observer.wait_for(lambda l: l == flooder.name + ": through", timeout=60) is not None


def test_idle_without_reading(checks, server):
    # A member that stops reading once the server has more for it than the sockets hold: the
    # notice that it is idle never leaves the server, so its close when flushed never happens.
    observer = Member(server.port)
    stalled = Member(server.port, receive_buffer=4096)
    stalled.reading.clear()
    read_all = flood_refusals(stalled, observer, 200000)
    checks.check("the flood was read by the server", read_all, repr(observer.lines[-3:]))
    # Idle periods of 1 s: a member told and then still idle is closed at the next one.
    time.sleep(4)
    stalled.reading.set()
    ended = stalled.wait_ended(30)
    notices = sum(1 for line in stalled.lines if line.startswith("closing: idle"))
    checks.check("a member that reads nothing is told it was idle once, then closed",
                 ended and notices <= 1, "%d notices, ended %s" % (notices, ended))
    for member in (observer, stalled):
        member.close()


def test_refusals_not_read(checks, binary):
    with EchoServer(binary, ["--max-line", "8"]) as server:
        observer = Member(server.port)
        stalled = Member(server.port, receive_buffer=4096)
        stalled.reading.clear()
        lines = 200000
        read_all = flood_refusals(stalled, observer, lines)
        checks.check("the flood was read by the server", read_all, repr(observer.lines[-3:]))
        # Half-closed, the member is closed once what the server still holds for it is out.
        stalled.reading.set()
        stalled.sock.shutdown(socket.SHUT_WR)
        ended = stalled.wait_ended(60)
        refusals = sum(1 for line in stalled.lines if line.endswith("too long and was not sent"))
        checks.check("a member that does not read is not sent a refusal for every long line",
                     ended and 0 < refusals < lines, "%d refusals, ended %s" % (refusals, ended))
        for member in (observer, stalled):
            member.close()
        checks.check("SIGTERM: status 0", server.signal(signal.SIGTERM) == 0, server.log())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="the sluice-chat-server binary")
    args = parser.parse_args()
    checks = Checks()
    with EchoServer(args.server, ["--max-line", "64", "--threads", "2"]) as server:
        test_room(checks, server)
        test_slow_consumer(checks, server)
        checks.check("the server is still running after its clients",
                     server.process.poll() is None)
        checks.check("SIGTERM: status 0", server.signal(signal.SIGTERM) == 0, server.log())
    test_idle(checks, args.server)
    test_refusals_not_read(checks, args.server)
    print("%d check(s) failed" % checks.failures if checks.failures else "all checks passed")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
