// CUDA device peaks (a CUDA build only): properties through the runtime API and a timed
// device-to-device copy. The caller has checked that the device exists.
#include "profiler/machine_peaks_cuda.h"

#include <cuda_runtime_api.h>

#include <algorithm>

#include "runtime/cuda/cuda_check.h"

namespace dagrad::profiler::detail {

namespace {

// Makes `index` the calling thread's device for the scope, restoring the previous one.
class DeviceScope {
 public:
  explicit DeviceScope(int index) {
    DAGRAD_CUDA_CHECK(cudaGetDevice(&previous_));
    DAGRAD_CUDA_CHECK(cudaSetDevice(index));
  }
  ~DeviceScope() { (void)cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) { DAGRAD_CUDA_CHECK(cudaMalloc(&p_, bytes)); }
  ~DeviceBuffer() { (void)cudaFree(p_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
};

class EventHandle {
 public:
  EventHandle() { DAGRAD_CUDA_CHECK(cudaEventCreate(&e_)); }
  ~EventHandle() { (void)cudaEventDestroy(e_); }
  EventHandle(const EventHandle&) = delete;
  EventHandle& operator=(const EventHandle&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

}  // namespace

CudaDeviceInfo cuda_device_info(int index) {
  cudaDeviceProp props{};
  DAGRAD_CUDA_CHECK(cudaGetDeviceProperties(&props, index));
  int clock_khz = 0;  // cudaDeviceProp::clockRate is gone in CUDA 13: ask the attribute
  DAGRAD_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, index));
  CudaDeviceInfo info;
  info.name = props.name;
  info.major = props.major;
  info.minor = props.minor;
  info.sms = props.multiProcessorCount;
  info.clock_ghz = clock_khz * 1e-6;
  return info;
}

double measure_cuda_copy_gbps(int index) {
  DeviceScope scope(index);
  size_t free_bytes = 0, total_bytes = 0;
  DAGRAD_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  // 256 MiB per buffer: far beyond any L2 cache, a few ms per copy on a current GPU.
  const size_t bytes = std::min<size_t>(size_t{256} << 20, free_bytes / 4);
  DeviceBuffer src(bytes), dst(bytes);
  DAGRAD_CUDA_CHECK(cudaMemset(src.get(), 0, bytes));
  EventHandle start, stop;
  double best_ms = 0;
  for (int i = 0; i < 6; ++i) {  // the first copy warms up; the best of the rest counts
    DAGRAD_CUDA_CHECK(cudaEventRecord(start.get(), nullptr));
    DAGRAD_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, nullptr));
    DAGRAD_CUDA_CHECK(cudaEventRecord(stop.get(), nullptr));
    DAGRAD_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float ms = 0;
    DAGRAD_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    if (i > 0 && ms > 0 && (best_ms == 0 || ms < best_ms)) best_ms = ms;
  }
  return best_ms > 0 ? 2.0 * static_cast<double>(bytes) / (best_ms * 1e-3) / 1e9 : 0;
}

}  // namespace dagrad::profiler::detail
