// Fused elementwise groups on CUDA: each FusedProgram becomes CUDA C, one grid-stride
// kernel whose body calls the members' functors (ops/elementwise_math.h, passed
// verbatim as the prelude) in program order, reading every external input once and
// writing only the materialised outputs. NVRTC compiles it at run time for the
// device's architecture; kernels are cached by source (runtime/cuda/nvrtc_compiler.h).
#pragma once
#include <span>
#include <string>

#include "scheduler/fused_program.h"

namespace dagrad::scheduler {

// The complete, self-contained source of `p`'s kernel `extern "C" dagrad_fused(...)`:
// parameters are the inputs' then the outputs' data pointers, in program order. The
// group's shape, broadcast strides and the members' parameters are constants in it.
std::string cuda_fused_source(const FusedProgram& p);
inline constexpr const char* kCudaFusedKernelName = "dagrad_fused";

// The CUDA FusedLauncher: compiles (once per program) and launches on `stream`.
void run_fused_cuda(const FusedProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs, Stream* stream);

// run_fused_cuda in a CUDA build, null in a CPU-only one (fused_program.cpp registers it).
FusedLauncher cuda_fused_launcher();

}  // namespace dagrad::scheduler
