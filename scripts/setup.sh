#!/usr/bin/env bash
# Installs the Debian packages FlowOrchestrator builds and tests with. Safe to run again.
#   libflatbuffers-dev, flatbuffers-compiler  FlatBuffers C++ runtime and flatc 2.0.8
#   libzstd-dev, zstd, pkg-config             zstd library (found through pkg-config) and CLI
#   python3                                    used by a test as a second lock-holding process
#   libsqlite3-dev                             SQLite, the benchmarks' row-per-node persistence peer
#   spin, gcc                                  the Promela model checker and the C compiler for its
#                                              verifiers (scripts/check-model.sh, Models/README.md)
set -euo pipefail
packages=(libflatbuffers-dev flatbuffers-compiler libzstd-dev zstd pkg-config python3 libsqlite3-dev spin gcc)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "setup: ${packages[*]} installed"
