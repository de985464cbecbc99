// The CPU-only build's CUDA kernel table: empty (a CUDA build links ops/cuda/kernels.cpp).
#include "ops/kernel_table.h"

namespace dagrad {

void fill_cuda_kernels(KernelTable&) {}

}  // namespace dagrad
