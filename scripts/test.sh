#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest); then the
# sanitizer runs of scripts/sanitize.sh in their own build directories (ASan+UBSan over
# the suite, TSan over the threaded tests). DAGRAD_CI_SANITIZE=0 skips those.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build_dir="${DAGRAD_BUILD_DIR:-build}"
(cd "$build_dir" && ctest --output-on-failure -j "$(nproc)" --timeout 600)
if [ "${DAGRAD_CI_SANITIZE:-1}" != 0 ]; then
  bash scripts/sanitize.sh all
fi
