// A build without CUDA: no device to measure (cuda_peak checks first, so this only
// answers a direct call).
#include "profiler/machine_peaks_cuda.h"

#include "runtime/backend.h"
#include "runtime/error.h"

namespace dagrad::profiler::detail {

CudaDeviceInfo cuda_device_info(int) { throw DeviceError(cuda_unavailable_reason()); }
double measure_cuda_copy_gbps(int) { throw DeviceError(cuda_unavailable_reason()); }

}  // namespace dagrad::profiler::detail
