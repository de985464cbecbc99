#include "ops/defs/families.h"

namespace dagrad {
// CPU-only build (and CUDA builds until the CUDA kernels land): no CUDA kernels.
void attach_cuda_kernels(OpRegistry&) {}
}  // namespace dagrad
