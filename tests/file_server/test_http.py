#!/usr/bin/env python3
"""sluice-file-server over loopback, with curl, http.client and a raw socket.

    test_http.py --server BIN

A temporary tree (root/ and, beside it, outside/ that must stay unreachable) is served by one
server per transfer mechanism (sendfile, splice, mmap, copy). Under each: whole files and byte
ranges arrive byte-exact; a client that disconnects mid-transfer leaves no descriptor or mapping
of the file behind; a file truncated during its transfer ends the connection short while the
server keeps serving. Under the sendfile server, every status: 200, 206, 304, 301, 400, 403,
404, 405, 412, 416; HEAD; conditional requests; If-Range; traversal attempts; the directory
index and listing; keep-alive, pipelining, HTTP/1.0. Further servers check the idle timeout,
the connection limit, the access log, and traversal with the openat2 fallback (--no-openat2,
with --no-proc-reopen). Under both lookups, a FIFO in the tree is refused without being opened.
Each server must exit 0 on SIGTERM.
"""
import argparse
import email.utils
import http.client
import os
import random
import re
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from fs_harness import (Checks, FileServer, HarnessError, RawConnection, curl, fetch,
                        mapped_paths, open_fds, request_bytes, wait_until)

MECHANISMS = ["sendfile", "splice", "mmap", "copy"]
MiB = 1 << 20

ETAG_RE = re.compile(r'^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$')
IMF_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                    r"Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")
CLF_RE = re.compile(r'^(\S+) - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "([^"]*)" (\d{3}) '
                    r'(\d+|-)$')

# Names that need escaping in HTML and encoding in URLs.
ODD_NAMES = ["a b.txt", "<b>&'\".txt", "100%.txt", "q?x#y.txt", "ünï.txt", "semi;colon:.txt"]


# -- the served tree --------------------------------------------------------------------------

def write(path, data):
    with open(path, "wb") as out:
        out.write(data)


def make_site(top):
    rng = random.Random(20240601)
    root = os.path.join(top, "root")
    outside = os.path.join(top, "outside")
    os.makedirs(os.path.join(root, "docs"))
    os.makedirs(os.path.join(root, "sub", "deeper"))
    os.makedirs(outside)
    content = {
        "hello.txt": b"Hello, sluice!\n",
        "empty.txt": b"",
        "data.bin": rng.randbytes(3 * MiB + 17),
        "page.html": b"<!DOCTYPE html><title>page</title><p>page</p>\n",
        "style.css": b"body { color: #123; }\n",
        "app.js": b"console.log('hi');\n",
        "data.json": b'{"a": 1}\n',
        "module.wasm": b"\0asm\1\0\0\0",
        "noextension": b"plain bytes\n",
        "weird.XYZ": b"unknown type\n",
        "sub/index.html": b"<!DOCTYPE html><title>sub</title><p>the sub index</p>\n",
        "sub/deeper/leaf.txt": b"leaf\n",
    }
    for index, name in enumerate(ODD_NAMES):
        content["docs/" + name] = ("odd file %d\n" % index).encode()
    for name, data in content.items():
        write(os.path.join(root, name), data)
    write(os.path.join(outside, "secret.txt"), b"TOP SECRET: outside the root\n")
    # Symlinks: one that stays inside (served by openat2), two that leave (refused).
    os.symlink("hello.txt", os.path.join(root, "link_inside.txt"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "link_absolute.txt"))
    os.symlink("../outside/secret.txt", os.path.join(root, "link_relative.txt"))
    os.symlink("../outside", os.path.join(root, "link_dir"))
    os.mkfifo(os.path.join(root, "fifo"))
    # A file last modified well in the past: its Last-Modified is a strong validator.
    past = time.time() - 3600
    for name in ("hello.txt", "data.bin"):
        os.utime(os.path.join(root, name), (past, past))
    return root, content


def big_file(root, name, size):
    """A sparse file of `size` bytes with a marker every MiB (so truncation shows)."""
    path = os.path.join(root, name)
    with open(path, "wb") as out:
        out.truncate(size)
        for offset in range(0, size, MiB):
            out.seek(offset)
            out.write(b"MiB %08d" % (offset // MiB))
    return path


# -- whole files and ranges, under every mechanism ------------------------------------------

def test_whole_files(checks, server, content, mechanism):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for name in ("hello.txt", "data.bin", "empty.txt", "page.html"):
            conn.request("GET", "/" + name)
            response = conn.getresponse()
            body = response.read()
            checks.expect(response.status == 200 and body == content[name]
                          and response.getheader("Content-Length") == str(len(content[name])),
                          "[%s] http.client GET /%s: 200, byte-exact (%d bytes)"
                          % (mechanism, name, len(content[name])),
                          "status %d, %d bytes" % (response.status, len(body)))
    finally:
        conn.close()
    with tempfile.NamedTemporaryFile() as out:
        rc, _, err = curl(["--output", out.name, server.base + "/data.bin"])
        with open(out.name, "rb") as received:
            data = received.read()
        checks.expect(rc == 0 and data == content["data.bin"],
                      "[%s] curl GET /data.bin: byte-exact" % mechanism, err)


def range_cases(size):
    # (Range value, expected (first, last) or None for 200 whole, "416" for unsatisfiable)
    return [
        ("bytes=0-0", (0, 0)),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, size - 1)),
        ("bytes=-100", (size - 100, size - 1)),
        ("bytes=1048570-2097160", (1048570, 2097160)),
        ("bytes=%d-%d" % (size - 10, size + 1000), (size - 10, size - 1)),  # last clamped
        ("bytes=-%d" % (size * 2), (0, size - 1)),  # suffix longer than the file: all of it
        ("BYTES = 5-9", (5, 9)),  # the unit is case-insensitive; OWS around "="
        ("bytes=5-9,", (5, 9)),  # an empty list element is not a range
        ("bytes=%d-" % size, "416"),
        ("bytes=%d-%d" % (size + 5, size + 10), "416"),
        ("bytes=-0", "416"),
        ("bytes=99999999999999999999999-", "416"),  # past 2^64: still just past the end
        ("bytes=0-1,5-9", None),  # several ranges: the whole file
        ("bytes=9-5", None),  # last < first: invalid, ignored
        ("bytes=abc", None),
        ("items=0-5", None),  # another unit: ignored
    ]


def test_ranges(checks, server, content, mechanism):
    data = content["data.bin"]
    size = len(data)
    with RawConnection(server.port, 30) as conn:
        for value, expected in range_cases(size):
            conn.send(request_bytes("GET", "/data.bin", [("Range", value)]))
            response = conn.read_response()
            if expected is None:
                ok = response.status == 200 and response.body == data
            elif expected == "416":
                ok = (response.status == 416
                      and response.header("Content-Range") == "bytes */%d" % size)
            else:
                first, last = expected
                ok = (response.status == 206 and response.body == data[first:last + 1]
                      and response.header("Content-Range") == "bytes %d-%d/%d" % (first, last, size)
                      and response.header("Content-Length") == str(last - first + 1))
            checks.expect(ok, "[%s] Range: %s -> %s" % (mechanism, value, expected or "200 whole"),
                          repr(response))
    rc, out, err = curl(["--range", "1000-1999", server.base + "/data.bin"])
    checks.expect(rc == 0 and out == data[1000:2000],
                  "[%s] curl --range 1000-1999: the 1000 bytes" % mechanism, err)
    # A range of an empty file: nothing to range over, the empty whole comes back.
    response = fetch(server.port, "GET", "/empty.txt", [("Range", "bytes=0-10")])
    checks.expect(response.status == 200 and response.body == b"",
                  "[%s] Range on an empty file: 200, empty" % mechanism, repr(response))


def served_fds(server, path):
    """The descriptors of `path` the server has open for reading. A request's lookup holds an
    O_PATH descriptor for a moment before it opens the file (so that a FIFO is never opened);
    that one reads nothing and is not counted."""
    return [fd for fd, target in open_fds(server.pid).items()
            if target == path and open_for_reading(server.pid, fd)]


def open_for_reading(pid, fd):
    """Whether descriptor `fd` is still open, and not O_PATH. One closed between the listing
    and this look (a lookup's O_PATH descriptor, gone once the file is open) is not counted:
    counted, it made 16 open responses look like 17."""
    o_path = 0o10000000
    try:
        with open("/proc/%d/fdinfo/%d" % (pid, fd)) as info:
            for line in info:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8) & o_path == 0
    except OSError:
        pass  # closed meanwhile
    return False


def test_disconnect_mid_transfer(checks, server, root, mechanism, baseline):
    path = big_file(root, "gone-%s.bin" % mechanism, 64 * MiB)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(request_bytes("GET", "/" + os.path.basename(path)))
    received = 0
    while received < 2 * MiB:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        received += len(chunk)
    held_during = bool(served_fds(server, path)) or path in mapped_paths(server.pid)
    # Close with unread data pending: the kernel sends a reset, as a killed client would.
    sock.close()
    released = wait_until(lambda: not served_fds(server, path)
                          and path not in mapped_paths(server.pid)
                          and len(open_fds(server.pid)) == baseline, 10)
    checks.expect(held_during and released,
                  "[%s] client gone mid-transfer: the file's descriptor%s released, %d fds as "
                  "before" % (mechanism, " and mapping" if mechanism == "mmap" else "", baseline),
                  "held during transfer: %s; fds now: %r" % (held_during, open_fds(server.pid)))
    response = fetch(server.port, "GET", "/hello.txt")
    checks.expect(response.status == 200 and response.body == b"Hello, sluice!\n",
                  "[%s] the server keeps serving after the disconnect" % mechanism)
    os.unlink(path)


def served_file(root, name, size):
    """A file of `size` bytes in the root: its path, its bytes and the target that serves it."""
    path = big_file(root, name, size)
    with open(path, "rb") as source:
        return path, source.read(), "/" + os.path.basename(path)


def test_shared_opens(checks, server, root, mechanism, baseline):
    """Requests read together share one open of their file (IterationFileCache); the next
    request after a rename over the file, or its removal, sees the change, and no descriptor
    of either version stays open once the responses are out."""
    path = os.path.join(root, "shared-%s.txt" % mechanism)
    old = b"the first version\n" * 4096
    write(path, old)
    target = "/" + os.path.basename(path)
    burst = 8
    with RawConnection(server.port) as conn:
        conn.send(request_bytes("GET", target) * burst)
        responses = [conn.read_response() for _ in range(burst)]
        checks.expect(all(r.status == 200 and r.body == old for r in responses),
                      "[%s] %d pipelined requests for one file: each gets it whole"
                      % (mechanism, burst), repr([r.status for r in responses]))
        replacement = path + ".new"
        new = b"the second version, longer than the first\n" * 4096
        write(replacement, new)
        os.rename(replacement, path)
        conn.send(request_bytes("GET", target))
        response = conn.read_response()
        checks.expect(response.status == 200 and response.body == new,
                      "[%s] after a rename over the file, the next request gets the new one"
                      % mechanism, repr(response))
        os.unlink(path)
        conn.send(request_bytes("GET", target))
        response = conn.read_response()
        checks.expect(response.status == 404,
                      "[%s] after the file is removed, the next request gets 404" % mechanism,
                      repr(response))
    released = wait_until(lambda: len(open_fds(server.pid)) == baseline, 10)
    checks.expect(released, "[%s] no descriptor of the shared file stays open" % mechanism,
                  repr(open_fds(server.pid)))


def test_bounded_pipelining(checks, server, root, mechanism, baseline):
    """60 pipelined GETs of a 4 MiB file: the server holds at most 16 responses (and so 16
    descriptors of the file) open at once, and every response arrives complete, in order."""
    count = 60
    path, expected, target = served_file(root, "many-%s.bin" % mechanism, 4 * MiB)
    with RawConnection(server.port, timeout=30) as conn:
        conn.send(b"".join(request_bytes("GET", target) for _ in range(count)))
        time.sleep(0.5)  # the server has read the batch and answered what it will
        peak = 0
        for _ in range(5):
            peak = max(peak, len(served_fds(server, path)))
            time.sleep(0.05)
        complete = 0
        for _ in range(count):
            response = conn.read_response()
            if response.status == 200 and response.body == expected:
                complete += 1
            peak = max(peak, len(served_fds(server, path)))
    checks.expect(0 < peak <= 16,
                  "[%s] 60 pipelined requests: at most 16 descriptors of the file open at once "
                  "(%d seen)" % (mechanism, peak))
    checks.expect(complete == count,
                  "[%s] ... and all 60 responses arrive complete, in order" % mechanism,
                  "%d complete" % complete)
    checks.expect(wait_until(lambda: len(open_fds(server.pid)) == baseline, 10),
                  "[%s] ... then every descriptor is released" % mechanism,
                  repr(open_fds(server.pid)))
    os.unlink(path)


def test_half_close_after_requests(checks, server, root, mechanism):
    """A client that sends its requests and then shuts down its side still gets every response
    in full, then the server closes (it used to cut the body short at the half-close)."""
    count = 4
    path, expected, target = served_file(root, "half-%s.bin" % mechanism, 8 * MiB)
    with RawConnection(server.port, timeout=30) as conn:
        conn.send(b"".join(request_bytes("GET", target) for _ in range(count)))
        conn.sock.shutdown(socket.SHUT_WR)
        responses = [conn.read_response() for _ in range(count)]
        rest, how = conn.read_until_closed()
    checks.expect(all(r.status == 200 and r.complete and r.body == expected for r in responses)
                  and rest == b"" and how == "eof",
                  "[%s] requests then a half-close: %d whole responses, then the close"
                  % (mechanism, count),
                  "%r, then %s" % ([(r.status, len(r.body)) for r in responses], how))
    os.unlink(path)


def test_reset_after_pipelined_burst(checks, server, mechanism, baseline):
    """100 pipelined GETs, a little read, then a reset: the connection goes, the server stays
    (the queued answers used to be resumed on a channel already freed: a crash)."""
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(b"".join(request_bytes("GET", "/hello.txt") for _ in range(100)))
        sock.recv(100)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    response = fetch(server.port, "GET", "/hello.txt")
    checks.expect(server.alive() and response.status == 200,
                  "[%s] pipelined requests then a reset: the server keeps serving" % mechanism)
    checks.expect(wait_until(lambda: len(open_fds(server.pid)) == baseline, 10),
                  "[%s] ... and holds no descriptor of those connections" % mechanism,
                  repr(open_fds(server.pid)))


def test_truncated_during_transfer(checks, server, root, mechanism, baseline, new_size=MiB):
    """Cut to 1 MiB, or (new_size) to 100 bytes short: a mapping reads zeros up to the end of
    the page holding the new end of file and faults only after it, so a mapped last page hid
    that shrink and the response completed with zeros in place of the lost bytes."""
    size = 64 * MiB
    path = big_file(root, "shrinks-%s.bin" % mechanism, size)
    with RawConnection(server.port, 10) as conn:
        conn.send(request_bytes("GET", "/" + os.path.basename(path)))
        version, status, reason, headers = conn.read_head()
        # Take 1 MiB, then cut the file while the rest is still to be sent.
        while len(conn.buffer) < MiB:
            conn._fill()
        os.truncate(path, new_size)
        body, how = conn.read_until_closed(limit=size + 1)
    checks.expect(status == 200 and how in ("eof", "reset") and len(body) < size,
                  "[%s] file truncated to %d bytes during transfer: the connection ends short "
                  "(%d of %d bytes, %s)" % (mechanism, new_size, len(body), size, how),
                  "status %d, ended by %s" % (status, how))
    released = wait_until(lambda: not served_fds(server, path)
                          and len(open_fds(server.pid)) == baseline, 10)
    checks.expect(released, "[%s] ... and the file's descriptor is released" % mechanism,
                  repr(open_fds(server.pid)))
    response = fetch(server.port, "GET", "/hello.txt")
    checks.expect(server.alive() and response.status == 200,
                  "[%s] the server keeps serving after the truncation" % mechanism)
    os.unlink(path)


# -- statuses, headers and validators (sendfile server) -------------------------------------

def test_headers(checks, server, root, content):
    response = fetch(server.port, "GET", "/hello.txt")
    info = os.stat(os.path.join(root, "hello.txt"))
    last_modified = email.utils.formatdate(int(info.st_mtime), usegmt=True)
    checks.expect(response.status == 200 and response.header("Content-Type")
                  == "text/plain; charset=utf-8" and response.header("Accept-Ranges") == "bytes"
                  and response.header("Last-Modified") == last_modified
                  and IMF_RE.match(response.header("Date") or "") is not None,
                  "GET /hello.txt: Content-Type, Accept-Ranges, Last-Modified (IMF-fixdate), Date",
                  repr(response))
    etag = response.header("ETag") or ""
    expected = '"%x-%x-%x"' % (info.st_ino, info.st_size, info.st_mtime_ns)
    checks.expect(ETAG_RE.match(etag) is not None and etag == expected,
                  "ETag is strong: \"<inode>-<size>-<mtime ns>\" in hex (%s)" % etag, expected)


def test_content_types(checks, server):
    expected = {"page.html": "text/html; charset=utf-8", "style.css": "text/css; charset=utf-8",
                "app.js": "text/javascript; charset=utf-8", "data.json": "application/json",
                "module.wasm": "application/wasm", "data.bin": "application/octet-stream",
                "noextension": "application/octet-stream",
                "weird.XYZ": "application/octet-stream"}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    got = {}
    try:
        for name in expected:
            conn.request("HEAD", "/" + name)
            response = conn.getresponse()
            response.read()
            got[name] = response.getheader("Content-Type")
    finally:
        conn.close()
    checks.expect(got == expected, "Content-Type from the extension, octet-stream by default",
                  repr(got))


def test_head(checks, server, content):
    size = len(content["data.bin"])
    # Pipelined HEAD then GET: had the HEAD response carried a body, the GET's status line
    # would not follow the HEAD's head directly.
    with RawConnection(server.port) as conn:
        conn.send(request_bytes("HEAD", "/data.bin") + request_bytes("GET", "/hello.txt"))
        head = conn.read_response(head_request=True)
        get = conn.read_response()
    checks.expect(head.status == 200 and head.header("Content-Length") == str(size)
                  and head.header("ETag") and head.header("Last-Modified")
                  and head.body == b"" and get.status == 200 and get.body == b"Hello, sluice!\n",
                  "HEAD: the GET's headers (Content-Length %d), no body" % size,
                  "%r / %r" % (head, get))
    rc, out, err = curl(["--head", server.base + "/data.bin"])
    text = out.decode("latin-1")
    checks.expect(rc == 0 and "HTTP/1.1 200" in text and ("Content-Length: %d" % size) in text,
                  "curl --head: 200 with Content-Length", text + err)
    # Range does not apply to HEAD (RFC 9110 §14.2).
    response = fetch(server.port, "HEAD", "/data.bin", [("Range", "bytes=0-9")])
    checks.expect(response.status == 200 and response.header("Content-Length") == str(size),
                  "HEAD with Range: 200, the whole length", repr(response))


def test_conditional(checks, server, root):
    first = fetch(server.port, "GET", "/hello.txt")
    etag = first.header("ETag")
    last_modified = first.header("Last-Modified")
    cases = [
        ([("If-None-Match", etag)], 304, "If-None-Match: the ETag"),
        ([("If-None-Match", '"nope", %s' % etag)], 304, "If-None-Match: a list holding it"),
        ([("If-None-Match", '"nope"'), ("If-None-Match", etag)], 304,
         "If-None-Match over two field lines"),
        ([("If-None-Match", "W/" + etag)], 304, "If-None-Match: weak comparison (W/ matches)"),
        ([("If-None-Match", "*")], 304, "If-None-Match: *"),
        ([("If-None-Match", '"a,b", ' + etag)], 304, "If-None-Match: a tag holding a comma"),
        ([("If-None-Match", '"other"')], 200, "If-None-Match: another tag"),
        ([("If-Modified-Since", last_modified)], 304, "If-Modified-Since: Last-Modified"),
        ([("If-Modified-Since", email.utils.formatdate(time.time() + 60, usegmt=True))], 304,
         "If-Modified-Since: a later date"),
        ([("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")], 200,
         "If-Modified-Since: an earlier date"),
        ([("If-Modified-Since", "yesterday")], 200, "If-Modified-Since: not a date (ignored)"),
        ([("If-None-Match", '"other"'), ("If-Modified-Since", last_modified)], 200,
         "If-Modified-Since is ignored when If-None-Match is present"),
        ([("If-Match", etag)], 200, "If-Match: the ETag"),
        ([("If-Match", '"other"')], 412, "If-Match: another tag -> 412"),
        ([("If-Match", "W/" + etag)], 412, "If-Match: strong comparison (W/ never matches)"),
        ([("If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")], 412,
         "If-Unmodified-Since: an earlier date -> 412"),
    ]
    for headers, expected, what in cases:
        response = fetch(server.port, "GET", "/hello.txt", headers)
        ok = response.status == expected
        if expected == 304:
            ok = ok and response.body == b"" and response.header("ETag") == etag \
                and response.header("Content-Length") is None
        checks.expect(ok, "%s -> %d" % (what, expected), repr(response))
    # The obsolete date forms a recipient must accept (RFC 9110 §5.6.7).
    stamp = email.utils.parsedate_to_datetime(last_modified)
    rfc850 = stamp.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    asctime = stamp.strftime("%a %b ") + ("%2d" % stamp.day) + stamp.strftime(" %H:%M:%S %Y")
    for form in (rfc850, asctime):
        response = fetch(server.port, "GET", "/hello.txt", [("If-Modified-Since", form)])
        checks.expect(response.status == 304, "If-Modified-Since as %r -> 304" % form,
                      repr(response))
    rc, out, err = curl(["--output", "/dev/null", "--write-out", "%{http_code}",
                         "--header", "If-None-Match: " + etag, server.base + "/hello.txt"])
    checks.expect(rc == 0 and out == b"304", "curl If-None-Match -> 304", out + err.encode())
    # A changed file: new ETag, so the old one no longer matches.
    path = os.path.join(root, "hello.txt")
    with open(path, "ab") as out_file:
        out_file.write(b"more\n")
    response = fetch(server.port, "GET", "/hello.txt", [("If-None-Match", etag)])
    checks.expect(response.status == 200 and response.header("ETag") != etag
                  and response.body == b"Hello, sluice!\nmore\n",
                  "after the file changes, the old ETag gets a 200 with the new file",
                  repr(response))
    os.truncate(path, len(b"Hello, sluice!\n"))
    past = time.time() - 3600
    os.utime(path, (past, past))


def test_future_mtime(checks, server, root):
    """A file dated in the future: Last-Modified is not later than Date (RFC 9110 §8.8.2.1),
    and a client that revalidates with it after the file changed gets the new file."""
    path = os.path.join(root, "future.txt")
    write(path, b"v1\n")
    future = time.time() + 3 * 365 * 86400
    os.utime(path, (future, future))
    first = fetch(server.port, "GET", "/future.txt")
    modified = email.utils.parsedate_to_datetime(first.header("Last-Modified"))
    date = email.utils.parsedate_to_datetime(first.header("Date"))
    checks.expect(first.status == 200 and modified <= date,
                  "a file dated in the future: Last-Modified is not later than Date",
                  "%s vs %s" % (first.header("Last-Modified"), first.header("Date")))
    time.sleep(1.1)
    write(path, b"v2, changed\n")
    again = fetch(server.port, "GET", "/future.txt",
                  [("If-Modified-Since", first.header("Last-Modified"))])
    checks.expect(again.status == 200 and again.body == b"v2, changed\n",
                  "... and after it changes, If-Modified-Since with that date gets the new file",
                  repr(again))
    os.unlink(path)


def test_if_range(checks, server, content):
    data = content["data.bin"]
    first = fetch(server.port, "HEAD", "/data.bin")
    etag, last_modified = first.header("ETag"), first.header("Last-Modified")
    cases = [
        (etag, 206, "If-Range: the current ETag"),
        ('"stale"', 200, "If-Range: another ETag -> the whole file"),
        ("W/" + etag, 200, "If-Range: a weak tag never matches"),
        # A date cannot be known strong (the file may have changed twice within its second).
        (last_modified, 200, "If-Range: even the exact Last-Modified -> the whole file"),
        ("Sat, 01 Jan 2000 00:00:00 GMT", 200, "If-Range: another date -> the whole file"),
    ]
    for value, expected, what in cases:
        response = fetch(server.port, "GET", "/data.bin",
                         [("Range", "bytes=10-19"), ("If-Range", value)])
        body = data[10:20] if expected == 206 else data
        checks.expect(response.status == expected and response.body == body,
                      "%s -> %d" % (what, expected), repr(response))


def test_statuses(checks, server):
    def status_of(method, target, headers=()):
        return fetch(server.port, method, target, headers)

    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        headers = [("Content-Length", "5")] if method in ("POST", "PUT", "PATCH") else []
        with RawConnection(server.port) as conn:
            conn.send(request_bytes(method, "/hello.txt", headers)
                      + (b"hello" if headers else b"") + request_bytes("GET", "/hello.txt"))
            response = conn.read_response()
            after = conn.read_response()
        checks.expect(response.status == 405 and response.header("Allow") == "GET, HEAD"
                      and after.status == 200,
                      "%s -> 405 with Allow: GET, HEAD (and the connection goes on)" % method,
                      "%r / %r" % (response, after))
    rc, out, err = curl(["--request", "POST", "--data", "x", "--include", server.base + "/"])
    checks.expect(rc == 0 and out.startswith(b"HTTP/1.1 405") and b"Allow: GET, HEAD" in out,
                  "curl POST -> 405 with Allow", out[:300] + err.encode())

    for target, what in [("/%zz", "a bad %-escape"), ("/a%4", "a truncated %-escape"),
                         ("/%", "a lone %"), ("*", "the asterisk-form")]:
        response = status_of("GET", target)
        checks.expect(response.status == 400, "%s (%s) -> 400" % (what, target), repr(response))
    for target in ("/missing.txt", "/sub/missing/", "/hello.txt/", "/fifo"):
        response = status_of("GET", target)
        checks.expect(response.status == 404, "GET %s -> 404" % target, repr(response))
    response = fetch(server.port, "GET", "http://example.com/hello.txt")
    checks.expect(response.status == 200 and response.body == b"Hello, sluice!\n",
                  "absolute-form target: served like its path", repr(response))
    response = status_of("GET", "/sub/deeper/../../hello.txt?x=1")
    checks.expect(response.status == 200 and response.body == b"Hello, sluice!\n",
                  "dot segments inside the root are resolved; the query is ignored",
                  repr(response))
    response = status_of("GET", "//sub///deeper//leaf.txt")
    checks.expect(response.status == 200 and response.body == b"leaf\n",
                  "repeated slashes are one", repr(response))
    response = status_of("GET", "/h%65llo.txt")
    checks.expect(response.status == 200 and response.body == b"Hello, sluice!\n",
                  "a percent-encoded name is decoded", repr(response))


def test_status_table(checks, server, size):
    """Each status as curl and http.client see it (the raw-socket checks above look closer)."""
    etag = fetch(server.port, "HEAD", "/hello.txt").header("ETag")
    table = [
        ("GET", "/hello.txt", [], 200),
        ("GET", "/data.bin", [("Range", "bytes=0-9")], 206),
        ("GET", "/hello.txt", [("If-None-Match", etag)], 304),
        ("GET", "/sub", [], 301),
        ("GET", "/%zz", [], 400),
        ("GET", "/../outside/secret.txt", [], 403),
        ("GET", "/link_relative.txt", [], 404),
        ("GET", "/missing.txt", [], 404),
        ("DELETE", "/hello.txt", [], 405),
        ("GET", "/hello.txt", [("If-Match", '"other"')], 412),
        ("GET", "/data.bin", [("Range", "bytes=%d-" % size)], 416),
    ]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for method, target, headers, expected in table:
            argv = ["--path-as-is", "--request", method, "--output", "/dev/null",
                    "--write-out", "%{http_code}"]
            for name, value in headers:
                argv += ["--header", "%s: %s" % (name, value)]
            rc, out, err = curl(argv + [server.base + target])
            conn.request(method, target, headers=dict(headers))
            response = conn.getresponse()
            response.read()
            checks.expect(rc == 0 and out == str(expected).encode() and response.status == expected,
                          "%s %s %s: %d from curl and http.client"
                          % (method, target, " ".join("%s: %s" % h for h in headers), expected),
                          "curl %r (%s), http.client %d" % (out, err.strip(), response.status))
            if response.will_close:
                conn.close()
    finally:
        conn.close()


def test_directories(checks, server, content):
    response = fetch(server.port, "GET", "/sub?x=1&y=2")
    checks.expect(response.status == 301 and response.header("Location") == "/sub/?x=1&y=2",
                  "a directory without its '/': 301 to /sub/ keeping the query", repr(response))
    response = fetch(server.port, "GET", "/docs")
    checks.expect(response.status == 301 and response.header("Location") == "/docs/",
                  "/docs -> 301 Location: /docs/", repr(response))
    # Dot segments at the end name a directory, but its page's relative links would resolve
    # against the URL as sent ("/docs/../sub/." puts them beneath "/docs/../sub/"): redirected.
    for target, location in (("/docs/../sub/.", "/sub/"), ("/sub/x/..", "/sub/"),
                             ("/sub/%2e", "/sub/"), ("/sub/..?q", "/?q")):
        response = fetch(server.port, "GET", target)
        checks.expect(response.status == 301 and response.header("Location") == location,
                      "%s -> 301 Location: %s" % (target, location), repr(response))
    rc, out, err = curl(["--location", server.base + "/sub"])
    checks.expect(rc == 0 and out == content["sub/index.html"],
                  "curl --location /sub: follows to /sub/ and gets its index.html", err)
    response = fetch(server.port, "GET", "/sub/")
    checks.expect(response.status == 200 and response.body == content["sub/index.html"]
                  and response.header("Content-Type") == "text/html; charset=utf-8",
                  "/sub/ serves sub/index.html", repr(response))
    response = fetch(server.port, "GET", "/")
    checks.expect(response.status == 200 and b"Index of /" in response.body
                  and b'href="docs/"' in response.body and b'href="../"' not in response.body,
                  "/ has no index.html: a listing, without a parent link", response.body[:400])

    response = fetch(server.port, "GET", "/docs/")
    html = response.body.decode("utf-8")
    checks.expect(response.status == 200 and response.header("Content-Type")
                  == "text/html; charset=utf-8" and "Index of /docs/" in html
                  and 'href="../"' in html, "/docs/: an HTML listing with a parent link",
                  html[:500])
    checks.expect("<b>&" not in html and "&lt;b&gt;&amp;&#39;&quot;.txt" in html,
                  "listing: names are HTML-escaped", html)
    hrefs = re.findall(r'href="([^"]*)"', html)
    checks.expect(all(re.fullmatch(r"[A-Za-z0-9._~%/-]*", href) for href in hrefs),
                  "listing: hrefs are percent-encoded", repr(hrefs))
    for name in ODD_NAMES:
        encoded = "".join(c if re.fullmatch(r"[A-Za-z0-9._~-]", c) else
                          "".join("%%%02X" % b for b in c.encode()) for c in name)
        checks.expect(encoded in hrefs, "listing links %r as %s" % (name, encoded), repr(hrefs))
        response = fetch(server.port, "GET", "/docs/" + encoded)
        checks.expect(response.status == 200 and response.body == content["docs/" + name],
                      "following the link to %r gets the file" % name, repr(response))


def test_listing_preconditions(checks, server):
    """A listing is a 200 like any other, so preconditions hold for it (RFC 9110 §13.2.1); it
    has no entity-tag, so only "*" names it. They used to be ignored: an If-Match for some
    other representation got the listing."""
    cases = [
        ([("If-Match", '"other"')], 412),
        ([("If-Match", "*")], 200),
        ([("If-None-Match", "*")], 304),
        ([("If-None-Match", '"other"')], 200),
        ([("If-Modified-Since", "Thu, 01 Jan 2099 00:00:00 GMT")], 200),  # no date: ignored
    ]
    for headers, expected in cases:
        response = fetch(server.port, "GET", "/docs/", headers)
        checks.expect(response.status == expected, "listing with %s -> %d"
                      % (" ".join("%s: %s" % h for h in headers), expected), repr(response))


def test_traversal(checks, server, label=""):
    """Every way out of the root is refused (403 or 404) and shows nothing of outside/."""
    attempts = [
        "/../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E/outside/secret.txt",
        "/sub/../../outside/secret.txt",
        "/sub/%2e%2e/%2e%2e/outside/secret.txt",
        "/..%2foutside/secret.txt",
        "/sub%2f..%2f..%2foutside%2fsecret.txt",
        "/hello.txt%00.html",
        "/%00",
        "/link_absolute.txt",
        "/link_relative.txt",
        "/link_dir/secret.txt",
        "/link_dir/",
        "/..",
        "/../",
    ]
    for target in attempts:
        response = fetch(server.port, "GET", target)
        checks.expect(response.status in (403, 404) and b"SECRET" not in response.body
                      and b"outside" not in response.body,
                      "%straversal %s -> %d" % (label, target, response.status), repr(response))
    rc, out, err = curl(["--path-as-is", "--output", "/dev/null", "--write-out", "%{http_code}",
                         server.base + "/../outside/secret.txt"])
    checks.expect(rc == 0 and out in (b"403", b"404"),
                  "%scurl --path-as-is /../outside/secret.txt -> %s" % (label, out.decode()), err)
    # Nothing in the server's answers names the root or the outside directory.
    response = fetch(server.port, "GET", "/link_relative.txt")
    checks.expect(response.body in (b"Not Found\n", b"Forbidden\n"),
                  "%sa refusal's body is the bare reason" % label, repr(response.body))


def test_fifo_not_opened(checks, server, root, label=""):
    """A FIFO in the tree is refused without being opened. The server used to open it for
    reading (non-blocking) before seeing what it was: that lets a local writer waiting in
    open(O_WRONLY) go on, and the server's close then breaks its next write (EPIPE), so any
    client could disturb local programs."""
    path = os.path.join(root, "waiting_fifo")
    os.mkfifo(path)
    opened = threading.Event()
    descriptors = []

    def writer():
        descriptors.append(os.open(path, os.O_WRONLY))  # blocks until a reader comes
        opened.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        # Blocked in the open once the kernel says so; a pause where /proc does not tell.
        def blocked():
            try:
                with open("/proc/self/task/%d/wchan" % thread.native_id) as wchan:
                    return wchan.read().strip() == "wait_for_partner"
            except OSError:
                return False
        if not wait_until(blocked, 10):
            time.sleep(0.2)
        response = fetch(server.port, "GET", "/waiting_fifo")
        checks.expect(response.status in (403, 404), "%sGET a FIFO -> %d" % (label, response.status),
                      repr(response))
        checks.expect(not opened.wait(0.3), "%sa writer waiting on the FIFO is still waiting"
                      % label, "the server opened the FIFO for reading")
    finally:
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer go
        thread.join(10)
        for fd in descriptors + [reader]:
            os.close(fd)
        os.unlink(path)


def test_keep_alive_and_pipelining(checks, server, content):
    # Three requests in one write; three responses in order on one connection.
    with RawConnection(server.port) as conn:
        conn.send(request_bytes("GET", "/hello.txt")
                  + request_bytes("GET", "/data.bin", [("Range", "bytes=0-4")])
                  + request_bytes("GET", "/style.css"))
        responses = [conn.read_response() for _ in range(3)]
    checks.expect([r.status for r in responses] == [200, 206, 200]
                  and responses[0].body == content["hello.txt"]
                  and responses[1].body == content["data.bin"][:5]
                  and responses[2].body == content["style.css"],
                  "three pipelined requests: three responses in order", repr(responses))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sockets = []
    try:
        for name in ("hello.txt", "data.bin", "style.css", "hello.txt"):
            conn.request("GET", "/" + name)
            sockets.append(conn.sock)
            response = conn.getresponse()
            ok = response.read() == content[name]
            checks.expect(ok and not response.will_close,
                          "http.client keep-alive GET /%s" % name)
    finally:
        conn.close()
    checks.expect(all(s is sockets[0] for s in sockets), "http.client: one connection for all")
    rc, out, err = curl(["--output", "/dev/null", "--output", "/dev/null", "--write-out",
                         "%{http_code} %{num_connects}\n", server.base + "/hello.txt",
                         server.base + "/style.css"])
    checks.expect(rc == 0 and out.split() == [b"200", b"1", b"200", b"0"],
                  "curl: two URLs over one connection", out + err.encode())
    # HTTP/1.0 without keep-alive: the response, then the connection closes.
    with RawConnection(server.port) as conn:
        conn.send(request_bytes("GET", "/hello.txt", version="HTTP/1.0"))
        response = conn.read_response()
        rest, how = conn.read_until_closed()
    checks.expect(response.status == 200 and response.body == content["hello.txt"]
                  and how == "eof" and rest == b"",
                  "HTTP/1.0: the file, then the connection closes", "%r %s" % (response, how))


# -- further servers -------------------------------------------------------------------------

def test_idle_timeout(checks, binary, root):
    # 2 s rather than 1: the checks below must hold on a loaded machine too.
    with FileServer(binary, root, ["--idle-seconds", "2"]) as server:
        with RawConnection(server.port, timeout=10) as conn:
            start = time.monotonic()
            _, how = conn.read_until_closed()
            elapsed = time.monotonic() - start
        checks.expect(how in ("eof", "reset") and 1.5 < elapsed < 10,
                      "--idle-seconds 2: a silent connection is closed (after %.1f s)" % elapsed,
                      how)
        # A download that outlasts the idle time is not cut while it moves...
        path = big_file(root, "slow.bin", 24 * MiB)
        with RawConnection(server.port, timeout=10) as conn:
            conn.send(request_bytes("GET", "/slow.bin"))
            version, status, reason, headers = conn.read_head()
            received = len(conn.buffer)
            start = time.monotonic()
            while received < 24 * MiB:
                try:
                    chunk = conn.sock.recv(256 * 1024)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += len(chunk)
                time.sleep(0.035)
            elapsed = time.monotonic() - start
        checks.expect(received == 24 * MiB and elapsed > 3,
                      "a slow download (%.1f s) outlasting the idle time completes" % elapsed,
                      "%d of %d bytes" % (received, 24 * MiB))
        # ... but one the client stopped reading is dropped after an idle period without
        # progress (one to two periods once the bytes stop leaving the server).
        with RawConnection(server.port, timeout=10) as conn:
            conn.send(request_bytes("GET", "/slow.bin"))
            time.sleep(7)
            data, how = conn.read_until_closed(limit=24 * MiB + 1)
        checks.expect(how in ("eof", "reset") and len(data) < 24 * MiB,
                      "a client that stops reading is dropped (%d bytes got, then %s)"
                      % (len(data), how))
        os.unlink(path)
        status = server.stop()
    checks.expect(status == 0, "idle server: exit status 0 on SIGTERM", server.log())


def test_connection_limit(checks, binary, root):
    with FileServer(binary, root, ["--max-connections", "2"]) as server:
        first = RawConnection(server.port)
        second = RawConnection(server.port)
        for conn in (first, second):
            conn.send(request_bytes("GET", "/hello.txt"))
            conn.read_response()
        with RawConnection(server.port) as third:
            third.send(request_bytes("GET", "/hello.txt"))
            response = third.read_response()
            _, how = third.read_until_closed()
        checks.expect(response.status == 503 and response.header("Connection") == "close"
                      and response.header("Retry-After") == "1" and how == "eof",
                      "--max-connections 2: a third connection gets 503, Connection: close",
                      "%r %s" % (response, how))
        first.send(request_bytes("GET", "/hello.txt"))
        checks.expect(first.read_response().status == 200,
                      "the two admitted connections are still served")
        first.close()

        def admitted():
            with RawConnection(server.port) as conn:
                conn.send(request_bytes("GET", "/hello.txt"))
                return conn.read_response().status == 200
        checks.expect(wait_until(admitted, 5, 0.1),
                      "once one closes, a new connection is admitted")
        second.close()
        status = server.stop()
    checks.expect(status == 0, "limited server: exit status 0 on SIGTERM", server.log())
    # With no idle timeout, a silent connection over the limit still goes (its descriptor is
    # not counted against the limit, so it must not last).
    with FileServer(binary, root, ["--max-connections", "1", "--idle-seconds", "0"]) as server:
        with RawConnection(server.port) as admitted, RawConnection(server.port, 10) as over:
            admitted.send(request_bytes("GET", "/hello.txt"))
            admitted.read_response()
            # Without the close, the read ends by the socket's 10 s timeout instead.
            data, how = over.read_until_closed()
        checks.expect(how == "eof" and data == b"",
                      "a silent connection over the limit is closed without an idle timeout",
                      how)


def test_access_log(checks, binary, root):
    with FileServer(binary, root, ["--access-log"]) as server:
        fetch(server.port, "GET", "/hello.txt")
        fetch(server.port, "GET", "/missing")
        fetch(server.port, "HEAD", "/data.bin")
        fetch(server.port, "GET", "/data.bin", [("Range", "bytes=0-9")])
        fetch(server.port, "GET", '/quote"d')
        lines = wait_until(lambda: server.stdout_lines() if len(server.stdout_lines()) >= 5
                           else None, 5)
        status = server.stop()
    checks.expect(status == 0, "access-log server: exit status 0 on SIGTERM", server.log())
    lines = lines or server.stdout_lines()
    parsed = [CLF_RE.match(line) for line in lines]
    checks.expect(len(lines) == 5 and all(parsed), "--access-log: one Common Log Format line per "
                  "request on stdout", "\n".join(lines))
    if len(lines) == 5 and all(parsed):
        got = [(m.group(1), m.group(2), m.group(3), m.group(4)) for m in parsed]
        expected = [("127.0.0.1", "GET /hello.txt HTTP/1.1", "200", "15"),
                    ("127.0.0.1", "GET /missing HTTP/1.1", "404", "10"),
                    ("127.0.0.1", "HEAD /data.bin HTTP/1.1", "200", "-"),
                    ("127.0.0.1", "GET /data.bin HTTP/1.1", "206", "10"),
                    ("127.0.0.1", "GET /quote\\x22d HTTP/1.1", "404", "10")]
        checks.expect(got == expected, "access log: host, request line (quotes escaped), status, "
                      "bytes", "%r" % got)
    with FileServer(binary, root) as quiet:
        fetch(quiet.port, "GET", "/hello.txt")
        time.sleep(0.2)
        status = quiet.stop()
    checks.expect(status == 0, "quiet server: exit status 0 on SIGTERM", quiet.log())
    checks.expect(quiet.stdout_lines() == [], "no access log by default",
                  repr(quiet.stdout_lines()))


def test_unreadable_index(checks, binary, root):
    """A directory whose index.html is there but unreadable: 403, as the file itself gets. Its
    failed open used to send the directory on to the listing, exposing what the index hides."""
    locked = os.path.join(root, "locked")
    os.makedirs(locked)
    write(os.path.join(locked, "private.txt"), b"not to be listed\n")
    index = os.path.join(locked, "index.html")
    write(index, b"<!DOCTYPE html><title>locked</title>\n")
    os.chmod(index, 0)
    wrapper = []
    if os.geteuid() == 0:
        # Root reads a mode-0 file all the same; without capabilities it is refused.
        if shutil.which("setpriv") is None:
            print("SKIP: test_unreadable_index: root without setpriv", flush=True)
            shutil.rmtree(locked)
            return
        wrapper = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]
    try:
        with FileServer(binary, root, wrapper=wrapper) as server:
            response = fetch(server.port, "GET", "/locked/index.html")
            checks.expect(response.status == 403, "an unreadable index.html is 403",
                          repr(response))
            response = fetch(server.port, "GET", "/locked/")
            checks.expect(response.status == 403 and b"private.txt" not in response.body,
                          "its directory is 403 too, not listed", repr(response))
            status = server.stop()
        checks.expect(status == 0, "unprivileged server: exit status 0 on SIGTERM", server.log())
    finally:
        shutil.rmtree(locked)


def test_fallback_resolution(checks, binary, root):
    with FileServer(binary, root, ["--no-openat2", "--no-proc-reopen"]) as server:
        checks.expect("O_NOFOLLOW walk" in server.log(), "--no-openat2: the fallback walk is used",
                      server.log())
        checks.expect("by a second lookup" in server.log(),
                      "--no-proc-reopen: files are opened by a second lookup", server.log())
        test_traversal(checks, server, "[walk] ")
        test_fifo_not_opened(checks, server, root, "[walk] ")
        response = fetch(server.port, "GET", "/sub/deeper/leaf.txt")
        checks.expect(response.status == 200 and response.body == b"leaf\n",
                      "[walk] nested files are served", repr(response))
        response = fetch(server.port, "GET", "/link_inside.txt")
        checks.expect(response.status == 404, "[walk] no symlink is followed, even inside",
                      repr(response))
        status = server.stop()
    checks.expect(status == 0, "walk server: exit status 0 on SIGTERM", server.log())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="the sluice-file-server binary")
    parser.add_argument("--mechanisms", default=",".join(MECHANISMS))
    args = parser.parse_args()
    checks = Checks()
    if not checks.expect(shutil.which("curl") is not None, "curl is installed",
                         "run scripts/deps.sh"):
        return 1
    top = tempfile.mkdtemp(prefix="sluice-fs-test-")
    try:
        root, content = make_site(top)
        for mechanism in args.mechanisms.split(","):
            with FileServer(args.server, root, ["--transfer", mechanism, "--threads", "2"]) as server:
                # The fewest of a few counts: the server logs its port once its bind has
                # completed, while a loop thread can still hold a descriptor for a moment (a
                # sanitizer's probe pipe), which would make a baseline never seen again.
                counts = []
                for _ in range(5):
                    counts.append(len(open_fds(server.pid)))
                    time.sleep(0.05)
                baseline = min(counts)
                test_whole_files(checks, server, content, mechanism)
                test_ranges(checks, server, content, mechanism)
                test_disconnect_mid_transfer(checks, server, root, mechanism, baseline)
                test_shared_opens(checks, server, root, mechanism, baseline)
                test_bounded_pipelining(checks, server, root, mechanism, baseline)
                test_half_close_after_requests(checks, server, root, mechanism)
                test_reset_after_pipelined_burst(checks, server, mechanism, baseline)
                test_truncated_during_transfer(checks, server, root, mechanism, baseline)
                test_truncated_during_transfer(checks, server, root, mechanism, baseline,
                                               64 * MiB - 100)
                if mechanism == "sendfile":
                    test_headers(checks, server, root, content)
                    test_content_types(checks, server)
                    test_head(checks, server, content)
                    test_conditional(checks, server, root)
                    test_future_mtime(checks, server, root)
                    test_if_range(checks, server, content)
                    test_statuses(checks, server)
                    test_status_table(checks, server, len(content["data.bin"]))
                    test_directories(checks, server, content)
                    test_listing_preconditions(checks, server)
                    test_traversal(checks, server)
                    test_fifo_not_opened(checks, server, root)
                    test_keep_alive_and_pipelining(checks, server, content)
                    response = fetch(server.port, "GET", "/link_inside.txt")
                    checks.expect(response.status == 200 and response.body == content["hello.txt"],
                                  "a symlink that stays inside the root is followed (openat2)",
                                  repr(response))
                status = server.stop()
            checks.expect(status == 0, "[%s] exit status 0 on SIGTERM" % mechanism, server.log())
        test_fallback_resolution(checks, args.server, root)
        test_idle_timeout(checks, args.server, root)
        test_connection_limit(checks, args.server, root)
        test_access_log(checks, args.server, root)
        test_unreadable_index(checks, args.server, root)
    except HarnessError as error:
        checks.expect(False, "harness", str(error))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return checks.summary("file_server_http")


if __name__ == "__main__":
    raise SystemExit(main())
