// The CUDA backend's kernel table (the CPU-only build links ops/no_cuda's empty one):
// every family's glue adds its kernels; elementwise ops and fused groups run as
// generated NVRTC kernels (ops/cuda/elementwise_codegen.h).
#include "ops/cuda/elementwise_codegen.h"
#include "ops/cuda/glue.h"
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

}  // namespace cuda

void fill_cuda_kernels(KernelTable& t) {
  t.elementwise = cuda::run_program_cuda;
  cuda::fill_cast(t);
  cuda::fill_reduce_shape(t);
  cuda::fill_linalg_conv(t);
  cuda::fill_nn_optim(t);
  cuda::fill_transformer(t);
}

}  // namespace dagrad
