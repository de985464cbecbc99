// ONNX reductions (ReduceSum ... ReduceLogSumExp), ArgMax/ArgMin, Softmax, LogSoftmax,
// CumSum.
#include <onnx/onnx_pb.h>

#include "frontend/onnx/translate.h"
#include "ops/ops.h"

namespace dagrad::onnx {

namespace {

struct Reduction {
  std::vector<int64_t> axes;  // empty: all
  bool keepdims = true;
  bool noop = false;  // no axes given and noop_with_empty_axes set: the input itself
};

// Axes as an attribute, or (ReduceSum from opset 13) an optional known input.
Reduction reduction_of(NodeContext& c, bool axes_input) {
  Reduction r;
  r.keepdims = c.attr_int("keepdims", 1) != 0;
  if (axes_input) {
    if (c.has_input(1)) r.axes = c.known_ints(1, "axes");
    r.noop = r.axes.empty() && c.attr_int("noop_with_empty_axes", 0) != 0;
  } else {
    r.axes = c.attr_ints("axes");
  }
  return r;
}

// sum over the axes of f(x), then g of the result.
template <Value (*Reduce)(Value, std::vector<int64_t>, bool, const std::source_location&)>
Outputs reduce_with(NodeContext& c, bool axes_input, Value (*pre)(Value), Value (*post)(Value)) {
  const Reduction r = reduction_of(c, axes_input);
  if (r.noop) return one(c.input(0));
  Value x = as_dtype(c.input(0), arithmetic_dtype(c.dtype(0)));
  if (pre) x = pre(x);
  Value y = Reduce(x, r.axes, r.keepdims, std::source_location::current());
  return one(as_dtype(post ? post(y) : y, c.dtype(0)));
}

Value square(Value x) { return x * x; }
Value sqrt_(Value x) { return sqrt(x); }
Value log_(Value x) { return log(x); }
Value abs_(Value x) { return abs(x); }
Value neg_(Value x) { return -x; }
Value sum_(Value x, std::vector<int64_t> a, bool k, const std::source_location& l) { return sum(x, a, k, l); }
Value mean_(Value x, std::vector<int64_t> a, bool k, const std::source_location& l) { return mean(x, a, k, l); }
Value max_(Value x, std::vector<int64_t> a, bool k, const std::source_location& l) { return max(x, a, k, l); }
Value prod_(Value x, std::vector<int64_t> a, bool k, const std::source_location& l) { return prod(x, a, k, l); }

template <int kSince>
Outputs reduce_sum(NodeContext& c) { return reduce_with<sum_>(c, kSince >= 13, nullptr, nullptr); }
Outputs reduce_mean(NodeContext& c) { return reduce_with<mean_>(c, false, nullptr, nullptr); }
Outputs reduce_max(NodeContext& c) { return reduce_with<max_>(c, false, nullptr, nullptr); }
Outputs reduce_prod(NodeContext& c) { return reduce_with<prod_>(c, false, nullptr, nullptr); }
Outputs reduce_min(NodeContext& c) { return reduce_with<max_>(c, false, neg_, neg_); }
Outputs reduce_sum_square(NodeContext& c) { return reduce_with<sum_>(c, false, square, nullptr); }
Outputs reduce_l1(NodeContext& c) { return reduce_with<sum_>(c, false, abs_, nullptr); }
Outputs reduce_l2(NodeContext& c) { return reduce_with<sum_>(c, false, square, sqrt_); }
Outputs reduce_log_sum(NodeContext& c) { return reduce_with<sum_>(c, false, nullptr, log_); }
Outputs reduce_log_sum_exp(NodeContext& c) {
  const Reduction r = reduction_of(c, false);
  Value x = c.input(0);
  Value m = max(x, r.axes, true);  // stable: log Σ exp(x - m) + m
  Value y = log(sum(exp(x - m), r.axes, true)) + m;
  return one(r.keepdims ? y : sum(y, r.axes, false));
}

// Before opset 13, softmax coerces the input to 2-D at `axis` (default 1) and normalises
// each row; from 13 it normalises along `axis` (default -1).
template <bool kLog>
Outputs softmax_(NodeContext& c) {
  Value x = c.input(0);
  const Shape in = x.shape();
  auto f = [](Value v, int64_t axis) { return kLog ? log_softmax(v, axis) : softmax(v, axis); };
  if (c.opset() >= 13) return one(f(x, c.attr_int("axis", -1)));
  const int64_t axis = c.axis(c.attr_int("axis", 1), static_cast<int64_t>(in.rank()));
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= in[d];
  Value rows = reshape(x, {outer, in.numel() / std::max<int64_t>(outer, 1)});
  return one(reshape(f(rows, -1), std::vector<int64_t>(in.begin(), in.end())));
}

// ArgMax/ArgMin: the first extreme, or with select_last_index the last one, found as the
// first in the input reversed along the axis (a product with the exchange matrix).
template <bool kMin>
Outputs arg_extreme(NodeContext& c) {
  c.accept_attrs({"axis", "keepdims", "select_last_index"});
  Value x = as_dtype(c.input(0), arithmetic_dtype(c.dtype(0)));
  const int64_t rank = static_cast<int64_t>(x.shape().rank());
  const int64_t axis = c.axis(c.attr_int("axis", 0), rank);
  if (kMin) x = -x;
  const bool last = c.attr_int("select_last_index", 0) != 0;
  const int64_t n = x.shape()[axis];
  Value i;
  if (!last) {
    i = argmax(x, axis);
  } else {
    std::vector<int64_t> perm(rank);
    for (int64_t d = 0; d < rank; ++d) perm[d] = d;
    std::swap(perm[axis], perm[rank - 1]);
    Tensor flip = Tensor::zeros(Shape{n, n}, DType::f64);
    for (int64_t k = 0; k < n; ++k) flip.data<double>()[k * n + (n - 1 - k)] = 1.0;
    Value moved = axis == rank - 1 ? x : permute(x, perm);
    if (rank == 1) moved = reshape(moved, {1, n});
    Value reversed = matmul(moved, constant(c.graph(), flip.to_dtype(x.dtype())));
    if (rank == 1) reversed = reshape(reversed, {n});
    if (axis != rank - 1) reversed = permute(reversed, perm);
    // index in the original = n - 1 - index in the reversed, in float64 and back
    i = cast(static_cast<double>(n - 1) - cast(argmax(reversed, axis), DType::f64), DType::i64);
  }
  if (!c.attr_int("keepdims", 1)) return one(i);
  std::vector<int64_t> dims(x.shape().begin(), x.shape().end());
  dims[axis] = 1;
  return one(reshape(i, dims));
}

// CumSum as a product with a triangular 0/1 matrix along the (last, after a permute)
// axis: exact for the sums of small integers and differentiable like any matmul.
Outputs cum_sum(NodeContext& c) {
  c.accept_attrs({"exclusive", "reverse"});
  Value x = c.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape().rank());
  int64_t axis = c.known_ints(1, "axis")[0];
  if (axis < -rank || axis >= rank) c.invalid(str_cat("axis ", axis, " out of range for rank ", rank));
  if (axis < 0) axis += rank;
  const bool exclusive = c.attr_int("exclusive", 0), reverse = c.attr_int("reverse", 0);
  const int64_t n = x.shape()[axis];
  // out[..., j] = Σ_i x[..., i] · m[i, j]
  Tensor m64 = Tensor::zeros(Shape{n, n}, DType::f64);
  double* mp = m64.data<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const bool in = reverse ? (exclusive ? i > j : i >= j) : (exclusive ? i < j : i <= j);
      mp[i * n + j] = in ? 1.0 : 0.0;
    }
  std::vector<int64_t> perm(rank);
  for (int64_t d = 0; d < rank; ++d) perm[d] = d;
  std::swap(perm[axis], perm[rank - 1]);  // its own inverse
  Value moved = axis == rank - 1 ? x : permute(x, perm);
  if (rank == 1) moved = reshape(moved, {1, n});
  Value summed = matmul(moved, constant(c.graph(), m64.to_dtype(x.dtype())));
  if (rank == 1) return one(reshape(summed, {n}));
  return one(axis == rank - 1 ? summed : permute(summed, perm));
}

const Translator kTranslators[] = {
    {"ReduceSum", 1, reduce_sum<1>},
    {"ReduceSum", 13, reduce_sum<13>},
    {"ReduceMean", 1, reduce_mean},
    {"ReduceMax", 1, reduce_max},
    {"ReduceProd", 1, reduce_prod},
    {"ReduceMin", 1, reduce_min},
    {"ReduceSumSquare", 1, reduce_sum_square},
    {"ReduceL1", 1, reduce_l1},
    {"ReduceL2", 1, reduce_l2},
    {"ReduceLogSum", 1, reduce_log_sum},
    {"ReduceLogSumExp", 1, reduce_log_sum_exp},
    {"Softmax", 1, softmax_<false>},
    {"LogSoftmax", 1, softmax_<true>},
    {"ArgMax", 1, arg_extreme<false>},
    {"ArgMin", 1, arg_extreme<true>},
    {"CumSum", 11, cum_sum},
};

}  // namespace

std::span<const Translator> reduce_translators() { return kTranslators; }

}  // namespace dagrad::onnx
