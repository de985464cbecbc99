// The CUDA half of machine_peaks.h, private to it: machine_peaks_cuda.cpp in a CUDA
// build, no_cuda/machine_peaks_cuda.cpp (which throws DeviceError) otherwise.
#pragma once
#include <string>

namespace dagrad::profiler::detail {

struct CudaDeviceInfo {
  std::string name;  // "NVIDIA H100 80GB HBM3"
  int major = 0, minor = 0;
  int sms = 0;
  double clock_ghz = 0;  // the SMs' boost clock
};

// Properties only: no kernel runs. Throws DeviceError when the device cannot be used.
CudaDeviceInfo cuda_device_info(int index);
// Device-to-device copy bandwidth (bytes read + written per second, in GB/s): the best of
// a few timed copies of a buffer far larger than the L2 cache.
double measure_cuda_copy_gbps(int index);

// FP32 FMA units per SM for compute capability major.minor (the CUDA programming guide's
// throughput table); 128 for architectures newer than the table.
int fp32_lanes_per_sm(int major, int minor);

}  // namespace dagrad::profiler::detail
