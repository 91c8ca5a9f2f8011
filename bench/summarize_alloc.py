#!/usr/bin/env python3
"""Summarises a sluice-bench-alloc run (--benchmark_format=json) as a small table.

For each size: CPU ns per allocate+free pair for every allocator, and the ratio of sluice's time
to the fastest other allocator's (below 1 means sluice is faster). Medians are used when the run
has repetitions (--benchmark_repetitions=N), otherwise the single figures.

    sluice-bench-alloc --benchmark_format=json > run.json
    bench/summarize_alloc.py run.json         (or read from stdin)
"""

import json
import sys

IMPLS = ("sluice", "glibc", "jemalloc", "mimalloc")


def size_label(size):
    size = int(size)
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def collect(benchmarks):
    """Maps run name -> benchmark entry, the median when there are aggregates."""
    plain, medians = {}, {}
    for entry in benchmarks:
        if entry.get("error_occurred"):
            print(f"error: {entry['name']}: {entry.get('error_message', '')}", file=sys.stderr)
            continue
        name = entry.get("run_name", entry["name"])
        if entry.get("run_type") == "aggregate":
            if entry.get("aggregate_name") == "median":
                medians[name] = entry
        else:
            plain.setdefault(name, entry)
    return medians or plain


def ratio_cell(figures, field="cpu_time"):
    own = figures.get("sluice")
    others = {impl: entry[field] for impl, entry in figures.items() if impl != "sluice"}
    if own is None or not others:
        return "-"
    fastest = min(others, key=others.get)
    return f"{own[field] / others[fastest]:.2f} (vs {fastest})"


def row(label, figures, field="cpu_time"):
    cells = [f"{figures[impl][field]:10.1f}" if impl in figures else f"{'-':>10}" for impl in IMPLS]
    return f"{label:<16}" + "".join(cells) + "   " + ratio_cell(figures, field)


def main():
    source = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    with source:
        runs = collect(json.load(source)["benchmarks"])

    by_size, server, raw = {}, {}, {}
    for name, entry in runs.items():
        parts = name.split("/")
        if parts[0] == "BM_Alloc" and len(parts) == 3:
            by_size.setdefault(int(parts[2]), {})[parts[1]] = entry
        elif parts[0] == "BM_ServerPattern" and len(parts) == 2:
            server[parts[1]] = entry
        elif parts[0] == "BM_AllocRaw" and len(parts) == 3:
            raw[int(parts[2])] = entry

    header = f"{'':<16}" + "".join(f"{impl:>10}" for impl in IMPLS) + "   sluice / fastest other"
    print("Allocate + free one buffer, CPU ns per pair" +
          (" (median)" if any("aggregate_name" in e for e in runs.values()) else ""))
    print(header)
    for size in sorted(by_size):
        print(row(size_label(size), by_size[size]))
    if server:
        print()
        print("Server pattern (256 live buffers of mixed sizes, 5% freed on another thread),")
        print("ns per iteration: the owner thread's CPU time, then both threads' CPU time")
        print(header)
        print(row("owner thread", server))
        if all("process_cpu_ns" in entry for entry in server.values()):
            print(row("both threads", server, "process_cpu_ns"))
    if raw:
        print()
        print("sluice without the Buffer handle (PooledAllocator::allocate/deallocate), ns per pair")
        print("  " + "   ".join(f"{size_label(size)}: {raw[size]['cpu_time']:.1f}"
                                for size in sorted(raw)))


if __name__ == "__main__":
    main()
