#include "ops/cpu/shape.h"

#include <algorithm>
#include <cstring>

#include "ops/cpu/shape_copy.h"
#include "ops/params/shape.h"
#include "ops/shape_util.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

constexpr int64_t kChunk = 16384;  // elements per concat work item

// y = x permuted: output dim d reads input dim perm[d].
void permuted_copy(const Tensor& x, Tensor& y, const std::vector<int>& perm) {
  std::vector<int64_t> in_strides = x.shape().strides(), strides(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) strides[d] = in_strides[perm[d]];
  strided_copy(x.raw_data(), 0, strides, y.raw_data(), dims_of(y.shape()), dtype_size(x.dtype()));
}

}  // namespace

void reshape_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  parallel_copy(x.raw_data(), ctx.outputs[0].raw_data(), x.numel(), dtype_size(x.dtype()));
}

void transpose_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  std::vector<int> perm(x.rank());
  for (size_t d = 0; d < perm.size(); ++d) perm[d] = static_cast<int>(d);
  const TransposeParams& p = ctx.params<TransposeParams>();
  const int d0 = normalize_axis(x.shape(), p.dim0, "transpose");
  const int d1 = normalize_axis(x.shape(), p.dim1, "transpose");
  std::swap(perm[d0], perm[d1]);
  permuted_copy(x, ctx.outputs[0], perm);
}

void permute_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  std::vector<int> perm;
  for (int64_t p : ctx.params<PermuteParams>().perm) perm.push_back(normalize_axis(x.shape(), p, "permute"));
  permuted_copy(x, ctx.outputs[0], perm);
}

void slice_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const SliceParams& p = ctx.params<SliceParams>();
  const int axis = normalize_axis(x.shape(), p.axis, "slice");
  int64_t start = p.start;
  if (start < 0) start += x.shape()[axis];
  std::vector<int64_t> strides = x.shape().strides();
  strided_copy(x.raw_data(), start * strides[axis], strides, ctx.outputs[0].raw_data(), dims_of(ctx.outputs[0].shape()),
               dtype_size(x.dtype()));
}

// Viewed as [outer, axis, inner], each output row is the inputs' rows side by side. Work
// items are pieces of at most kChunk elements of one input's part of one output row.
void concat_cpu(const KernelContext& ctx) {
  Tensor& y = ctx.outputs[0];
  const int axis = normalize_axis(y.shape(), ctx.params<ConcatParams>().axis, "concat");
  const AxisView v = view_along(y.shape(), axis, "concat");
  const size_t esize = dtype_size(y.dtype());
  struct Piece {
    const char* src;
    int64_t src_row, dst_col, len;  // in elements
  };
  std::vector<Piece> pieces;
  int64_t col = 0;
  for (const Tensor& x : ctx.inputs) {
    const int64_t row = x.shape()[axis] * v.inner;
    for (int64_t c = 0; c < row; c += kChunk)
      pieces.push_back({static_cast<const char*>(x.raw_data()) + c * esize, row, col + c, std::min(kChunk, row - c)});
    col += row;
  }
  const int64_t dst_row = col, np = static_cast<int64_t>(pieces.size());
  if (np == 0 || v.outer == 0) return;
  char* dst = static_cast<char*>(y.raw_data());
  const int64_t grain = std::max<int64_t>(1, kChunk / std::max<int64_t>(1, dst_row / np));
  parallel_for(0, v.outer * np, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t r = i / np;
      const Piece& p = pieces[i % np];
      std::memcpy(dst + (r * dst_row + p.dst_col) * esize, p.src + r * p.src_row * esize,
                  static_cast<size_t>(p.len) * esize);
    }
  });
}

}  // namespace dagrad
