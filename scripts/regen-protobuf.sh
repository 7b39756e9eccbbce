#!/usr/bin/env bash
# Regenerates the committed Swift code of Protos/workflow.proto (the protobuf benchmark peer).
#
#   scripts/regen-protobuf.sh [OUTDIR]
#
# Needs protoc (Debian's protobuf-compiler) and swift-protobuf's plugin protoc-gen-swift, of
# the same version as the SwiftProtobuf runtime in Package.swift (1.39.0). The plugin takes
# about ten minutes to build, so neither the build nor the tests need it: build it once, outside
# the repository, and point PROTOC_GEN_SWIFT at it:
#
#   git clone https://github.com/apple/swift-protobuf.git /tmp/swift-protobuf
#   git -C /tmp/swift-protobuf checkout 1.39.0
#   (cd /tmp/swift-protobuf && swift build -c release --product protoc-gen-swift)
#   PROTOC_GEN_SWIFT=/tmp/swift-protobuf/.build/release/protoc-gen-swift scripts/regen-protobuf.sh
#
# OUTDIR defaults to Sources/FlowBenchKit/Generated. The generated file starts with the
# SHA-256 of the .proto it came from; ProtobufSchemaTests recomputes it and fails when the
# .proto changed without regenerating.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:-$ROOT/Sources/FlowBenchKit/Generated}"
PROTOC="${PROTOC:-protoc}"
PLUGIN="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"

if ! command -v "$PROTOC" >/dev/null 2>&1; then
    echo "regen-protobuf: '$PROTOC' not found (apt-get install protobuf-compiler)" >&2
    exit 127
fi
if [[ -z "$PLUGIN" || ! -x "$PLUGIN" ]]; then
    echo "regen-protobuf: protoc-gen-swift not found: set PROTOC_GEN_SWIFT (see this script's header)" >&2
    exit 127
fi

mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Bare file names from Protos/, so the output never depends on where the repository is.
cd "$ROOT/Protos"
"$PROTOC" --plugin=protoc-gen-swift="$PLUGIN" --swift_out="$scratch" --swift_opt=Visibility=Internal workflow.proto

hash="$(sha256sum workflow.proto | awk '{print $1}')"
{
    echo "// Generated from Protos/workflow.proto by scripts/regen-protobuf.sh: do not edit."
    echo "// proto-sha256: $hash"
    echo "// $("$PROTOC" --version), protoc-gen-swift $("$PLUGIN" --version 2>/dev/null | awk '{print $NF}')"
    echo
    cat "$scratch/workflow.pb.swift"
} >"$OUTDIR/workflow.pb.swift"

echo "regen-protobuf: wrote $OUTDIR/workflow.pb.swift (proto-sha256 $hash)"
