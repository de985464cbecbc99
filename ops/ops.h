// The functions that build nodes. They validate, infer the output type and return a
// Value; they compute nothing. The DSL (frontend/) and the vjp rules both use them.
// Every function takes the caller's source location, shown in shape errors.
#pragma once
#include <cstdint>
#include <source_location>
#include <vector>

#include "ops/graph.h"
#include "ops/params/conv.h"
#include "ops/params/optim.h"
#include "runtime/tensor.h"

namespace dagrad {

#define DAGRAD_LOC const std::source_location& loc = std::source_location::current()

// Applies op `op` to `inputs` (all in one graph) and returns output 0 / all outputs.
Value apply(const std::string& op, std::vector<Value> inputs, Attrs attrs = {}, DAGRAD_LOC);
std::vector<Value> apply_multi(const std::string& op, std::vector<Value> inputs, Attrs attrs = {},
                               DAGRAD_LOC);

// ---- sources ----
// A tensor of `shape` filled with `value` (a scalar when shape is []).
Value full(Graph& g, const Shape& shape, double value, DType dtype = DType::f32, DAGRAD_LOC);
Value full_like(Value x, double value, DAGRAD_LOC);
// `value` (copied to the host) as a constant of the graph.
Value constant(Graph& g, const Tensor& value, DAGRAD_LOC);
Value zeros_like(Value x, DAGRAD_LOC);
Value ones_like(Value x, DAGRAD_LOC);

// ---- dtype conversion ----
// x's elements as dtype `to` (runtime/convert.h: round to nearest even into floating
// types; float to integer truncates, saturates and maps NaN to 0; integers wrap). Its
// gradient is cast back to x's dtype.
Value cast(Value x, DType to, DAGRAD_LOC);

// ---- elementwise, unary ----
Value relu(Value x, DAGRAD_LOC);
Value leaky_relu(Value x, double negative_slope = 0.01, DAGRAD_LOC);
Value sigmoid(Value x, DAGRAD_LOC);
Value tanh(Value x, DAGRAD_LOC);
Value gelu(Value x, DAGRAD_LOC);  // exact (erf) form, as PyTorch's default
Value silu(Value x, DAGRAD_LOC);  // x * sigmoid(x)
Value hardswish(Value x, DAGRAD_LOC);
// log(1 + exp(beta x)) / beta, linear where beta x > threshold (torch.nn.Softplus).
Value softplus(Value x, double beta = 1, double threshold = 20, DAGRAD_LOC);
Value erf(Value x, DAGRAD_LOC);  // the Gauss error function
Value exp(Value x, DAGRAD_LOC);
Value log(Value x, DAGRAD_LOC);
Value sqrt(Value x, DAGRAD_LOC);
Value neg(Value x, DAGRAD_LOC);
Value abs(Value x, DAGRAD_LOC);
Value pow(Value x, double exponent, DAGRAD_LOC);
Value sign(Value x, DAGRAD_LOC);  // -1, 0, 1; no gradient
// Trigonometric and hyperbolic functions; floor, ceil and round (halves to even) have no gradient.
Value sin(Value x, DAGRAD_LOC);
Value cos(Value x, DAGRAD_LOC);
Value tan(Value x, DAGRAD_LOC);
Value asin(Value x, DAGRAD_LOC);
Value acos(Value x, DAGRAD_LOC);
Value atan(Value x, DAGRAD_LOC);
Value sinh(Value x, DAGRAD_LOC);
Value cosh(Value x, DAGRAD_LOC);
Value asinh(Value x, DAGRAD_LOC);
Value acosh(Value x, DAGRAD_LOC);
Value atanh(Value x, DAGRAD_LOC);
Value floor(Value x, DAGRAD_LOC);
Value ceil(Value x, DAGRAD_LOC);
Value round(Value x, DAGRAD_LOC);

// ---- elementwise, binary, NumPy broadcasting ----
Value add(Value a, Value b, DAGRAD_LOC);
Value sub(Value a, Value b, DAGRAD_LOC);
Value mul(Value a, Value b, DAGRAD_LOC);
Value div(Value a, Value b, DAGRAD_LOC);
Value pow(Value a, Value b, DAGRAD_LOC);   // a^b elementwise
Value fmod(Value a, Value b, DAGRAD_LOC);  // a - trunc(a/b)·b, with a's sign
Value maximum(Value a, Value b, DAGRAD_LOC);
Value minimum(Value a, Value b, DAGRAD_LOC);
Value greater_equal(Value a, Value b, DAGRAD_LOC);  // 1 where a >= b else 0; no gradient
// Gradient helpers registered as elementwise ops of their own (fusible):
Value relu_backward(Value grad, Value x, DAGRAD_LOC);        // grad * (x > 0)
Value leaky_relu_backward(Value grad, Value x, double negative_slope, DAGRAD_LOC);
Value gelu_backward(Value grad, Value x, DAGRAD_LOC);        // grad * gelu'(x)

Value operator+(Value a, Value b);
Value operator-(Value a, Value b);
Value operator*(Value a, Value b);
Value operator/(Value a, Value b);
Value operator-(Value a);
Value operator+(Value a, double b);
Value operator-(Value a, double b);
Value operator*(Value a, double b);
Value operator/(Value a, double b);
Value operator+(double a, Value b);
Value operator-(double a, Value b);
Value operator*(double a, Value b);
Value operator/(double a, Value b);

// ---- reductions and normalisation ----
// axes empty = all axes; negative axes count from the end.
Value sum(Value x, std::vector<int64_t> axes = {}, bool keepdims = false, DAGRAD_LOC);
Value mean(Value x, std::vector<int64_t> axes = {}, bool keepdims = false, DAGRAD_LOC);
Value max(Value x, std::vector<int64_t> axes = {}, bool keepdims = false, DAGRAD_LOC);
Value prod(Value x, std::vector<int64_t> axes = {}, bool keepdims = false, DAGRAD_LOC);
// Sums the dimensions that broadcasting expanded, giving `shape` (vjp of broadcasting).
Value sum_to(Value x, const Shape& shape, DAGRAD_LOC);
Value broadcast_to(Value x, const Shape& shape, DAGRAD_LOC);
Value softmax(Value x, int64_t axis = -1, DAGRAD_LOC);
Value log_softmax(Value x, int64_t axis = -1, DAGRAD_LOC);
Value argmax(Value x, int64_t axis = -1, DAGRAD_LOC);  // int64, no gradient

// ---- shape ----
// One dimension may be -1 (inferred). Views on the CPU: no copy.
Value reshape(Value x, std::vector<int64_t> shape, DAGRAD_LOC);
Value flatten(Value x, int64_t start_dim = 1, DAGRAD_LOC);
Value transpose(Value x, int64_t dim0 = -2, int64_t dim1 = -1, DAGRAD_LOC);
Value permute(Value x, std::vector<int64_t> perm, DAGRAD_LOC);
Value concat(std::vector<Value> xs, int64_t axis = 0, DAGRAD_LOC);
Value slice(Value x, int64_t axis, int64_t start, int64_t end, DAGRAD_LOC);

// ---- linear algebra ----
// [..., M, K] x [..., K, N] -> [..., M, N]; batch dims must match (or b is 2-D).
// trans_a / trans_b use the transpose of the last two dims without copying.
Value matmul(Value a, Value b, bool trans_a = false, bool trans_b = false, DAGRAD_LOC);
// x [N, in] · weight[out, in]ᵀ + bias[out] (PyTorch's layout); bias may be empty.
Value linear(Value x, Value weight, Value bias = {}, DAGRAD_LOC);

// ---- convolution and pooling (NCHW) ----
// The options are the ops' parameter structs (ops/params/conv.h); Hw is a (height,
// width) pair that also accepts one integer for both: {.stride = 2}.
using Conv2dOptions = ConvParams;
using Pool2dOptions = PoolParams;  // stride 0: same as kernel
// x [N,C,H,W], weight [O,C,KH,KW], bias [O] or empty.
Value conv2d(Value x, Value weight, Value bias = {}, Conv2dOptions opt = {}, DAGRAD_LOC);
// dX of conv2d (shape of x) and dW (shape of weight), as ops with their own kernels.
Value conv2d_backward_input(Value grad_y, Value weight, const Shape& x_shape, Conv2dOptions opt, DAGRAD_LOC);
Value conv2d_backward_weight(Value grad_y, Value x, const Shape& w_shape, Conv2dOptions opt, DAGRAD_LOC);
// Output 0 of max_pool2d is the pooled value; output 1 (uint16, same shape) where each
// window's maximum lies (ops/params/conv.h: window_position), which its gradient reads.
Value max_pool2d(Value x, Pool2dOptions opt = {}, DAGRAD_LOC);
// grad_y routed through max_pool2d's index output `argmax` into x's shape.
Value max_pool2d_backward(Value grad_y, Value argmax, const Shape& x_shape, Pool2dOptions opt, DAGRAD_LOC);
// source (shape of x) read where `argmax` points: the adjoint of max_pool2d_backward in
// grad_y, so second-order gradients through max pooling work.
Value max_pool2d_gather(Value source, Value argmax, Pool2dOptions opt, DAGRAD_LOC);
// max_pool2d(conv2d(x, weight, bias)) as one op whose kernels never store the
// convolution's output (outputs: the pooled value, then argmax as max_pool2d's). The
// scheduler's fuse_conv_pool pass makes it from the two ops (scheduler/fuse_conv_pool.h).
Value conv2d_max_pool2d(Value x, Value weight, Value bias, Conv2dOptions conv, Pool2dOptions pool, DAGRAD_LOC);
Value avg_pool2d(Value x, Pool2dOptions opt = {}, DAGRAD_LOC);  // padding counts as zeros
Value avg_pool2d_backward(Value grad_y, const Shape& x_shape, Pool2dOptions opt, DAGRAD_LOC);

// ---- losses, regularisation, metrics ----
// Mean negative log-likelihood: log_probs [N,C], target [N] int64 class ids.
Value nll_loss(Value log_probs, Value target, DAGRAD_LOC);
// Fused log_softmax + nll_loss (mean over the batch).
Value softmax_cross_entropy(Value logits, Value target, DAGRAD_LOC);
Value softmax_cross_entropy_backward(Value grad, Value logits, Value target, DAGRAD_LOC);
// Inverted dropout: zero with probability p, scale the rest by 1/(1-p). The mask is a
// pure function of (seed, run step, element index): the vjp regenerates it.
Value dropout(Value x, double p, uint64_t seed, bool training = true, DAGRAD_LOC);
// Fraction of rows whose argmax equals target (float32 scalar); no gradient.
Value accuracy(Value logits, Value target, DAGRAD_LOC);
// 1 at each integer index along a new axis of `depth` (at `axis` of the output), 0
// elsewhere and for indices outside [0, depth); negative_wraps adds depth to negative
// indices first (ONNX's OneHot). No gradient.
Value one_hot(Value indices, int64_t depth, int64_t axis = -1, DType dtype = DType::f32, bool negative_wraps = false,
              DAGRAD_LOC);
// int64 [C,C] counts of the samples of each true class (row, `target`) that were
// predicted as each class (column, `predicted`); both int64 class ids [N] in [0, C).
// No gradient.
Value confusion_matrix(Value predicted, Value target, int64_t num_classes, DAGRAD_LOC);
// Batch norm over N,H,W per channel (x [N,C,H,W] or [N,C]). In training mode it uses the
// batch statistics and updates running_mean/var in place with `momentum`.
Value batch_norm(Value x, Value gamma, Value beta, Value running_mean, Value running_var, bool training,
                 double momentum = 0.1, double eps = 1e-5, DAGRAD_LOC);

// Layer normalisation (ONNX LayerNormalization, PyTorch's LayerNorm): x is normalised
// over its dims [axis, rank) with `epsilon` added to the variance, then multiplied by
// gamma and shifted by beta, both of the normalised shape (either may be empty; beta only
// with gamma). layer_norm_with_stats also returns the saved mean and 1/std (x's shape with
// the normalised dims set to 1), as ONNX's optional outputs.
Value layer_norm(Value x, Value gamma = {}, Value beta = {}, int64_t axis = -1, double epsilon = 1e-5, DAGRAD_LOC);
std::vector<Value> layer_norm_with_stats(Value x, Value gamma = {}, Value beta = {}, int64_t axis = -1,
                                         double epsilon = 1e-5, DAGRAD_LOC);
// dx [, dgamma, dbeta] from the saved statistics (gamma empty when there is none).
std::vector<Value> layer_norm_backward(Value dy, Value x, Value mean, Value invstd, Value gamma, int64_t axis,
                                       DAGRAD_LOC);

// ---- indexing ----
// ONNX Gather: data indexed along `axis` by int64 indices (negative ones count from the
// end); the result is data.shape[:axis] + indices.shape + data.shape[axis+1:]. An
// embedding lookup is gather(table [V,D], ids [N,L]) -> [N,L,D]. An index out of range
// is an error on the CPU and NaN on CUDA.
Value gather(Value data, Value indices, int64_t axis = 0, DAGRAD_LOC);
// Its adjoint: grad added into zeros of data_shape at the indices (a scatter-add in index
// order, so deterministic).
Value gather_backward(Value grad, Value indices, std::vector<int64_t> data_shape, int64_t axis = 0, DAGRAD_LOC);

// ---- attention ----
// softmax(q·kᵀ·scale + mask)·v, fused: q [N,H,L,d], k [N,H,S,d], v [N,H,S,dv] ->
// [N,H,L,dv]. scale 0 means 1/sqrt(d); mask (may be empty) is additive and broadcasts to
// [N,H,L,S] (0 attends, -inf ignores); causal lets query i see keys j <= i only. No
// [N,H,L,S] tensor is ever in memory. A row whose keys are all masked gives NaN, as
// softmax does. The mask gets no gradient.
Value scaled_dot_product_attention(Value q, Value k, Value v, Value mask = {}, double scale = 0, bool causal = false,
                                   DAGRAD_LOC);
// The same over sequence-major q [N,L,H,d], k [N,S,H,d], v [N,S,H,dv] -> [N,L,H,dv]: a
// [N,L,H·d] projection reshaped, without a permute (FlashAttention's layout).
Value scaled_dot_product_attention_nlhd(Value q, Value k, Value v, Value mask = {}, double scale = 0,
                                        bool causal = false, DAGRAD_LOC);
// Self-attention over one packed qkv [N,L,3,H,d] (a [N,L,3E] projection reshaped) ->
// [N,L,H,d]; its gradient is one packed tensor too, so nothing is sliced or concatenated.
Value scaled_dot_product_attention_packed(Value qkv, Value mask = {}, double scale = 0, bool causal = false,
                                          DAGRAD_LOC);
// Also the row log-sum-exp of the scores [N,H,L] (what the backward op recomputes from).
std::vector<Value> scaled_dot_product_attention_with_lse(Value q, Value k, Value v, Value mask = {}, double scale = 0,
                                                         bool causal = false, DAGRAD_LOC);
// dq, dk, dv of scaled_dot_product_attention from its out and saved lse, the cotangent
// dout and, when valid, the cotangent of lse (the probabilities are recomputed).
std::vector<Value> scaled_dot_product_attention_backward(Value q, Value k, Value v, Value out, Value lse, Value dout,
                                                         Value mask, double scale, bool causal, Value lse_grad = {},
                                                         DAGRAD_LOC);
// The same attention composed of matmul, softmax and matmul (the [N,H,L,S] scores are
// materialised): the fused op's reference. A causal mask is passed as `mask`.
Value scaled_dot_product_attention_composed(Value q, Value k, Value v, Value mask = {}, double scale = 0, DAGRAD_LOC);

// ---- optimizer updates ----
// Update nodes write the parameter and its optimizer state in place and have no
// outputs; every run of a graph executes them. `lr` is a float32 scalar graph input, so
// a schedule changes it per step without recompiling. They return the node id.
using SgdOptions = SgdParams;
// momentum_buf (same shape as param) is required when momentum > 0.
int sgd_update(Value param, Value grad, Value lr, Value momentum_buf, SgdOptions opt, DAGRAD_LOC);
using AdamOptions = AdamParams;  // decoupled_weight_decay: AdamW
// m, v: moment estimates (param's shape); t: float32 scalar step count, incremented.
int adam_update(Value param, Value grad, Value lr, Value m, Value v, Value t, AdamOptions opt, DAGRAD_LOC);

}  // namespace dagrad

// Keep the macro private to this header.
#undef DAGRAD_LOC
