// Run-time compilation of CUDA C with NVRTC, and the cache of loaded kernels that the
// generated (fused) kernels go through. Sources must be self-contained: NVRTC sees no
// include path. Loading uses the runtime's library API (cudaLibraryLoadData), so nothing
// links the driver library directly.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

namespace dagrad::cuda {

struct NvrtcResult {
  std::string image;  // PTX text (compute_XY) or a CUBIN (sm_XY)
  bool cubin = false;
  std::string log;  // NVRTC's messages (warnings on success)
};

// Compiles `source` for `arch`: "compute_80" gives PTX, "sm_90" a CUBIN. Throws
// DeviceError "NVRTC could not compile <name> for <arch>: <log>" on a compile error, so
// a generator bug reads like a compiler error.
NvrtcResult nvrtc_compile(const std::string& source, const std::string& arch, const std::string& name = "kernel.cu");

// The NVRTC target for a device of compute capability major.minor: "sm_XY" when this
// NVRTC knows the device (CUBIN, no JIT at load), else PTX for the newest architecture
// it knows below the device ("compute_XY"), which the driver compiles at load.
std::string nvrtc_arch_for(int major, int minor);

// FNV-1a, 64 bits: names cached kernels.
uint64_t source_hash(const std::string& text);

// Compiled and loaded kernels, cached by (architecture, source): each distinct source
// is compiled once per process. With DAGRAD_CUDA_KERNEL_CACHE=<dir> in the environment
// the compiled images are also kept on disk (<hash>-<arch>.cubin / .ptx, written
// atomically), so later processes skip NVRTC. Thread-safe.
class KernelCache {
 public:
  static KernelCache& instance();
  // The kernel `kernel_name` of `source`, compiled for `device`'s architecture.
  cudaKernel_t get(int device, const std::string& source, const std::string& kernel_name);

  struct Stats {
    uint64_t compiled = 0;    // NVRTC runs
    uint64_t disk_hits = 0;   // images read from the disk cache
    uint64_t memory_hits = 0; // lookups served by kernels already loaded
  };
  Stats stats() const;

 private:
  KernelCache() = default;
  struct Impl;
  Impl& impl() const;
};

}  // namespace dagrad::cuda
