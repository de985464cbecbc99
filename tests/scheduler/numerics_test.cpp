// --check-numerics: a NaN injected mid-graph is reported at the op that produced it.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"
#include "scheduler/numerics.h"

using namespace dagrad;

TEST(CheckNumerics, NamesTheFirstOpThatProducesNaN) {
  Graph g;
  Value x = g.input("x", Shape{2, 3});
  Value y = relu(x) - 1.0;  // -1 where x < 0: fine
  int line = __LINE__ + 1;
  Value z = sqrt(y);        // NaN for y < 0: the culprit
  Value out = exp(z) * 2.0;  // propagates the NaN, must not be blamed
  std::vector<Value> outs{out};
  scheduler::CompileOptions opt;
  opt.fuse = false;
  scheduler::Executor ex(scheduler::compile(g, outs, opt));
  ex.set_check_numerics(true);
  Tensor input = Tensor::from_vector<float>(Shape{2, 3}, {4, 9, 16, -1, 25, 36});
  try {
    ex.run({{"x", input}}, 7);
    FAIL() << "expected NumericsError";
  } catch (const NumericsError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("[check-numerics] node 'sqrt_"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(sqrt, built at numerics_test.cpp:" + std::to_string(line) + ")"), std::string::npos) << msg;
    EXPECT_NE(msg.find("produced NaN at element 3 of output 0 [2,3] in run step 7"), std::string::npos) << msg;
  }
  // Off, the same run completes and returns the NaN.
  ex.set_check_numerics(false);
  EXPECT_TRUE(std::isnan(ex.run({{"x", input}})[0].to_vector<float>()[3]));
}

TEST(CheckNumerics, FirstNonFinite) {
  EXPECT_EQ(scheduler::first_non_finite(Tensor::from_vector<double>(Shape{3}, {1, 2, 3})), -1);
  EXPECT_EQ(scheduler::first_non_finite(Tensor::from_vector<float>(Shape{3}, {1, INFINITY, NAN})), 1);
  EXPECT_EQ(scheduler::first_non_finite(Tensor::from_vector<int64_t>(Shape{1}, {5})), -1);
  // 16-bit floats overflow early: 1e5 is infinity in float16, and NaN stays NaN in bfloat16.
  EXPECT_EQ(scheduler::first_non_finite(Tensor::from_vector<double>(Shape{3}, {1, 1e5, 2}).to_dtype(DType::f16)), 1);
  EXPECT_EQ(scheduler::first_non_finite(Tensor::from_vector<float>(Shape{2}, {NAN, 1}).to_dtype(DType::bf16)), 0);
  EXPECT_EQ(scheduler::first_non_finite(Tensor::from_vector<float>(Shape{2}, {3, 1}).to_dtype(DType::bf16)), -1);
}

// Mixed precision: a bfloat16 value (a cast's output) that overflows is caught at its op.
TEST(CheckNumerics, ReportsSixteenBitOutputs) {
  Graph g;
  Value x = g.input("x", Shape{3});
  Value h = cast(x * 1e30, DType::f16);  // float16 tops out at 65504
  scheduler::CompileOptions opt;
  opt.fuse = false;
  scheduler::Executor ex(scheduler::compile(g, std::vector<Value>{h}, opt));
  ex.set_check_numerics(true);
  try {
    ex.run({{"x", Tensor::from_vector<float>(Shape{3}, {0, 1e-30f, 1})}});
    FAIL() << "expected NumericsError";
  } catch (const NumericsError& e) {
    EXPECT_NE(std::string(e.what()).find("(cast, built at numerics_test.cpp"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("produced Inf at element 2 of output 0 [3]"), std::string::npos) << e.what();
  }
}
