// ONNX Resize and Upsample. Every mode ONNX defines is separable and linear in the input
// along each axis, so one axis is resized as a product with a constant [in, out] matrix
// whose column o holds output o's interpolation weights (nearest: one 1; linear: two
// weights; cubic: four), built at import from the sizes, the coordinate transformation
// and the edge rules of ONNX's reference implementation. Positions that
// tf_crop_and_resize puts outside the input get extrapolation_value, added afterwards.
#include <onnx/onnx_pb.h>

#include <cmath>

#include "frontend/onnx/translate.h"
#include "ops/ops.h"

namespace dagrad::onnx {

namespace {

struct ResizeRule {
  std::string mode = "nearest";          // nearest | linear | cubic
  std::string transform = "half_pixel";  // coordinate_transformation_mode
  std::string nearest = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
};

// The position in the input that output o maps to (ONNX's coordinate transformations);
// scale is out/in as given by the model (a float even when the size is an integer).
double source_position(const ResizeRule& r, int64_t o, int64_t in, double scale, double roi_start,
                       double roi_end) {
  const double out = scale * static_cast<double>(in), x = static_cast<double>(o);
  if (r.transform == "align_corners") return out == 1 ? 0.0 : x * (in - 1) / (out - 1);
  if (r.transform == "asymmetric") return x / scale;
  if (r.transform == "tf_crop_and_resize") {
    const double span = (roi_end - roi_start) * (in - 1);
    return roi_start * (in - 1) + (out == 1 ? span / 2 : x * span / (out - 1));
  }
  if (r.transform == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  if (r.transform == "pytorch_half_pixel") return out == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  return (x + 0.5) / scale - 0.5;  // half_pixel
}

// Weights of the neighbours base, base+1 (nearest, linear) or base-1 .. base+2 (cubic),
// for a fraction in (0, 1] past base.
std::vector<double> weights(const ResizeRule& r, double t) {
  if (r.mode == "linear") return {1 - t, t};
  if (r.mode == "cubic") {
    const double a = r.cubic_a, u = t + 1, v = 1 - t, w = 2 - t;
    return {((a * u - 5 * a) * u + 8 * a) * u - 4 * a, ((a + 2) * t - (a + 3)) * t * t + 1,
            ((a + 2) * v - (a + 3)) * v * v + 1, ((a * w - 5 * a) * w + 8 * a) * w - 4 * a};
  }
  if (t == 1.0) return {0, 1};  // an exact position
  if (r.nearest == "round_prefer_ceil") return {t < 0.5 ? 1.0 : 0.0, t >= 0.5 ? 1.0 : 0.0};
  if (r.nearest == "floor") return {1, 0};
  if (r.nearest == "ceil") return {0, 1};
  return {t <= 0.5 ? 1.0 : 0.0, t > 0.5 ? 1.0 : 0.0};  // round_prefer_floor
}

struct AxisResize {
  Tensor matrix;      // [in, out], float64
  Tensor outside;     // [out], float64: extrapolation_value where the position is outside
  bool identity = true;
  bool any_outside = false;
};

AxisResize axis_resize(const ResizeRule& r, int64_t in, int64_t out, double scale, double roi_start,
                       double roi_end) {
  AxisResize a{Tensor::zeros(Shape{in, out}, DType::f64), Tensor::zeros(Shape{out}, DType::f64)};
  double* m = a.matrix.data<double>();
  for (int64_t o = 0; o < out; ++o) {
    const double x = source_position(r, o, in, scale, roi_start, roi_end);
    if (r.transform == "tf_crop_and_resize" && (x < 0 || x > in - 1)) {
      a.outside.data<double>()[o] = r.extrapolation;
      a.any_outside = true;
      a.identity = false;
      continue;
    }
    // ONNX's reference picks the left neighbour at an exact position (fraction 1).
    const double fl = std::floor(x);
    const int64_t base = static_cast<int64_t>(fl == x ? x - 1 : fl);
    const double t = fl == x ? 1.0 : x - fl;
    std::vector<double> w = weights(r, t);
    const int64_t first = w.size() == 4 ? base - 1 : base;
    if (r.exclude_outside) {
      double kept = 0;
      for (size_t k = 0; k < w.size(); ++k) {
        const int64_t i = first + static_cast<int64_t>(k);
        if (i < 0 || i >= in) w[k] = 0;
        kept += w[k];
      }
      if (kept != 0)
        for (double& wk : w) wk /= kept;
    }
    for (size_t k = 0; k < w.size(); ++k) {
      const int64_t i = std::clamp<int64_t>(first + static_cast<int64_t>(k), 0, in - 1);  // edge padding
      m[i * out + o] += w[k];
    }
  }
  if (in != out) a.identity = false;
  for (int64_t i = 0; a.identity && i < in; ++i)
    for (int64_t o = 0; o < out; ++o)
      if (m[i * out + o] != (i == o ? 1.0 : 0.0)) a.identity = false;
  return a;
}

Value resize_axis(NodeContext& c, Value x, int64_t axis, const AxisResize& a) {
  const int64_t rank = static_cast<int64_t>(x.shape().rank());
  std::vector<int64_t> perm(rank);
  for (int64_t d = 0; d < rank; ++d) perm[d] = d;
  std::swap(perm[axis], perm[rank - 1]);  // its own inverse
  const bool last = axis == rank - 1;
  Value y = last ? x : permute(x, perm);
  const Shape moved = y.shape();
  if (rank == 1) y = reshape(y, {1, moved[0]});
  y = matmul(y, constant(c.graph(), a.matrix.to_dtype(x.dtype())));
  if (a.any_outside) y = y + constant(c.graph(), a.outside.to_dtype(x.dtype()));
  if (rank == 1) y = reshape(y, {a.matrix.shape()[1]});
  return last ? y : permute(y, perm);
}

Outputs resize_with(NodeContext& c, const ResizeRule& r, std::vector<double> scales, std::vector<int64_t> sizes,
                    std::vector<double> roi) {
  Value x = c.input(0);
  const Shape in = x.shape();
  const size_t rank = in.rank();
  if (!scales.empty() && scales.size() != rank)
    c.invalid(str_cat("scales has ", scales.size(), " values for an input of rank ", rank));
  if (!sizes.empty() && sizes.size() != rank)
    c.invalid(str_cat("sizes has ", sizes.size(), " values for an input of rank ", rank));
  if (scales.empty() && sizes.empty()) c.invalid("neither scales nor sizes is given");
  if (!roi.empty() && roi.size() != 2 * rank) c.invalid(str_cat("roi has ", roi.size(), " values, not 2 × ", rank));
  for (size_t d = 0; d < rank; ++d) {
    int64_t out;
    double scale;
    if (!sizes.empty()) {
      out = sizes[d];
      scale = static_cast<double>(out) / static_cast<double>(in[d]);
    } else {
      scale = scales[d];
      if (!(scale > 0)) c.invalid(str_cat("scale ", scale, " on axis ", d, " is not positive"));
      out = static_cast<int64_t>(std::floor(static_cast<double>(in[d]) * scale));
    }
    if (out < 1) c.invalid(str_cat("axis ", d, " would have ", out, " elements"));
    const AxisResize a = axis_resize(r, in[d], out, scale, roi.empty() ? 0.0 : roi[d], roi.empty() ? 1.0 : roi[rank + d]);
    if (!a.identity) x = resize_axis(c, x, static_cast<int64_t>(d), a);
  }
  return one(x);
}

void check_choice(NodeContext& c, const char* attr, const std::string& value, std::initializer_list<const char*> ok) {
  for (const char* o : ok)
    if (value == o) return;
  c.unsupported(str_cat(attr, " = '", value, "'"));
}

// Resize-11 and later: X, roi, scales, sizes (the last three optional from opset 13).
Outputs resize(NodeContext& c) {
  c.accept_attrs({"mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
                  "extrapolation_value"});
  ResizeRule r;
  r.mode = c.attr_string("mode", "nearest");
  r.transform = c.attr_string("coordinate_transformation_mode", "half_pixel");
  r.nearest = c.attr_string("nearest_mode", "round_prefer_floor");
  r.cubic_a = c.attr_float("cubic_coeff_a", -0.75);
  r.exclude_outside = c.attr_int("exclude_outside", 0) != 0;
  r.extrapolation = c.attr_float("extrapolation_value", 0.0);
  check_choice(c, "mode", r.mode, {"nearest", "linear", "cubic"});
  check_choice(c, "coordinate_transformation_mode", r.transform,
               {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize",
                "tf_half_pixel_for_nn"});
  check_choice(c, "nearest_mode", r.nearest, {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"});
  std::vector<double> roi, scales;
  std::vector<int64_t> sizes;
  if (c.has_input(1) && r.transform == "tf_crop_and_resize") roi = c.known_doubles(1, "roi");
  if (c.has_input(2)) scales = c.known_doubles(2, "scales");
  if (c.has_input(3)) sizes = c.known_ints(3, "sizes");
  return resize_with(c, r, scales, sizes, roi);
}

// Resize-10 and Upsample: scales only, asymmetric coordinates, nearest rounds down.
Outputs resize_v10(NodeContext& c) {
  c.accept_attrs({"mode", "scales"});
  ResizeRule r;
  r.mode = c.attr_string("mode", "nearest");
  check_choice(c, "mode", r.mode, {"nearest", "linear"});
  r.transform = "asymmetric";
  r.nearest = "floor";
  std::vector<double> scales = c.has_attr("scales") ? c.attr_floats("scales") : c.known_doubles(1, "scales");
  return resize_with(c, r, scales, {}, {});
}

const Translator kTranslators[] = {
    {"Resize", 10, resize_v10},
    {"Resize", 11, resize},
    {"Upsample", 7, resize_v10},
};

}  // namespace

std::span<const Translator> resize_translators() { return kTranslators; }

}  // namespace dagrad::onnx
