// The CPU-only build: collectives have no CUDA kernel (a CUDA build links
// comm/cuda_collectives.cpp).
#include "comm/collective_ops.h"

namespace dagrad::comm {

void fill_cuda_collectives(KernelTable&, const OpDef&) {}

}  // namespace dagrad::comm
