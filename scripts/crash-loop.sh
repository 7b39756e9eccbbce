#!/usr/bin/env bash
# The crash-kill loop: runs durable workflows (flow-crashtest: every node appends its name to a
# marker file and fsyncs it, every status change is journaled with fsync), kills them with
# SIGKILL at random moments, resumes them, and checks after every round:
#   - reopening never fails: the resumed run does not exit with an error, and `flowctl show`
#     reads the state;
#   - no node recorded completed runs again (its marker count never changes afterwards);
#   - nothing completed is lost (the completed set only grows), nothing is invented (a node
#     recorded completed has run at least once);
#   - `flowctl verify` finds nothing but what a kill may leave (a torn journal tail, a leftover
#     temporary file), and nothing at all once the workflow has completed;
#   - a completed workflow equals an uninterrupted run's: every node completed, each output is
#     the node's name.
# The kill delays and workflow shapes come from the seed; on a violation the seed, round and
# store are printed and the script exits 1 (the store is kept for inspection).
#
#   scripts/crash-loop.sh [ROUNDS] [SEED]        defaults: 100 rounds, a random seed
#
# Builds flow-crashtest and flowctl in release mode into .build-adv (FLOW_ADV_BUILD overrides).
# FLOW_PATCHES="a.diff b.diff" builds them from a copy of the package with those patches applied
# (the way to run the loop on a proposed fix before it lands). FLOW_CRASH_BIN=DIR uses the
# flow-crashtest and flowctl already built in DIR instead (e.g. sanitizer builds). Needs python3;
# no network.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-100}"
SEED="${2:-$(( (RANDOM << 15) | RANDOM ))}"
BUILD="${FLOW_ADV_BUILD:-$ROOT/.build-adv}"
export SWIFT_BACKTRACE=enable=no

cd "$ROOT"

# Builds the two products (from a patched copy of the package with FLOW_PATCHES) and sets BIN.
build_products() {
    local package="$ROOT" build="$BUILD"
    if [[ -n "${FLOW_PATCHES:-}" ]]; then
        # A patched copy of what the two products need, remade only when it or the patches change.
        package="$BUILD/patched-package"
        build="$BUILD/patched"
        local stamp
        stamp="$(tar -cf - Package.swift Sources Tests $FLOW_PATCHES 2>/dev/null | sha256sum | cut -c1-16)"
        if [[ "$(cat "$package.stamp" 2>/dev/null)" != "$stamp" ]]; then
            rm -rf "$package"
            mkdir -p "$package"
            cp -a Package.swift Sources Tests "$package/"
            if [[ -f Package.resolved ]]; then cp -a Package.resolved "$package/"; fi
            local patch
            for patch in $FLOW_PATCHES; do
                echo "crash-loop: applying $patch" >&2
                (cd "$package" && patch -p1 --forward --silent --no-backup-if-mismatch <"$ROOT/$patch") ||
                    { echo "crash-loop: $patch does not apply (already merged? then drop it)" >&2; exit 2; }
            done
            echo "$stamp" >"$package.stamp"
        fi
    fi
    local product
    for product in flow-crashtest flowctl; do
        swift build -c release --package-path "$package" --scratch-path "$build" --product "$product" 2>&1 |
            grep -E "error|warning: " >&2 || true
    done
    BIN="$(swift build -c release --package-path "$package" --scratch-path "$build" --show-bin-path)"
}

if [[ -n "${FLOW_CRASH_BIN:-}" ]]; then BIN="$FLOW_CRASH_BIN"; else build_products; fi
for product in flow-crashtest flowctl; do
    [[ -x "$BIN/$product" ]] || { echo "crash-loop: $BIN/$product was not built" >&2; exit 2; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/flow-crash-loop.XXXXXX")"
status=0
python3 - "$BIN/flow-crashtest" "$BIN/flowctl" "$WORK" "$ROUNDS" "$SEED" <<'PYTHON' || status=$?
import json, os, random, shutil, signal, subprocess, sys, time

crashtest, flowctl, work, rounds, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)
# A kill may leave these behind; the next writer cuts or replaces them.
TOLERATED = ("damaged tail", "leftover temporary file")


class Violation(Exception):
    pass


def flowctl_run(*args):
    return subprocess.run([flowctl, *args], capture_output=True, text=True, timeout=120)


def state(store, workflow):
    """The stored node statuses and outputs, or None when nothing is stored yet."""
    result = flowctl_run("show", workflow, "--store", store, "--compact")
    if result.returncode != 0:
        if "not found" in result.stderr + result.stdout:
            return None
        raise Violation(f"flowctl show failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
    return json.loads(result.stdout)


def problems(store):
    result = flowctl_run("verify", "--store", store)
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith("store ")]
    if result.returncode not in (0, 3):
        raise Violation(f"flowctl verify failed ({result.returncode}): {result.stderr.strip()}")
    return lines


def marks(path):
    counts = {}
    if os.path.exists(path):
        with open(path) as marker:
            for line in marker.read().split("\n"):
                if line:
                    counts[line] = counts.get(line, 0) + 1
    return counts


def new_workflow(index):
    nodes = rng.choice([40, 120, 250, 400])
    width = rng.choice([1, 2, 4, 8])
    store = os.path.join(work, f"store-{index}")
    return {"index": index, "id": f"crash-{index}", "store": store, "marker": os.path.join(work, f"marks-{index}"),
            "nodes": nodes, "width": width, "completed": set(), "counts": {}, "runs": 0, "kills": 0}


def run(workflow, round_number, kill_after):
    """Starts one run; kills it after kill_after seconds unless it finished. Returns (killed, exit code)."""
    process = subprocess.Popen(
        [crashtest, workflow["store"], workflow["id"], workflow["marker"], str(workflow["nodes"]),
         str(workflow["width"]), str(round_number)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        process.wait(timeout=kill_after)
        return False, process.returncode, process.stderr.read()
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True, None, process.stderr.read()


def check(workflow, killed, code, stderr):
    if not killed and code != 0:
        raise Violation(f"a run exited {code} without being killed: {stderr.strip()}")
    current = state(workflow["store"], workflow["id"])
    counts = marks(workflow["marker"])
    completed = set()
    if current is not None:
        completed = {node["name"] for node in current["nodes"] if node["status"] == "completed"}
    lost = workflow["completed"] - completed
    if lost:
        raise Violation(f"completed nodes were lost: {sorted(lost)[:10]}")
    for name in workflow["completed"]:
        if counts.get(name, 0) != workflow["counts"].get(name, 0):
            raise Violation(f"node {name} ran again after it was recorded completed "
                            f"({workflow['counts'].get(name, 0)} -> {counts.get(name, 0)} runs)")
    for name in completed:
        if counts.get(name, 0) < 1:
            raise Violation(f"node {name} is recorded completed but never ran")
    found = problems(workflow["store"])
    bad = [line for line in found if not any(word in line for word in TOLERATED)]
    if bad:
        raise Violation("verify: " + "; ".join(bad))
    for word in TOLERATED:
        if any(word in line for line in found):
            seen[word] = seen.get(word, 0) + 1
    workflow["completed"], workflow["counts"] = completed, counts
    finished = not killed and code == 0
    if finished:
        if found:
            raise Violation("verify after completion: " + "; ".join(found))
        names = [f"n{i}" for i in range(workflow["nodes"])]
        if current["status"] != "completed" or [node["name"] for node in current["nodes"]] != names:
            raise Violation(f"the completed workflow is {current['status']} with nodes {len(current['nodes'])}")
        if any(node["status"] != "completed" for node in current["nodes"]):
            raise Violation("a node of the completed workflow is not completed")
        if any(counts.get(name, 0) < 1 for name in names):
            raise Violation("a node of the completed workflow never ran")
        # An uninterrupted run's output of node nI is its name.
        if any(node["output_bytes"] != len(node["name"]) for node in current["nodes"]):
            raise Violation("a node's output differs from an uninterrupted run's")
    return finished


# Calibrate: how long uninterrupted runs take here (sanitizer builds are many times slower): a
# one-node run (process start, open, first save, exit) and a 400-node run.
def calibrate(nodes):
    calibration = {"index": "calibration", "id": f"calibration-{nodes}", "store": os.path.join(work, "calibration"),
                   "marker": os.path.join(work, f"marks-calibration-{nodes}"), "nodes": nodes, "width": 4,
                   "completed": set(), "counts": {}, "runs": 0, "kills": 0}
    started = time.monotonic()
    killed, code, stderr = run(calibration, 0, 300)
    elapsed = time.monotonic() - started
    try:
        check(calibration, killed, code, stderr)
    except Violation as violation:
        print(f"crash-loop: seed {seed}: the uninterrupted run is wrong: {violation}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(calibration["store"], ignore_errors=True)
    return elapsed

startup = calibrate(1)
per_node = max(0.0, calibrate(400) - startup) / 400
print(f"crash-loop: seed {seed}, {rounds} rounds; a run takes {startup * 1000:.0f} ms plus "
      f"{per_node * 1e6:.0f} us per node here")

workflow = new_workflow(0)
kills = completed_workflows = reran = 0
seen = {}
for round_number in range(rounds):
    # Mostly inside a run (startup, replay, compaction, nodes, the final save), sometimes after
    # it: up to a little more than what is left of the workflow takes uninterrupted.
    left = workflow["nodes"] - len(workflow["completed"])
    kill_after = rng.uniform(0.0, 1.15 * (startup + per_node * left))
    killed, code, stderr = run(workflow, round_number, kill_after)
    kills += killed
    workflow["runs"] += 1
    try:
        finished = check(workflow, killed, code, stderr)
    except Violation as violation:
        print(f"crash-loop: VIOLATION in round {round_number} (seed {seed}, workflow {workflow['id']}, "
              f"{workflow['nodes']} nodes, width {workflow['width']}, kill after {kill_after * 1000:.1f} ms): {violation}",
              file=sys.stderr)
        print(f"crash-loop: store kept in {workflow['store']}; replay with scripts/crash-loop.sh {rounds} {seed}",
              file=sys.stderr)
        sys.exit(1)
    if finished:
        completed_workflows += 1
        reran += sum(1 for count in workflow["counts"].values() if count > 1)
        shutil.rmtree(workflow["store"], ignore_errors=True)
        os.remove(workflow["marker"])
        workflow = new_workflow(workflow["index"] + 1)
print(f"crash-loop: seed {seed}: {rounds} rounds, {kills} kills, {completed_workflows} workflows completed, "
      f"no violation; {reran} nodes ran more than once (killed before their end was durable); "
      f"after kills verify saw " + (", ".join(f"{word} {count}x" for word, count in sorted(seen.items())) or "nothing"))
PYTHON
if [[ $status -eq 0 ]]; then rm -rf "$WORK"; else echo "crash-loop: seed $SEED failed; files in $WORK" >&2; fi
exit $status
