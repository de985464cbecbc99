// The machine's ceilings: float32 FMA throughput (GFLOP/s) and memory bandwidth (GB/s)
// of the CPU at a thread count, or of a CUDA device. Measured once, then cached in memory
// and in a small JSON file, so `dagrad bench --sweep` and the roofline draw the same
// lines without paying for the measurement again.
//
//   CPU:  FMA: the GEMM engine's micro-kernel on packed panels that stay in L1/L2;
//         bandwidth: a STREAM triad a[i] = b[i] + s*c[i] over arrays far larger than the
//         last-level cache (the best pass, counting the bytes read and written as STREAM
//         does). Both run on `threads` threads at once, and each thread is timed by its
//         own CPU time, so other processes taking turns on the cores (a shared machine)
//         do not lower the result; the threads' rates are summed.
//   CUDA: FMA from the device's properties (SMs x FP32 lanes per SM x boost clock x 2);
//         bandwidth from a timed device-to-device copy (bytes read + written).
//
// The cache file (default_peak_cache_file()) maps a key (CPU model and thread count, or
// GPU name, compute capability and SM count) to its peaks. A missing, unreadable or
// corrupt file is ignored and rewritten (atomically); failing to write it is not an error.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

namespace dagrad::profiler {

struct MachinePeak {
  std::string key;          // what the cache is keyed by: "AMD EPYC | 2 threads"
  std::string description;  // for legends and logs: "AMD EPYC, 2 threads"
  double gflops = 0;        // float32, an FMA counted as 2 FLOPs
  double gbps = 0;          // 1e9 bytes per second
  bool from_cache = false;  // read from memory or the file rather than measured now
  // Arithmetic intensity (FLOP per byte) above which a kernel can reach `gflops`.
  double ridge_flops_per_byte() const { return gbps > 0 ? gflops / gbps : 0; }
};

// $XDG_CACHE_HOME/dagrad/machine_peaks.json, else $HOME/.cache/dagrad/machine_peaks.json;
// empty when neither variable is set.
std::filesystem::path default_peak_cache_file();

struct PeakCacheOptions {
  std::filesystem::path file = default_peak_cache_file();  // empty: memory only
  bool remeasure = false;                                  // measure even when cached, then replace the cached value
};

// Peaks of this CPU with `threads` threads working at once (threads >= 1; ValueError
// otherwise).
MachinePeak cpu_peak(int threads, const PeakCacheOptions& cache = {});
// Peaks of CUDA device `index`. Throws DeviceError (the one-line reason) when the build
// has no CUDA or the device cannot be used; call it only where a GPU exists.
MachinePeak cuda_peak(int index, const PeakCacheOptions& cache = {});

// The cache behind cpu_peak and cuda_peak, for any device: the peak stored under `key`
// (in memory, else in cache.file), or, when there is none or cache.remeasure is set,
// measure(peak) fills gflops and gbps and the result is stored in both. Measurements are
// serialised (one at a time in the process), so they do not disturb each other.
MachinePeak cached_peak(const std::string& key, const std::string& description, const PeakCacheOptions& cache,
                        const std::function<void(MachinePeak&)>& measure);

// The uncached measurements behind cpu_peak, each taking about `seconds`.
double measure_cpu_fma_gflops(int threads, double seconds = 0.25);
double measure_cpu_triad_gbps(int threads, double seconds = 0.4);
// "model name" from /proc/cpuinfo ("unknown CPU" when it cannot be read).
std::string cpu_model_name();

// Drops the in-memory cache (tests; the file is left alone).
void clear_peak_memory_cache();

}  // namespace dagrad::profiler
