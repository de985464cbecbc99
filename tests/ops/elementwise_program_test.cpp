// The CPU launcher of elementwise programs: a cast passes its operand through to the store
// instead of copying it, except where an output overwrites that operand in place.
#include "ops/cpu/elementwise_program.h"

#include <gtest/gtest.h>

#include "op_cases.h"
#include "ops/elementwise_program.h"
#include "ops/ops.h"
#include "runtime/convert.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

// relu(x) written over x while the same program stores cast(x) in bfloat16: every tile
// must cast x before relu's store overwrites it.
TEST(ElementwiseProgramCpu, CastReadsAnInputBeforeAnOutputOverwritesItInPlace) {
  const int64_t n = 3000;  // several tiles and a partial one
  Graph g;
  Value x = g.input("x", Shape{n});
  Value r = relu(x), c = cast(x, DType::bf16);
  const std::vector<int> nodes{r.node, c.node};
  const std::vector<Value> inputs{x};
  const ElementwiseProgram p = ElementwiseProgram::from_nodes(g, nodes, inputs, nodes);
  const Tensor original = random_tensor(Shape{n}, DType::f32, 7);
  Tensor xt = original.clone();
  std::vector<Tensor> outs{xt.view(Shape{n}), Tensor::empty(Shape{n}, DType::bf16)};
  run_program_cpu(p, std::vector<Tensor>{xt}, outs, nullptr);
  for (int64_t i = 0; i < n; ++i) {
    const float v = original.data<float>()[i];
    ASSERT_EQ(xt.data<float>()[i], v > 0 ? v : 0.0f) << i;
    ASSERT_EQ(static_cast<const uint16_t*>(outs[1].raw_data())[i], float_to_bf16_bits(v)) << i;
  }
}

// A cast of a computed value, stored in bfloat16, and a cast to float32 of an input's
// bfloat16 copy (which must be rounded in its register, since the second cast reads it).
TEST(ElementwiseProgramCpu, PassedThroughCastsRoundAsTheirStore) {
  const int64_t n = 1500;
  Graph g;
  Value x = g.input("x", Shape{n});
  Value negated = neg(x), x16 = cast(x, DType::bf16);
  Value c16 = cast(negated, DType::bf16), c32 = cast(x16, DType::f32);
  const std::vector<int> nodes{negated.node, c16.node, x16.node, c32.node};
  const std::vector<int> stored{c16.node, c32.node};
  const std::vector<Value> inputs{x};
  const ElementwiseProgram p = ElementwiseProgram::from_nodes(g, nodes, inputs, stored);
  const Tensor xt = random_tensor(Shape{n}, DType::f32, 8);
  std::vector<Tensor> outs{Tensor::empty(Shape{n}, DType::bf16), Tensor::empty(Shape{n})};
  run_program_cpu(p, std::vector<Tensor>{xt}, outs, nullptr);
  for (int64_t i = 0; i < n; ++i) {
    const float v = xt.data<float>()[i];
    ASSERT_EQ(static_cast<const uint16_t*>(outs[0].raw_data())[i], float_to_bf16_bits(-v)) << i;
    ASSERT_EQ(outs[1].data<float>()[i], bf16_bits_to_float(float_to_bf16_bits(v))) << i;
  }
}

}  // namespace
