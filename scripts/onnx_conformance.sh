#!/usr/bin/env bash
# ONNX's backend test suite (Debian libonnx-testdata, 1,072 tests) through dagrad: builds
# if needed (scripts/setup.sh installs the packages), runs every test and prints each one
# that does not pass, the totals per suite and per op type, and a last line
# "onnx conformance: P passed of N". Extra arguments go to `dagrad onnx conformance`
# (e.g. --device cuda, --suite node, --test test_relu --verbose).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${DAGRAD_BUILD_DIR:-build}/apps/dagrad" onnx conformance "$@"
