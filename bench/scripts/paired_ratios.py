#!/usr/bin/python3
"""Round-by-round ratios of one server's figures to its peers', from a yardstick raw table.

The yardstick's report gives each server's median; on a noisy 2-core machine the median of
the per-round ratios (each round measures every server back to back) is the steadier figure
for a target such as "CPU per message <= 1.0x libuv's".

    bench/scripts/paired_ratios.py RAW.tsv sluice uv,epoll srv_us_per_msg,msgs_per_s
"""
import argparse
import collections
import statistics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw", help="the yardstick's results/raw/<stamp>-<suite>.tsv")
    parser.add_argument("contender", help="the server whose ratios are wanted, e.g. sluice")
    parser.add_argument("peers", help="comma-separated peers, e.g. uv,epoll")
    parser.add_argument("keys", help="comma-separated figures, e.g. srv_us_per_msg,msgs_per_s")
    args = parser.parse_args()

    figures: dict[tuple[str, str, str, str], float] = {}
    with open(args.raw, encoding="utf-8") as table:
        for line in table:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 6 or fields[0] == "suite":
                continue
            _suite, test, server, round_name, key, value = fields
            if round_name.startswith("w"):  # warm-up rounds are not measurements
                continue
            try:
                figures[(test, server, round_name, key)] = float(value)
            except ValueError:
                pass

    rounds_of: dict[str, set[str]] = collections.defaultdict(set)
    for test, _server, round_name, _key in figures:
        rounds_of[test].add(round_name)
    for test in sorted(rounds_of):
        for key in args.keys.split(","):
            for peer in args.peers.split(","):
                ratios = []
                for round_name in sorted(rounds_of[test], key=lambda r: (len(r), r)):
                    mine = figures.get((test, args.contender, round_name, key))
                    theirs = figures.get((test, peer, round_name, key))
                    if mine is not None and theirs:
                        ratios.append(mine / theirs)
                if not ratios:
                    continue
                listed = " ".join(f"{ratio:.2f}" for ratio in ratios)
                print(f"{test:12} {key:16} {args.contender}/{peer}: median "
                      f"{statistics.median(ratios):.3f} over {len(ratios)} rounds [{listed}]")


if __name__ == "__main__":
    main()
