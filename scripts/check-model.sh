#!/usr/bin/env bash
# Model-checks the runtime's claim, takeover and cancellation protocol (Models/claims.pml, its
# assumptions in Models/README.md) with spin, then removes each guard in turn and requires spin
# to find a counterexample for every mutated model: a model that cannot fail proves nothing.
#
# Installs nothing (scripts/setup.sh installs spin and a C compiler). Exits 0 when the full
# model passes every check and every mutation is caught; 1 otherwise.
#
#   checks, each exhaustive over the bounded model (no depth or memory cut is accepted):
#     safety   every assertion, and no invalid end state (pan, no never claim)
#     live     ltl `live`   under weak fairness (pan -a -f)
#     cancel   ltl `cancel` under weak fairness (pan -a -f)
#
#   FULL_BOUND (default 3 workers, 2 nodes, 3 crashes) is what the full model is checked at;
#   MUTANT_BOUND (2 workers, 2 nodes, 2 crashes) is enough for every counterexample and quick.
set -euo pipefail
cd "$(dirname "$0")/.."
model="$PWD/Models/claims.pml"
FULL_BOUND=${FULL_BOUND:-"-DNP=3 -DNN=2 -DMAXCRASH=3"}
MUTANT_BOUND=${MUTANT_BOUND:-"-DNP=2 -DNN=2 -DMAXCRASH=2"}
# guard macro: what removing it must break (documentation; spin decides what it finds)
mutations=(
    "NO_LOCK:the writer lock is exclusive"
    "NO_LOCK -DNO_CANCELLER:the writer lock is exclusive (no canceller: two owners run nodes)"
    "READ_BEFORE_LOCK:the claimer reads the workflow only once it holds the writer lock"
    "NO_FINAL_CHECK:a claimer that finds the workflow final only removes the entry"
    "NO_CANCEL_CHECK:a claimer that finds a cancel request cancels without running"
    "NO_POLL:the owner checks the request while a node runs and before recording completed"
    "EARLY_ENTRY_REMOVAL:the ready entry is removed only after the final status is durable"
    "NO_CANCELLER_LOCK:cancel() records cancelled only while it holds the writer lock"
    "LEAKED_LOCK:a crash releases the writer lock (the kernel's flock, an assumption)"
)

for tool in spin cc; do
    if ! command -v "$tool" >/dev/null; then
        echo "check-model: $tool not found: run scripts/setup.sh" >&2
        exit 1
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/claims.pml"
cd "$work"
started=$SECONDS

# generate FLAGS...: pan.c for the model with these macros
generate() {
    rm -f pan.* pan_* claims.pml.trail
    spin "$@" -a claims.pml >spin.out 2>&1 || { cat spin.out >&2; echo "check-model: spin -a $* failed" >&2; exit 1; }
}

# run CHECK [bfs]: runs one check on the generated pan.c; prints pan's output to pan.out.
# Returns 0 when the check passed exhaustively, 1 when pan found a counterexample; exits the
# script when the search was incomplete or the tools failed.
run() {
    local check=$1 search=${2:-}
    case $check in
        safety)
            # for a mutant breadth-first: the shortest counterexample
            cc -O2 -w -DSAFETY -DNOCLAIM ${search:+-DBFS} -DMEMLIM=2048 -o pan_run pan.c
            ./pan_run -m200000 >pan.out 2>&1 || true ;;
        live|cancel)
            cc -O2 -w -DNFAIR=4 -DMEMLIM=2048 -o pan_run pan.c
            ./pan_run -a -f -N "$check" -m200000 -w24 >pan.out 2>&1 || true ;;
    esac
    if grep -qE "depth too small|out of memory|error: max search depth" pan.out; then
        cat pan.out >&2
        echo "check-model: the $check search was cut short" >&2
        exit 1
    fi
    local errors
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.out | tail -1)
    if [ -z "$errors" ]; then
        cat pan.out >&2
        echo "check-model: pan printed no result for $check" >&2
        exit 1
    fi
    [ "$errors" -eq 0 ]
}

states() { sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | head -1; }

# story CHECK FLAGS...: the counterexample spin found, replayed: what each process did.
story() {
    local check=$1; shift
    # the trail names the never claim it was found with; a safety trail has none
    local claim=()
    [ "$check" != safety ] || claim=(-noclaim)
    grep -E "assertion violated|acceptance cycle|invalid end state" pan.out | head -1 | sed 's/^/      pan: /'
    spin -t "${claim[@]}" "$@" claims.pml 2>&1 \
        | grep -E "P[0-9]|START OF CYCLE|text of failed assertion|Error:" \
        | sed -e 's/^ *//' -e 's/^/      /' | head -60 || true
}

echo "check-model: full model ($FULL_BOUND)"
generate $FULL_BOUND
failed=0
for check in safety live cancel; do
    if run "$check"; then
        echo "  $check: passes ($(states) states, exhaustive)"
    else
        echo "  $check: FAILS"
        story "$check" $FULL_BOUND
        failed=1
    fi
done
[ "$failed" -eq 0 ] || { echo "check-model: the full model fails" >&2; exit 1; }

echo "check-model: each guard removed ($MUTANT_BOUND)"
for mutation in "${mutations[@]}"; do
    macro=${mutation%%:*}
    guard=${mutation#*:}
    generate $MUTANT_BOUND -D$macro
    found=""
    for check in safety live cancel; do
        if ! run "$check" bfs; then found=$check; break; fi
    done
    if [ -z "$found" ]; then
        echo "  -D$macro ($guard): NO counterexample: spin proves nothing about this guard"
        failed=1
    else
        echo "  -D$macro ($guard): counterexample in $found"
        story "$found" $MUTANT_BOUND -D$macro
    fi
done
echo "check-model: took $((SECONDS - started)) s"
if [ "$failed" -ne 0 ]; then
    echo "check-model: a mutated model passed" >&2
    exit 1
fi
echo "check-model: the model passes and every guard is needed"
