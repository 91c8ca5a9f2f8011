#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (generated, not committed).

    make_corpus.py --out DIR [--vectors .../conformance/http1/vectors.json]

DIR/http_request/: one file per conformance vector, its raw request bytes behind the target's
5 option bytes (cut offsets and options, varied from vector to vector so the seeds start with
different cuts and limits). DIR/length_field/ and DIR/line/: a few framed streams. Without the
vectors (../shared absent) the HTTP corpus gets a few hand-written requests only.
"""
import argparse
import hashlib
import json
import os
import struct

HAND_WRITTEN_REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n",
    b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"PUT /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"GET http://x/y?z#f HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01 GET / HTTP/1.1\r\n\r\n",
    b"CONNECT [::1]:8080 HTTP/1.0\r\n\r\ntunnel",
]


def raw_bytes(case):
    if "raw" in case:
        text = case["raw"]
    else:
        text = ""
        for part in case["raw_parts"]:
            text += part if isinstance(part, str) else part["repeat"] * part["count"]
    return text.encode("latin-1")


def options_for(name, size):
    """Cut offsets and an options byte derived from the name: deterministic, varied."""
    digest = hashlib.sha256(name.encode()).digest()
    cut_a = struct.unpack("<H", digest[0:2])[0] % (size + 1)
    cut_b = struct.unpack("<H", digest[2:4])[0] % (size + 1)
    return struct.pack("<HHB", cut_a, cut_b, digest[4] & 0x07)


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--vectors")
    parser.add_argument("--max-size", type=int, default=64 * 1024,
                        help="skip vectors larger than this (libFuzzer's -max_len)")
    args = parser.parse_args()

    http_dir = os.path.join(args.out, "http_request")
    count = 0
    if args.vectors and os.path.isfile(args.vectors):
        with open(args.vectors, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        for case in cases:
            data = raw_bytes(case)
            if len(data) > args.max_size:
                continue
            name = case["id"].replace("/", "_")
            write(http_dir, name, options_for(case["id"], len(data)) + data)
            count += 1
    for i, data in enumerate(HAND_WRITTEN_REQUESTS):
        write(http_dir, "hand-%d" % i, options_for("hand-%d" % i, len(data)) + data)
        count += 1

    # length_field: cuts, layout, adjustment, strip, max length (LE u16), then frames.
    def lf(layout, adjust, strip, max_len, stream):
        return struct.pack("<HHBbBH", 3, 7, layout, adjust, strip, max_len) + stream
    length_seeds = {
        "u16-be": lf(0x01, 0, 2, 1024, b"\x00\x05hello\x00\x03abc\x00\x00"),
        "u32-le": lf(0x23, 0, 0, 1024, b"\x05\x00\x00\x00hello\x01\x00\x00\x00x"),
        "offset-adjust": lf(0x09, 1, 0, 1024, b"T\x00\x05Vhello"),
        "u8-composite": lf(0x80, 0, 1, 64, b"\x03abc\x02de\x00"),
        "too-long": lf(0x41, 0, 0, 8, b"\x00\x20" + b"x" * 40 + b"\x00\x01y"),
        "u24-u64": lf(0x02, 0, 3, 4096, b"\x00\x00\x04abcd"),
    }
    for name, data in length_seeds.items():
        write(os.path.join(args.out, "length_field"), name, data)

    # line: cuts, flags (max length, strip, fail fast), then lines.
    def ln(flags, stream):
        return struct.pack("<HHB", 4, 9, flags) + stream
    line_seeds = {
        "crlf": ln(0x40 | 16, b"first\r\nsecond\nthird\r\n"),
        "keep-delimiter": ln(16, b"a\r\nbb\n\r\n\n"),
        "too-long": ln(0x80 | 4, b"abcdefgh\r\nok\nabcd\r\n"),
        "cr-edge": ln(0x40 | 3, b"abc\r\nabcd\r\r\nab\r\r"),
    }
    for name, data in line_seeds.items():
        write(os.path.join(args.out, "line"), name, data)
    print("make_corpus: %d HTTP seeds, %d length-field seeds, %d line seeds in %s"
          % (count, len(length_seeds), len(line_seeds), args.out))


if __name__ == "__main__":
    main()
