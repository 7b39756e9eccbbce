#!/usr/bin/env bash
# Regenerates the figures and pictures in BENCHMARKS.md on this machine:
#   docs/benchmarks/results.txt   the `flowctl bench` table (every side-by-side figure, the targets)
#   docs/benchmarks/results.csv   the same figures, one per line
#   docs/benchmarks/recovery.csv  a longer recovery curve (10k to 2M journal records)
#   docs/benchmarks/*.png         pictures drawn by scripts/plot_benchmarks.py (needs matplotlib)
#
#   scripts/bench.sh            # about 2 minutes on 2 cores
#   NODES=10000 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${NODES:-100000}
out=docs/benchmarks
mkdir -p "$out"

swift build -c release --scratch-path .build-rel --product flowctl >&2
flowctl=.build-rel/release/flowctl

echo "bench: load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$flowctl" bench --nodes "$NODES" --csv "$out/results.csv" | tee "$out/results.txt"
"$flowctl" bench --only recovery --recovery-records 10000,30000,100000,300000,1000000,2000000 \
    --format csv >"$out/recovery.csv"
if python3 -c 'import matplotlib' 2>/dev/null; then
    python3 scripts/plot_benchmarks.py "$out/results.csv" "$out/recovery.csv"
else
    echo "bench: matplotlib not installed (pip install matplotlib): pictures not redrawn" >&2
fi
