#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build_dir="${DAGRAD_BUILD_DIR:-build}"
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" --timeout 600
