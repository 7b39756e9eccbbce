#!/usr/bin/env bash
# flowctl against ninja on the same graph, measured in the same run (issue 5's speed benchmark).
#
# Generates a layered graph of LEVELS x WIDTH nodes running `true` (each node needs two nodes of
# the level before) as a flowctl definition and as a build.ninja, then times `flowctl run -j2`
# and `ninja -j2`, interleaved, REPS times each, and prints both medians and their ratio.
# Target: flowctl <= 1.5 x ninja.
#
#   scripts/bench-vs-ninja.sh                 # 1,000 nodes (10 levels x 100), 7 repetitions
#   LEVELS=20 WIDTH=50 REPS=11 scripts/bench-vs-ninja.sh
#   FLOWCTL_ARGS="--durability buffered" scripts/bench-vs-ninja.sh
#
# Needs ninja (Debian: apt-get install -y ninja-build); builds flowctl in release first
# (scratch path .build-rel) unless FLOWCTL points at a binary.
set -euo pipefail
cd "$(dirname "$0")/.."

LEVELS=${LEVELS:-10}
WIDTH=${WIDTH:-100}
REPS=${REPS:-7}
JOBS=${JOBS:-2}
FLOWCTL_ARGS=${FLOWCTL_ARGS:-}

command -v ninja >/dev/null || { echo "bench-vs-ninja: ninja not found (apt-get install -y ninja-build)" >&2; exit 2; }
if [[ -z "${FLOWCTL:-}" ]]; then
    swift build -c release --scratch-path .build-rel --product flowctl >&2
    FLOWCTL=.build-rel/release/flowctl
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-vs-ninja.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The same graph twice: node l<L>n<I> needs l<L-1>n<I> and l<L-1>n<(I+1) mod WIDTH>.
{
    echo "id: ninja-compare"
    echo "concurrency: $JOBS"
    echo "nodes:"
    for ((l = 0; l < LEVELS; l++)); do
        for ((i = 0; i < WIDTH; i++)); do
            echo "  - name: l${l}n${i}"
            echo "    run: \"true\""
            if ((l > 0)); then
                echo "    needs: [l$((l - 1))n${i}, l$((l - 1))n$(((i + 1) % WIDTH))]"
            fi
        done
    done
} >"$work/graph.yaml"
{
    echo "rule run"
    echo "  command = true"
    for ((l = 0; l < LEVELS; l++)); do
        for ((i = 0; i < WIDTH; i++)); do
            if ((l > 0)); then
                echo "build l${l}n${i}: run | l$((l - 1))n${i} l$((l - 1))n$(((i + 1) % WIDTH))"
            else
                echo "build l${l}n${i}: run"
            fi
        done
    done
} >"$work/build.ninja"

now() { date +%s.%N; }
ninja_times=()
flow_times=()
for ((r = 0; r < REPS; r++)); do
    # ninja: the outputs are never created, so every run runs every edge.
    rm -f "$work/.ninja_log" "$work/.ninja_deps"
    start=$(now)
    ninja -C "$work" -j "$JOBS" >/dev/null
    ninja_times+=("$(echo "$(now) - $start" | bc)")
    # flowctl: a fresh store each time, so every run runs every node.
    rm -rf "$work/store"
    start=$(now)
    # shellcheck disable=SC2086
    "$FLOWCTL" run --store "$work/store" --quiet -j "$JOBS" $FLOWCTL_ARGS "$work/graph.yaml" >/dev/null
    flow_times+=("$(echo "$(now) - $start" | bc)")
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
nodes=$((LEVELS * WIDTH))
ninja_median=$(median "${ninja_times[@]}")
flow_median=$(median "${flow_times[@]}")
ratio=$(echo "scale=2; $flow_median / $ninja_median" | bc)
printf 'graph: %d nodes running `true` (%d levels x %d, 2 dependencies each), -j%d, %d interleaved repetitions; load %s\n' \
    "$nodes" "$LEVELS" "$WIDTH" "$JOBS" "$REPS" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'ninja   median %.3f s  (runs: %s)\n' "$ninja_median" "$(printf '%.3f ' "${ninja_times[@]}")"
printf 'flowctl median %.3f s  (runs: %s) %s\n' "$flow_median" "$(printf '%.3f ' "${flow_times[@]}")" "${FLOWCTL_ARGS:+[$FLOWCTL_ARGS]}"
verdict=$(echo "$ratio <= 1.5" | bc)
printf 'flowctl / ninja = %.2fx (target <= 1.5x): %s\n' "$ratio" "$([[ $verdict == 1 ]] && echo met || echo NOT MET)"
