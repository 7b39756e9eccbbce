#!/usr/bin/env bash
# Runs the test suite under ThreadSanitizer and/or AddressSanitizer (with LeakSanitizer).
#
#   scripts/sanitizers.sh [thread|address|all] [swift test arguments...]
#
# e.g. `scripts/sanitizers.sh thread --filter JournalTests`. Each sanitizer builds into its own
# scratch path (.build-tsan, .build-asan), never the everyday .build; the executables the tests
# spawn (flow-crashtest, flowctl) are built there too, with the same sanitizer. The full output
# is kept in .build-tsan/sanitizer.log and .build-asan/sanitizer.log. Exit status: 0 when every
# run passed and no sanitizer reported anything, 1 otherwise.
#
# ThreadSanitizer needs two adjustments for Swift 6.3 on Linux, both confined to the TSan build:
#  - Synchronization.Mutex locks through a futex fast path that TSan does not see, so every value
#    behind a Mutex would be reported as raced. The TSan build compiles a mirror of the working
#    tree (.build-tsan/package) into which this script adds, for each module that uses Mutex, a
#    module-local `Mutex` with the same interface built on pthread_mutex (which TSan intercepts).
#    Nothing else in the mirror differs from the tree.
#  - The standard library writes the count of the shared empty-array singleton
#    (`_swiftEmptyArrayStorage`) in `Array(unsafeUninitializedCapacity: 0)`: a benign race, always
#    the same 0, suppressed by name.
# AddressSanitizer's leak checker reports three leaks of the toolchain's libraries at process
# exit, suppressed by name: Foundation.Process.run keeps a weak-reference side table (32 bytes
# per process started), swift-foundation's String(contentsOfFile:encoding:) loses its 4 KiB read
# buffer when the file is empty, and XCTest's own objects.
# All of these are reproducible without this project (see the report of issue 6); drop them when
# the toolchain no longer needs them.
#
# Tests run one at a time (`--no-parallel`; SANITIZER_PARALLEL=1 runs them in parallel): several
# tests block the cooperative thread pool (two threads here) while a spawned process runs, which
# a sanitizer's 5-15x slowdown turns into timeouts of unrelated tests. Races inside each test are
# still exercised; see the issue 6 report for the blocking tests and a fix.
#
# FLOW_PATCHES="a.diff b.diff" tests a mirror of the tree with those patches applied (for ASan
# too, in .build-asan/package): the way to check a proposed fix under the sanitizers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
which="${1:-all}"
shift || true
cd "$ROOT"

# The Swift runtime's own crash handler would hold a failing process open; sanitizers report.
export SWIFT_BACKTRACE=enable=no

# report LOG: prints the sanitizer reports and failed tests of LOG; true when there are none.
report() {
    local log="$1" reports
    reports="$(grep -cE '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (AddressSanitizer|LeakSanitizer))' "$log" || true)"
    if [[ $reports -ne 0 ]]; then
        echo "sanitizers: $reports sanitizer report(s) in $log; first ones:" >&2
        grep -nE -A40 '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (Address|Leak)Sanitizer)' "$log" | head -150 >&2 || true
    fi
    grep -E '✘ Test .* recorded an issue|error: ' "$log" | head -40 >&2 || true
    [[ $reports -eq 0 ]]
}

# build_and_test SANITIZER PACKAGE SCRATCH LOG [swift test args...]
build_and_test() {
    local sanitizer="$1" package="$2" scratch="$3" log="$4"
    shift 4
    local status=0
    : >"$log"
    # The executables the tests spawn must exist before the tests look for them.
    for product in flow-crashtest flowctl; do
        swift build --package-path "$package" --sanitize="$sanitizer" --scratch-path "$scratch" \
            --product "$product" >>"$log" 2>&1 || status=$?
    done
    local serial=(--no-parallel)
    if [[ -n "${SANITIZER_PARALLEL:-}" ]]; then serial=(); fi
    if [[ $status -eq 0 ]]; then
        swift test --package-path "$package" --sanitize="$sanitizer" --scratch-path "$scratch" "${serial[@]}" "$@" \
            >>"$log" 2>&1 || status=$?
    fi
    local clean=0
    report "$log" || clean=1
    if [[ $status -ne 0 || $clean -ne 0 ]]; then
        echo "sanitizers: $sanitizer: FAILED (exit $status)" >&2
        return 1
    fi
    echo "sanitizers: $sanitizer: clean. $(grep -E 'Test run with [0-9]+ tests' "$log" | tail -1)" >&2
}

# Copies the working tree (tracked and untracked, not ignored) to $1, touching only files that
# changed so the build there stays incremental, and removing files that are gone.
mirror_tree() {
    python3 - "$ROOT" "$1" <<'PYTHON'
import os, shutil, subprocess, sys
root, mirror = sys.argv[1], sys.argv[2]
files = subprocess.run(["git", "-C", root, "ls-files", "-co", "--exclude-standard", "-z"],
                       capture_output=True, check=True).stdout.decode().split("\0")
files = {f for f in files if f and os.path.isfile(os.path.join(root, f))}
# Ignored by git but part of the build: the pinned dependency versions.
if os.path.isfile(os.path.join(root, "Package.resolved")):
    files.add("Package.resolved")
for name in files:
    source, target = os.path.join(root, name), os.path.join(mirror, name)
    s = os.stat(source)
    try:
        t = os.stat(target)
        if t.st_size == s.st_size and int(t.st_mtime) == int(s.st_mtime):
            continue
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(source, target)
for directory, _, names in os.walk(mirror):
    for name in names:
        relative = os.path.relpath(os.path.join(directory, name), mirror)
        if relative not in files and not name.startswith("TSanVisibleMutex"):
            os.remove(os.path.join(directory, name))
PYTHON
    local patch
    for patch in ${FLOW_PATCHES:-}; do
        echo "sanitizers: applying $patch" >&2
        (cd "$1" && patch -p1 --forward --silent --no-backup-if-mismatch <"$ROOT/$patch") ||
            { echo "sanitizers: $patch does not apply (already merged? then drop it)" >&2; exit 2; }
    done
}

# The pthread-based Mutex added to each module of the TSan mirror that uses Mutex.
tsan_mutex() {
    cat <<'SWIFT'
// Added by scripts/sanitizers.sh to the ThreadSanitizer build only (never to the repository's
// sources): ThreadSanitizer on Linux does not see Synchronization.Mutex's futex fast path, so
// this module-local Mutex, with the interface the module uses, locks a pthread mutex instead.
#if canImport(Glibc)
import Glibc
#endif

final class Mutex<Value>: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ initialValue: consuming sending Value) {
        value = initialValue
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(lock, nil)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return try body(&value)
    }

    func withLockIfAvailable<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result? {
        guard pthread_mutex_trylock(lock) == 0 else { return nil }
        defer { pthread_mutex_unlock(lock) }
        return try body(&value)
    }
}
SWIFT
}

run_thread() {
    local base="$ROOT/.build-tsan" package="$ROOT/.build-tsan/package"
    mkdir -p "$package"
    mirror_tree "$package"
    local module
    for module in "$package"/Sources/* "$package"/Tests/*; do
        [[ -d "$module" ]] || continue
        if grep -rqsE '\bMutex\b' --include='*.swift' "$module"; then
            tsan_mutex >"$module/TSanVisibleMutex.swift.new"
            cmp -s "$module/TSanVisibleMutex.swift.new" "$module/TSanVisibleMutex.swift" 2>/dev/null ||
                mv "$module/TSanVisibleMutex.swift.new" "$module/TSanVisibleMutex.swift"
            rm -f "$module/TSanVisibleMutex.swift.new"
        fi
    done
    echo "race:_swiftEmptyArrayStorage" >"$base/tsan.supp"
    export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$base/tsan.supp}"
    echo "sanitizers: thread: testing a mirror of the tree in $package (log $base/sanitizer.log)" >&2
    build_and_test thread "$package" "$base/build" "$base/sanitizer.log" "$@"
}

run_address() {
    local base="$ROOT/.build-asan" package="$ROOT"
    mkdir -p "$base"
    if [[ -n "${FLOW_PATCHES:-}" ]]; then
        package="$base/package"
        mkdir -p "$package"
        mirror_tree "$package"
    fi
    cat >"$base/lsan.supp" <<'SUPPRESSIONS'
# Toolchain leaks (Swift 6.3.1), each reproduced by a five-line program; see scripts/sanitizers.sh.
leak:Foundation7ProcessC3run
leak:readBytesFromFile
leak:libXCTest.so
SUPPRESSIONS
    export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1}"
    export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$base/lsan.supp:print_suppressions=0}"
    echo "sanitizers: address: testing $package into $base (log $base/sanitizer.log)" >&2
    build_and_test address "$package" "$base" "$base/sanitizer.log" "$@"
}

failed=0
case "$which" in
    thread) run_thread "$@" || failed=1 ;;
    address) run_address "$@" || failed=1 ;;
    all)
        run_thread "$@" || failed=1
        run_address "$@" || failed=1
        ;;
    *)
        echo "usage: scripts/sanitizers.sh [thread|address|all] [swift test arguments...]" >&2
        exit 2
        ;;
esac
exit $failed
