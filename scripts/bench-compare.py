#!/usr/bin/env python3
"""Compares two flowctl binaries' `bench` figures: medians of interleaved runs, as ratios.

    scripts/bench-compare.py OLD_FLOWCTL NEW_FLOWCTL [--runs 5] [--limit 0.10] [-- BENCH ARGS...]

Runs `OLD bench --format json ARGS`, then `NEW bench ...`, alternately, RUNS times each, so that
both see the same machine load over the same minutes. For every figure of every row it prints the
median of each side and the change, oriented so that a positive change is always worse (slower,
bigger, fewer per second). Figures that are inputs or ratios to a target (node counts, `x_target`)
are left out. Exits 1 when any figure got worse by more than LIMIT (default 10%), 0 otherwise.
"""

import argparse
import json
import statistics
import subprocess
import sys

# Figures that describe the workload, not its cost.
INPUTS = {"nodes", "records", "dictionary_bytes", "x_target", "store_writes", "journal_mib"}
# Figures where more is better; every other figure is a cost (time, bytes, memory).
HIGHER_IS_BETTER = ("_per_s", "_x_json", "x_raw")


def run(binary, args):
    out = subprocess.run(
        [binary, "bench", "--format", "json", *args],
        check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    figures = {}
    for table in json.loads(out)["tables"]:
        for row in table["rows"]:
            for name, value in row.items():
                if name in INPUTS or not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                figures[(table["id"], row["label"], name)] = float(value)
    return figures


def main():
    argv = sys.argv[1:]
    bench_args = []
    if "--" in argv:
        split = argv.index("--")
        argv, bench_args = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit", type=float, default=0.10)
    options = parser.parse_args(argv)

    samples = {"old": [], "new": []}
    for index in range(options.runs):
        for side in ("old", "new"):
            print(f"bench-compare: run {index + 1}/{options.runs} ({side})", file=sys.stderr)
            samples[side].append(run(getattr(options, side), bench_args))

    keys = sorted(set.intersection(*(set(s) for s in samples["old"] + samples["new"])))
    worse = 0
    print("| table | row | figure | old (median) | new (median) | change (+ is worse) |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for key in keys:
        old = statistics.median(s[key] for s in samples["old"])
        new = statistics.median(s[key] for s in samples["new"])
        if old == 0:
            continue
        higher_better = key[2].endswith(HIGHER_IS_BETTER)
        change = (old - new) / old if higher_better else (new - old) / old
        flag = ""
        if change > options.limit:
            worse += 1
            flag = " **over limit**"
        print(f"| {key[0]} | {key[1]} | {key[2]} | {old:.4g} | {new:.4g} | {change:+.1%}{flag} |")
    print(f"\n{len(keys)} figures, {worse} worse by more than {options.limit:.0%} "
          f"(medians of {options.runs} interleaved runs each)")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
