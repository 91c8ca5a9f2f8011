#!/usr/bin/env python3
"""Evidence that --transfer sendfile moves a file without copying it through user space.

    test_zero_copy.py --server BIN [--size-mib 100]

The server is started normally; once it listens, `strace -f -C -yy -p PID -o TRACE` attaches to
all its threads (-yy: every descriptor argument is printed with the path or the socket's
addresses behind it). curl downloads a 100 MiB file of non-zero bytes; strace is then detached
(SIGINT to strace, which prints its syscall summary). From the trace:
  - the sendfile calls whose source is the file return, in all, exactly the file's size;
  - no read, pread64, readv, preadv(2), mmap or copy_file_range names the file's descriptor
    (the file's path would appear in the descriptor argument);
  - what the server wrote to sockets with write/writev/send/sendto/sendmsg is only the
    response head, a few hundred bytes: the body never passed through a user-space buffer.
The strace -c table is printed as evidence. Skips (exit 77) when ptrace is not permitted.
"""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from fs_harness import Checks, FileServer, HarnessError, curl, skip, wait_until

MiB = 1 << 20
# "1234  sendfile(7<TCP:[...]>, 9</tmp/x/zero.bin>, [0] => [65536], 104857600) = 65536"
CALL_RE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(?:<\.\.\. )?(\w+)(?:\(| resumed>)(.*)$")
RESULT_RE = re.compile(r"\)\s+=\s+(-?\d+)")


def ptrace_permitted():
    try:
        result = subprocess.run(["strace", "-f", "-o", "/dev/null", "true"], timeout=30,
                                capture_output=True)
    except (OSError, subprocess.TimeoutExpired):
        return False, "strace did not run"
    return result.returncode == 0, result.stderr.decode("utf-8", "replace").strip()


def all_threads_traced(pid, tracer):
    for status in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            with open(status) as text:
                if "TracerPid:\t%d\n" % tracer not in text.read():
                    return False
        except OSError:
            return False
    return True


def parse_trace(lines, file_path):
    """Per-syscall facts from strace -f -yy output (unfinished/resumed pairs joined by pid)."""
    unfinished = {}
    calls = []  # (name, args text, result)
    for line in lines:
        match = CALL_RE.match(line)
        if not match:
            continue
        pid, name, rest = match.groups()
        if rest.endswith("<unfinished ...>"):
            unfinished[(pid, name)] = rest[:-len("<unfinished ...>")]
            continue
        if " resumed>" in line:
            rest = unfinished.pop((pid, name), "") + rest
        result = RESULT_RE.search(rest)
        calls.append((name, rest, int(result.group(1)) if result else None))
    sendfile_bytes = sum(r for n, a, r in calls if n == "sendfile" and file_path in a and r and r > 0)
    sendfile_calls = sum(1 for n, a, r in calls if n == "sendfile")
    reading = [(n, a) for n, a, r in calls
               if n in ("read", "pread64", "readv", "preadv", "preadv2", "mmap",
                        "copy_file_range", "splice", "recvfrom", "recvmsg") and file_path in a]
    socket_writes = sum(r for n, a, r in calls
                        if n in ("write", "writev", "send", "sendto", "sendmsg")
                        and ("TCP" in a or "socket:" in a) and r and r > 0)
    reads_elsewhere = sorted({re.sub(r"\d+<", "<", a.split(",")[0]) for n, a, r in calls
                              if n in ("read", "pread64")})
    return sendfile_bytes, sendfile_calls, reading, socket_writes, reads_elsewhere


def summary_table(lines):
    start = next((i for i, line in enumerate(lines) if line.startswith("% time")), None)
    return lines[start:] if start is not None else []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--size-mib", type=int, default=100)
    args = parser.parse_args()
    checks = Checks()
    if not checks.expect(shutil.which("strace") is not None, "strace is installed",
                         "run scripts/deps.sh"):
        return 1
    permitted, why = ptrace_permitted()
    if not permitted:
        skip("ptrace is not permitted here (%s)" % why)
    size = args.size_mib * MiB
    top = tempfile.mkdtemp(prefix="sluice-fs-zerocopy-")
    tracer = None
    try:
        path = os.path.join(top, "payload.bin")
        block = bytes(range(256)) * 4096  # 1 MiB of non-zero-heavy bytes
        with open(path, "wb") as out:
            for _ in range(args.size_mib):
                out.write(block)
        trace = os.path.join(top, "trace.txt")
        with FileServer(args.server, top, ["--transfer", "sendfile", "--threads", "1"]) as server:
            # Warm the page cache so that the trace shows the transfer, not the disk.
            with open(path, "rb") as warm:
                while warm.read(8 * MiB):
                    pass
            tracer = subprocess.Popen(["strace", "-f", "-C", "-yy", "-s", "64", "-p",
                                       str(server.pid), "-o", trace],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if not wait_until(lambda: all_threads_traced(server.pid, tracer.pid), 20):
                raise HarnessError("strace did not attach to every thread within 20 s")
            rc, out, err = curl(["--output", "/dev/null", "--write-out", "%{http_code} %{size_download}",
                                 server.base + "/payload.bin"], timeout=300)
            tracer.send_signal(signal.SIGINT)  # detach; strace writes its summary
            tracer.wait(60)
            tracer = None
            checks.expect(rc == 0 and out.split() == [b"200", str(size).encode()],
                          "curl got the %d MiB file" % args.size_mib, out + err.encode())
            exit_status = server.stop()
        checks.expect(exit_status == 0, "the server exits 0 after being traced", server.log())

        with open(trace) as text:
            lines = text.read().splitlines()
        table = summary_table(lines)
        print("\nstrace -f -c of the server while it sent the file:\n" + "\n".join(table),
              flush=True)
        sendfile_bytes, calls, reading, socket_writes, reads = parse_trace(lines, path)
        print("\nsendfile: %d calls, %d bytes from %s\nbytes written to sockets by "
              "write/writev/send/sendto/sendmsg: %d\nread/pread64 descriptors: %s\n"
              % (calls, sendfile_bytes, path, socket_writes, reads or "none"), flush=True)
        checks.expect(table != [], "strace printed its syscall summary")
        checks.expect(sendfile_bytes == size,
                      "sendfile moved the whole file: %d bytes in %d calls" % (sendfile_bytes, calls),
                      "expected %d" % size)
        checks.expect(reading == [], "no read/pread64/readv/preadv/mmap of the file's descriptor",
                      repr(reading[:5]))
        checks.expect(0 < socket_writes < 4096,
                      "only the response head went through a user-space buffer (%d bytes)"
                      % socket_writes)
        checks.expect(all("eventfd" in r or "pipe" in r for r in reads),
                      "the only read() calls are the loop's wake-ups (eventfd/pipe)", repr(reads))
    except (HarnessError, subprocess.TimeoutExpired, OSError) as error:
        checks.expect(False, "zero-copy trace", repr(error))
    finally:
        if tracer is not None and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        shutil.rmtree(top, ignore_errors=True)
    return checks.summary("file_server_zero_copy")


if __name__ == "__main__":
    raise SystemExit(main())
