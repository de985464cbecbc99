#include "runtime/backend.h"

#include "runtime/cpu/cpu_backend.h"
#include "runtime/cuda/cuda_entry.h"

namespace dagrad {

Backend& backend_for(Device device) {
  if (device.is_cpu()) return cpu_backend();
  return cuda::backend(device.index);
}

bool cuda_available() { return cuda::device_count() > 0; }
int cuda_device_count() { return cuda::device_count(); }
std::string cuda_unavailable_reason() { return cuda::unavailable_reason(); }

}  // namespace dagrad
