#!/usr/bin/env bash
# The test suite under sanitizers, each in its own build directory (CPU only):
#   address  AddressSanitizer + UndefinedBehaviorSanitizer, every test except the install
#            and mpirun tests (build-asan/)
#   thread   ThreadSanitizer, the tests that run work on several threads: thread pool,
#            CPU streams, multi-stream executor, prefetching loader (build-tsan/)
# Usage: scripts/sanitize.sh [address|thread|all] (default all). Needs the packages of
# scripts/setup.sh. Build directories: $DAGRAD_ASAN_BUILD_DIR, $DAGRAD_TSAN_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"
jobs="$(nproc)"

configure() {  # build_dir sanitizer
  cmake -S . -B "$1" -DDAGRAD_CUDA=OFF -DDAGRAD_SANITIZE="$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
}

if [[ "$mode" == address || "$mode" == all ]]; then
  dir="${DAGRAD_ASAN_BUILD_DIR:-build-asan}"
  SECONDS=0
  configure "$dir" address
  cmake --build "$dir" -j "$jobs"
  echo "sanitize: address build took ${SECONDS}s"
  SECONDS=0
  # Not the install tests (slow, and they test packaging, not memory) nor the mpirun ones:
  # LeakSanitizer reports OpenMPI's own allocations (libmpi and its plugins) at exit.
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900 -LE '^(install|mpi)$')
  echo "sanitize: address tests took ${SECONDS}s"
fi

if [[ "$mode" == thread || "$mode" == all ]]; then
  dir="${DAGRAD_TSAN_BUILD_DIR:-build-tsan}"
  SECONDS=0
  configure "$dir" thread
  cmake --build "$dir" -j "$jobs" --target test_runtime test_scheduler test_frontend
  echo "sanitize: thread build took ${SECONDS}s"
  SECONDS=0
  # TSan cannot see libgomp's and OpenBLAS's synchronisation: one thread each, so every
  # thread that runs is one of dagrad's (pool workers, stream workers, the prefetcher).
  (cd "$dir" && OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    ctest --output-on-failure -j "$jobs" --timeout 900 \
      -R '^(ThreadPool|CpuStream|DataLoader|Executor|Session|Streams|SchedulerProperty|SchedulerTraining)\.')
  echo "sanitize: thread tests took ${SECONDS}s"
fi
