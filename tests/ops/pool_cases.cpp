// Reference cases for max/avg pooling and their backward ops (plain loops in double).
// Max-pooling inputs are tie-free, spaced well apart, so every window has one clear
// argmax and finite differences never cross a kink.
#include <algorithm>
#include <numeric>

#include "op_cases.h"

namespace dagrad::testing {

namespace {

struct PoolSpec {
  std::string label;
  Shape x;  // [N,C,H,W]
  int64_t kh, kw, sh, sw, ph = 0, pw = 0;

  int64_t out_h() const { return window_output(x[2], kh, sh, ph); }
  int64_t out_w() const { return window_output(x[3], kw, sw, pw); }
  Shape y() const { return Shape{x[0], x[1], out_h(), out_w()}; }
  Attrs attrs() const { return hw_attrs({{"kernel", kh, kw}, {"stride", sh, sw}, {"padding", ph, pw}}); }
};

std::vector<PoolSpec> pool_specs() {
  return {
      {"kernel 2 stride 2", {2, 3, 4, 4}, 2, 2, 2, 2},
      {"kernel 3 stride 2 padding 1", {1, 2, 7, 7}, 3, 3, 2, 2, 1, 1},
      {"overlapping non-square", {2, 1, 5, 7}, 2, 3, 1, 2, 1, 1},
      {"kernel 3 stride 1 padding 1", {1, 2, 5, 5}, 3, 3, 1, 1, 1, 1},
      {"odd input, floor drops an edge", {3, 2, 6, 5}, 2, 2, 2, 2},
      {"1x1", {1, 1, 1, 1}, 1, 1, 1, 1},
      {"MNIST pool scaled", {2, 4, 24, 24}, 2, 2, 2, 2},
  };
}

// -1 + (2r+1)/n for a random permutation r of 0..n-1: no two values tie.
Tensor distinct_tensor(const Shape& shape, DType dt, uint64_t seed) {
  Tensor keys = random_tensor(shape, DType::f64, seed, 0.0, 1.0, false);
  const int64_t n = shape.numel();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return at(keys, a) < at(keys, b); });
  Tensor t = Tensor::empty(shape, DType::f64);
  for (int64_t r = 0; r < n; ++r) t.data<double>()[order[r]] = -1.0 + (2.0 * r + 1.0) / n;
  return dt == DType::f64 ? t : t.to_dtype(dt);
}

// Calls fn(plane, output index in plane, list of in-image input indices in the plane) per window.
template <class Fn>
void for_each_window(const PoolSpec& s, Fn&& fn) {
  const int64_t h = s.x[2], w = s.x[3];
  for (int64_t p = 0; p < s.x[0] * s.x[1]; ++p)
    for (int64_t oh = 0; oh < s.out_h(); ++oh)
      for (int64_t ow = 0; ow < s.out_w(); ++ow) {
        std::vector<int64_t> elems;
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            int64_t ih = oh * s.sh - s.ph + i, iw = ow * s.sw - s.pw + j;
            if (ih >= 0 && ih < h && iw >= 0 && iw < w) elems.push_back(ih * w + iw);
          }
        fn(p, oh * s.out_w() + ow, elems);
      }
}

// Index in the plane of the window's largest x value.
int64_t argmax_of(const Tensor& x, int64_t plane_base, const std::vector<int64_t>& elems) {
  int64_t best = elems[0];
  for (int64_t e : elems)
    if (at(x, plane_base + e) > at(x, plane_base + best)) best = e;
  return best;
}

OpCase pool_case(const PoolSpec& s, DType dt) {
  OpCase c;
  c.label = str_cat(s.label, " ", s.x.to_string(), " ", dtype_name(dt));
  c.attrs = s.attrs();
  // bfloat16: sums in float32 rounded once (within half a unit of the 8-bit significand);
  // gradients are checked in float64.
  c.tol = dt == DType::f32 ? 1e-5 : dt == DType::bf16 ? 1.0 / 256 : 1e-12;
  c.skip_grad = dt == DType::bf16;
  return c;
}

template <class Fn>
std::vector<OpCase> pool_cases(uint64_t seed, Fn&& make,
                               std::initializer_list<DType> dtypes = {DType::f32, DType::f64}) {
  std::vector<OpCase> cases;
  for (const PoolSpec& s : pool_specs())
    for (DType dt : dtypes) {
      OpCase c = pool_case(s, dt);
      make(s, dt, seed, c);
      seed += 10;
      cases.push_back(c);
    }
  return cases;
}

int64_t plane_size(const Shape& s) { return s[2] * s[3]; }

// y [N,C,OH,OW]: `source` (shaped like x) read at each window's argmax of x; max pooling
// when the source is x itself.
Tensor at_window_argmax(const PoolSpec& s, const Tensor& source, const Tensor& x) {
  Tensor y = Tensor::empty(s.y(), DType::f64);
  for_each_window(s, [&](int64_t p, int64_t o, const std::vector<int64_t>& elems) {
    int64_t base = p * plane_size(s.x);
    y.data<double>()[p * plane_size(s.y()) + o] = at(source, base + argmax_of(x, base, elems));
  });
  return y;
}

// Window position of plane index e in output o's window: i * kw + j from its unclipped
// corner (max_pool2d's index output), and back.
int64_t position_of(const PoolSpec& s, int64_t o, int64_t e) {
  const int64_t oh = o / s.out_w(), ow = o % s.out_w();
  return (e / s.x[3] - (oh * s.sh - s.ph)) * s.kw + e % s.x[3] - (ow * s.sw - s.pw);
}
int64_t element_at(const PoolSpec& s, int64_t o, int64_t pos) {
  const int64_t oh = o / s.out_w(), ow = o % s.out_w();
  return (oh * s.sh - s.ph + pos / s.kw) * s.x[3] + ow * s.sw - s.pw + pos % s.kw;
}

// max_pool2d's index output for x.
Tensor argmax_positions(const PoolSpec& s, const Tensor& x) {
  Tensor idx = Tensor::empty(s.y(), DType::u16);
  for_each_window(s, [&](int64_t p, int64_t o, const std::vector<int64_t>& elems) {
    const int64_t base = p * plane_size(s.x);
    idx.data<uint16_t>()[p * plane_size(s.y()) + o] =
        static_cast<uint16_t>(position_of(s, o, argmax_of(x, base, elems)));
  });
  return idx;
}

// Positions of random in-image elements of each window, not only maxima: with
// overlapping windows several outputs then route to one input.
Tensor random_positions(const PoolSpec& s, uint64_t seed) {
  Tensor idx = Tensor::empty(s.y(), DType::u16);
  Tensor pick = random_tensor(s.y(), DType::f64, seed, 0.0, 1.0, false);
  for_each_window(s, [&](int64_t p, int64_t o, const std::vector<int64_t>& elems) {
    const int64_t k = p * plane_size(s.y()) + o;
    const auto e = elems[std::min<size_t>(elems.size() - 1, static_cast<size_t>(at(pick, k) * elems.size()))];
    idx.data<uint16_t>()[k] = static_cast<uint16_t>(position_of(s, o, e));
  });
  return idx;
}

}  // namespace

DAGRAD_OP_CASES("max_pool2d") {
  return pool_cases(4000, [](const PoolSpec& s, DType dt, uint64_t seed, OpCase& c) {
    c.inputs = {distinct_tensor(s.x, dt, seed)};
    c.reference = [s](const std::vector<Tensor>& in, const Attrs&) {
      return std::vector<Tensor>{at_window_argmax(s, in[0], in[0]), argmax_positions(s, in[0])};
    };
  });
}

// bfloat16 too: the mixed-precision pass moves the gradient's cast before the scatter.
DAGRAD_OP_CASES("max_pool2d_backward") {
  return pool_cases(
      5000,
      [](const PoolSpec& s, DType dt, uint64_t seed, OpCase& c) {
        c.inputs = {random_tensor(s.y(), dt, seed), random_positions(s, seed + 1)};
        c.attrs.set("x_shape", std::vector<int64_t>(s.x.begin(), s.x.end()));
        c.reference = [s](const std::vector<Tensor>& in, const Attrs&) {
          Tensor dx = Tensor::zeros(s.x, DType::f64);
          for (int64_t p = 0; p < s.x[0] * s.x[1]; ++p)
            for (int64_t o = 0; o < plane_size(s.y()); ++o) {
              const int64_t k = p * plane_size(s.y()) + o;
              dx.data<double>()[p * plane_size(s.x) + element_at(s, o, static_cast<int64_t>(at(in[1], k)))] +=
                  at(in[0], k);
            }
          return std::vector<Tensor>{dx};
        };
      },
      {DType::f32, DType::f64, DType::bf16});
}

DAGRAD_OP_CASES("max_pool2d_gather") {
  return pool_cases(6000, [](const PoolSpec& s, DType dt, uint64_t seed, OpCase& c) {
    c.inputs = {random_tensor(s.x, dt, seed), random_positions(s, seed + 1)};
    c.reference = [s](const std::vector<Tensor>& in, const Attrs&) {
      Tensor y = Tensor::empty(s.y(), DType::f64);
      for (int64_t p = 0; p < s.x[0] * s.x[1]; ++p)
        for (int64_t o = 0; o < plane_size(s.y()); ++o) {
          const int64_t k = p * plane_size(s.y()) + o;
          y.data<double>()[k] = at(in[0], p * plane_size(s.x) + element_at(s, o, static_cast<int64_t>(at(in[1], k))));
        }
      return std::vector<Tensor>{y};
    };
  });
}

DAGRAD_OP_CASES("avg_pool2d") {
  return pool_cases(7000, [](const PoolSpec& s, DType dt, uint64_t seed, OpCase& c) {
    c.inputs = {random_tensor(s.x, dt, seed)};
    c.reference = [s](const std::vector<Tensor>& in, const Attrs&) {
      Tensor y = Tensor::empty(s.y(), DType::f64);
      for_each_window(s, [&](int64_t p, int64_t o, const std::vector<int64_t>& elems) {
        double acc = 0;
        for (int64_t e : elems) acc += at(in[0], p * plane_size(s.x) + e);
        y.data<double>()[p * plane_size(s.y()) + o] = acc / static_cast<double>(s.kh * s.kw);  // padding = zeros
      });
      return std::vector<Tensor>{y};
    };
  });
}

DAGRAD_OP_CASES("avg_pool2d_backward") {
  return pool_cases(8000, [](const PoolSpec& s, DType dt, uint64_t seed, OpCase& c) {
    c.inputs = {random_tensor(s.y(), dt, seed)};
    c.attrs.set("x_shape", std::vector<int64_t>(s.x.begin(), s.x.end()));
    c.reference = [s](const std::vector<Tensor>& in, const Attrs&) {
      Tensor dx = Tensor::zeros(s.x, DType::f64);
      for_each_window(s, [&](int64_t p, int64_t o, const std::vector<int64_t>& elems) {
        double g = at(in[0], p * plane_size(s.y()) + o) / static_cast<double>(s.kh * s.kw);
        for (int64_t e : elems) dx.data<double>()[p * plane_size(s.x) + e] += g;
      });
      return std::vector<Tensor>{dx};
    };
  });
}

}  // namespace dagrad::testing
