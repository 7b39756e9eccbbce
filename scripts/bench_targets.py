#!/usr/bin/env python3
"""Checks SPEC.md's targets over several runs of `flowctl bench`, for a machine shared with others.

    scripts/bench_targets.py [RUNS] [--flowctl PATH] [--markdown]

Runs only what the targets need (memory, snapshot, executor, journaled + fsync persistence,
recovery at 1M records), RUNS times (default 5) in fresh processes, and prints for each target
the median, best and worst figure, how many runs met it, and the verdict on the median. The load
average before each run is printed too: fsync-bound figures swing with other processes' disk
writes, CPU-bound ones with their CPU use. Builds flowctl in release (.build-rel) unless --flowctl
is given. --markdown prints the table as Markdown, for BENCHMARKS.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The unit of each target's value, as flowctl bench reports it.
UNITS = {
    "snapshot save, 100k nodes": "ms", "snapshot load, 100k nodes": "ms", "snapshot save vs JSON": "x",
    "snapshot load vs JSON": "x", "snapshot size vs JSON": "x", "executor wide": "nodes/s",
    "executor layered 100 levels": "nodes/s", "journaled + fsync, wide": "completions/s",
    "4,000-level chain, fsync per level": "s", "recovery, 1M journal records": "s", "memory, 100k-node state": "MB",
}
ARGS = ["bench", "--only", "memory,snapshot,executor,persistence,recovery", "--strategies", "node/fsync",
        "--recovery-records", "1000000", "--format", "json"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="?", type=int, default=5)
    parser.add_argument("--flowctl")
    parser.add_argument("--markdown", action="store_true")
    options = parser.parse_args()
    flowctl = options.flowctl
    if not flowctl:
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", ".build-rel", "--product", "flowctl"],
                       cwd=ROOT, check=True, stdout=sys.stderr)
        flowctl = os.path.join(ROOT, ".build-rel", "release", "flowctl")

    figures = {}  # name -> (requirement, [(value, met, figure text)])
    loads = []
    for run in range(options.runs):
        with open("/proc/loadavg") as f:
            loads.append(" ".join(f.read().split()[:3]))
        print(f"run {run + 1}/{options.runs}, load {loads[-1]}", file=sys.stderr)
        out = subprocess.run([flowctl] + ARGS, check=True, capture_output=True, text=True).stdout
        for target in json.loads(out)["targets"]:
            entry = figures.setdefault(target["name"], (target["requirement"], []))
            entry[1].append((target["value"], target["met"], target["figure"]))

    lower_is_better = lambda requirement: requirement.startswith("<=")
    rows = []
    for name, (requirement, results) in figures.items():
        values = [v for v, _, _ in results if v is not None]
        if not values:
            continue
        best = min(values) if lower_is_better(requirement) else max(values)
        worst = max(values) if lower_is_better(requirement) else min(values)
        median = statistics.median(values)
        met = [m for _, m, _ in results]
        threshold = float(requirement.split()[1].replace(",", "").rstrip("x"))
        median_met = median <= threshold if lower_is_better(requirement) else median >= threshold
        verdict = "n/a" if None in met else ("met" if median_met else "NOT MET")
        unit = UNITS.get(name, "")
        rows.append((name, requirement, median, best, worst, sum(1 for m in met if m), len(met), verdict, unit))

    def number(value):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"

    if options.markdown:
        print(f"| target | requirement | median of {options.runs} | best | worst | runs met | verdict (median) |")
        print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
        for name, requirement, median, best, worst, met, total, verdict, unit in rows:
            print(f"| {name} | {requirement} | {number(median)} {unit} | {number(best)} | {number(worst)} | {met}/{total} | {verdict} |")
    else:
        width = max(len(r[0]) for r in rows)
        print(f"{'target':<{width}}  {'requirement':<24}  {'median':>10}  {'best':>10}  {'worst':>10}  runs met  verdict")
        for name, requirement, median, best, worst, met, total, verdict, unit in rows:
            print(f"{name:<{width}}  {requirement:<24}  {number(median):>10}  {number(best):>10}  {number(worst):>10}  "
                  f"{met:>4}/{total:<3}  {verdict}")
    print(("\n" if options.markdown else "") + f"Load average before each run: {'; '.join(loads)}")


if __name__ == "__main__":
    main()
