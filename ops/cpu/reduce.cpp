// sum, mean, max, prod and sum_to: one reduction engine. Every output element is reduced in an
// order fixed by the shapes alone (never by the thread count): contiguous runs are
// folded into kLanes interleaved accumulators per block of at most kBlock elements and
// the block partials combined in order; strided reductions add whole input rows, four
// at a time, into a row of accumulators.
#include "ops/cpu/reduce.h"

#include <algorithm>
#include <limits>
#include <type_traits>

#include "ops/builtin_ops.h"
#include "ops/cpu/immintrin_quiet.h"
#include "ops/cpu/shape_copy.h"
#include "ops/shape_util.h"
#include "runtime/thread_buffer.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

constexpr int kLanes = 32;          // interleaved accumulators: several independent vector chains
constexpr int64_t kBlock = 8192;    // input elements per partial in a contiguous reduction
constexpr int64_t kColChunk = 256;  // output columns per work item in a strided reduction
constexpr int64_t kWork = 32768;    // input elements that make a work piece worth a thread
constexpr int64_t kFewItems = 64;   // fewer work items than this would leave threads idle

// Sums accumulate in double, even for float32: memory bandwidth bounds them anyway.
template <class T>
struct SumOp {
  using Acc = double;
  static Acc identity() { return 0; }
  static Acc combine(Acc a, Acc b) { return a + b; }
  static T finish(Acc a, double scale) { return static_cast<T>(a * scale); }
};

// NaN wins, as in NumPy and PyTorch.
template <class T>
struct MaxOp {
  using Acc = T;
  static Acc identity() { return -std::numeric_limits<T>::infinity(); }
  static Acc combine(Acc a, Acc b) { return ((b > a) | (b != b)) ? b : a; }  // | vectorises, || branches
  static T finish(Acc a, double) { return a; }
};

// Products accumulate in double too (no early underflow or overflow in float32).
template <class T>
struct ProdOp {
  using Acc = double;
  static Acc identity() { return 1; }
  static Acc combine(Acc a, Acc b) { return a * b; }
  static T finish(Acc a, double) { return static_cast<T>(a); }
};

// Which input dims a reduction folds (inline up to rank 8: kernels allocate nothing).
using Mask = boost::container::small_vector<bool, 8>;

// Some dims of the input with their (row-major) strides.
struct Dims {
  DimVec n, s;
  int64_t count() const {
    int64_t c = 1;
    for (int64_t v : n) c *= v;
    return c;
  }
};

// The input with size-1 dims dropped and neighbours of the same kind (reduced or kept)
// merged: alternating groups, each contiguous in the input.
struct Geometry {
  DimVec n, s;
  Mask red;
  Dims select(bool reduced, size_t end) const {
    Dims d;
    for (size_t i = 0; i < end; ++i)
      if (red[i] == reduced) d.n.push_back(n[i]), d.s.push_back(s[i]);
    return d;
  }
};

Geometry coalesce(const Shape& shape, const Mask& mask) {
  Geometry g;
  for (size_t d = 0; d < shape.rank(); ++d) {
    if (shape[d] == 1) continue;
    if (!g.n.empty() && g.red.back() == mask[d]) {
      g.n.back() *= shape[d];
    } else {
      g.n.push_back(shape[d]);
      g.red.push_back(mask[d]);
    }
  }
  g.s.resize(g.n.size());
  for (int64_t d = static_cast<int64_t>(g.n.size()) - 1, acc = 1; d >= 0; --d) g.s[d] = acc, acc *= g.n[d];
  return g;
}

// Work items [lo, hi), `per_row` of them to each row of `kept`: fn(item, row, offset)
// with the row's input offset, walked once per row rather than recomputed per item.
template <class Fn>
void for_items_by_row(const Dims& kept, int64_t per_row, int64_t lo, int64_t hi, Fn&& fn) {
  OffsetWalker walk(kept.n, kept.s, lo / per_row);
  int64_t row = lo / per_row;
  for (int64_t item = lo; item < hi; ++item) {
    if (item / per_row != row) {
      row = item / per_row;
      walk.next();
    }
    fn(item, row, walk.offset());
  }
}

// Folds x[0, n) into the lanes: element i goes to lane i % kLanes.
template <class Op, class T>
inline void accumulate(const T* x, int64_t n, typename Op::Acc* lanes) {
  using Acc = typename Op::Acc;
  Acc acc[kLanes];
  std::copy(lanes, lanes + kLanes, acc);
  int64_t i = 0;
  // The lane loop stays a loop so that the loop vectoriser takes it (max and its NaN
  // test included); fully unrolled, it would be left to SLP, which gives up on max.
  for (; i + kLanes <= n; i += kLanes)
#pragma GCC unroll 1
    for (int k = 0; k < kLanes; ++k) acc[k] = Op::combine(acc[k], static_cast<Acc>(x[i + k]));
  for (int k = 0; i + k < n; ++k) acc[k] = Op::combine(acc[k], static_cast<Acc>(x[i + k]));
  std::copy(acc, acc + kLanes, lanes);
}

#if defined(__AVX512F__)
// The same for float32 sums, with the 32 double lanes held in four registers: the generic
// loop keeps them in memory, which bounds it by store-to-load latency (a bias gradient's
// sum over [64, 64, 24, 24] took 1.4 ms). Each lane adds the same elements in the same
// order, so results are unchanged.
template <>
inline void accumulate<SumOp<float>, float>(const float* x, int64_t n, double* lanes) {
  static_assert(kLanes == 32);
  __m512d a0 = _mm512_loadu_pd(lanes), a1 = _mm512_loadu_pd(lanes + 8);
  __m512d a2 = _mm512_loadu_pd(lanes + 16), a3 = _mm512_loadu_pd(lanes + 24);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m512 lo = _mm512_loadu_ps(x + i), hi = _mm512_loadu_ps(x + i + 16);
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(lo)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(lo, 1)));
    a2 = _mm512_add_pd(a2, _mm512_cvtps_pd(_mm512_castps512_ps256(hi)));
    a3 = _mm512_add_pd(a3, _mm512_cvtps_pd(_mm512_extractf32x8_ps(hi, 1)));
  }
  _mm512_storeu_pd(lanes, a0), _mm512_storeu_pd(lanes + 8, a1);
  _mm512_storeu_pd(lanes + 16, a2), _mm512_storeu_pd(lanes + 24, a3);
  for (int k = 0; i + k < n; ++k) lanes[k] += static_cast<double>(x[i + k]);
}
#endif

// The last input dim is kept: each output row accumulates whole input rows, column-wise
// (vertical adds that vectorise), in the order of the reduced indices. When that leaves
// few work items but many rows to add (a batch sum of [N, C] with small C), the rows are
// cut into fixed blocks whose partial rows are then combined in order.
template <class T, class Op>
void reduce_columns(const T* x, T* out, const Geometry& g, double scale) {
  using Acc = typename Op::Acc;
  const size_t m = g.n.size();
  const int64_t cols = g.n[m - 1], width = std::min(cols, kColChunk);
  const Dims kept = g.select(false, m - 1), red = g.select(true, m - 1);
  const int64_t rows = kept.count(), nred = red.count();
  const int64_t chunks = (cols + kColChunk - 1) / kColChunk;
  const int64_t block_rows = std::max<int64_t>(4, kBlock / width);
  const int64_t blocks = rows * chunks < kFewItems && nred > block_rows ? (nred + block_rows - 1) / block_rows : 1;
  // Each block's partial row on cache lines of its own: threads fold rows into them.
  const int64_t stride = line_padded<Acc>(width);
  Acc* partials = thread_buffer<Acc>(blocks > 1 ? static_cast<size_t>(rows * chunks * blocks * stride) : 0);

  // acc[0, len) = the fold of reduced rows [r0, r1), each `len` columns from base.
  auto fold = [&](const T* base, int64_t r0, int64_t r1, int64_t len, Acc* acc) {
    std::fill(acc, acc + len, Op::identity());
    OffsetWalker red_walk(red.n, red.s, r0);
    int64_t r = r0;
    // Four input rows per pass: a quarter of the accumulator traffic.
    for (; r + 4 <= r1; r += 4) {
      const T* p[4];
      for (auto& pk : p) pk = base + red_walk.offset(), red_walk.next();
      for (int64_t j = 0; j < len; ++j) {
        Acc a = Op::combine(static_cast<Acc>(p[0][j]), static_cast<Acc>(p[1][j]));
        Acc b = Op::combine(static_cast<Acc>(p[2][j]), static_cast<Acc>(p[3][j]));
        acc[j] = Op::combine(acc[j], Op::combine(a, b));
      }
    }
    for (; r < r1; ++r, red_walk.next()) {
      const T* p = base + red_walk.offset();
      for (int64_t j = 0; j < len; ++j) acc[j] = Op::combine(acc[j], static_cast<Acc>(p[j]));
    }
  };

  const int64_t rows_per_item = blocks > 1 ? block_rows : nred;
  const int64_t grain = std::max<int64_t>(1, kWork / (rows_per_item * width));
  parallel_for(0, rows * chunks * blocks, grain, [&](int64_t lo, int64_t hi) {
    Acc acc[kColChunk];
    const int64_t per_row = chunks * blocks;
    for_items_by_row(kept, per_row, lo, hi, [&](int64_t item, int64_t row, int64_t offset) {
      const int64_t chunk = item % per_row / blocks, block = item % blocks;
      const int64_t c0 = chunk * kColChunk, len = std::min(kColChunk, cols - c0);
      const int64_t r0 = block * rows_per_item, r1 = std::min(nred, r0 + rows_per_item);
      fold(x + offset + c0, r0, r1, len, blocks > 1 ? &partials[item * stride] : acc);
      if (blocks == 1) {
        T* o = out + row * cols + c0;
        for (int64_t j = 0; j < len; ++j) o[j] = Op::finish(acc[j], scale);
      }
    });
  });
  if (blocks == 1) return;
  parallel_for(0, rows * chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t piece = lo; piece < hi; ++piece) {
      const int64_t row = piece / chunks, c0 = piece % chunks * kColChunk, len = std::min(kColChunk, cols - c0);
      const Acc* part = &partials[piece * blocks * stride];
      for (int64_t j = 0; j < len; ++j) {
        Acc a = Op::identity();
        for (int64_t b = 0; b < blocks; ++b) a = Op::combine(a, part[b * stride + j]);
        out[row * cols + c0 + j] = Op::finish(a, scale);
      }
    }
  });
}

// The last input dim is reduced: each output folds contiguous runs. Its work is cut into
// items (one kBlock piece of a long run, or a group of whole short runs) whose partials
// are combined in order, so a few large outputs (a full reduction) still use every thread.
template <class T, class Op>
void reduce_rows(const T* x, T* out, const Geometry& g, double scale) {
  using Acc = typename Op::Acc;
  const size_t m = g.n.size();
  const int64_t len = g.n[m - 1];
  const Dims kept = g.select(false, m), runs = g.select(true, m - 1);
  const int64_t outs = kept.count(), nruns = runs.count();
  const bool long_runs = len >= kBlock;
  const int64_t blocks_per_run = (len + kBlock - 1) / kBlock, runs_per_item = std::max<int64_t>(1, kBlock / len);
  const int64_t items = long_runs ? nruns * blocks_per_run : (nruns + runs_per_item - 1) / runs_per_item;

  auto partial = [&](int64_t base, int64_t item) {
    Acc lanes[kLanes];
    std::fill(lanes, lanes + kLanes, Op::identity());
    if (long_runs) {
      const int64_t c0 = (item % blocks_per_run) * kBlock;
      OffsetWalker w(runs.n, runs.s, item / blocks_per_run);
      accumulate<Op>(x + base + w.offset() + c0, std::min(kBlock, len - c0), lanes);
    } else {
      const int64_t r0 = item * runs_per_item, r1 = std::min(nruns, r0 + runs_per_item);
      OffsetWalker w(runs.n, runs.s, r0);
      for (int64_t r = r0; r < r1; ++r, w.next()) accumulate<Op>(x + base + w.offset(), len, lanes);
    }
    Acc a = Op::identity();
    for (int k = 0; k < kLanes; ++k) a = Op::combine(a, lanes[k]);
    return a;
  };

  // One short run per output (a row sum over a head dim, say): in order, as the lanes
  // would give it (lane k holds element k alone, and the lanes are combined in order),
  // without filling and folding 32 lanes per output.
  if (nruns == 1 && len < kLanes) {
    parallel_for(0, outs, std::max<int64_t>(1, kWork / len), [&](int64_t lo, int64_t hi) {
      OffsetWalker w(kept.n, kept.s, lo);
      for (int64_t o = lo; o < hi; ++o, w.next()) {
        const T* xo = x + w.offset();
        Acc a = Op::identity();
        for (int64_t k = 0; k < len; ++k) a = Op::combine(a, static_cast<Acc>(xo[k]));
        out[o] = Op::finish(a, scale);
      }
    });
    return;
  }

  if (items == 1) {
    parallel_for(0, outs, std::max<int64_t>(1, kWork / (nruns * len)), [&](int64_t lo, int64_t hi) {
      OffsetWalker w(kept.n, kept.s, lo);
      for (int64_t o = lo; o < hi; ++o, w.next()) out[o] = Op::finish(partial(w.offset(), 0), scale);
    });
    return;
  }
  Acc* partials = thread_buffer<Acc>(static_cast<size_t>(outs * items));
  parallel_for(0, outs * items, std::max<int64_t>(1, kWork / kBlock), [&](int64_t lo, int64_t hi) {
    for_items_by_row(kept, items, lo, hi,
                     [&](int64_t i, int64_t, int64_t offset) { partials[i] = partial(offset, i % items); });
  });
  parallel_for(0, outs, std::max<int64_t>(1, kWork / items), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      Acc a = Op::identity();
      for (int64_t i = 0; i < items; ++i) a = Op::combine(a, partials[o * items + i]);
      out[o] = Op::finish(a, scale);
    }
  });
}

// A bias gradient's sum: the input coalesces to [A, C, L] with A and L reduced. Each run
// of L (a "plane"; A·C of them in memory order) is folded on its own, as partial() folds
// one run, then each output adds its A planes in order. So plane sums that the producing
// step already took (PlaneSums) give the same bits as folding the planes here.
bool is_plane_sum(const Geometry& g) {
  return g.n.size() == 3 && g.red[0] && !g.red[1] && g.red[2] && g.n[2] >= kLanes;
}

template <class T>
double plane_sum(const T* x, int64_t len) {
  double lanes[kLanes];
  std::fill(lanes, lanes + kLanes, 0.0);
  accumulate<SumOp<T>>(x, len, lanes);
  double a = 0;
  for (double lane : lanes) a += lane;
  return a;
}

template <class T>
void reduce_planes(const T* x, T* out, const Geometry& g, double scale, const PlaneSums* taken) {
  const int64_t outer = g.n[0], cols = g.n[1], len = g.n[2], planes = outer * cols;
  if (taken && (taken->len != len || static_cast<int64_t>(taken->ready.size()) != planes)) taken = nullptr;
  double* sums = thread_buffer<double>(static_cast<size_t>(planes));
  parallel_for(0, planes, std::max<int64_t>(1, kWork / len), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) sums[p] = taken && taken->ready[p] ? taken->sums[p] : plane_sum(x + p * len, len);
  });
  parallel_for(0, cols, std::max<int64_t>(1, kWork / outer), [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      double a = 0;
      for (int64_t i = 0; i < outer; ++i) a += sums[i * cols + c];
      out[c] = SumOp<T>::finish(a, scale);
    }
  });
}

template <template <class> class OpT>
void reduce(const Tensor& x, Tensor& out, const Mask& mask, double scale, const char* who,
            const PlaneSums* taken = nullptr) {
  dispatch_floating(x.dtype(), who, [&]<class T>() {
    using Op = OpT<T>;
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    if (x.numel() == 0) {
      std::fill(dst, dst + out.numel(), Op::finish(Op::identity(), scale));
      return;
    }
    Geometry g = coalesce(x.shape(), mask);
    if (std::find(g.red.begin(), g.red.end(), true) == g.red.end()) {
      // Only size-1 dims are reduced: an elementwise copy.
      parallel_for(0, out.numel(), kWork, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) dst[i] = Op::finish(static_cast<typename Op::Acc>(src[i]), scale);
      });
    } else if (g.red.back()) {
      if constexpr (std::is_same_v<Op, SumOp<T>>)
        if (is_plane_sum(g)) return reduce_planes<T>(src, dst, g, scale, taken);
      reduce_rows<T, Op>(src, dst, g, scale);
    } else {
      reduce_columns<T, Op>(src, dst, g, scale);
    }
  });
}

// The node's axes were checked when it was built (reduce_mask in its shape inference).
Mask node_mask(const Node& n, const Shape& s) {
  const std::vector<int64_t>& axes = n.params<AxesParams>().axes;
  Mask mask(s.rank(), axes.empty());
  for (int64_t axis : axes) mask[normalize_axis(s, axis, n.op_name())] = true;
  return mask;
}
Mask node_mask(const KernelContext& ctx) { return node_mask(ctx.node, ctx.inputs[0].shape()); }

}  // namespace

void sum_cpu(const KernelContext& ctx) {
  reduce<SumOp>(ctx.inputs[0], ctx.outputs[0], node_mask(ctx), 1.0, "sum", ctx.plane_sums);
}

int64_t plane_sum_length_cpu(const Node& n) {
  if (n.op != op::sum || n.inputs.size() != 1) return 0;
  const Shape& s = n.inputs[0].shape();
  const DType dt = n.inputs[0].dtype();
  if ((dt != DType::f32 && dt != DType::f64) || s.numel() == 0) return 0;
  const Geometry g = coalesce(s, node_mask(n, s));
  return is_plane_sum(g) ? g.n[2] : 0;
}

void collect_plane_sums_cpu(const Tensor& value, int64_t begin, int64_t end, PlaneSums& sums) {
  const int64_t len = sums.len;
  dispatch_floating(value.dtype(), "plane sums", [&]<class T>() {
    const T* x = value.data<T>();
    for (int64_t p = (begin + len - 1) / len; p < end / len; ++p) {
      sums.sums[p] = plane_sum(x + p * len, len);
      sums.ready[p] = 1;
    }
  });
}

void mean_cpu(const KernelContext& ctx) {
  Mask mask = node_mask(ctx);
  const Shape& s = ctx.inputs[0].shape();
  int64_t count = 1;
  for (size_t d = 0; d < s.rank(); ++d)
    if (mask[d]) count *= s[d];
  reduce<SumOp>(ctx.inputs[0], ctx.outputs[0], mask, 1.0 / static_cast<double>(count), "mean");
}

void max_cpu(const KernelContext& ctx) { reduce<MaxOp>(ctx.inputs[0], ctx.outputs[0], node_mask(ctx), 1.0, "max"); }
void prod_cpu(const KernelContext& ctx) { reduce<ProdOp>(ctx.inputs[0], ctx.outputs[0], node_mask(ctx), 1.0, "prod"); }

// Reduces the leading dims that broadcasting added and the dims it expanded from 1.
void sum_to_cpu(const KernelContext& ctx) {
  const Shape& s = ctx.inputs[0].shape();
  const Shape& to = ctx.outputs[0].shape();
  const size_t lead = s.rank() - to.rank();
  Mask mask(s.rank(), true);
  for (size_t d = lead; d < s.rank(); ++d) mask[d] = to[d - lead] != s[d];
  reduce<SumOp>(ctx.inputs[0], ctx.outputs[0], mask, 1.0, "sum_to");
}

// A strided copy with stride 0 along the broadcast dims.
void broadcast_to_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  const size_t lead = y.rank() - x.rank();
  std::vector<int64_t> in_strides = x.shape().strides(), strides(y.rank(), 0);
  for (size_t d = lead; d < y.rank(); ++d) strides[d] = x.shape()[d - lead] == 1 ? 0 : in_strides[d - lead];
  strided_copy(x.raw_data(), 0, strides, y.raw_data(), dims_of(y.shape()), dtype_size(x.dtype()));
}

}  // namespace dagrad
