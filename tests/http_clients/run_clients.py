#!/usr/bin/env python3
"""Real HTTP clients against sluice-http-hello on a free loopback port.

    run_clients.py --server BIN --connect-proxy BIN [--wrk-seconds 3]

  - curl, keep-alive: two URLs in one invocation share one connection (num_connects 1, then 0);
  - curl --http1.0: the server closes the connection after the response (the second URL needs
    a new connection, and curl reports the close);
  - curl, a 404 for an unknown path;
  - Python http.client: several requests on one connection, HEAD without a body;
  - wrk -t1 -c16: no socket errors, no non-2xx responses;
  - through sluice-connect-proxy: curl --proxytunnel and http.client's set_tunnel reach the
    server through a CONNECT tunnel, keep-alive inside it; a port not allowed is 403, one
    nobody listens on 502, a GET to the proxy 405 with Allow: CONNECT; without
    --allow-private-targets, a target that is or resolves to loopback is 403.

The server is stopped by PID with SIGTERM and must exit cleanly. Every client runs under a
time bound. A missing curl or wrk is a failure (scripts/deps.sh installs them).
"""
import argparse
import http.client
import os
import re
import shutil
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "http_conformance"))
from sluice_server import (Checks, ServerError, SluiceServer, closed_port,  # noqa: E402
                           run_bounded)

HELLO = b"Hello, World!"


def curl(args, timeout=20):
    result = run_bounded(["curl", "--silent", "--show-error", "--max-time", "10"] + args,
                         timeout=timeout, capture_output=True)
    return (result.returncode, result.stdout.decode("utf-8", "replace"),
            result.stderr.decode("utf-8", "replace"))


def test_curl_keep_alive(checks, base):
    # One invocation, two URLs: the second reuses the first's connection (num_connects 0).
    rc, out, err = curl(["--output", "/dev/null", "--output", "/dev/null",
                         "--write-out", "%{http_code} %{num_connects} %{size_download}\n",
                         base + "/", base + "/plaintext"])
    lines = out.split()
    checks.expect(rc == 0 and lines == ["200", "1", "13", "200", "0", "13"],
                  "curl keep-alive: two requests, one connection",
                  "exit %d, write-out %r, stderr %r" % (rc, out, err))
    # And the body itself.
    rc, out, err = curl([base + "/plaintext"])
    checks.expect(rc == 0 and out.encode() == HELLO, "curl GET /plaintext body is Hello, World!",
                  "exit %d, body %r, stderr %r" % (rc, out, err))


def test_curl_http10(checks, base):
    rc, out, err = curl(["--http1.0", "--verbose", "--output", "/dev/null", "--output",
                         "/dev/null", "--write-out", "%{http_code} %{num_connects}\n",
                         base + "/", base + "/plaintext"])
    lines = out.split()
    # HTTP/1.0 without keep-alive: the server closes after each response, so the second URL
    # needs a connection of its own.
    checks.expect(rc == 0 and lines == ["200", "1", "200", "1"],
                  "curl --http1.0: a new connection for each request",
                  "exit %d, write-out %r" % (rc, out))
    checks.expect("> GET / HTTP/1.0" in err, "curl --http1.0 sent an HTTP/1.0 request",
                  err[-2000:])
    checks.expect(re.search(r"[Cc]losing connection", err) is not None
                  and "Re-using existing connection" not in err,
                  "curl --http1.0: connection closed after the response", err[-2000:])


def test_http10_close_raw(checks, port):
    # The close itself, seen on the socket: after the response, EOF (not a reset, not a hang).
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /plaintext HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            closed = True
        except (socket.timeout, ConnectionResetError) as error:
            closed = False
            data += ("<%s>" % error).encode()
    checks.expect(closed and data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n")[0]
                  and data.endswith(HELLO),
                  "HTTP/1.0 request on a raw socket: response, then EOF", repr(data[:300]))


def test_curl_404(checks, base):
    rc, out, err = curl(["--output", "/dev/null", "--write-out", "%{http_code}",
                         base + "/no/such/path"])
    checks.expect(rc == 0 and out == "404", "curl GET /no/such/path is 404",
                  "exit %d, status %r, stderr %r" % (rc, out, err))


def test_http_client(checks, port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        results = []
        sockets = []  # the socket objects themselves, kept alive: `is` compares them
        for method, path in [("GET", "/"), ("GET", "/plaintext"), ("HEAD", "/plaintext"),
                             ("GET", "/missing"), ("GET", "/plaintext"), ("HEAD", "/"),
                             ("GET", "/")]:
            conn.request(method, path)
            sockets.append(conn.sock)
            response = conn.getresponse()
            body = response.read()
            results.append((method, path, response.status, response.version,
                            response.getheader("Content-Length"), body,
                            response.will_close))
        sockets.append(conn.sock)
    finally:
        conn.close()
    print("      http.client: " + repr(results), flush=True)
    expected_status = {"/": 200, "/plaintext": 200, "/missing": 404}
    checks.expect(all(s is sockets[0] for s in sockets) and all(not r[6] for r in results),
                  "http.client: 7 requests over one keep-alive connection",
                  "%d distinct sockets" % len({id(s) for s in sockets}))
    checks.expect(all(r[2] == expected_status[r[1]] and r[3] == 11 for r in results),
                  "http.client: statuses 200/404 as expected, HTTP/1.1")
    checks.expect(all(r[5] == HELLO for r in results if r[0] == "GET" and r[2] == 200),
                  "http.client: GET bodies are Hello, World!")
    heads = [r for r in results if r[0] == "HEAD"]
    checks.expect(len(heads) == 2 and all(r[5] == b"" and r[4] == "13" for r in heads),
                  "http.client: HEAD has Content-Length 13 and no body")


def test_head_no_body_raw(checks, port):
    # A HEAD response followed by a GET response on one connection: had the HEAD response
    # carried a body, the GET's status line would not come right after the HEAD's head.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    head_end = data.find(b"\r\n\r\n")
    checks.expect(head_end > 0 and data[head_end + 4:].startswith(b"HTTP/1.1 200")
                  and data.endswith(HELLO) and data.count(HELLO) == 1,
                  "pipelined HEAD then GET: no body after the HEAD response", repr(data[:400]))


def test_wrk(checks, base, seconds):
    result = run_bounded(["wrk", "-t1", "-c16", "-d%ds" % seconds, "--timeout", "10s",
                          base + "/plaintext"], timeout=seconds + 30, capture_output=True)
    out = result.stdout.decode("utf-8", "replace")
    sys.stdout.write(out)
    requests = re.search(r"^\s*(\d+) requests in", out, re.M)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    count = int(requests.group(1)) if requests else 0
    checks.expect(result.returncode == 0 and count > 0,
                  "wrk ran and completed requests (%d)" % count,
                  result.stderr.decode("utf-8", "replace"))
    checks.expect(socket_errors is None or all(int(n) == 0 for n in socket_errors.groups()),
                  "wrk: no socket errors", socket_errors.group(0) if socket_errors else "")
    checks.expect(non_2xx is None or int(non_2xx.group(1)) == 0, "wrk: no non-2xx responses",
                  non_2xx.group(0) if non_2xx else "")


def test_connect_proxy(checks, proxy_bin, hello_port):
    refused = closed_port()
    # Every server here is on loopback, which the proxy refuses to reach unless told otherwise.
    with SluiceServer([proxy_bin, "--host", "127.0.0.1", "--allow-private-targets",
                       "--allow-ports", "%d,%d" % (hello_port, refused)],
                      "sluice-connect-proxy") as proxy:
        via = ["--proxytunnel", "--proxy", "http://127.0.0.1:%d" % proxy.port]
        target = "http://127.0.0.1:%d" % hello_port
        rc, out, err = curl(via + ["--output", "/dev/null", "--output", "/dev/null",
                                   "--write-out", "%{http_code} %{http_connect} %{num_connects}\n",
                                   target + "/", target + "/plaintext"])
        checks.expect(rc == 0 and out.split() == ["200", "200", "1", "200", "000", "0"],
                      "curl through a CONNECT tunnel: 200 to CONNECT, two requests inside it",
                      "exit %d, write-out %r, stderr %r" % (rc, out, err))
        rc, out, err = curl(via + [target + "/plaintext"])
        checks.expect(rc == 0 and out.encode() == HELLO, "the tunnelled body is Hello, World!",
                      "exit %d, body %r, stderr %r" % (rc, out, err))

        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        connection.set_tunnel("127.0.0.1", hello_port)
        bodies = []
        for _ in range(3):
            connection.request("GET", "/plaintext")
            bodies.append(connection.getresponse().read())
        connection.close()
        checks.expect(bodies == [HELLO] * 3, "http.client set_tunnel: three requests, one tunnel",
                      repr(bodies))

        for port, status, why in ((hello_port + 1 if hello_port < 65535 else hello_port - 1,
                                   "403", "a port not allowed"),
                                  (refused, "502", "a port nobody listens on")):
            rc, out, err = curl(["--write-out", "%{http_connect}", "--output", "/dev/null"] + via
                                + ["http://127.0.0.1:%d/" % port])
            checks.expect(out.strip() == status, "CONNECT to %s: %s" % (why, status),
                          "exit %d, write-out %r, stderr %r" % (rc, out, err))
        rc, out, err = curl(["--include", "--proxy", "http://127.0.0.1:%d" % proxy.port,
                             target + "/plaintext"])
        checks.expect(rc == 0 and out.startswith("HTTP/1.1 405") and "Allow: CONNECT" in out,
                      "a GET to the proxy: 405 with Allow: CONNECT", "exit %d, %r" % (rc, out))
        checks.expect(proxy.alive(), "the proxy is still running after its clients")
    checks.expect(proxy.exit_status == 0,
                  "the proxy exits with status 0 on SIGTERM (got %s)" % proxy.exit_status)

    # By default the target's addresses must be global: a name that resolves to this machine is
    # refused as the address itself is.
    with SluiceServer([proxy_bin, "--host", "127.0.0.1", "--allow-ports", str(hello_port)],
                      "sluice-connect-proxy") as proxy:
        via = ["--proxytunnel", "--proxy", "http://127.0.0.1:%d" % proxy.port]
        for host in ("127.0.0.1", "localhost"):
            rc, out, err = curl(["--write-out", "%{http_connect}", "--output", "/dev/null"] + via
                                + ["http://%s:%d/" % (host, hello_port)])
            checks.expect(out.strip() == "403",
                          "CONNECT to %s without --allow-private-targets: 403" % host,
                          "exit %d, write-out %r, stderr %r" % (rc, out, err))
        checks.expect(proxy.alive(), "the default proxy is still running after its clients")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="the sluice-http-hello binary")
    parser.add_argument("--connect-proxy", required=True, help="the sluice-connect-proxy binary")
    parser.add_argument("--wrk-seconds", type=int, default=3)
    args = parser.parse_args()

    checks = Checks()
    for tool in ("curl", "wrk"):
        checks.expect(shutil.which(tool) is not None, "%s is installed" % tool,
                      "run scripts/deps.sh")
    if checks.failures:
        return 1

    with SluiceServer([args.server, "--host", "127.0.0.1", "--threads", "1"],
                      "sluice-http-hello") as server:
        base = "http://127.0.0.1:%d" % server.port
        test_curl_keep_alive(checks, base)
        test_curl_http10(checks, base)
        test_http10_close_raw(checks, server.port)
        test_curl_404(checks, base)
        test_http_client(checks, server.port)
        test_head_no_body_raw(checks, server.port)
        test_wrk(checks, base, args.wrk_seconds)
        test_connect_proxy(checks, args.connect_proxy, server.port)
        checks.expect(server.alive(), "the server is still running after the clients")
    checks.expect(server.exit_status == 0,
                  "the server exits with status 0 on SIGTERM (got %s)" % server.exit_status)
    if checks.failures:
        print("server log (last lines):\n" + server.log(50))
        print("FAILED: " + "; ".join(checks.failures))
        return 1
    print("all client checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ServerError as error:
        print("FAILED: %s" % error)
        sys.exit(1)
