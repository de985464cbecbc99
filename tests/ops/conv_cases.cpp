// Reference cases for conv2d and its two backward ops, all checked against plain loops in
// double over the same geometries: strides, padding, dilation, non-square kernels,
// 1x1 kernels, batches that do not fill whole weight-gradient groups, MNIST-like shapes.
#include "op_cases.h"

namespace dagrad::testing {

namespace {

struct ConvSpec {
  std::string label;
  Shape x, w;  // [N,C,H,W], [O,C,KH,KW]
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool bias = false;
  double f32_tol = 1e-4;  // of 1 + |want|

  int64_t out_h() const { return window_output(x[2], w[2], sh, ph, dh); }
  int64_t out_w() const { return window_output(x[3], w[3], sw, pw, dw); }
  Shape y() const { return Shape{x[0], w[0], out_h(), out_w()}; }
  Attrs attrs() const { return hw_attrs({{"stride", sh, sw}, {"padding", ph, pw}, {"dilation", dh, dw}}); }
};

std::vector<ConvSpec> conv_specs() {
  std::vector<ConvSpec> s;
  s.push_back({"C=1 batch 1", {1, 1, 5, 5}, {2, 1, 3, 3}, 1, 1, 0, 0, 1, 1, true});
  s.push_back({"stride 2 padding 1 non-square kernel", {5, 3, 7, 6}, {4, 3, 3, 2}, 2, 2, 1, 1, 1, 1, true});
  s.push_back({"dilation 2 padding 2", {2, 3, 9, 9}, {3, 3, 3, 3}, 1, 1, 2, 2, 2, 2, false});
  s.push_back({"mixed stride/padding/dilation", {1, 2, 8, 7}, {3, 2, 2, 3}, 2, 1, 0, 1, 1, 2, true});
  s.push_back({"MNIST conv1 scaled", {2, 1, 28, 28}, {4, 1, 3, 3}, 1, 1, 0, 0, 1, 1, true});
  s.push_back({"MNIST conv2 scaled", {2, 4, 12, 12}, {6, 4, 3, 3}, 1, 1, 0, 0, 1, 1, true});
  s.push_back({"pointwise 1x1", {3, 5, 4, 3}, {2, 5, 1, 1}, 1, 1, 0, 0, 1, 1, true});
  s.push_back({"1x1 stride 2", {2, 3, 5, 5}, {2, 3, 1, 1}, 2, 2, 0, 0, 1, 1, false});
  s.push_back({"kernel covers input", {2, 2, 3, 3}, {4, 2, 3, 3}, 1, 1, 0, 0, 1, 1, true});
  s.push_back({"stride beyond kernel", {1, 2, 9, 9}, {2, 2, 2, 2}, 3, 3, 0, 0, 1, 1, false});
  s.push_back({"batch 17 (three groups)", {17, 2, 4, 5}, {2, 2, 3, 3}, 1, 1, 1, 1, 1, 1, true});
  // 3x3 stride 1 with at least 8 channels each side: the float32 kernels run Winograd's
  // F(4x4, 3x3) forward, input gradient and weight gradient
  // (ops/cpu/conv_winograd*.cpp). Odd output sizes leave half-empty tiles, and
  // 17 or 40 channels are not whole vectors or register panels.
  s.push_back({"Winograd odd sizes padding 1", {3, 9, 11, 9}, {10, 9, 3, 3}, 1, 1, 1, 1, 1, 1, true});
  s.push_back({"Winograd padding 2, 40 outputs", {2, 17, 6, 13}, {40, 17, 3, 3}, 1, 1, 2, 2, 1, 1, true});
  s.push_back({"Winograd batch 10 (two groups)", {10, 16, 10, 10}, {20, 16, 3, 3}, 1, 1, 0, 0, 1, 1, false});
  s.push_back({"Winograd one tile row, padding 0 and 2", {1, 8, 4, 40}, {8, 8, 3, 3}, 1, 1, 0, 2, 1, 1, true});
  // F(4x4, 3x3) forward: more than one B panel of outputs (50 = 48 + 2), and more input
  // channels than one K block of the micro-kernel (330 > 320). With K = 2,970 terms within
  // [-1, 1] F(4x4)'s error reaches 1.1e-4 of 1 + |sum| (its transforms scale terms by up
  // to 10 in each direction before rounding); direct float32 sums stay near 1e-5.
  s.push_back({"Winograd 50 outputs", {2, 8, 7, 5}, {50, 8, 3, 3}, 1, 1, 1, 1, 1, 1, true});
  s.push_back({"Winograd 330 channels", {1, 330, 5, 6}, {9, 330, 3, 3}, 1, 1, 1, 0, 1, 1, false, 1e-3});
  // One input channel, stride 1, 3x3 or 5x5: the float32 forward keeps the taps in
  // registers (ops/cpu/conv_one_channel.cpp). Rows wider than 16 and 32 columns end in a
  // partial block; 7 and 5 outputs leave channels past the groups of four.
  s.push_back({"one channel 5x5 padding 2, 37 wide", {2, 1, 9, 37}, {7, 1, 5, 5}, 1, 1, 2, 2, 1, 1, true});
  s.push_back({"one channel dilation 2 padding 1", {3, 1, 11, 20}, {5, 1, 3, 3}, 1, 1, 1, 1, 2, 2, false});
  return s;
}

// Calls fn(n, o, oh, ow, c, i, j, ih, iw) for every product term of the convolution whose
// input pixel lies inside the image; the three references below are sums over it.
template <class Fn>
void for_each_term(const ConvSpec& s, Fn&& fn) {
  const int64_t n_ = s.x[0], c_ = s.x[1], h = s.x[2], w = s.x[3], o_ = s.w[0], kh = s.w[2], kw = s.w[3];
  for (int64_t n = 0; n < n_; ++n)
    for (int64_t o = 0; o < o_; ++o)
      for (int64_t oh = 0; oh < s.out_h(); ++oh)
        for (int64_t ow = 0; ow < s.out_w(); ++ow)
          for (int64_t c = 0; c < c_; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t ih = oh * s.sh - s.ph + i * s.dh, iw = ow * s.sw - s.pw + j * s.dw;
                if (ih >= 0 && ih < h && iw >= 0 && iw < w) fn(n, o, oh, ow, c, i, j, ih, iw);
              }
}

int64_t idx4(const Shape& s, int64_t a, int64_t b, int64_t c, int64_t d) {
  return ((a * s[1] + b) * s[2] + c) * s[3] + d;
}

OpCase conv_case(const ConvSpec& s, DType dt, const std::string& suffix) {
  OpCase c;
  c.label = str_cat(s.label, " x", s.x.to_string(), " w", s.w.to_string(), suffix, " ", dtype_name(dt));
  c.attrs = s.attrs();
  // bfloat16 operands: exact products summed in float32, as float32's.
  c.tol = dt == DType::f64 ? 1e-10 : dt == DType::f32 ? s.f32_tol : 1e-4;
  c.skip_grad = dt == DType::bf16;  // gradients are checked in float64
  return c;
}

// The two gradients of conv2d: inputs grad_y [N,O,OH,OW] and the other operand (the
// weight for dX, x for dW); the reference sums the same product terms as conv2d's.
enum class ConvGrad { input, weight };

std::vector<OpCase> backward_cases(ConvGrad which, uint64_t seed) {
  const bool dx = which == ConvGrad::input;
  std::vector<OpCase> cases;
  for (const ConvSpec& s : conv_specs())
    for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
      OpCase c = conv_case(s, dt, "");
      const Shape& result = dx ? s.x : s.w;
      c.attrs.set(dx ? "x_shape" : "w_shape", std::vector<int64_t>(result.begin(), result.end()));
      c.inputs = {random_tensor(s.y(), dt, seed++), random_tensor(dx ? s.w : s.x, dt, seed++)};
      c.reference = [s, dx](const std::vector<Tensor>& in, const Attrs&) {
        Tensor grad = Tensor::zeros(dx ? s.x : s.w, DType::f64);
        double* p = grad.data<double>();
        Shape ys = s.y();
        for_each_term(s, [&](int64_t n, int64_t o, int64_t oh, int64_t ow, int64_t ch, int64_t i, int64_t j, int64_t ih,
                             int64_t iw) {
          const int64_t x_at = idx4(s.x, n, ch, ih, iw), w_at = idx4(s.w, o, ch, i, j);
          // dX[x] += dY·W[w];  dW[w] += dY·X[x]
          p[dx ? x_at : w_at] += at(in[0], idx4(ys, n, o, oh, ow)) * at(in[1], dx ? w_at : x_at);
        });
        return std::vector<Tensor>{grad};
      };
      cases.push_back(c);
    }
  return cases;
}

}  // namespace

DAGRAD_OP_CASES("conv2d") {
  std::vector<OpCase> cases;
  uint64_t seed = 1000;
  for (const ConvSpec& s : conv_specs())
    for (DType dt : {DType::f32, DType::f64, DType::bf16})
      // float32 and bfloat16 as specified; float64 (used by gradient checks) both with and
      // without bias. A bfloat16 convolution's bias is float32, like its output.
      for (bool with_bias : dt == DType::f64 ? std::vector<bool>{true, false} : std::vector<bool>{s.bias}) {
        OpCase c = conv_case(s, dt, with_bias ? " +bias" : "");
        c.inputs = {random_tensor(s.x, dt, seed++), random_tensor(s.w, dt, seed++)};
        if (with_bias) c.inputs.push_back(random_tensor(Shape{s.w[0]}, compute_dtype(dt), seed++));
        c.reference = [s](const std::vector<Tensor>& in, const Attrs&) {
          Shape ys = s.y();
          Tensor y =
              make_f64(ys, [&](int64_t i) { return in.size() > 2 ? at(in[2], i / (ys[2] * ys[3]) % ys[1]) : 0.0; });
          double* py = y.data<double>();
          for_each_term(s, [&](int64_t n, int64_t o, int64_t oh, int64_t ow, int64_t ch, int64_t i, int64_t j,
                               int64_t ih, int64_t iw) {
            py[idx4(ys, n, o, oh, ow)] += at(in[0], idx4(s.x, n, ch, ih, iw)) * at(in[1], idx4(s.w, o, ch, i, j));
          });
          return std::vector<Tensor>{y};
        };
        cases.push_back(c);
      }
  return cases;
}

DAGRAD_OP_CASES("conv2d_backward_input") { return backward_cases(ConvGrad::input, 2000); }

DAGRAD_OP_CASES("conv2d_backward_weight") { return backward_cases(ConvGrad::weight, 3000); }

namespace {

// conv2d followed by max pooling (kernel k, stride s, padding p, square).
struct ConvPoolSpec {
  ConvSpec conv;
  int64_t k, s, p;
  int64_t out_h() const { return window_output(conv.out_h(), k, s, p); }
  int64_t out_w() const { return window_output(conv.out_w(), k, s, p); }
  Shape y() const { return Shape{conv.x[0], conv.w[0], out_h(), out_w()}; }
};

std::vector<ConvPoolSpec> conv_pool_specs() {
  return {
      // the MNIST CNN's conv2 scaled down; 16 outputs take the AMX kernels in bfloat16
      {{"MNIST conv2 scaled", {2, 4, 12, 12}, {16, 4, 3, 3}, 1, 1, 0, 0, 1, 1, true}, 2, 2, 0},
      // float32 Winograd with padding; 9x9 output: pooling drops the last row and column
      {{"Winograd padding 1", {3, 8, 9, 9}, {8, 8, 3, 3}, 1, 1, 1, 1, 1, 1, true}, 2, 2, 0},
      // overlapping padded windows after a strided convolution without bias
      {{"stride 2 then 3x3 windows", {2, 3, 11, 10}, {5, 3, 3, 3}, 2, 2, 1, 1, 1, 1, false}, 3, 2, 1},
  };
}

}  // namespace

DAGRAD_OP_CASES("conv2d_max_pool2d") {
  std::vector<OpCase> cases;
  uint64_t seed = 4000;
  for (const ConvPoolSpec& cp : conv_pool_specs())
    for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
      const ConvSpec& s = cp.conv;
      OpCase c = conv_case(s, dt, str_cat(s.bias ? " +bias" : "", " pool ", cp.k, "/", cp.s, "/", cp.p));
      c.attrs.set("pool_kernel", std::vector<int64_t>{cp.k, cp.k});
      c.attrs.set("pool_stride", std::vector<int64_t>{cp.s, cp.s});
      c.attrs.set("pool_padding", std::vector<int64_t>{cp.p, cp.p});
      c.inputs = {random_tensor(s.x, dt, seed++), random_tensor(s.w, dt, seed++)};
      if (s.bias) c.inputs.push_back(random_tensor(Shape{s.w[0]}, compute_dtype(dt), seed++));
      c.reference = [cp](const std::vector<Tensor>& in, const Attrs&) {
        const ConvSpec& s = cp.conv;
        const Shape zs = s.y(), ys = cp.y();
        Tensor z =
            make_f64(zs, [&](int64_t i) { return in.size() > 2 ? at(in[2], i / (zs[2] * zs[3]) % zs[1]) : 0.0; });
        for_each_term(s, [&](int64_t n, int64_t o, int64_t oh, int64_t ow, int64_t ch, int64_t i, int64_t j, int64_t ih,
                             int64_t iw) {
          z.data<double>()[idx4(zs, n, o, oh, ow)] +=
              at(in[0], idx4(s.x, n, ch, ih, iw)) * at(in[1], idx4(s.w, o, ch, i, j));
        });
        // Each window's first maximum in row-major order, and its position from the window's corner.
        Tensor y = Tensor::empty(ys, DType::f64), idx = Tensor::empty(ys, DType::u16);
        for (int64_t n = 0; n < ys[0]; ++n)
          for (int64_t o = 0; o < ys[1]; ++o)
            for (int64_t ph = 0; ph < ys[2]; ++ph)
              for (int64_t pw = 0; pw < ys[3]; ++pw) {
                double best = 0;
                int64_t pos = -1;
                for (int64_t i = 0; i < cp.k; ++i)
                  for (int64_t j = 0; j < cp.k; ++j) {
                    const int64_t zh = ph * cp.s - cp.p + i, zw = pw * cp.s - cp.p + j;
                    if (zh < 0 || zh >= zs[2] || zw < 0 || zw >= zs[3]) continue;
                    const double v = z.data<double>()[idx4(zs, n, o, zh, zw)];
                    if (pos < 0 || v > best) best = v, pos = i * cp.k + j;
                  }
                y.data<double>()[idx4(ys, n, o, ph, pw)] = best;
                idx.data<uint16_t>()[idx4(ys, n, o, ph, pw)] = static_cast<uint16_t>(pos);
              }
        return std::vector<Tensor>{y, idx};
      };
      cases.push_back(c);
    }
  return cases;
}

}  // namespace dagrad::testing
