// The CUDA build's attach_cuda_kernels (the CPU-only build links ops/no_cuda's no-op):
// every family's glue sets OpDef::kernels[cuda] for its ops.
#include "ops/cuda/glue.h"
#include "ops/defs/families.h"
#include "ops/registry.h"
#include "runtime/error.h"

namespace dagrad {

namespace cuda {

StridedView make_view(const std::vector<int64_t>& size, const std::vector<int64_t>& stride, const char* who) {
  StridedView v;
  for (size_t d = 0; d < size.size(); ++d) {
    if (size[d] == 1) continue;
    if (v.rank > 0 && v.stride[v.rank - 1] == stride[d] * size[d]) {
      v.size[v.rank - 1] *= size[d];
      v.stride[v.rank - 1] = stride[d];
      continue;
    }
    if (v.rank == kMaxDims)
      throw InternalError(str_cat("[", who, "] the CUDA kernels handle at most ", kMaxDims,
                                  " dimensions after merging contiguous ones"));
    v.size[v.rank] = size[d];
    v.stride[v.rank] = stride[d];
    ++v.rank;
  }
  return v;
}

void set_cuda_kernel(OpRegistry& r, const char* name, Kernel k) {
  r.get_mutable(name).kernels[static_cast<int>(DeviceType::cuda)] = k;
}

}  // namespace cuda

void attach_cuda_kernels(OpRegistry& r) {
  cuda::attach_elementwise(r);
  cuda::attach_reduce_shape(r);
  cuda::attach_linalg_conv(r);
  cuda::attach_nn_optim(r);
}

}  // namespace dagrad
