#!/usr/bin/env bash
# Installs the Debian packages dagrad needs (only those missing) and builds it.
# Usage: scripts/setup.sh [extra cmake args...]   Build dir: $DAGRAD_BUILD_DIR (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libboost-graph-dev      # Boost.Graph: topological order and reachability in the IR
  nlohmann-json3-dev      # plan/trace JSON, safetensors headers
  libcli11-dev            # the dagrad command line
  libopenblas-dev         # GEMM on the CPU
  zlib1g-dev              # .gz IDX files
  libpng-dev              # PNG images for dagrad predict
  libgtest-dev libgmock-dev
  libopenmpi-dev openmpi-bin  # data-parallel training across processes (mpirun)
  libonnx-dev libprotobuf-dev  # ONNX import/export (protobuf classes)
  libonnx-testdata        # ONNX's backend test suite: the conformance tests
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CUDA 13 keeps nvcc outside the default PATH; the build enables CUDA when it finds it.
if ! command -v nvcc >/dev/null 2>&1; then
  for d in "${CUDA_HOME:-}" /usr/local/cuda; do
    if [ -n "$d" ] && [ -x "$d/bin/nvcc" ]; then export PATH="$d/bin:$PATH"; break; fi
  done
fi

build_dir="${DAGRAD_BUILD_DIR:-build}"
jobs="$(nproc)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build_dir" -j "$jobs"
echo "setup: built in $build_dir"
