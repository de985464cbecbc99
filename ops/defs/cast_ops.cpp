// cast: a tensor's elements converted to another dtype, between any two dtypes, with the
// meaning of runtime/convert.h (rounding to nearest even into floating types, saturating
// float-to-integer, modular integer narrowing) on every backend. The mixed-precision pass
// inserts casts as ordinary nodes. Between float32 and the 16-bit floats a cast also has a
// per-element form (the identity, rounded to the output dtype by the program), so it
// fuses into elementwise groups and GEMM/convolution epilogues; alone, or between other
// dtypes, each backend's kernel runs it.
#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/elementwise_form.h"
#include "ops/ops.h"
#include "ops/params/cast.h"
#include "ops/registry.h"

namespace dagrad {

namespace op {
const OpDef* cast;
}  // namespace op

namespace {

std::vector<TensorType> infer_cast(const InferContext& c) {
  c.expect_inputs(1);
  return {TensorType{c.inputs[0].shape, c.params<CastParams>().to}};
}

// The gradient goes back through the inverse cast, to the input's dtype. Integer inputs
// get none (and an integer output passes none back: autograd never gives it one).
std::vector<Value> cast_vjp(const VjpContext& c) {
  Value g = c.grad_outputs[0];
  if (!g.valid() || !c.needs_grad[0] || !is_float(c.inputs[0].dtype())) return {Value{}};
  return {cast(g, c.inputs[0].dtype())};
}

ElementwiseDef cast_form() {
  ElementwiseDef d = elementwise_form<Cast>();
  d.identity = true;
  return d;
}

}  // namespace

void register_cast_ops(OpRegistry& r) {
  op::cast = &r.add({.name = "cast",
                     .kind = OpKind::elementwise,
                     .flags = {.epilogue_fusible = true},
                     .params = params_codec<CastParams>(),
                     .infer = infer_cast,
                     .vjp = cast_vjp,
                     .elementwise = cast_form(),
                     .doc = "x converted to dtype `to` (round to nearest even; float to integer truncates and "
                            "saturates, NaN to 0; integers wrap)"});
}

Value cast(Value x, DType to, const std::source_location& loc) {
  if (x.valid() && x.dtype() == to) return x;
  return apply("cast", {x}, encode_params(CastParams{to}), loc);
}

}  // namespace dagrad
