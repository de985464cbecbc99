#include "runtime/backend.h"
#include "runtime/cuda/cuda_entry.h"
#include "runtime/error.h"

namespace dagrad::cuda {

bool built_with_cuda() { return false; }
int device_count() { return 0; }
std::string unavailable_reason() {
  return "this dagrad was built without CUDA (configure with -DDAGRAD_CUDA=ON where nvcc is installed)";
}
Backend& backend(int) { throw DeviceError(unavailable_reason()); }

}  // namespace dagrad::cuda
