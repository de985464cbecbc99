#include "ops/defs/families.h"

namespace dagrad {
// The CPU-only build: no CUDA kernels (a CUDA build links ops/cuda/ instead).
void attach_cuda_kernels(OpRegistry&) {}
}  // namespace dagrad
