// The texts of ops/elementwise_math.h, runtime/float16.h and runtime/hostdev.h, embedded
// at build time (ops/CMakeLists.txt): the prelude of every generated fused kernel, so NVRTC compiles
// the very functors and conversions the CPU and the nvcc kernels run.
#pragma once
#include <string_view>

namespace dagrad::cuda {

std::string_view elementwise_math_source();
// The text of runtime/hostdev.h: DAGRAD_HD, in front of both.
std::string_view hostdev_source();
// The text of runtime/float16.h: the 16-bit conversions, in front of the math.
std::string_view float16_source();

}  // namespace dagrad::cuda
