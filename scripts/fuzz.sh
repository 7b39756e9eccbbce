#!/usr/bin/env bash
# Builds and runs FlowOrchestrator's libFuzzer targets (see Fuzz/README.md).
#
#   scripts/fuzz.sh TARGET SECONDS [LIBFUZZER_ARGS...]   build TARGET, fuzz it for SECONDS
#   scripts/fuzz.sh all SECONDS                           every target, one after the other
#   scripts/fuzz.sh build [TARGET|all]                    build only
#   scripts/fuzz.sh repro TARGET FILE...                  run inputs once (a crash reproduces)
#   scripts/fuzz.sh seeds                                 regenerate Fuzz/corpus/* from the library
#
# TARGET: snapshot | journal | definition | fbschema.
#
# FLOW_PATCHES="a.diff b.diff" fuzzes a copy of Sources/ with those patches applied (in
# .build-fuzz-patched): the way to fuzz a proposed fix before it lands. Patches are paths
# relative to the repository, applied with `patch -p1` (git diff format).
#
# Everything is compiled with swiftc/clang straight from the sources (no SwiftPM product), with
# AddressSanitizer and libFuzzer's coverage instrumentation: the FBSchema C++ (clang++
# -fsanitize=fuzzer-no-link,address), libyaml, swift-log, Yams, the FlowOrchestrator library
# (with -enable-testing, so that harnesses reach its internal decoders), and each harness
# (`swiftc -sanitize=fuzzer,address -parse-as-library`, `@_cdecl("LLVMFuzzerTestOneInput")`).
# Output goes to .build-fuzz (FLOW_FUZZ_BUILD overrides): binaries in bin/, the growing corpus
# of each target in corpus/TARGET (seeded from the committed Fuzz/corpus/TARGET), crashes in
# artifacts/TARGET/, logs in logs/. Exit status: 0 when no target crashed, 1 otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PATCHES="${FLOW_PATCHES:-${FLOW_FUZZ_PATCHES:-}}"
if [[ -n "$PATCHES" ]]; then B="${FLOW_FUZZ_BUILD:-$ROOT/.build-fuzz-patched}"; else B="${FLOW_FUZZ_BUILD:-$ROOT/.build-fuzz}"; fi
SRC="$ROOT/Sources"
TARGETS=(snapshot journal definition fbschema)
# The Swift runtime's crash handler holds a crashing process open; libFuzzer reports instead.
export SWIFT_BACKTRACE=enable=no
# LeakSanitizer takes a live Data of more than 14 bytes for a leak: Swift keeps its storage
# pointer with enum tag bits set, which LSan does not recognize as a pointer (a 10-line program
# shows it: docs/adversarial.md). libFuzzer runs LSan whenever an input ends with more allocations
# than frees, so a Data that outlived one input was reported once in a 10-minute run. Allocations
# made inside Data's own code are not reported; every other leak still is.
LSAN_SUPPRESSIONS="$B/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$LSAN_SUPPRESSIONS:print_suppressions=0}"

say() { printf 'fuzz: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

# --- helpers -----------------------------------------------------------------------------------

# stale OUTPUT INPUT... : true when OUTPUT is missing or older than any input file (or this script).
stale() {
    local output="$1"
    shift
    [[ -e "$output" ]] || return 0
    [[ -n "$(find "$@" "${BASH_SOURCE[0]}" -newer "$output" -type f -print -quit 2>/dev/null)" ]]
}

swift_sources() { find "$@" -name '*.swift' | LC_ALL=C sort; }

checkouts() {
    if [[ ! -d "$B/checkouts/Yams" || ! -d "$B/checkouts/swift-log" ]]; then
        say "resolving package dependencies into $B"
        (cd "$ROOT" && swift package resolve --scratch-path "$B" >/dev/null 2>&1) || true
    fi
    if [[ -d "$B/checkouts/Yams" && -d "$B/checkouts/swift-log" ]]; then
        DEPS="$B/checkouts"
    elif [[ -d "$ROOT/.build/checkouts/Yams" && -d "$ROOT/.build/checkouts/swift-log" ]]; then
        DEPS="$ROOT/.build/checkouts"
    else
        die "cannot find the Yams and swift-log sources (run 'swift package resolve' once)"
    fi
}

# With FLOW_FUZZ_PATCHES: SRC becomes a patched copy of Sources/, remade only when the sources or
# the patches change (so that an unchanged tree keeps its build).
patched_sources() {
    [[ -n "$PATCHES" ]] || return 0
    local stamp
    stamp="$( (cd "$ROOT" && tar -cf - Sources $PATCHES 2>/dev/null) | sha256sum | cut -c1-16)"
    SRC="$B/patched/Sources"
    if [[ "$(cat "$B/patched.stamp" 2>/dev/null)" != "$stamp" ]]; then
        rm -rf "$B/patched"
        mkdir -p "$B/patched"
        cp -a "$ROOT/Sources" "$B/patched/"
        local patch
        for patch in $PATCHES; do
            say "applying $patch"
            (cd "$B/patched" && patch -p1 --forward --silent --no-backup-if-mismatch <"$ROOT/$patch") ||
                die "$patch does not apply to Sources/ (already merged? then drop it)"
        done
        echo "$stamp" >"$B/patched.stamp"
    fi
}

SAN_C=(-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address)
# -sanitize=fuzzer on a compile-only step adds the coverage instrumentation; the harness link
# step adds libFuzzer itself.
SAN_SWIFT=(-O -g -sanitize=fuzzer,address -parse-as-library)

build_common() {
    checkouts
    patched_sources
    mkdir -p "$B/obj/fbschema" "$B/obj/cyaml" "$B/modules" "$B/lib" "$B/bin" "$B/include/FBSchema"
    printf '%s\n' "# Data's storage, which LSan cannot see referenced (see scripts/fuzz.sh)." \
        "leak:FoundationEssentials4DataV" "leak:FoundationEssentials13__DataStorageC" >"$LSAN_SUPPRESSIONS"

    # FBSchema: the C API and the generated FlatBuffers code.
    for source in "$SRC"/FBSchema/*.cpp; do
        local object="$B/obj/fbschema/$(basename "$source" .cpp).o"
        if stale "$object" "$SRC/FBSchema"; then
            say "clang++ $(basename "$source")"
            clang++ -std=c++17 "${SAN_C[@]}" -Wno-unused-parameter -I "$SRC/FBSchema/include" \
                -c "$source" -o "$object"
        fi
    done
    cat >"$B/include/FBSchema/module.modulemap.new" <<EOF
module FBSchema {
    header "$SRC/FBSchema/include/FBSchema.h"
    export *
}
EOF
    cmp -s "$B/include/FBSchema/module.modulemap.new" "$B/include/FBSchema/module.modulemap" 2>/dev/null ||
        mv "$B/include/FBSchema/module.modulemap.new" "$B/include/FBSchema/module.modulemap"
    rm -f "$B/include/FBSchema/module.modulemap.new"

    # swift-log.
    if stale "$B/lib/libLogging.a" "$DEPS/swift-log/Sources/Logging"; then
        say "swiftc Logging"
        swiftc "${SAN_SWIFT[@]}" -module-name Logging -swift-version 6 -package-name swift_log \
            -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
            -enable-upcoming-feature InternalImportsByDefault -enable-upcoming-feature NonisolatedNonsendingByDefault \
            -emit-module -emit-module-path "$B/modules/Logging.swiftmodule" \
            -emit-library -static -o "$B/lib/libLogging.a" \
            $(swift_sources "$DEPS/swift-log/Sources/Logging")
    fi

    # libyaml and Yams (the definition parser's dependency).
    local yaml="$DEPS/Yams/Sources/CYaml"
    for source in "$yaml"/src/*.c; do
        local object="$B/obj/cyaml/$(basename "$source" .c).o"
        if stale "$object" "$yaml"; then
            say "clang $(basename "$source")"
            clang "${SAN_C[@]}" -DYAML_DECLARE_STATIC -I "$yaml/include" -w -c "$source" -o "$object"
        fi
    done
    if stale "$B/lib/libYams.a" "$DEPS/Yams/Sources/Yams"; then
        say "swiftc Yams"
        swiftc "${SAN_SWIFT[@]}" -module-name Yams -swift-version 5 -package-name yams -suppress-warnings -DSWIFT_PACKAGE \
            -I "$yaml/include" -Xcc -DYAML_DECLARE_STATIC \
            -emit-module -emit-module-path "$B/modules/Yams.swiftmodule" \
            -emit-library -static -o "$B/lib/libYams.a" \
            $(swift_sources "$DEPS/Yams/Sources/Yams")
    fi

    # The library, with the package's settings, testable so that harnesses reach internals.
    if stale "$B/lib/libFlowOrchestrator.a" "$SRC/FlowOrchestrator" "$SRC/FBSchema/include" \
        "$B/lib/libLogging.a"; then
        say "swiftc FlowOrchestrator"
        swiftc "${SAN_SWIFT[@]}" -module-name FlowOrchestrator -package-name floworchestrator -swift-version 6 -enable-testing \
            -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
            -I "$B/modules" -I "$B/include/FBSchema" -I "$SRC/CZstd" \
            -emit-module -emit-module-path "$B/modules/FlowOrchestrator.swiftmodule" \
            -emit-library -static -o "$B/lib/libFlowOrchestrator.a" \
            $(swift_sources "$SRC/FlowOrchestrator")
    fi
}

# Files of flowctl the definition harness compiles in (the parser and what it uses).
FLOWCTL_DEFINITION_FILES=(
    Sources/flowctl/Definition/DefinitionParser.swift
    Sources/flowctl/Definition/DurationText.swift
    Sources/flowctl/Definition/WorkflowDefinition.swift
    Sources/flowctl/Support/TextFormat.swift
    Sources/flowctl/Support/CLIError.swift
    Sources/flowctl/Support/DamageHint.swift
)

build_target() {
    local target="$1" binary="$B/bin/fuzz-$1"
    local swift_link=(-I "$B/modules" -I "$B/include/FBSchema" -I "$SRC/CZstd"
        -L "$B/lib" -lFlowOrchestrator -lLogging "$B"/obj/fbschema/*.o -lzstd -lstdc++)
    case "$target" in
        snapshot | journal)
            if stale "$binary" "$ROOT/Fuzz/Harness" "$ROOT/Fuzz/$target" "$B/lib/libFlowOrchestrator.a"; then
                say "swiftc fuzz-$target"
                swiftc "${SAN_SWIFT[@]}" -module-name "Fuzz_$target" -package-name floworchestrator -swift-version 6 \
                    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
                    $(swift_sources "$ROOT/Fuzz/Harness" "$ROOT/Fuzz/$target") "${swift_link[@]}" -use-ld=lld -o "$binary"
            fi
            ;;
        definition)
            local sources=()
            for file in "${FLOWCTL_DEFINITION_FILES[@]}"; do sources+=("$SRC/${file#Sources/}"); done
            if stale "$binary" "$ROOT/Fuzz/definition" "${sources[@]}" "$B/lib/libFlowOrchestrator.a" \
                "$B/lib/libYams.a"; then
                say "swiftc fuzz-definition"
                swiftc "${SAN_SWIFT[@]}" -module-name Fuzz_definition -package-name floworchestrator -swift-version 6 \
                    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
                    -I "$DEPS/Yams/Sources/CYaml/include" -Xcc -DYAML_DECLARE_STATIC \
                    "${sources[@]}" $(swift_sources "$ROOT/Fuzz/definition") \
                    "${swift_link[@]}" -lYams "$B"/obj/cyaml/*.o -use-ld=lld -o "$binary"
            fi
            ;;
        fbschema)
            if stale "$binary" "$ROOT/Fuzz/fbschema" "$SRC/FBSchema"; then
                say "clang++ fuzz-fbschema"
                clang++ -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address -Wall -Wextra \
                    -I "$SRC/FBSchema/include" "$ROOT/Fuzz/fbschema/fuzz_fbschema.cpp" "$B"/obj/fbschema/*.o -fuse-ld=lld \
                    -o "$binary"
            fi
            ;;
        *) die "unknown target '$target' (expected: ${TARGETS[*]} or all)" ;;
    esac
}

build() {
    build_common
    local target
    for target in "$@"; do build_target "$target"; done
}

targets_of() { if [[ "$1" == all ]]; then echo "${TARGETS[@]}"; else echo "$1"; fi; }

# run TARGET SECONDS [ARGS...]: fuzzes one target; prints libFuzzer's last status line.
run() {
    local target="$1" seconds="$2"
    shift 2
    local corpus="$B/corpus/$target" artifacts="$B/artifacts/$target" log="$B/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$B/logs"
    local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 -max_len=65536
        -print_final_stats=1 -artifact_prefix="$artifacts/")
    [[ -f "$ROOT/Fuzz/dict/$target.dict" ]] && args+=(-dict="$ROOT/Fuzz/dict/$target.dict")
    say "$target: ${seconds}s (log $log)"
    local status=0
    "$B/bin/fuzz-$target" "${args[@]}" "$@" "$corpus" "$ROOT/Fuzz/corpus/$target" >"$log" 2>&1 || status=$?
    local last
    last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
    local execs
    execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)"
    if [[ $status -ne 0 ]]; then
        say "$target: FAILED (exit $status); last lines of $log:"
        tail -40 "$log" >&2
        return 1
    fi
    say "$target: ok, ${execs:-?} executions; $last"
}

# --- commands ------------------------------------------------------------------------------------

command="${1:-}"
case "$command" in
    build)
        read -r -a selected <<<"$(targets_of "${2:-all}")"
        build "${selected[@]}"
        ;;
    repro)
        [[ $# -ge 3 ]] || die "usage: scripts/fuzz.sh repro TARGET FILE..."
        target="$2"
        shift 2
        build "$target"
        mkdir -p "$B/artifacts/$target"
        "$B/bin/fuzz-$target" -runs=1 -artifact_prefix="$B/artifacts/$target/" "$@"
        ;;
    seeds)
        build_common
        mkdir -p "$B/bin"
        if stale "$B/bin/make-seeds" "$ROOT/Fuzz/seeds" "$ROOT/Fuzz/Harness" "$B/lib/libFlowOrchestrator.a"; then
            say "swiftc make-seeds"
            # The libraries carry coverage hooks; the ASan runtime's defaults satisfy them.
            swiftc -O -g -sanitize=address -parse-as-library -module-name MakeSeeds -swift-version 6 \
                -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
                $(swift_sources "$ROOT/Fuzz/seeds" "$ROOT/Fuzz/Harness") \
                -I "$B/modules" -I "$B/include/FBSchema" -I "$SRC/CZstd" \
                -L "$B/lib" -lFlowOrchestrator -lLogging "$B"/obj/fbschema/*.o -lzstd -lstdc++ \
                -o "$B/bin/make-seeds"
        fi
        "$B/bin/make-seeds" "$ROOT/Fuzz/corpus" "$ROOT/Examples"
        ;;
    "" | -h | --help)
        sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        ;;
    *)
        [[ $# -ge 2 ]] || die "usage: scripts/fuzz.sh TARGET|all SECONDS [LIBFUZZER_ARGS...]"
        read -r -a selected <<<"$(targets_of "$1")"
        seconds="$2"
        shift 2
        build "${selected[@]}"
        failed=0
        for target in "${selected[@]}"; do run "$target" "$seconds" "$@" || failed=1; done
        exit $failed
        ;;
esac
