// Reference cases of the reduce family: sum, mean, max, prod, sum_to, broadcast_to, softmax,
// log_softmax, argmax.
#include <algorithm>
#include <cmath>
#include <limits>

#include "op_cases.h"
#include "reduce_shape_ref.h"

namespace dagrad::testing {

namespace {

constexpr DType kDtypes[] = {DType::f32, DType::f64};
// Finite differences over more than this many elements cost too much; the smaller cases
// of the same op cover its gradient.
constexpr int64_t kMaxGradElems = 4096;

std::string label(const Shape& s, DType t, const std::string& what) {
  return str_cat(s.to_string(), " ", what, " ", dtype_name(t));
}

std::vector<bool> mask_of(const Shape& s, const std::vector<int64_t>& axes) {
  std::vector<bool> m(s.rank(), axes.empty());
  for (int64_t a : axes) m[a < 0 ? a + static_cast<int64_t>(s.rank()) : a] = true;
  return m;
}

// Plain-loop reduction in double: every input element goes into its output element.
enum class Kind { sum, mean, max, prod };
Tensor reduce_ref(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims, Kind kind) {
  const Shape& s = x.shape();
  std::vector<bool> mask = mask_of(s, axes);
  std::vector<int64_t> kept, out_dims;
  for (size_t d = 0; d < s.rank(); ++d) {
    kept.push_back(mask[d] ? 1 : s[d]);
    if (!mask[d] || keepdims) out_dims.push_back(kept.back());
  }
  Shape kept_shape(kept);
  const double init = kind == Kind::max ? -std::numeric_limits<double>::infinity() : kind == Kind::prod ? 1.0 : 0.0;
  std::vector<double> acc(kept_shape.numel(), init);
  for (int64_t i = 0; i < x.numel(); ++i) {
    std::vector<int64_t> c = coords_of(s, i);
    for (size_t d = 0; d < s.rank(); ++d)
      if (mask[d]) c[d] = 0;
    double& a = acc[flat_of(kept_shape, c)];
    a = kind == Kind::max ? std::max(a, at(x, i)) : kind == Kind::prod ? a * at(x, i) : a + at(x, i);
  }
  if (kind == Kind::mean)
    for (double& a : acc) a *= static_cast<double>(kept_shape.numel()) / static_cast<double>(x.numel());
  return make_f64(Shape(out_dims), [&](int64_t i) { return acc[i]; });
}

struct ReduceCase {
  Shape shape;
  std::vector<int64_t> axes;
  bool keepdims;
};

std::vector<OpCase> reduce_cases(Kind kind) {
  const std::vector<ReduceCase> table = {
      {{5}, {}, false},
      {{5}, {0}, true},
      {{}, {}, false},
      {{3, 4, 5}, {0}, false},
      {{3, 4, 5}, {1, 2}, false},
      {{3, 4, 5}, {-1}, true},
      {{3, 4, 5}, {}, false},
      {{3, 4, 5}, {}, true},
      {{3, 4, 5}, {0, 2}, true},
      {{3, 4, 5}, {2, 0}, false},
      {{3, 1, 5}, {1}, false},
      {{3, 1, 5}, {0, 1}, true},
      {{1, 1, 7}, {0, 1}, false},
      {{7, 9, 11}, {1}, false},
      {{2, 3, 4, 5}, {0, 2}, false},
      {{2, 3, 4, 5}, {1, 3}, true},
      // Large: a full reduction (block partials), long rows, long columns.
      {{320, 401}, {}, false},
      {{320, 401}, {0}, false},
      {{320, 401}, {1}, true},
      {{2, 65537}, {1}, false},
      {{3, 40000}, {0}, false},
      {{64, 32, 7, 7}, {0, 2, 3}, false},
      // Few narrow columns over many rows: row blocks combined in order.
      {{20000, 7}, {0}, false},
      {{50, 3000, 5}, {1}, true},
  };
  const char* names[] = {"sum", "mean", "max", "prod"};
  // Products of values near 1 stay representable; away from 0, so the gradient y / x is.
  const double lo = kind == Kind::prod ? 0.7 : -1.0, hi = kind == Kind::prod ? 1.3 : 1.0;
  std::vector<OpCase> cases;
  uint64_t seed = 100 + static_cast<uint64_t>(kind) * 1000;
  for (const ReduceCase& rc : table)
    for (DType t : kDtypes) {
      OpCase c;
      c.label = label(
          rc.shape, t,
          str_cat(names[static_cast<int>(kind)], " axes=", attr_to_string(rc.axes), rc.keepdims ? " keepdims" : ""));
      c.inputs = {random_tensor(rc.shape, t, seed++, lo, hi)};
      c.attrs = Attrs{{"axes", rc.axes}, {"keepdims", rc.keepdims}};
      c.reference = [kind](const std::vector<Tensor>& in, const Attrs& a) {
        return std::vector<Tensor>{reduce_ref(in[0], a.get_ints("axes"), a.get_bool("keepdims"), kind)};
      };
      c.skip_grad = rc.shape.numel() > kMaxGradElems;
      cases.push_back(c);
    }
  // Axes left out of the attributes mean all of them.
  OpCase c;
  c.label = "[4,3] no attributes";
  c.inputs = {random_tensor(Shape{4, 3}, DType::f64, seed, lo, hi)};
  c.reference = [kind](const std::vector<Tensor>& in, const Attrs&) {
    return std::vector<Tensor>{reduce_ref(in[0], {}, false, kind)};
  };
  cases.push_back(c);
  return cases;
}

DAGRAD_OP_CASES("sum") { return reduce_cases(Kind::sum); }
DAGRAD_OP_CASES("mean") { return reduce_cases(Kind::mean); }
DAGRAD_OP_CASES("max") { return reduce_cases(Kind::max); }
DAGRAD_OP_CASES("prod") { return reduce_cases(Kind::prod); }

// ---- sum_to and broadcast_to ----

// Each element of `big` adds into the element of `small` that broadcasting maps it from.
Tensor sum_to_ref(const Tensor& x, const Shape& to) {
  std::vector<double> acc(to.numel(), 0.0);
  for (int64_t i = 0; i < x.numel(); ++i) acc[broadcast_index(x.shape(), to, i)] += at(x, i);
  return make_f64(to, [&](int64_t i) { return acc[i]; });
}

const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    // {small, big}
    {{3, 1}, {2, 3, 4}},          {{1, 4}, {2, 3, 4}},    {{}, {2, 3, 4}},
    {{2, 3, 4}, {2, 3, 4}},       {{2, 1, 4}, {2, 3, 4}}, {{4}, {2, 3, 4}},
    {{1, 1, 1}, {2, 3, 4}},       {{1, 1, 3}, {5, 1, 3}}, {{7, 1}, {7, 9}},
    {{32, 1, 1}, {64, 32, 7, 7}},
};

// One case per pair and dtype, from the big shape to the small one (sum_to) or the other
// way (broadcast_to); `reference` computes the result from the input and the "shape" attribute.
std::vector<OpCase> broadcast_pair_cases(bool to_small, uint64_t seed, decltype(OpCase::reference) reference) {
  std::vector<OpCase> cases;
  for (const auto& [small, big] : kBroadcastPairs)
    for (DType t : kDtypes) {
      const Shape& from = to_small ? big : small;
      const Shape& to = to_small ? small : big;
      OpCase c;
      c.label = label(from, t, "to " + to.to_string());
      c.inputs = {random_tensor(from, t, seed++)};
      c.attrs = Attrs{{"shape", dims_vec(to)}};
      c.reference = reference;
      c.skip_grad = big.numel() > kMaxGradElems;
      cases.push_back(c);
    }
  return cases;
}

DAGRAD_OP_CASES("sum_to") {
  return broadcast_pair_cases(/*to_small=*/true, 5000, [](const std::vector<Tensor>& in, const Attrs& a) {
    return std::vector<Tensor>{sum_to_ref(in[0], Shape(a.get_ints("shape")))};
  });
}

DAGRAD_OP_CASES("broadcast_to") {
  std::vector<OpCase> cases =
      broadcast_pair_cases(/*to_small=*/false, 6000, [](const std::vector<Tensor>& in, const Attrs& a) {
        Shape to(a.get_ints("shape"));
        return std::vector<Tensor>{
            make_f64(to, [&](int64_t i) { return at(in[0], broadcast_index(to, in[0].shape(), i)); })};
      });
  // Integer tensors broadcast too.
  OpCase c;
  c.label = "[3,1] int64 to [2,3,4]";
  c.inputs = {random_labels(3, 10, 6100).view({3, 1})};
  c.attrs = Attrs{{"shape", std::vector<int64_t>{2, 3, 4}}};
  c.reference = [](const std::vector<Tensor>& in, const Attrs&) {
    Shape to{2, 3, 4};
    return std::vector<Tensor>{gather_ref(in[0], to, [&](int64_t i) { return broadcast_index(to, in[0].shape(), i); })};
  };
  c.skip_grad = true;
  cases.push_back(c);
  return cases;
}

// ---- softmax, log_softmax, argmax ----

struct AxisCase {
  Shape shape;
  int64_t axis;
};
const std::vector<AxisCase> kAxisCases = {
    {{5}, 0},       {{4, 7}, -1}, {{4, 7}, 0},      {{3, 4, 5}, 1},  {{3, 4, 5}, -1},
    {{2, 1, 3}, 1}, {{1, 6}, 0},  {{300, 401}, -1}, {{300, 401}, 0}, {{6, 1000}, 1},
};

// The lane along `axis` through flat index i of `s`: the flat indices of its n elements.
struct Lane {
  int64_t n, inner, base;
  int64_t at(int64_t k) const { return base + k * inner; }
};
Lane lane_of(const Shape& s, int64_t axis, int64_t i) {
  int a = static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(s.rank()) : axis);
  int64_t inner = 1;
  for (size_t d = a + 1; d < s.rank(); ++d) inner *= s[d];
  int64_t n = s[a], outer = i / (n * inner), in = i % inner;
  return Lane{n, inner, outer * n * inner + in};
}

Tensor softmax_ref(const Tensor& x, int64_t axis, bool log) {
  // Max and Σ exp(x - max) of each lane, computed once per lane (keyed by its first index).
  std::vector<double> lane_max(x.numel()), lane_sum(x.numel(), -1.0);
  return make_f64(x.shape(), [&](int64_t i) {
    Lane l = lane_of(x.shape(), axis, i);
    double &m = lane_max[l.base], &s = lane_sum[l.base];
    if (s < 0) {
      m = -std::numeric_limits<double>::infinity();
      s = 0;
      for (int64_t k = 0; k < l.n; ++k) m = std::max(m, at(x, l.at(k)));
      for (int64_t k = 0; k < l.n; ++k) s += std::exp(at(x, l.at(k)) - m);
    }
    return log ? at(x, i) - m - std::log(s) : std::exp(at(x, i) - m) / s;
  });
}

std::vector<OpCase> softmax_cases(bool log) {
  std::vector<OpCase> cases;
  uint64_t seed = log ? 7000 : 8000;
  for (const AxisCase& ac : kAxisCases)
    for (DType t : kDtypes) {
      OpCase c;
      c.label = label(ac.shape, t, str_cat("axis ", ac.axis));
      c.inputs = {random_tensor(ac.shape, t, seed++, -4.0, 4.0)};
      c.attrs = Attrs{{"axis", ac.axis}};
      c.reference = [log](const std::vector<Tensor>& in, const Attrs& a) {
        return std::vector<Tensor>{softmax_ref(in[0], a.get_int("axis"), log)};
      };
      c.skip_grad = ac.shape.numel() > kMaxGradElems;
      cases.push_back(c);
    }
  // Large logits: subtracting the max keeps exp finite.
  OpCase c;
  c.label = "[3,5] logits near 1000";
  c.inputs = {random_tensor(Shape{3, 5}, DType::f64, seed, 995.0, 1005.0)};
  c.attrs = Attrs{{"axis", int64_t{-1}}};
  c.reference = [log](const std::vector<Tensor>& in, const Attrs&) {
    return std::vector<Tensor>{softmax_ref(in[0], -1, log)};
  };
  cases.push_back(c);
  return cases;
}

DAGRAD_OP_CASES("softmax") { return softmax_cases(false); }
DAGRAD_OP_CASES("log_softmax") { return softmax_cases(true); }

DAGRAD_OP_CASES("argmax") {
  std::vector<OpCase> cases;
  uint64_t seed = 9000;
  for (const AxisCase& ac : kAxisCases)
    for (DType t : kDtypes) {
      OpCase c;
      c.label = label(ac.shape, t, str_cat("axis ", ac.axis));
      c.inputs = {random_tensor(ac.shape, t, seed++)};
      c.attrs = Attrs{{"axis", ac.axis}};
      c.reference = [](const std::vector<Tensor>& in, const Attrs& a) {
        const Shape& s = in[0].shape();
        const int64_t axis = a.get_int("axis");
        const int ax = static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(s.rank()) : axis);
        std::vector<int64_t> dims = dims_vec(s);
        dims.erase(dims.begin() + ax);
        Tensor out = Tensor::empty(Shape(dims), DType::i64);
        // Output element o = (outer, inner) is the lane through input element (outer, 0, inner).
        int64_t in_inner = 1;
        for (size_t d = ax + 1; d < s.rank(); ++d) in_inner *= s[d];
        for (int64_t o = 0; o < out.numel(); ++o) {
          int64_t first = (o / in_inner) * s[ax] * in_inner + o % in_inner;
          Lane l = lane_of(s, axis, first);
          int64_t best = 0;
          for (int64_t k = 1; k < l.n; ++k)
            if (at(in[0], l.at(k)) > at(in[0], l.at(best))) best = k;
          out.data<int64_t>()[o] = best;
        }
        return std::vector<Tensor>{out};
      };
      c.skip_grad = true;  // integer output, no gradient
      cases.push_back(c);
    }
  return cases;
}

}  // namespace

}  // namespace dagrad::testing
