// The text of ops/elementwise_math.h, embedded at build time (ops/CMakeLists.txt): the
// prelude of every generated fused kernel, so NVRTC compiles the very functors the CPU
// and the nvcc kernels run.
#pragma once
#include <string_view>

namespace dagrad::cuda {

std::string_view elementwise_math_source();

}  // namespace dagrad::cuda
