// The runtime's entry points into the CUDA backend. A CUDA build links
// runtime/cuda/*.cpp; a CPU-only build links runtime/no_cuda/cuda_stub.cpp, whose
// functions report "built without CUDA" (MLX's no_gpu pattern), so no code outside
// these files needs #ifdef.
#pragma once
#include <string>

namespace dagrad {
class Backend;
namespace cuda {

bool built_with_cuda();
int device_count();               // 0 when not built in, no driver or no device
std::string unavailable_reason(); // one line; empty when a device is usable
// The backend of device `index`; throws DeviceError with the reason when unusable.
Backend& backend(int index);

}  // namespace cuda
}  // namespace dagrad
