#!/usr/bin/env bash
# The short adversarial pass .ci/run runs after the test suite (about 9 minutes on 2 busy cores,
# builds included; see docs/adversarial.md):
#   1. every fuzz target for FUZZ_SECONDS (default 20) with the committed seeds
#      (scripts/fuzz.sh: AddressSanitizer + libFuzzer);
#   2. a ThreadSanitizer build of the package and a subset of the suite under it
#      (scripts/sanitizers.sh thread --filter TSAN_FILTER);
#   3. the crash-kill loop for CRASH_ROUNDS (default 25) rounds with a random seed (printed),
#      run with the ThreadSanitizer-built flow-crashtest and flowctl of step 2, so that every
#      round is also a race check of the executor, the journal's group commit and recovery.
# Longer budgets: scripts/fuzz.sh TARGET SECONDS, scripts/crash-loop.sh ROUNDS SEED,
# scripts/sanitizers.sh all. Exit status 1 when any step found something; each step says which.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
CRASH_ROUNDS="${CRASH_ROUNDS:-25}"
CRASH_SEED="${CRASH_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
# The suites whose code is the most concurrent: executor, journal (group commit, compaction),
# event subscriptions, and the regressions.
TSAN_FILTER="${TSAN_FILTER:-FlowOrchestratorTests\.(ExecutorTests|JournalTests|EventTests|RegressionTests)}"

failed=()
passed=0
step() {
    local name="$1" started=$SECONDS
    shift
    echo "adversarial: $name" >&2
    if "$@"; then
        echo "adversarial: $name passed in $((SECONDS - started)) s" >&2
        passed=$((passed + 1))
    else
        echo "adversarial: $name FAILED after $((SECONDS - started)) s" >&2
        failed+=("$name")
    fi
}

step "fuzzing, ${FUZZ_SECONDS} s per target" scripts/fuzz.sh all "$FUZZ_SECONDS"
step "ThreadSanitizer, $TSAN_FILTER" scripts/sanitizers.sh thread --filter "$TSAN_FILTER"
tsan_bin="$ROOT/.build-tsan/build/debug"
if [[ -x "$tsan_bin/flow-crashtest" && -x "$tsan_bin/flowctl" ]]; then
    export TSAN_OPTIONS="halt_on_error=1:suppressions=$ROOT/.build-tsan/tsan.supp"
    step "crash-kill loop, $CRASH_ROUNDS rounds, seed $CRASH_SEED (ThreadSanitizer binaries)" \
        env FLOW_CRASH_BIN="$tsan_bin" scripts/crash-loop.sh "$CRASH_ROUNDS" "$CRASH_SEED"
else
    step "crash-kill loop, $CRASH_ROUNDS rounds, seed $CRASH_SEED" scripts/crash-loop.sh "$CRASH_ROUNDS" "$CRASH_SEED"
fi

# The closing line, in the plain "N passed, N failed" form CI reads (on stdout, after the steps').
if [[ ${#failed[@]} -gt 0 ]]; then
    printf 'adversarial: FAILED: %s\n' "${failed[@]}" >&2
    echo "adversarial: $passed passed, ${#failed[@]} failed"
    exit 1
fi
echo "adversarial: everything passed in $SECONDS s" >&2
echo "adversarial: $passed passed, 0 failed"
