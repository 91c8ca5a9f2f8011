#!/usr/bin/python3
"""Compares the file server's transfer mechanisms from one yardstick file-suite run.

Reads the run's raw table (results/raw/<stamp>-file.tsv, written by bench/yardstick.sh file),
prints a Markdown table of the medians over rounds of the 1 GiB downloads (throughput and server
CPU seconds per GiB, with ratios to the copy path and to nginx), and draws both as a PNG bar chart.

    bench/plot_transfer.py RAW.tsv [--png docs/transfer.png] [--test large_sink]
"""
import argparse
import collections
import csv
import statistics
import sys

ORDER = ["sluice-sendfile", "sluice-splice", "sluice-mmap", "sluice-copy", "nginx"]


def medians(path, test):
    samples = collections.defaultdict(lambda: collections.defaultdict(list))
    with open(path, newline="") as raw:
        for row in csv.DictReader(raw, delimiter="\t"):
            if row["suite"] != "file" or row["test"] != test or row["round"].startswith("warm"):
                continue
            try:
                samples[row["server"]][row["key"]].append(float(row["value"]))
            except ValueError:
                pass
    return {
        server: {key: statistics.median(values) for key, values in keys.items()}
        for server, keys in samples.items()
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--png", default=None)
    parser.add_argument("--test", default="large_sink")
    args = parser.parse_args()

    figures = medians(args.raw, args.test)
    servers = [s for s in ORDER if s in figures] + sorted(s for s in figures if s not in ORDER)
    if not servers:
        sys.exit(f"no {args.test} samples in {args.raw}")

    copy_cpu = figures.get("sluice-copy", {}).get("srv_s_per_GiB")
    nginx = figures.get("nginx", {})
    print("| server | GiB/s | server CPU s/GiB | CPU/GiB vs copy | GiB/s vs nginx | CPU/GiB vs nginx |")
    print("|---|---:|---:|---:|---:|---:|")
    for server in servers:
        f = figures[server]
        gib_s = f.get("MiB_per_s", 0) / 1024
        cpu = f.get("srv_s_per_GiB", float("nan"))
        vs_copy = f"{cpu / copy_cpu:.2f}×" if copy_cpu else "–"
        vs_nginx_tp = f"{f['MiB_per_s'] / nginx['MiB_per_s']:.2f}×" if nginx else "–"
        vs_nginx_cpu = f"{cpu / nginx['srv_s_per_GiB']:.2f}×" if nginx else "–"
        print(f"| {server} | {gib_s:.2f} | {cpu:.3f} | {vs_copy} | {vs_nginx_tp} | {vs_nginx_cpu} |")

    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        colors = ["#3b7dd8" if s.startswith("sluice") else "#999999" for s in servers]
        labels = [s.replace("sluice-", "") for s in servers]
        left.bar(labels, [figures[s].get("MiB_per_s", 0) / 1024 for s in servers], color=colors)
        left.set_title("1 GiB download: throughput (higher is better)")
        left.set_ylabel("GiB/s")
        right.bar(labels, [figures[s].get("srv_s_per_GiB", 0) for s in servers], color=colors)
        right.set_title("Server CPU per GiB (lower is better)")
        right.set_ylabel("CPU seconds / GiB")
        for axis in (left, right):
            axis.grid(axis="y", alpha=0.3)
        fig.suptitle("sluice-file-server transfer mechanisms vs nginx (sendfile on), same run")
        fig.tight_layout()
        fig.savefig(args.png, dpi=100)
        print(f"\nchart: {args.png}")


if __name__ == "__main__":
    main()
