// Elementwise programs on CUDA: each program (one op, or a fused group) becomes CUDA C,
// one grid-stride kernel whose body calls the members' functors (ops/elementwise_math.h,
// passed verbatim as the prelude) in program order, reading every external input once
// and writing only the materialised outputs. NVRTC compiles it at run time for the
// device's architecture; kernels are cached by source (runtime/cuda/nvrtc_compiler.h).
#pragma once
#include <span>
#include <string>

#include "ops/elementwise_program.h"

namespace dagrad::cuda {

// The complete, self-contained source of `p`'s kernel `extern "C" dagrad_elementwise(...)`:
// parameters are the inputs' then the outputs' data pointers, in program order. The
// program's shape, broadcast strides and the members' parameters are constants in it.
std::string elementwise_source(const ElementwiseProgram& p);
inline constexpr const char* kElementwiseKernelName = "dagrad_elementwise";

// The CUDA ProgramLauncher: compiles (once per program) and launches on `stream`.
void run_program_cuda(const ElementwiseProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                      Stream* stream);

}  // namespace dagrad::cuda
