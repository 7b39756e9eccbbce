#!/usr/bin/env bash
# Builds the DocC documentation of FlowOrchestrator's public API with swift-docc-plugin and fails
# on any warning (a broken symbol link, an ambiguous reference, a doc comment for a parameter that
# does not exist). The plugin is a dependency only when FLOW_DOCS is set (see Package.swift), and
# the build goes to .build/docs, so everyday builds never see it.
#
#   scripts/docs.sh                 build, check, print where the archive is
#   scripts/docs.sh --preview-dir D also write a static site to D (transform-for-static-hosting)
#
# Exit status 1 when the documentation does not build or warns.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scratch=.build/docs
log="$scratch/docs.log"
mkdir -p "$scratch"
started=$SECONDS

before=()
after=()
if [ "${1:-}" = "--preview-dir" ] && [ -n "${2:-}" ]; then
    mkdir -p "$2"
    before=(--allow-writing-to-directory "$2")
    after=(--disable-indexing --transform-for-static-hosting --output-path "$2")
fi

status=0
FLOW_DOCS=1 swift package --scratch-path "$scratch" "${before[@]}" generate-documentation \
    --target FlowOrchestrator --warnings-as-errors "${after[@]}" >"$log" 2>&1 || status=$?
warnings="$(grep -c "warning:" "$log" || true)"
if [ "$status" -ne 0 ] || [ "$warnings" -ne 0 ]; then
    grep -A12 "warning:\|error:" "$log" >&2 || tail -40 "$log" >&2
    echo "docs: FAILED ($warnings warnings, exit status $status; the whole log is $log)" >&2
    exit 1
fi
archive="$(grep -A1 "Generated documentation archive at:" "$log" | tail -n 1 | sed 's/^ *//')"
echo "docs: no warnings in $((SECONDS - started)) s; archive: $archive" >&2
