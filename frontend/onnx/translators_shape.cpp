// ONNX shape ops: what dagrad's static shapes make known at import time (Shape, Size,
// ConstantOfShape, Constant) and the copies (Reshape, Transpose, Concat, Slice, ...).
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "frontend/onnx/tensor_proto.h"
#include "frontend/onnx/translate.h"
#include "ops/ops.h"
#include "ops/shape_util.h"
#include "runtime/convert.h"

namespace dagrad::onnx {

namespace {

Tensor int64_tensor(const std::vector<int64_t>& v) {
  return Tensor::from_vector<int64_t>(Shape{static_cast<int64_t>(v.size())}, v);
}

Outputs reshape_(NodeContext& c) {
  std::vector<int64_t> dims = c.opset() < 5 ? c.attr_ints("shape") : c.known_ints(1, "target shape");
  const Shape in = c.shape(0);
  const bool allowzero = c.attr_int("allowzero", 0) != 0;
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] == 0 && !allowzero) {
      if (i >= in.rank()) c.invalid(str_cat("shape entry ", i, " is 0 (copy) but the input has rank ", in.rank()));
      dims[i] = in[i];
    }
  return one(reshape(c.input(0), dims));
}

Outputs flatten_(NodeContext& c) {
  const Shape in = c.shape(0);
  const int64_t rank = static_cast<int64_t>(in.rank());
  int64_t axis = c.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) c.invalid(str_cat("axis ", c.attr_int("axis", 1), " is out of range for rank ", rank));
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= in[d];
  return one(reshape(c.input(0), {outer, in.numel() / std::max<int64_t>(outer, 1)}));
}

Outputs transpose_(NodeContext& c) {
  const int64_t rank = static_cast<int64_t>(c.shape(0).rank());
  std::vector<int64_t> perm(rank);
  std::iota(perm.rbegin(), perm.rend(), 0);  // default: reverse the dims
  perm = c.attr_ints("perm", perm);
  return one(permute(c.input(0), perm));
}

Outputs concat_(NodeContext& c) {
  std::vector<Value> xs;
  for (size_t i = 0; i < c.num_inputs(); ++i) xs.push_back(c.input(i));
  return one(concat(xs, c.attr_int("axis", 0)));
}

// Squeeze / Unsqueeze: axes as an attribute (before opset 13) or a known input.
std::vector<int64_t> axes_of(NodeContext& c, int input_since) {
  if (c.opset() < input_since) return c.attr_ints("axes");
  return c.has_input(1) ? c.known_ints(1, "axes") : std::vector<int64_t>{};
}

Outputs squeeze_(NodeContext& c) {
  const Shape in = c.shape(0);
  const int64_t rank = static_cast<int64_t>(in.rank());
  std::vector<int64_t> axes = axes_of(c, 13);
  std::vector<bool> drop(rank, false);
  if (axes.empty())
    for (int64_t d = 0; d < rank; ++d) drop[d] = in[d] == 1;
  for (int64_t a : axes) {
    const int64_t d = c.axis(a, rank);
    if (in[d] != 1) c.invalid(str_cat("cannot squeeze axis ", a, " of size ", in[d]));
    drop[d] = true;
  }
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < rank; ++d)
    if (!drop[d]) dims.push_back(in[d]);
  return one(reshape(c.input(0), dims));
}

Outputs unsqueeze_(NodeContext& c) {
  const Shape in = c.shape(0);
  std::vector<int64_t> axes = axes_of(c, 13);
  const int64_t rank = static_cast<int64_t>(in.rank() + axes.size());
  std::vector<bool> added(rank, false);
  for (int64_t a : axes) {
    const int64_t d = c.axis(a, rank);
    if (added[d]) c.invalid(str_cat("axis ", a, " is listed twice"));
    added[d] = true;
  }
  std::vector<int64_t> dims;
  for (int64_t d = 0, k = 0; d < rank; ++d) dims.push_back(added[d] ? 1 : in[k++]);
  return one(reshape(c.input(0), dims));
}

Outputs shape_(NodeContext& c) {
  const Shape in = c.shape(0);
  const int64_t rank = static_cast<int64_t>(in.rank());
  auto clamp = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp(c.attr_int("start", 0)), end = clamp(c.attr_int("end", rank));
  std::vector<int64_t> dims;
  for (int64_t d = start; d < end; ++d) dims.push_back(in[d]);
  return known(int64_tensor(dims));
}

Outputs size_(NodeContext& c) { return known(Tensor::full(Shape{}, static_cast<double>(c.shape(0).numel()), DType::i64)); }

Outputs constant_(NodeContext& c) {
  const auto& node = c.node();
  if (node.attribute_size() != 1) c.invalid("needs exactly one value attribute");
  const auto& a = node.attribute(0);
  const std::string& n = a.name();
  if (n == "value") return known(c.attr_tensor("value"));
  if (n == "value_float") return known(Tensor::full(Shape{}, a.f(), DType::f32));
  if (n == "value_int") return known(Tensor::full(Shape{}, static_cast<double>(a.i()), DType::i64));
  if (n == "value_floats") {
    std::vector<float> v(a.floats().begin(), a.floats().end());
    return known(Tensor::from_vector<float>(Shape{static_cast<int64_t>(v.size())}, v));
  }
  if (n == "value_ints") return known(int64_tensor({a.ints().begin(), a.ints().end()}));
  c.unsupported(str_cat("attribute '", n, "' (sparse tensors and strings are not supported)"));
}

Outputs constant_of_shape(NodeContext& c) {
  const std::vector<int64_t> dims = c.known_ints(0, "shape");
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) c.invalid(str_cat("shape ", attr_to_string(dims), " has a negative dimension"));
    n = d == 0 ? 0 : (n > (int64_t{1} << 40) / d ? (int64_t{1} << 40) : n * d);
  }
  if (n > (int64_t{1} << 26)) c.unsupported(str_cat("a constant of shape ", attr_to_string(dims), " (too large)"));
  Tensor value = c.has_attr("value") ? c.attr_tensor("value") : Tensor::zeros(Shape{1}, DType::f32);
  if (value.numel() != 1) c.invalid("value must hold one element");
  Tensor out = Tensor::empty(Shape(dims), value.dtype());
  dispatch_all(value.dtype(), [&]<class T>() { std::fill(out.data<T>(), out.data<T>() + out.numel(), value.data<T>()[0]); });
  return known(out);
}

// EyeLike: ones on diagonal k of a 2-D tensor shaped like the input, known at import.
Outputs eye_like(NodeContext& c) {
  c.accept_attrs({"dtype", "k"});
  const Shape in = c.shape(0);
  if (in.rank() != 2) c.invalid(str_cat("the input must be 2-D, not ", in.to_string()));
  const DType t = c.has_attr("dtype") ? dtype_from_onnx(static_cast<int>(c.attr_int("dtype", 0)), "the output")
                                      : c.dtype(0);
  const int64_t k = c.attr_int("k", 0);
  Tensor out = Tensor::zeros(in, DType::f64);
  for (int64_t i = 0; i < in[0]; ++i)
    if (i + k >= 0 && i + k < in[1]) out.data<double>()[i * in[1] + i + k] = 1.0;
  return known(out.to_dtype(t));
}

// Slice with step 1 along each listed axis (attributes before opset 10, inputs after).
Outputs slice_(NodeContext& c) {
  const Shape in = c.shape(0);
  const int64_t rank = static_cast<int64_t>(in.rank());
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset() < 10) {
    starts = c.attr_ints("starts"), ends = c.attr_ints("ends"), axes = c.attr_ints("axes");
  } else {
    starts = c.known_ints(1, "starts"), ends = c.known_ints(2, "ends");
    if (c.has_input(3)) axes = c.known_ints(3, "axes");
    if (c.has_input(4)) steps = c.known_ints(4, "steps");
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (starts.size() != ends.size() || axes.size() != starts.size())
    c.invalid("starts, ends and axes must have the same length");
  Value x = c.input(0);
  for (size_t k = 0; k < axes.size(); ++k) {
    if (!steps.empty() && steps[k] != 1) c.unsupported(str_cat("step ", steps[k], " (dagrad slices with step 1)"));
    const int64_t d = c.axis(axes[k], rank), n = in[d];
    auto clamp = [n](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + n : v, 0, n); };
    const int64_t lo = clamp(starts[k]), hi = std::max(lo, clamp(ends[k]));
    if (lo != 0 || hi != n) x = slice(x, d, lo, hi);
  }
  return one(x);
}

Outputs split_(NodeContext& c) {
  const Shape in = c.shape(0);
  const int64_t axis = c.axis(c.attr_int("axis", 0), static_cast<int64_t>(in.rank()));
  std::vector<int64_t> parts;
  if (c.opset() < 13)
    parts = c.attr_ints("split");
  else if (c.has_input(1))
    parts = c.known_ints(1, "split");
  const int64_t outputs = c.node().output_size();
  if (parts.empty()) {
    if (in[axis] % outputs != 0) c.invalid(str_cat("axis of size ", in[axis], " does not split into ", outputs));
    parts.assign(outputs, in[axis] / outputs);
  }
  Outputs outs;
  int64_t at = 0;
  Value x = c.input(0);
  for (int64_t len : parts) {
    outs.push_back(Slot{.value = slice(x, axis, at, at + len)});
    at += len;
  }
  return outs;
}

// NumPy broadcasting of the input and the target shape, in both directions.
Outputs expand_(NodeContext& c) {
  const std::vector<int64_t> target = c.known_ints(1, "shape");
  const Shape in = c.shape(0);
  return one(broadcast_to(c.input(0), broadcast_shapes(in, Shape(target), "Expand")));
}

// Cast: the cast op (runtime/convert.h's conversions); values known at import time are
// converted then.
Outputs cast_(NodeContext& c) {
  const int to = static_cast<int>(c.attr_int("to", 0));
  DType want;
  try {
    want = dtype_from_onnx(to, "to");
  } catch (const UnsupportedError&) {
    c.unsupported(str_cat("casting to ONNX type ", onnx_type_name(to)));
  }
  if (c.dtype(0) == want) return one(c.input(0));
  if (c.is_known(0)) return known(c.known(0, "input").to_dtype(want));
  return one(cast(c.input(0), want));
}

// dagrad's gather; int32 indices known at import are widened to int64 (the op's type).
Outputs gather_(NodeContext& c) {
  c.accept_attrs({"axis"});
  const int64_t axis = c.attr_int("axis", 0);
  if (c.dtype(1) == DType::i64) return one(gather(c.input(0), c.input(1), axis));
  if (c.dtype(1) != DType::i32 || !c.is_known(1))
    c.unsupported(str_cat(dtype_name(c.dtype(1)), " indices computed in the graph (dagrad gathers by int64)"));
  return one(gather(c.input(0), constant(c.graph(), c.known(1, "indices").to_dtype(DType::i64)), axis));
}

Outputs tile_(NodeContext& c) {
  const std::vector<int64_t> repeats = c.known_ints(1, "repeats");
  Value x = c.input(0);
  if (repeats.size() != x.shape().rank()) c.invalid("repeats must have one entry per dimension");
  for (size_t d = 0; d < repeats.size(); ++d)
    if (repeats[d] != 1) x = concat(std::vector<Value>(static_cast<size_t>(repeats[d]), x), static_cast<int64_t>(d));
  return one(x);
}


// Pad: constant (a value), edge (the border repeated) or reflect (mirrored without the
// border), one axis at a time; negative pads crop.
Outputs pad_(NodeContext& c) {
  Value x = c.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape().rank());
  std::vector<int64_t> pads = c.opset() < 11 ? c.attr_ints(c.opset() < 2 ? "paddings" : "pads") : c.known_ints(1, "pads");
  if (static_cast<int64_t>(pads.size()) != 2 * rank) c.invalid(str_cat("pads must have ", 2 * rank, " entries"));
  const std::string mode = c.attr_string("mode", "constant");
  double value = c.attr_float("value", 0.0);
  if (c.opset() >= 11 && c.has_input(2)) value = c.known_doubles(2, "constant_value")[0];
  if (mode != "constant" && mode != "edge" && mode != "reflect") c.invalid(str_cat("mode '", mode, "'"));
  for (int64_t d = 0; d < rank; ++d) {
    int64_t before = pads[d], after = pads[rank + d];
    const int64_t n = x.shape()[d];
    if (before < 0 || after < 0) {  // crop first
      x = slice(x, d, std::max<int64_t>(0, -before), n - std::max<int64_t>(0, -after));
      before = std::max<int64_t>(before, 0), after = std::max<int64_t>(after, 0);
    }
    if (before == 0 && after == 0) continue;
    const int64_t len = x.shape()[d];
    if (mode == "reflect" && (before >= len || after >= len))
      c.invalid(str_cat("reflect padding ", std::max(before, after), " needs more than ", len, " elements"));
    auto block = [&](int64_t count, bool at_end) -> std::vector<Value> {
      std::vector<Value> parts;
      if (count == 0) return parts;
      std::vector<int64_t> dims(x.shape().begin(), x.shape().end());
      dims[d] = count;
      if (mode == "constant") return {full(c.graph(), Shape(dims), value, x.dtype())};
      if (mode == "edge") return {broadcast_to(at_end ? slice(x, d, len - 1, len) : slice(x, d, 0, 1), Shape(dims))};
      for (int64_t k = 0; k < count; ++k) {  // reflect: mirrored around the border element
        const int64_t src = at_end ? len - 2 - k : count - k;
        parts.push_back(slice(x, d, src, src + 1));
      }
      return parts;
    };
    std::vector<Value> parts = block(before, false);
    parts.push_back(x);
    for (Value v : block(after, true)) parts.push_back(v);
    x = concat(parts, d);
  }
  return one(x);
}

// Range of known start, limit and delta: a constant.
Outputs range_(NodeContext& c) {
  const Tensor& start = c.known(0, "start");
  const double s = c.known_doubles(0, "start")[0], limit = c.known_doubles(1, "limit")[0],
               delta = c.known_doubles(2, "delta")[0];
  if (delta == 0) c.invalid("delta is 0");
  const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((limit - s) / delta)));
  if (n > (int64_t{1} << 26)) c.unsupported(str_cat("a range of ", n, " elements (too large)"));
  Tensor out = Tensor::empty(Shape{n}, start.dtype());
  dispatch_all(start.dtype(), [&]<class T>() {
    if constexpr (is_half_type_v<T>) {
      c.unsupported(str_cat("a range of ", dtype_name(start.dtype()), " (float32, float64 and integers only)"));
    } else {
      const T s0 = start.data<T>()[0];
      const T d0 = static_cast<T>(delta);
      for (int64_t i = 0; i < n; ++i) out.data<T>()[i] = static_cast<T>(s0 + static_cast<T>(i) * d0);
    }
  });
  return known(out);
}

// Trilu: x times a constant triangular mask of its last two dims.
Outputs trilu_(NodeContext& c) {
  Value x = c.input(0);
  const int64_t k = c.has_input(1) ? c.known_ints(1, "k")[0] : 0;
  const bool upper = c.attr_int("upper", 1) != 0;
  const Shape s = x.shape();
  if (s.rank() < 2) c.invalid("input must have rank 2 or more");
  const int64_t rows = s.dim(-2), cols = s.dim(-1);
  Tensor mask = Tensor::empty(Shape{rows, cols}, DType::f64);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) mask.data<double>()[i * cols + j] = (upper ? j - i >= k : j - i <= k) ? 1 : 0;
  const DType t = arithmetic_dtype(x.dtype());
  return one(as_dtype(as_dtype(x, t) * constant(c.graph(), mask.to_dtype(t)), x.dtype()));
}

// DepthToSpace / SpaceToDepth: a reshape, a permutation and a reshape.
Outputs depth_to_space(NodeContext& c) {
  Value x = c.input(0);
  const Shape s = x.shape();
  const int64_t b = c.attr_int("blocksize", 0), n = s[0], ch = s[1], h = s[2], w = s[3];
  if (b <= 0 || ch % (b * b)) c.invalid(str_cat("blocksize ", b, " does not divide ", ch, " channels"));
  const bool crd = c.attr_string("mode", "DCR") == "CRD";
  Value t = crd ? permute(reshape(x, {n, ch / (b * b), b, b, h, w}), {0, 1, 4, 2, 5, 3})
                : permute(reshape(x, {n, b, b, ch / (b * b), h, w}), {0, 3, 4, 1, 5, 2});
  return one(reshape(t, {n, ch / (b * b), h * b, w * b}));
}

Outputs space_to_depth(NodeContext& c) {
  Value x = c.input(0);
  const Shape s = x.shape();
  const int64_t b = c.attr_int("blocksize", 0), n = s[0], ch = s[1], h = s[2], w = s[3];
  if (b <= 0 || h % b || w % b) c.invalid(str_cat("blocksize ", b, " does not divide ", h, "x", w));
  Value t = permute(reshape(x, {n, ch, h / b, b, w / b, b}), {0, 3, 5, 1, 2, 4});
  return one(reshape(t, {n, ch * b * b, h / b, w / b}));
}

const Translator kTranslators[] = {
    {"Reshape", 1, reshape_},       {"Flatten", 1, flatten_},   {"Transpose", 1, transpose_},
    {"Concat", 1, concat_},         {"Squeeze", 1, squeeze_},   {"Unsqueeze", 1, unsqueeze_},
    {"Shape", 1, shape_},           {"Size", 1, size_},         {"Constant", 1, constant_},
    {"ConstantOfShape", 9, constant_of_shape},  {"EyeLike", 9, eye_like},                  {"Slice", 1, slice_},
    {"Split", 2, split_},           {"Expand", 8, expand_},     {"Cast", 6, cast_},
    {"Tile", 6, tile_},             {"Pad", 1, pad_},           {"Range", 11, range_},
    {"Trilu", 14, trilu_},          {"DepthToSpace", 1, depth_to_space},                    {"SpaceToDepth", 1, space_to_depth},
    {"Gather", 1, gather_},
};

}  // namespace

std::span<const Translator> shape_translators() { return kTranslators; }

}  // namespace dagrad::onnx
