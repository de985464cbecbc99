// Reference cases of layer_norm and layer_norm_backward: plain loops in double over x
// viewed as [rows, cols], with and without the affine inputs, one and several
// normalised dims, and a case large enough for several parallel pieces.
#include <cmath>

#include "op_cases.h"

namespace dagrad::testing {

namespace {

constexpr DType kDtypes[] = {DType::f32, DType::f64};
constexpr double kEps = 1e-5;

struct Setup {
  Shape shape;
  int64_t axis;
  int affine;  // 0: none, 1: gamma, 2: gamma and beta
};

// Mixed ranks and axes; [300,64] and [1200,20] span several row blocks of the CPU's
// backward pass, whose partial sums of 2x20 floats are padded to whole cache lines.
const Setup kSetups[] = {{{4, 6}, -1, 2},    {{2, 3, 5}, -1, 2}, {{2, 3, 5}, 1, 2}, {{3, 7}, -1, 0},
                         {{3, 7}, 1, 1},     {{1, 64}, -1, 2},   {{5}, 0, 2},       {{2, 3, 4}, -3, 1},
                         {{300, 64}, -1, 2}, {{1200, 20}, -1, 2}};

struct Rows {
  int64_t rows, cols;
  Rows(const Shape& x, int64_t axis) : rows(1), cols(1) {
    const int64_t r = static_cast<int64_t>(x.rank()), first = axis < 0 ? axis + r : axis;
    for (int64_t i = 0; i < r; ++i) (i < first ? rows : cols) *= x[static_cast<size_t>(i)];
  }
};

Shape stats_shape(const Shape& x, int64_t axis) {
  const int64_t r = static_cast<int64_t>(x.rank()), first = axis < 0 ? axis + r : axis;
  std::vector<int64_t> dims(x.begin(), x.end());
  for (int64_t i = first; i < r; ++i) dims[static_cast<size_t>(i)] = 1;
  return Shape(dims);
}

Shape normalized_shape(const Shape& x, int64_t axis) {
  const int64_t r = static_cast<int64_t>(x.rank()), first = axis < 0 ? axis + r : axis;
  return Shape(std::vector<int64_t>(x.begin() + first, x.end()));
}

// Mean and biased variance of each row.
void row_stats(const Tensor& x, const Rows& d, std::vector<double>& mean, std::vector<double>& var) {
  mean.assign(d.rows, 0);
  var.assign(d.rows, 0);
  for (int64_t r = 0; r < d.rows; ++r) {
    for (int64_t i = 0; i < d.cols; ++i) mean[r] += at(x, r * d.cols + i);
    mean[r] /= d.cols;
    for (int64_t i = 0; i < d.cols; ++i) var[r] += std::pow(at(x, r * d.cols + i) - mean[r], 2);
    var[r] /= d.cols;
  }
}

std::vector<Tensor> layer_norm_reference(const std::vector<Tensor>& in, const Attrs& a) {
  const Tensor& x = in[0];
  const int64_t axis = a.get_int("axis");
  const Rows d(x.shape(), axis);
  std::vector<double> mean, var;
  row_stats(x, d, mean, var);
  const double eps = a.get_float("epsilon");
  auto invstd = [&](int64_t r) { return 1.0 / std::sqrt(var[r] + eps); };
  Tensor y = make_f64(x.shape(), [&](int64_t f) {
    const int64_t r = f / d.cols, i = f % d.cols;
    double v = (at(x, f) - mean[r]) * invstd(r);
    if (in.size() > 1) v *= at(in[1], i);
    if (in.size() > 2) v += at(in[2], i);
    return v;
  });
  const Shape s = stats_shape(x.shape(), axis);
  return {y, make_f64(s, [&](int64_t r) { return mean[r]; }), make_f64(s, invstd)};
}

// dx [, dgamma, dbeta] of layer_norm_backward(dy, x, mean, invstd [, gamma]).
std::vector<Tensor> layer_norm_backward_reference(const std::vector<Tensor>& in, const Attrs& a) {
  const Tensor &dy = in[0], &x = in[1];
  const Rows d(x.shape(), a.get_int("axis"));
  const bool affine = in.size() == 5;
  auto gamma = [&](int64_t i) { return affine ? at(in[4], i) : 1.0; };
  auto xhat = [&](int64_t f) { return (at(x, f) - at(in[2], f / d.cols)) * at(in[3], f / d.cols); };
  std::vector<double> s1(d.rows, 0), s2(d.rows, 0), dgamma(d.cols, 0), dbeta(d.cols, 0);
  for (int64_t f = 0; f < x.numel(); ++f) {
    const int64_t r = f / d.cols, i = f % d.cols;
    s1[r] += at(dy, f) * gamma(i);
    s2[r] += at(dy, f) * gamma(i) * xhat(f);
    dgamma[i] += at(dy, f) * xhat(f);
    dbeta[i] += at(dy, f);
  }
  const double m = static_cast<double>(d.cols);
  Tensor dx = make_f64(x.shape(), [&](int64_t f) {
    const int64_t r = f / d.cols, i = f % d.cols;
    return at(in[3], r) * (at(dy, f) * gamma(i) - s1[r] / m - xhat(f) * s2[r] / m);
  });
  if (!affine) return {dx};
  return {dx, make_f64(in[4].shape(), [&](int64_t i) { return dgamma[i]; }),
          make_f64(in[4].shape(), [&](int64_t i) { return dbeta[i]; })};
}

std::string label(const char* what, const Setup& s, DType t) {
  return str_cat(what, " ", s.shape.to_string(), " axis ", s.axis, s.affine == 0 ? " plain" : s.affine == 1 ? " gamma" : " affine",
                 " ", dtype_name(t));
}

}  // namespace

DAGRAD_OP_CASES("layer_norm") {
  std::vector<OpCase> cases;
  uint64_t seed = 500;
  for (DType dt : kDtypes)
    for (const Setup& s : kSetups) {
      const Shape w = normalized_shape(s.shape, s.axis);
      OpCase k;
      k.label = label("layer_norm", s, dt);
      // A non-zero mean, so that centring matters.
      k.inputs = {random_tensor(s.shape, dt, seed++, -1.0, 3.0)};
      if (s.affine >= 1) k.inputs.push_back(random_tensor(w, dt, seed++, 0.5, 1.5));
      if (s.affine >= 2) k.inputs.push_back(random_tensor(w, dt, seed++));
      k.attrs = Attrs{{"axis", s.axis}, {"epsilon", kEps}};
      k.reference = layer_norm_reference;
      k.skip_grad = s.shape.numel() > 10000;  // the small cases check the same rule
      cases.push_back(k);
    }
  return cases;
}

DAGRAD_OP_CASES("layer_norm_backward") {
  std::vector<OpCase> cases;
  uint64_t seed = 600;
  for (DType dt : kDtypes)
    for (const Setup& s : kSetups) {
      Tensor x = random_tensor(s.shape, dt, seed++, -1.0, 3.0);
      // The saved statistics of x, as the forward op would produce them.
      const Rows d(s.shape, s.axis);
      std::vector<double> mean, var;
      row_stats(x, d, mean, var);
      const Shape st = stats_shape(s.shape, s.axis);
      OpCase k;
      k.label = label("layer_norm_backward", s, dt);
      k.inputs = {random_tensor(s.shape, dt, seed++), x, make_f64(st, [&](int64_t r) { return mean[r]; }).to_dtype(dt),
                  make_f64(st, [&](int64_t r) { return 1.0 / std::sqrt(var[r] + kEps); }).to_dtype(dt)};
      if (s.affine >= 1) k.inputs.push_back(random_tensor(normalized_shape(s.shape, s.axis), dt, seed++, 0.5, 1.5));
      k.attrs = Attrs{{"axis", s.axis}};
      k.reference = layer_norm_backward_reference;
      k.tol = 1e-4;  // float32 sums of a row's products
      k.skip_grad = s.shape.numel() > 10000;
      cases.push_back(k);
    }
  return cases;
}

}  // namespace dagrad::testing
