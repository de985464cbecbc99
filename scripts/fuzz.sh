#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with libFuzzer (clang 16, ASan + UBSan): the IDX
# reader, the safetensors reader, the image reader of `dagrad predict` (PNG via libpng,
# PGM) and the `dagrad` command line (parsed only).
# Usage: scripts/fuzz.sh [seconds-per-target] (default 60)   Build dir: $DAGRAD_FUZZ_BUILD_DIR
# (default build-fuzz). Needs the packages of scripts/setup.sh; installs clang here, so the
# normal build never needs it. The corpus grows in BUILD/fuzz-corpus/TARGET between runs;
# a crash or a leak is saved under BUILD/fuzz-findings/TARGET/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
build_dir="${DAGRAD_FUZZ_BUILD_DIR:-build-fuzz}"

# clang >= 15 (std::source_location with libstdc++ 12), its fuzzer and sanitizer
# runtimes, and its OpenMP (find_package(OpenMP) with clang).
packages=(clang-16 libclang-rt-16-dev libomp-16-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fuzz: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

CC=clang-16 CXX=clang++-16 cmake -S . -B "$build_dir" -DDAGRAD_FUZZ=ON -DDAGRAD_CUDA=OFF \
  -DDAGRAD_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target fuzz_idx fuzz_safetensors fuzz_image fuzz_onnx fuzz_cli fuzz_make_corpus

seeds="$build_dir/fuzz-seeds"
rm -rf "$seeds"
"$build_dir/fuzz/fuzz_make_corpus" "$seeds"

status=0
for target in idx safetensors image onnx cli; do
  corpus="$build_dir/fuzz-corpus/$target" findings="$build_dir/fuzz-findings/$target"
  mkdir -p "$corpus" "$findings"
  dict=()
  [ -f "$seeds/$target.dict" ] && dict=(-dict="$seeds/$target.dict")
  echo "fuzz: $target for ${seconds}s"
  # -rss_limit_mb: a reader that allocates what a corrupt header claims is a finding.
  if ! "$build_dir/fuzz/fuzz_$target" "$corpus" "$seeds/$target" "${dict[@]}" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 -timeout=10 \
      -artifact_prefix="$findings/" -print_final_stats=1 >"$build_dir/fuzz-$target.log" 2>&1; then
    status=1
    echo "fuzz: $target FAILED; see $build_dir/fuzz-$target.log and $findings/"
  fi
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)" "$build_dir/fuzz-$target.log" |
    sed "s/^/fuzz: $target /" || true
  grep -E "^#[0-9]+ +DONE" "$build_dir/fuzz-$target.log" | sed "s/^/fuzz: $target /" || true
done
exit "$status"
