#!/usr/bin/env python3
"""sluice-file-server with a file over 4 GiB, under each transfer mechanism.

    test_large.py --server BIN [--size-gib 5] [--mechanisms sendfile,splice,mmap,copy]
                  [--transfer-timeout 300]

The file is sparse (truncate to 5 GiB), with random marker bytes written where 32-bit offset
or length arithmetic would go wrong: across the 2 GiB and 4 GiB boundaries, across the 1 GiB
boundaries where the mmap windows meet, and in the last 64 KiB. Each server sends it:
  - whole: streamed through a 4 MiB buffer and compared with what the file holds as it arrives
    (the holes against zeros, the markers byte for byte), discarding as it goes; every
    byte of the 5 GiB is checked, which is stronger than a digest and cheaper to compute;
  - by ranges: the last MiB, a range across the 4 GiB boundary, a suffix range;
  - HEAD: Content-Length of the full size.
Each whole transfer must finish within --transfer-timeout seconds; its throughput is printed.
"""
import argparse
import os
import random
import shutil
import socket
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from fs_harness import Checks, FileServer, HarnessError, RawConnection, fetch, request_bytes

GiB = 1 << 30
MiB = 1 << 20
BUFFER = 4 * MiB


def make_big_file(path, size):
    rng = random.Random(5)
    markers = {}
    places = [0, (2 * GiB) - 32, (4 * GiB) - 32, size - 64 * 1024, size - 37]
    places += [n * GiB - 16 for n in range(1, size // GiB + 1) if n * GiB < size]
    with open(path, "wb") as out:
        out.truncate(size)
        for offset in sorted(set(places)):
            data = rng.randbytes(min(64, size - offset))
            out.seek(offset)
            out.write(data)
            markers[offset] = data
    return markers


def expected_bytes(markers, start, length):
    """The file's bytes in [start, start + length) from the marker table (zeros elsewhere)."""
    out = bytearray(length)
    for offset, data in markers.items():
        lo = max(offset, start)
        hi = min(offset + len(data), start + length)
        if lo < hi:
            out[lo - start:hi - start] = data[lo - offset:hi - offset]
    return bytes(out)


def overlapping(markers, start, length):
    return any(offset < start + length and start < offset + len(data)
               for offset, data in markers.items())


def stream_and_verify(port, target, headers, first, length, markers, timeout):
    """GETs `target`; returns (status, bytes verified, mismatch offset or None, seconds)."""
    zeros = bytes(BUFFER)
    buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    with RawConnection(port, timeout=30) as conn:
        conn.send(request_bytes("GET", target, headers))
        version, status, reason, response_headers = conn.read_head()
        declared = int(dict((k.lower(), v) for k, v in response_headers)["content-length"])
        if declared != length:
            return status, 0, "Content-Length %d, expected %d" % (declared, length), 0
        start = time.monotonic()
        position = first
        mismatch = None
        pending = conn.buffer  # body bytes that came with the head
        conn.buffer = b""
        while position < first + length:
            if pending:
                n = len(pending)
                view[:n] = pending
                pending = b""
            else:
                n = conn.sock.recv_into(view)
                if n == 0:
                    break
            n = min(n, first + length - position)
            chunk = view[:n]
            if overlapping(markers, position, n):
                good = chunk.tobytes() == expected_bytes(markers, position, n)
            else:
                good = zeros.startswith(chunk)  # memcmp against zeros, no copy
            if not good and mismatch is None:
                mismatch = position
            position += n
            if time.monotonic() - start > timeout:
                raise HarnessError("%s: no full transfer within %d s (%d of %d bytes)"
                                   % (target, timeout, position - first, length))
        return status, position - first, mismatch, time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--size-gib", type=float, default=5)
    parser.add_argument("--mechanisms", default="sendfile,splice,mmap,copy")
    parser.add_argument("--transfer-timeout", type=int, default=300)
    args = parser.parse_args()
    checks = Checks()
    size = int(args.size_gib * GiB)
    top = tempfile.mkdtemp(prefix="sluice-fs-large-")
    try:
        path = os.path.join(top, "huge.bin")
        markers = make_big_file(path, size)
        print("sparse file of %d bytes, %d markers, %d bytes on disk"
              % (size, len(markers), os.stat(path).st_blocks * 512), flush=True)
        for mechanism in args.mechanisms.split(","):
            with FileServer(args.server, top, ["--transfer", mechanism]) as server:
                head = fetch(server.port, "HEAD", "/huge.bin")
                checks.expect(head.status == 200 and head.header("Content-Length") == str(size),
                              "[%s] HEAD: Content-Length %d" % (mechanism, size), repr(head))
                status, got, mismatch, seconds = stream_and_verify(
                    server.port, "/huge.bin", [], 0, size, markers, args.transfer_timeout)
                rate = got / MiB / seconds if seconds else 0
                checks.expect(status == 200 and got == size and mismatch is None,
                              "[%s] GET whole %.1f GiB file: every byte as on disk "
                              "(%.1f s, %.0f MiB/s)" % (mechanism, size / GiB, seconds, rate),
                              "status %d, %d bytes, first mismatch at %s"
                              % (status, got, mismatch))
                ranges = [
                    (size - MiB, size - 1),
                    (4 * GiB - 100, 4 * GiB + 100),
                    (2 * GiB - 100, 2 * GiB + 100),
                    (size - 37, size - 1),
                ]
                for first, last in ranges:
                    status, got, mismatch, _ = stream_and_verify(
                        server.port, "/huge.bin", [("Range", "bytes=%d-%d" % (first, last))],
                        first, last - first + 1, markers, 60)
                    checks.expect(status == 206 and got == last - first + 1 and mismatch is None,
                                  "[%s] Range bytes=%d-%d: 206, byte-exact"
                                  % (mechanism, first, last),
                                  "status %d, %d bytes, mismatch at %s" % (status, got, mismatch))
                response = fetch(server.port, "GET", "/huge.bin", [("Range", "bytes=-37")])
                checks.expect(response.status == 206 and response.body
                              == expected_bytes(markers, size - 37, 37)
                              and response.header("Content-Range")
                              == "bytes %d-%d/%d" % (size - 37, size - 1, size),
                              "[%s] Range bytes=-37: the last 37 bytes" % mechanism,
                              repr(response))
                exit_status = server.stop()
            checks.expect(exit_status == 0, "[%s] exit status 0 on SIGTERM" % mechanism,
                          server.log())
    except (HarnessError, OSError, socket.timeout) as error:
        checks.expect(False, "large-file transfer", repr(error))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return checks.summary("file_server_large")


if __name__ == "__main__":
    raise SystemExit(main())
