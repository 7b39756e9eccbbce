#!/usr/bin/env bash
# Regenerates the committed FlatBuffers C++ code from Schemas/*.fbs.
#
#   scripts/regen-fbschema.sh [OUTDIR]
#
# OUTDIR defaults to Sources/FBSchema/generated (the committed location). The drift test in
# Tests/FlowOrchestratorTests/FBSchemaCAPITests.swift runs this script into a temporary folder
# and compares the result with the committed files, so always regenerate with this script.
#
# The generated headers static_assert the FlatBuffers version, so flatc must be the same
# version as the runtime headers (Debian's flatbuffers-compiler / libflatbuffers-dev, 2.0.8).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:-$ROOT/Sources/FBSchema/generated}"
FLATC="${FLATC:-flatc}"
EXPECTED_VERSION="2.0.8"

# Schemas, in dependency order. common.fbs is listed explicitly: flatc generates code only for
# the files named on its command line, not for included ones.
SCHEMAS=(common.fbs workflow.fbs summary.fbs journal.fbs)

if ! command -v "$FLATC" >/dev/null 2>&1; then
    echo "regen-fbschema: '$FLATC' not found (apt-get install flatbuffers-compiler)" >&2
    exit 127
fi
version="$("$FLATC" --version | awk '{print $NF}')"
if [[ "$version" != "$EXPECTED_VERSION" ]]; then
    echo "regen-fbschema: flatc $version found, $EXPECTED_VERSION required (must match libflatbuffers-dev)" >&2
    exit 1
fi

mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"   # absolute: we cd below
# Remove previous output so a deleted schema leaves no stale header behind.
rm -f "$OUTDIR"/*_generated.h

# Run from Schemas/ with bare file names so that the output never depends on where the
# repository is checked out.
cd "$ROOT/Schemas"
# Flags: --cpp only (defaults: unscoped enums with MIN/MAX values, no object API, no
# reflection), -o OUTDIR.
"$FLATC" --cpp -o "$OUTDIR" "${SCHEMAS[@]}"

echo "regen-fbschema: wrote ${#SCHEMAS[@]} headers to $OUTDIR"
