// gather and gather_backward on the CPU over data viewed as [outer, n, inner] along the
// axis. The scatter-add gives each task a range of destination rows; a task visits the
// indices in order and adds the rows that land in its range, so every destination sums
// its contributions in index order whatever the partition: deterministic.
#include "ops/cpu/gather.h"

#include <algorithm>
#include <cstring>

#include "ops/params/index.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

// The index as a row of [0, n), or a ValueError naming it.
int64_t checked_index(const char* who, int64_t t, int64_t n, int64_t position) {
  const int64_t row = t < 0 ? t + n : t;
  if (row < 0 || row >= n)
    throw ValueError(str_cat("[", who, "] index ", t, " (at flat position ", position, " of the indices) is out of range ",
                             "for an axis of size ", n, "; indices must be in [", -n, ", ", n, ")"));
  return row;
}

}  // namespace

void gather_cpu(const KernelContext& ctx) {
  const Tensor& data = ctx.inputs[0];
  const Tensor& indices = ctx.inputs[1];
  const GatherGeom g = gather_geom(data.shape(), ctx.params<GatherParams>().axis, indices.numel());
  const int64_t* idx = indices.data<int64_t>();
  for (int64_t i = 0; i < g.count; ++i) checked_index("gather", idx[i], g.n, i);
  const size_t row_bytes = static_cast<size_t>(g.inner) * dtype_size(data.dtype());
  const char* src = static_cast<const char*>(data.raw_data());
  char* dst = static_cast<char*>(ctx.outputs[0].raw_data());
  if (row_bytes == 0) return;
  parallel_for(0, g.outer * g.count, std::max<int64_t>(1, 65536 / static_cast<int64_t>(row_bytes)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t r = lo; r < hi; ++r) {
                   const int64_t o = r / g.count, i = r % g.count;
                   const int64_t row = idx[i] < 0 ? idx[i] + g.n : idx[i];
                   std::memcpy(dst + r * row_bytes, src + (o * g.n + row) * row_bytes, row_bytes);
                 }
               });
}

void gather_backward_cpu(const KernelContext& ctx) {
  const Tensor& grad = ctx.inputs[0];
  const Tensor& indices = ctx.inputs[1];
  const GatherGeom g = gather_geom(ctx.outputs[0].shape(), ctx.params<GatherBackwardParams>().axis, indices.numel());
  const int64_t* idx = indices.data<int64_t>();
  for (int64_t i = 0; i < g.count; ++i) checked_index("gather_backward", idx[i], g.n, i);
  dispatch_floating(grad.dtype(), "gather_backward", [&]<class T>() {
    const T* gp = grad.data<T>();
    T* out = ctx.outputs[0].data<T>();
    // Destination rows (of outer·n) per task: each task scans all the indices once.
    parallel_for(0, g.outer * g.n, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.inner)),
                 [&](int64_t lo, int64_t hi) {
                   std::fill(out + lo * g.inner, out + hi * g.inner, T(0));
                   for (int64_t o = lo / g.n; o * g.n < hi; ++o) {
                     const int64_t first = std::max(lo, o * g.n) - o * g.n, last = std::min(hi, (o + 1) * g.n) - o * g.n;
                     for (int64_t i = 0; i < g.count; ++i) {
                       const int64_t row = idx[i] < 0 ? idx[i] + g.n : idx[i];
                       if (row < first || row >= last) continue;
                       T* d = out + (o * g.n + row) * g.inner;
                       const T* s = gp + (o * g.count + i) * g.inner;
                       for (int64_t j = 0; j < g.inner; ++j) d[j] += s[j];
                     }
                   }
                 });
  });
}

}  // namespace dagrad
