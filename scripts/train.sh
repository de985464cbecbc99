#!/usr/bin/env bash
# The main job: install what is missing, build, and run dagrad on the default data.
# Extra arguments go to `dagrad` after the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build_dir="${DAGRAD_BUILD_DIR:-build}"
"$build_dir/apps/dagrad" info
"$build_dir/apps/dagrad" ops
