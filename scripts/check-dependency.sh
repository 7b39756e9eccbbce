#!/usr/bin/env bash
# Builds FlowOrchestrator the way an embedding program gets it: as a dependency by version.
#
#   1. clones this repository's committed HEAD into a temporary folder and tags it with the
#      newest version in CHANGELOG.md (a "## X.Y.Z" heading);
#   2. makes a scratch package in another temporary folder whose Package.swift depends on it
#      with `.package(url: "file://CLONE", from: "X.Y.Z")`; its Example.swift is the fenced
#      swift block under "## Embedding" in README.md, verbatim, and its main.swift calls the
#      block's function with a store directory;
#   3. builds it (a fresh build: unsafe flags, a missing import or a public API the example
#      needs and does not have all fail here) and runs it twice, expecting `completed` both
#      times (the second run resumes the stored, finished workflow).
#
# Offline: the dependencies' github.com URLs resolve through git's url.insteadOf to the
# machine's package mirror. Uncommitted changes are not seen (commit first). Exit status 1 on
# any failure. FLOW_KEEP_SCRATCH=1 keeps the temporary folders and prints where they are.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
started=$SECONDS
say() { echo "check-dependency: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

version="$(sed -n 's/^## \([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' "$ROOT/CHANGELOG.md" | head -n 1)"
[ -n "$version" ] || fail "no '## X.Y.Z' version heading in CHANGELOG.md"

work="$(mktemp -d /tmp/flow-dependency-XXXXXX)"
if [ "${FLOW_KEEP_SCRATCH:-}" = 1 ]; then
    trap 'say "kept $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi
clone="$work/FlowOrchestrator"
scratch="$work/EmbedCheck"

# 1. The committed HEAD, tagged.
head="$(git -C "$ROOT" rev-parse HEAD)"
git clone --quiet --no-local "$ROOT" "$clone"
git -C "$clone" checkout --quiet --detach "$head"
git -C "$clone" tag "$version"
say "cloned ${head:0:12} to $clone, tagged $version"

# 2. The scratch package: README's example verbatim, plus an entry point.
mkdir -p "$scratch/Sources/EmbedCheck"
awk '/^## Embedding/ { section = 1; next }
     section && /^## / { exit }
     section && !inside && /^```swift$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "$ROOT/README.md" >"$scratch/Sources/EmbedCheck/Example.swift"
[ -s "$scratch/Sources/EmbedCheck/Example.swift" ] || fail "README.md has no \`\`\`swift block under '## Embedding'"
function="$(sed -n 's/^\(public \)\{0,1\}func \([A-Za-z_][A-Za-z0-9_]*\)(storeDirectory: String).*/\2/p' \
    "$scratch/Sources/EmbedCheck/Example.swift" | head -n 1)"
[ -n "$function" ] || fail "the README example has no top-level 'func NAME(storeDirectory: String)' to call"

cat >"$scratch/Package.swift" <<EOF
// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "EmbedCheck",
    dependencies: [
        .package(url: "file://$clone", from: "$version"),
    ],
    targets: [
        .executableTarget(
            name: "EmbedCheck",
            dependencies: [.product(name: "FlowOrchestrator", package: "FlowOrchestrator")]
        ),
    ]
)
EOF
cat >"$scratch/Sources/EmbedCheck/main.swift" <<EOF
// The entry point check-dependency.sh adds to README.md's example (Example.swift).
let status = try await $function(storeDirectory: CommandLine.arguments[1])
print("embedded workflow: \(status)")
EOF

# 3. Resolve, build, run.
say "resolving and building the scratch package (README example, function $function)"
built=$SECONDS
(cd "$scratch" && swift build 2>&1) >"$work/build.log" || { cat "$work/build.log" >&2; fail "the scratch package does not build"; }
if grep -q "warning:" "$work/build.log"; then
    grep "warning:" "$work/build.log" >&2
    fail "building FlowOrchestrator as a dependency warns"
fi
resolved="$(cd "$scratch" && swift package show-dependencies --format flatlist 2>/dev/null | tr '\n' ' ')"
say "built in $((SECONDS - built)) s; dependencies: $resolved"
grep -q "\"version\" : \"$version\"" "$scratch/Package.resolved" || fail "Package.resolved does not pin FlowOrchestrator at $version"

store="$work/store"
for run in 1 2; do
    output="$("$scratch/.build/debug/EmbedCheck" "$store" 2>&1)" || { echo "$output" >&2; fail "run $run of the example failed"; }
    [ "$output" = "embedded workflow: completed" ] || { echo "$output" >&2; fail "run $run: expected 'embedded workflow: completed'"; }
done
[ -n "$(ls -A "$store")" ] || fail "the example's store directory is empty"
say "the README example built against FlowOrchestrator $version by version and completed twice ($((SECONDS - started)) s in all)"
