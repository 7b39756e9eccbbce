#!/usr/bin/env python3
"""Draws the pictures in docs/benchmarks/ from `flowctl bench --format csv` output.

    scripts/plot_benchmarks.py docs/benchmarks/results.csv [docs/benchmarks/recovery.csv]

Writes, next to the first file:
  serialization.png  size against encode and decode time, per strategy (100k-node state)
  recovery.png       time to open a workflow against its journal length (log-log)
  persistence.png    node completions per second per persistence strategy and durability
                     (the FlatBuffers journal beside the SQLite row-per-node peer)
  floors.png         each remaining gap of issue 16 as a ratio to its floor, with the goal

Needs matplotlib (pip install matplotlib). The CSV has one figure per line:
table,label,metric,value.
"""
import csv
import os
import sys
from collections import defaultdict

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot_benchmarks: matplotlib is missing: pip install matplotlib")


def load(path):
    """{table: {label: {metric: value}}}, labels in file order."""
    tables = defaultdict(dict)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            tables[row["table"]].setdefault(row["label"], {})[row["metric"]] = float(row["value"])
    return tables


COLORS = {"JSON": "tab:orange", "binary plist": "tab:green", "protobuf": "tab:purple", "FlatBuffers": "tab:blue"}
MARKERS = {None: "o", "1": "s", "3": "^", "9": "D"}


def codec_and_level(strategy):
    codec, _, level = strategy.partition("+zstd-")
    return codec, (level or None)


def plot_serialization(tables, out):
    rows = tables.get("serialization")
    if not rows:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    for ax, metric, title in [(axes[0], "encode_ms", "encode (+ compress)"), (axes[1], "decode_ms", "(decompress +) verify and decode")]:
        for strategy, values in rows.items():
            codec, level = codec_and_level(strategy)
            ax.scatter(values[metric], values["bytes"] / 1e6, color=COLORS.get(codec, "gray"), marker=MARKERS.get(level, "o"), s=60,
                       label=strategy, edgecolors="black", linewidths=0.5)
            offset = {None: (5, 3), "1": (5, -9), "3": (5, 3), "9": (5, 9)}[level]
            ax.annotate(strategy.replace("binary plist", "plist"), (values[metric], values["bytes"] / 1e6), fontsize=7,
                        xytext=offset, textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"{title}, ms (log)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("stored size, MB (log)")
    fig.suptitle("Serialization strategies on one finished workflow state (100k nodes, 16-byte outputs): "
                 "lower left is better", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def plot_recovery(tables, out):
    rows = tables.get("recovery")
    if not rows:
        return False
    points = sorted((v["records"], v["open_ms"]) for v in rows.values())
    xs, ys = zip(*points)
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    ax.plot(xs, ys, marker="o", color="tab:blue", label="open (read, verify, replay)")
    # Linear reference through the largest point.
    ax.plot(xs, [ys[-1] * x / xs[-1] for x in xs], linestyle=":", color="gray", label="linear in records")
    ax.axhline(1500, color="tab:red", linestyle="--", linewidth=1, label="target: 1M records <= 1.5 s")
    ax.axhline(500, color="tab:purple", linestyle="--", linewidth=1, label="issue 16: 1M records <= 0.5 s")
    memory = sorted((v["records"], v["peak_mib_above"]) for v in rows.values() if "peak_mib_above" in v)
    if memory:
        twin = ax.twinx()
        twin.plot([m[0] for m in memory], [m[1] for m in memory], marker="s", color="tab:green", label="peak MiB above the open")
        twin.axhline(64 * 1e6 / 1048576, color="tab:green", linestyle=":", linewidth=1)
        twin.set_ylabel("peak resident above the open, MiB (green; dotted: 64 MB)")
        twin.set_ylim(0, max(70, max(m[1] for m in memory) * 1.2))
    for x, y in points:
        ax.annotate(f"{y:.0f} ms" if y >= 10 else f"{y:.1f} ms", (x, y), fontsize=8, xytext=(5, -10), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("journal records past the snapshot (log)")
    ax.set_ylabel("time to open, ms (log)")
    ax.set_title("Recovery time against journal length", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def plot_persistence(tables, out):
    rows = tables.get("persistence")
    if not rows:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, shape in zip(axes, ["wide", "chain"]):
        labels, values, colors, sizes = [], [], [], []
        for label, v in rows.items():
            if not label.startswith(shape):
                continue
            dag, _, strategy = label.partition(", ")
            size = int(v["nodes"])
            sizes.append(size)
            labels.append(strategy)
            values.append(v["completions_per_s"])
            sqlite = strategy.startswith("sqlite")
            colors.append(("tab:pink" if sqlite else "tab:red") if strategy.endswith("fsync") else ("tab:cyan" if sqlite else "tab:blue"))
        if not values:
            continue
        for index, (value, size) in enumerate(zip(values, sizes)):
            if size != max(sizes):
                ax.annotate(f"{size:,} nodes", (index, value), fontsize=7, ha="center", xytext=(0, 3), textcoords="offset points")
        ax.bar(range(len(values)), values, color=colors)
        ax.set_xticks(range(len(values)), labels, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("node completions / s (log)")
        ax.set_title(f"{shape} DAG, {max(sizes):,} nodes (red: fsync, blue: buffered; light: SQLite)", fontsize=10)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        if shape == "wide":
            ax.axhline(50_000, color="black", linestyle="--", linewidth=1)
            ax.annotate("target: journaled + fsync >= 50k/s", (0, 50_000), fontsize=7, xytext=(0, 4), textcoords="offset points")
    fig.suptitle("Persistence strategies (end / level / node) x durability, FlatBuffers store, beside SQLite (a row per node); no-op nodes", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def plot_floors(tables, out):
    rows = tables.get("floors")
    if not rows:
        return False
    labels, ratios, goals = [], [], []
    for label, v in rows.items():
        if "x_floor" not in v:
            continue
        labels.append(label.split(" (floor")[0])
        ratios.append(v["x_floor"])
        goals.append(v.get("goal_x"))
    if not ratios:
        return False
    fig, ax = plt.subplots(figsize=(9, 3.8))
    colors = ["tab:green" if goal is None or ratio <= goal else "tab:red" for ratio, goal in zip(ratios, goals)]
    ax.barh(range(len(ratios)), ratios, color=colors)
    for index, (ratio, goal) in enumerate(zip(ratios, goals)):
        if goal is not None:
            ax.plot([goal, goal], [index - 0.4, index + 0.4], color="black", linewidth=2)
        ax.annotate(f"{ratio:.2f}x", (ratio, index), fontsize=8, xytext=(4, -3), textcoords="offset points")
    ax.set_yticks(range(len(ratios)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("measured / floor in the same run (lower is better; black: the goal)")
    ax.set_title("Remaining gaps as ratios to their floors (green: within the goal)", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tables = load(sys.argv[1])
    for extra in sys.argv[2:]:
        for table, rows in load(extra).items():
            tables[table] = rows  # a dedicated run (e.g. a longer recovery curve) wins
    out_dir = os.path.dirname(os.path.abspath(sys.argv[1]))
    for name, plot in [("serialization.png", plot_serialization), ("recovery.png", plot_recovery),
                       ("persistence.png", plot_persistence), ("floors.png", plot_floors)]:
        path = os.path.join(out_dir, name)
        print(("wrote " if plot(tables, path) else "no data for ") + path)


if __name__ == "__main__":
    main()
