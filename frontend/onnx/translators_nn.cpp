// ONNX neural-network ops: convolution and pooling (1-D and 2-D), Gemm, MatMul, the
// normalisations and Dropout.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <map>
#include <set>

#include "frontend/onnx/translate.h"
#include "ops/ops.h"
#include "runtime/convert.h"

namespace dagrad::onnx {

namespace {

std::vector<int64_t> dims_of(const Shape& s) { return {s.begin(), s.end()}; }

// The spatial geometry of a Conv or pool node over `spatial` (1 or 2) dims: kernel,
// strides, dilations and symmetric pads, with auto_pad resolved.
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: one per dim (begin == end)
};

Window window_of(NodeContext& c, const Shape& x, std::vector<int64_t> kernel) {
  const size_t n = kernel.size();
  if (n + 2 != static_cast<size_t>(x.rank()))  // a missing kernel_shape comes as []
    c.invalid(str_cat("kernel_shape ", attr_to_string(kernel),
                      " must give one size per spatial dimension of the input ", x.to_string()));
  Window w;
  w.kernel = kernel;
  w.strides = c.attr_ints("strides", std::vector<int64_t>(n, 1));
  w.dilations = c.attr_ints("dilations", std::vector<int64_t>(n, 1));
  std::vector<int64_t> pads = c.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  if (w.strides.size() != n || w.dilations.size() != n || pads.size() != 2 * n)
    c.invalid("strides, dilations and pads must match the kernel's rank");
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t d = 0; d < n; ++d) {
      const int64_t in = x[2 + d], out = (in + w.strides[d] - 1) / w.strides[d];
      const int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[d] + (kernel[d] - 1) * w.dilations[d] + 1 - in);
      pads[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[n + d] = total - pads[d];
    }
  } else if (auto_pad == "VALID") {
    std::fill(pads.begin(), pads.end(), 0);
  } else if (auto_pad != "NOTSET") {
    c.invalid(str_cat("auto_pad '", auto_pad, "'"));
  }
  for (size_t d = 0; d < n; ++d) {
    if (pads[d] != pads[n + d])
      c.unsupported(str_cat("asymmetric padding ", attr_to_string(pads), " (dagrad pads both sides alike)"));
    w.pads.push_back(pads[d]);
  }
  return w;
}

// 1-D as 2-D: [N,C,L] -> [N,C,1,L]; a window's parameters get height 1.
struct Spatial {
  bool one_d = false;
  Value to_2d(Value v) const {
    if (!one_d) return v;
    const Shape s = v.shape();
    return reshape(v, {s[0], s[1], 1, s[2]});
  }
  Value from_2d(Value v) const {
    if (!one_d) return v;
    const Shape s = v.shape();
    return reshape(v, {s[0], s[1], s[3]});
  }
  Hw hw(const std::vector<int64_t>& v, int64_t one) const { return one_d ? Hw(one, v[0]) : Hw(v[0], v[1]); }
};

Spatial spatial_of(NodeContext& c, const Shape& x) {
  if (x.rank() != 3 && x.rank() != 4)
    c.unsupported(str_cat("input of rank ", x.rank(), " (dagrad convolves and pools 1-D and 2-D data)"));
  return Spatial{x.rank() == 3};
}

Outputs conv(NodeContext& c) {
  const Shape x = c.shape(0), w = c.shape(1);
  const Spatial sp = spatial_of(c, x);
  if (w.rank() != x.rank())
    c.invalid(str_cat("the weight ", w.to_string(), " must have the input's rank (input ", x.to_string(), ")"));
  const Window win = window_of(c, x, c.attr_ints("kernel_shape", {w.begin() + 2, w.end()}));
  ConvParams p;
  p.stride = sp.hw(win.strides, 1);
  p.dilation = sp.hw(win.dilations, 1);
  p.padding = sp.hw(win.pads, 0);
  Value in = sp.to_2d(c.input(0)), weight = sp.to_2d(c.input(1));
  Value bias = c.has_input(2) ? c.input(2) : Value{};
  const int64_t groups = c.attr_int("group", 1);
  if (groups == 1) return one(sp.from_2d(conv2d(in, weight, bias, p)));
  // Grouped: each group's input channels against its slice of the filters, the
  // outputs concatenated along channels.
  if (groups < 1 || x[1] % groups || w[0] % groups || w[1] * groups != x[1])
    c.invalid(str_cat("group = ", groups, " does not divide the input's ", x[1], " and the weight's ", w[0],
                      " channels (weight ", w.to_string(), ")"));
  const int64_t cin = x[1] / groups, cout = w[0] / groups;
  std::vector<Value> outs;
  for (int64_t g = 0; g < groups; ++g) {
    Value b = bias.valid() ? slice(bias, 0, g * cout, (g + 1) * cout) : Value{};
    outs.push_back(conv2d(slice(in, 1, g * cin, (g + 1) * cin), slice(weight, 0, g * cout, (g + 1) * cout), b, p));
  }
  return one(sp.from_2d(concat(outs, 1)));
}

PoolParams pool_params(NodeContext& c, const Shape& x, const Spatial& sp) {
  if (c.attr_int("ceil_mode", 0)) c.unsupported("ceil_mode = 1");
  if (c.attr_int("storage_order", 0)) c.unsupported("storage_order = 1");
  const Window win = window_of(c, x, c.attr_ints("kernel_shape"));
  for (int64_t d : win.dilations)
    if (d != 1) c.unsupported("dilated pooling");
  PoolParams p;
  p.kernel = sp.hw(win.kernel, 1);
  p.stride = sp.hw(win.strides, 1);
  p.padding = sp.hw(win.pads, 0);
  return p;
}

Outputs max_pool(NodeContext& c) {
  if (c.node().output_size() > 1 && !c.node().output(1).empty()) c.unsupported("the Indices output");
  const Shape x = c.shape(0);
  const Spatial sp = spatial_of(c, x);
  return one(sp.from_2d(max_pool2d(sp.to_2d(c.input(0)), pool_params(c, x, sp))));
}

// dagrad's average counts padding as zeros (count_include_pad = 1); without it, the sum
// is divided by the count of real elements: avg(x) / avg(1).
Outputs average_pool(NodeContext& c) {
  const Shape x = c.shape(0);
  const Spatial sp = spatial_of(c, x);
  const PoolParams p = pool_params(c, x, sp);
  Value in = sp.to_2d(c.input(0));
  Value y = avg_pool2d(in, p);
  if (!c.attr_int("count_include_pad", 0) && (p.padding.h || p.padding.w))
    y = y / avg_pool2d(ones_like(in), p);
  return one(sp.from_2d(y));
}

std::vector<int64_t> spatial_axes(const Shape& x) {
  std::vector<int64_t> axes;
  for (int64_t d = 2; d < static_cast<int64_t>(x.rank()); ++d) axes.push_back(d);
  return axes;
}

Outputs global_average_pool(NodeContext& c) { return one(mean(c.input(0), spatial_axes(c.shape(0)), true)); }
Outputs global_max_pool(NodeContext& c) { return one(max(c.input(0), spatial_axes(c.shape(0)), true)); }

Outputs gemm(NodeContext& c) {
  const double alpha = c.attr_float("alpha", 1.0), beta = c.attr_float("beta", 1.0);
  Value y = matmul(c.input(0), c.input(1), c.attr_int("transA", 0) != 0, c.attr_int("transB", 0) != 0);
  if (alpha != 1.0) y = y * alpha;
  if (c.has_input(2) && beta != 0.0) y = y + (beta == 1.0 ? c.input(2) : c.input(2) * beta);
  return one(y);
}

// NumPy matmul: 1-D operands become a row / a column (then dropped); batch dims broadcast.
Outputs matmul_(NodeContext& c) {
  Value a = c.input(0), b = c.input(1);
  const bool a_vec = a.shape().rank() == 1, b_vec = b.shape().rank() == 1;
  if (a_vec) a = reshape(a, {1, a.dim(0)});
  if (b_vec) b = reshape(b, {b.dim(0), 1});
  const Shape sa = a.shape(), sb = b.shape();
  if (sb.rank() > 2 || sa.rank() < sb.rank()) {
    const Shape batch = broadcast_shapes(Shape(std::vector<int64_t>(sa.begin(), sa.end() - 2)),
                                         Shape(std::vector<int64_t>(sb.begin(), sb.end() - 2)), "MatMul");
    auto widen = [&](Value v) {
      std::vector<int64_t> dims = dims_of(batch);
      dims.push_back(v.dim(-2));
      dims.push_back(v.dim(-1));
      return broadcast_to(v, Shape(dims));
    };
    a = widen(a), b = widen(b);
  }
  Value y = matmul(a, b);
  std::vector<int64_t> dims = dims_of(y.shape());
  if (b_vec) dims.pop_back();
  if (a_vec) dims.erase(dims.end() - (b_vec ? 1 : 2));
  return one(reshape(y, dims));
}

// [C] -> [1,C,1,...] for x of rank r.
Value per_channel(Value v, size_t rank) {
  std::vector<int64_t> dims(rank, 1);
  dims[1] = v.dim(0);
  return reshape(v, dims);
}

Outputs batch_norm_(NodeContext& c) {
  const bool training = c.opset() >= 14 ? c.attr_int("training_mode", 0) != 0 : false;
  for (int k = 1; k < c.node().output_size(); ++k)
    if (!c.node().output(k).empty()) c.unsupported("the running statistics outputs (training mode)");
  if (training || (c.opset() < 7 && c.attr_int("is_test", 0) == 0 && c.opset() >= 6))
    c.unsupported("training mode");
  Value x = c.input(0);
  const size_t r = x.shape().rank();
  const double eps = c.attr_float("epsilon", 1e-5);
  Value inv = per_channel(c.input(1) / sqrt(c.input(4) + eps), r);
  return one((x - per_channel(c.input(3), r)) * inv + per_channel(c.input(2), r));
}

Outputs instance_norm(NodeContext& c) {
  Value x = c.input(0);
  const size_t r = x.shape().rank();
  const std::vector<int64_t> axes = spatial_axes(x.shape());
  Value centred = x - mean(x, axes, true);
  Value var = mean(centred * centred, axes, true);
  return one(centred / sqrt(var + c.attr_float("epsilon", 1e-5)) * per_channel(c.input(1), r) +
             per_channel(c.input(2), r));
}

// Inference: the identity. Training (opset 12's training_mode input): dagrad's dropout.
Outputs dropout_(NodeContext& c) {
  if (c.node().output_size() > 1 && !c.node().output(1).empty()) c.unsupported("the mask output");
  bool training = false;
  double ratio = c.attr_float("ratio", 0.5);
  if (c.opset() >= 12) {
    if (c.has_input(1)) ratio = c.known_doubles(1, "ratio")[0];
    if (c.has_input(2)) training = c.known_ints(2, "training_mode")[0] != 0;
  }
  if (!training || ratio == 0.0) return one(c.input(0));
  return one(dropout(c.input(0), ratio, static_cast<uint64_t>(c.attr_int("seed", 0))));
}


// ConvTranspose: the input gradient of a convolution (dagrad's conv2d_backward_input,
// weight [C_in, C_out, KH, KW] as ONNX lays it out), computed unpadded at full size,
// then cropped by the pads (so asymmetric pads and output_padding come for free).
Outputs conv_transpose(NodeContext& c) {
  const Shape x = c.shape(0), w = c.shape(1);
  const Spatial sp = spatial_of(c, x);
  if (c.attr_int("group", 1) != 1) c.unsupported("group != 1 (grouped convolutions)");
  const size_t nd = x.rank() - 2;
  const std::vector<int64_t> kernel = c.attr_ints("kernel_shape", {w.begin() + 2, w.end()});
  const std::vector<int64_t> strides = c.attr_ints("strides", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> dil = c.attr_ints("dilations", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> out_pad = c.attr_ints("output_padding", std::vector<int64_t>(nd, 0));
  std::vector<int64_t> pads = c.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (kernel.size() != nd || strides.size() != nd || dil.size() != nd || out_pad.size() != nd || pads.size() != 2 * nd)
    c.invalid("kernel_shape, strides, dilations, output_padding and pads must match the input's rank");
  std::vector<int64_t> full(nd);
  for (size_t d = 0; d < nd; ++d) {
    if (out_pad[d] >= strides[d]) c.invalid("output_padding must be smaller than the stride");
    full[d] = strides[d] * (x[2 + d] - 1) + dil[d] * (kernel[d] - 1) + 1 + out_pad[d];
  }
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  const std::vector<int64_t> out_shape = c.attr_ints("output_shape");
  if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t d = 0; d < nd; ++d) {
      const int64_t want = !out_shape.empty() ? out_shape[out_shape.size() - nd + d] : x[2 + d] * strides[d];
      const int64_t total = full[d] - want;
      if (total < 0) c.unsupported("an output_shape larger than the transposed convolution gives");
      const bool lower = auto_pad == "SAME_LOWER";
      pads[d] = lower ? total - total / 2 : total / 2;
      pads[nd + d] = total - pads[d];
    }
  } else if (auto_pad == "VALID") {
    std::fill(pads.begin(), pads.end(), 0);
  }
  ConvParams p;
  p.stride = sp.hw(strides, 1);
  p.dilation = sp.hw(dil, 1);
  std::vector<int64_t> y_dims{x[0], w[1]};
  if (sp.one_d) y_dims.push_back(1);
  for (int64_t f : full) y_dims.push_back(f);
  Value y = conv2d_backward_input(sp.to_2d(c.input(0)), sp.to_2d(c.input(1)), Shape(y_dims), p);
  for (size_t d = 0; d < nd; ++d) {
    const int64_t axis = static_cast<int64_t>(d + 2 + (sp.one_d ? 1 : 0));
    if (pads[d] || pads[nd + d]) y = slice(y, axis, pads[d], full[d] - pads[nd + d]);
  }
  if (c.has_input(2)) y = y + per_channel(c.input(2), y.shape().rank());
  return one(sp.from_2d(y));
}

// dagrad's fused layer_norm over the dims [axis, rank); the optional Mean and InvStdDev
// outputs are its saved statistics. (stash_type, the precision of the statistics, is
// the input's own here: float32 for float32 inputs, as ONNX's default.)
Outputs layer_normalization(NodeContext& c) {
  c.accept_attrs({"axis", "epsilon", "stash_type"});
  std::vector<Value> r = layer_norm_with_stats(c.input(0), c.input(1), c.has_input(2) ? c.input(2) : Value{},
                                               c.attr_int("axis", -1), c.attr_float("epsilon", 1e-5));
  Outputs outs(3);
  for (size_t i = 0; i < 3; ++i) outs[i].value = r[i];
  return outs;
}

// (x - mean) / (std + 1e-9) over `axes` (default N, H, W), as ONNX's function body.
Outputs mean_variance_norm(NodeContext& c) {
  Value x = c.input(0);
  const std::vector<int64_t> axes = c.attr_ints("axes", {0, 2, 3});
  Value centred = x - mean(x, axes, true);
  return one(centred / (sqrt(mean(centred * centred, axes, true)) + 1e-9));
}

// Einsum without repeated indices in one operand (no diagonals) and without ellipses:
// every operand is permuted and reshaped onto all the equation's letters, the operands
// are multiplied (broadcasting), and the letters missing from the output are summed.
Outputs einsum(NodeContext& c) {
  std::string eq = c.attr_string("equation", "");
  eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
  if (eq.find("...") != std::string::npos) c.unsupported("ellipses in the equation");
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t at = 0;;) {
    const size_t comma = lhs.find(',', at);
    terms.push_back(lhs.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  if (terms.size() != c.num_inputs()) c.invalid("the equation's operands do not match the inputs");
  std::string letters;
  std::map<char, int> count;
  for (const std::string& t : terms) {
    std::set<char> seen;
    for (char ch : t) {
      if (!seen.insert(ch).second) c.unsupported(str_cat("a repeated index in '", t, "' (a diagonal)"));
      if (!count[ch]++) letters += ch;
    }
  }
  std::string out;
  if (arrow != std::string::npos) {
    out = eq.substr(arrow + 2);
  } else {
    for (const auto& [ch, n] : count)
      if (n == 1) out += ch;
  }
  std::map<char, int64_t> size;
  Value prod;
  for (size_t k = 0; k < terms.size(); ++k) {
    Value v = c.input(k);
    const std::string& t = terms[k];
    if (t.size() != v.shape().rank()) c.invalid(str_cat("operand ", k, " has rank ", v.shape().rank(), ", not ", t.size()));
    std::vector<int64_t> perm, dims;
    for (char ch : letters) {
      const size_t at = t.find(ch);
      if (at == std::string::npos) continue;
      perm.push_back(static_cast<int64_t>(at));
      size[ch] = v.shape()[at];
    }
    v = permute(v, perm);
    for (char ch : letters) dims.push_back(t.find(ch) == std::string::npos ? 1 : size[ch]);
    v = reshape(v, dims);
    prod = prod.valid() ? prod * v : v;
  }
  std::vector<int64_t> summed;
  for (size_t i = 0; i < letters.size(); ++i)
    if (out.find(letters[i]) == std::string::npos) summed.push_back(static_cast<int64_t>(i));
  Value y = summed.empty() ? prod : sum(prod, summed, false);
  std::string kept;
  for (char ch : letters)
    if (out.find(ch) != std::string::npos) kept += ch;
  std::vector<int64_t> perm;
  for (char ch : out) {
    if (kept.find(ch) == std::string::npos) c.invalid(str_cat("output index '", ch, "' is in no operand"));
    perm.push_back(static_cast<int64_t>(kept.find(ch)));
  }
  return one(perm.size() > 1 ? permute(y, perm) : y);
}


// NegativeLogLikelihoodLoss over input [N,C,d...] and integer targets [N,d...]: the
// target's one-hot mask (zeroed at ignore_index, weighted by `weight`) picks each
// element's loss; "mean" divides by the picked weights' sum, as ONNX does.
Value nll(NodeContext& c, Value input, Value target, Value weight) {
  const Shape s = input.shape();
  if (s.rank() < 2) c.invalid("input must be [N,C,...]");
  const int64_t classes = s[1];
  Value mask = one_hot(target, classes, 1, input.dtype());
  std::vector<int64_t> per_class(s.rank(), 1);
  per_class[1] = classes;
  if (c.has_attr("ignore_index")) {
    const int64_t ignore = c.attr_int("ignore_index", 0);
    if (ignore >= 0 && ignore < classes) {
      Tensor keep = Tensor::full(Shape{classes}, 1.0, input.dtype());
      dispatch_all(keep.dtype(), [&]<class T>() { keep.data<T>()[ignore] = convert<T>(0); });
      mask = mask * reshape(constant(c.graph(), keep), per_class);
    }
  }
  if (weight.valid()) mask = mask * reshape(weight, per_class);
  Value loss = -sum(input * mask, {1});
  const std::string reduction = c.attr_string("reduction", "mean");
  if (reduction == "none") return loss;
  if (reduction == "sum") return sum(loss);
  if (reduction != "mean") c.invalid(str_cat("reduction '", reduction, "'"));
  return sum(loss) / sum(mask);
}

Outputs nll_loss_(NodeContext& c) {
  return one(nll(c, c.input(0), c.input(1), c.has_input(2) ? c.input(2) : Value{}));
}

Outputs softmax_cross_entropy_loss(NodeContext& c) {
  Value log_prob = log_softmax(c.input(0), 1);
  Outputs outs = one(nll(c, log_prob, c.input(1), c.has_input(2) ? c.input(2) : Value{}));
  outs.push_back(Slot{.value = log_prob});
  return outs;
}

// 1 at each row's first maximum along `axis`.
Outputs hardmax(NodeContext& c) {
  Value x = c.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape().rank());
  const int64_t axis = c.axis(c.attr_int("axis", c.opset() >= 13 ? -1 : 1), rank);
  if (c.opset() < 13) {  // coerced to 2-D at axis
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
    Value rows = reshape(x, {outer, x.shape().numel() / std::max<int64_t>(outer, 1)});
    Value h = one_hot(argmax(rows, 1), rows.dim(1), 1, x.dtype());
    return one(reshape(h, dims_of(x.shape())));
  }
  return one(one_hot(argmax(x, axis), x.shape()[axis], axis, x.dtype()));
}

// OneHot: dagrad's one_hot (negative indices wrap, as ONNX says), then off + (on - off)·h.
Outputs one_hot_(NodeContext& c) {
  c.accept_attrs({"axis"});
  const std::vector<double> depth = c.known_doubles(1, "depth");
  const Tensor values = c.known(2, "values");
  if (depth.size() != 1 || values.numel() != 2) c.invalid("depth must hold one value and values two (off, on)");
  Value idx = c.is_known(0) && is_floating(c.dtype(0)) ? constant(c.graph(), c.known(0, "indices").to_dtype(DType::i64))
                                                       : c.input(0);
  if (is_floating(idx.dtype())) c.unsupported("floating-point indices computed in the graph");
  const DType t = values.dtype();
  const double off = values.to_dtype(DType::f64).data<double>()[0], on = values.to_dtype(DType::f64).data<double>()[1];
  const int64_t n = static_cast<int64_t>(depth[0]);
  if (n < 1) c.invalid(str_cat("depth ", depth[0], " is not positive"));
  if (off == 0 && on == 1) return one(one_hot(idx, n, c.attr_int("axis", -1), t, true));
  if (!is_floating(t)) c.unsupported(str_cat("integer values other than (0, 1), here (", off, ", ", on, ")"));
  return one(one_hot(idx, n, c.attr_int("axis", -1), t, true) * (on - off) + off);
}

const Translator kTranslators[] = {
    {"Conv", 1, conv},
    {"MaxPool", 1, max_pool},
    {"AveragePool", 1, average_pool},
    {"GlobalAveragePool", 1, global_average_pool},
    {"GlobalMaxPool", 1, global_max_pool},
    {"Gemm", 1, gemm},
    {"MatMul", 1, matmul_},
    {"BatchNormalization", 1, batch_norm_},
    {"InstanceNormalization", 1, instance_norm},
    {"LayerNormalization", 17, layer_normalization},
    {"Dropout", 1, dropout_},
    {"ConvTranspose", 1, conv_transpose},
    {"MeanVarianceNormalization", 9, mean_variance_norm},
    {"Einsum", 12, einsum},
    {"NegativeLogLikelihoodLoss", 12, nll_loss_},
    {"SoftmaxCrossEntropyLoss", 12, softmax_cross_entropy_loss},
    {"OneHot", 9, one_hot_},
    {"Hardmax", 1, hardmax},
};

}  // namespace

std::span<const Translator> nn_translators() { return kTranslators; }

}  // namespace dagrad::onnx
