// The per-element functors called directly on the host, and every elementwise OpDef's
// tile functions (what fused kernels run) against the op's own CPU kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "op_cases.h"
#include "ops/elementwise_math.h"
#include "ops/interpreter.h"
#include "ops/kernel_table.h"
#include "ops/registry.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

const double kXs[] = {-7.5, -3.0, -1.0, -0.25, -1e-3, 0.0, 1e-3, 0.25, 1.0, 2.5, 8.0};

template <class T>
class FunctorTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(FunctorTest, FloatTypes);

template <class T>
void expect_close(T got, double want, const char* what, double x) {
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
  EXPECT_LE(std::abs(static_cast<double>(got) - want), tol * (1 + std::abs(want))) << what << " at x = " << x;
}

TYPED_TEST(FunctorTest, UnaryMatchesStdMath) {
  using T = TypeParam;
  for (double xd : kXs) {
    const T x = static_cast<T>(xd);
    const double xv = static_cast<double>(x);  // the value actually passed
    expect_close(Relu<T>{}(x), std::max(xv, 0.0), "Relu", xv);
    expect_close(LeakyRelu<T>{T(0.2)}(x), xv > 0 ? xv : T(0.2) * xv, "LeakyRelu", xv);
    expect_close(Sigmoid<T>{}(x), 1 / (1 + std::exp(-xv)), "Sigmoid", xv);
    expect_close(Tanh<T>{}(x), std::tanh(xv), "Tanh", xv);
    expect_close(Gelu<T>{}(x), 0.5 * xv * (1 + std::erf(xv / std::sqrt(2.0))), "Gelu", xv);
    expect_close(Erf<T>{}(x), std::erf(xv), "Erf", xv);
    expect_close(Exp<T>{}(x), std::exp(xv), "Exp", xv);
    expect_close(Neg<T>{}(x), -xv, "Neg", xv);
    expect_close(Abs<T>{}(x), std::abs(xv), "Abs", xv);
    expect_close(Sign<T>{}(x), static_cast<double>((xv > 0) - (xv < 0)), "Sign", xv);
    expect_close(Pow<T>{T(3)}(x), std::pow(xv, 3.0), "Pow", xv);
    if (xv > 0) {
      expect_close(Log<T>{}(x), std::log(xv), "Log", xv);
      expect_close(Sqrt<T>{}(x), std::sqrt(xv), "Sqrt", xv);
      expect_close(Pow<T>{T(-1.5)}(x), std::pow(xv, -1.5), "Pow", xv);
    }
  }
}

TYPED_TEST(FunctorTest, BinaryMatchesPlainMath) {
  using T = TypeParam;
  for (double ad : kXs)
    for (double bd : {-2.0, -0.5, 0.25, 1.0, 3.0}) {
      const T a = static_cast<T>(ad), b = static_cast<T>(bd);
      const double av = a, bv = b;
      expect_close(Add<T>{}(a, b), av + bv, "Add", av);
      expect_close(Sub<T>{}(a, b), av - bv, "Sub", av);
      expect_close(Mul<T>{}(a, b), av * bv, "Mul", av);
      expect_close(Div<T>{}(a, b), av / bv, "Div", av);
      expect_close(Maximum<T>{}(a, b), std::max(av, bv), "Maximum", av);
      expect_close(GreaterEqual<T>{}(a, b), av >= bv ? 1.0 : 0.0, "GreaterEqual", av);
      // Gradient helpers: (grad, x) with grad = b.
      expect_close(ReluBackward<T>{}(b, a), av > 0 ? bv : 0.0, "ReluBackward", av);
      expect_close(LeakyReluBackward<T>{T(0.1)}(b, a), av > 0 ? bv : static_cast<double>(T(0.1)) * bv,
                   "LeakyReluBackward", av);
    }
  EXPECT_EQ(GreaterEqual<T>{}(T(1.5), T(1.5)), T(1));
  EXPECT_TRUE(std::signbit(Maximum<T>{}(T(-0.0), T(0.0))));  // ties pick a
}

TYPED_TEST(FunctorTest, SigmoidTailsStayFinite) {
  using T = TypeParam;
  for (double x : {-1000.0, -100.0, 100.0, 1000.0}) {
    T y = Sigmoid<T>{}(static_cast<T>(x));
    EXPECT_TRUE(std::isfinite(static_cast<double>(y))) << x;
    expect_close(y, x > 0 ? 1.0 : 0.0, "Sigmoid tail", x);
  }
}

// GeluBackward is the derivative of Gelu: compare with central differences in double.
TEST(ElementwiseMath, GeluBackwardIsGeluDerivative) {
  for (double x : kXs) {
    const double h = 1e-6;
    const double numeric = (Gelu<double>{}(x + h) - Gelu<double>{}(x - h)) / (2 * h);
    EXPECT_NEAR(GeluBackward<double>{}(1.0, x), numeric, 1e-8) << x;
    EXPECT_NEAR(GeluBackward<double>{}(-2.5, x), -2.5 * numeric, 1e-8) << x;
    EXPECT_NEAR(GeluBackward<float>{}(1.0f, static_cast<float>(x)), numeric, 1e-5) << x;
  }
}

// Inputs materialised at the output's shape, as a fused kernel's tiles see them.
Tensor expand_to(const Tensor& t, const Shape& out) {
  return make_f64(out, [&](int64_t i) { return at(t, broadcast_index(out, t.shape(), i)); }).to_dtype(t.dtype());
}

// T is the compute type; 16-bit values are widened to it and the result rounded back to
// the output's dtype, as the launchers do.
template <class T>
void check_tile(const Node& node, const OpCase& c, const Tensor& got_stored) {
  const Tensor got = got_stored.to_dtype(dtype_of<T>());
  const OpDef& def = *node.op;
  auto tile = [&] {
    if constexpr (std::is_same_v<T, float>)
      return def.elementwise->tile_f32;
    else
      return def.elementwise->tile_f64;
  }();
  const Shape& out_shape = got.shape();
  std::vector<Tensor> expanded;
  std::vector<const T*> ptrs;
  for (const Tensor& in : c.inputs) {
    expanded.push_back(expand_to(in.to_dtype(dtype_of<T>()), out_shape));
    ptrs.push_back(expanded.back().data<T>());
  }
  std::vector<double> params(def.elementwise->num_params);
  if (def.elementwise->params) def.elementwise->params(node, params.data());
  std::vector<T> computed(static_cast<size_t>(got.numel()));
  tile(ptrs.data(), computed.data(), got.numel(), params.data());
  const std::vector<T> out = Tensor::from_vector<T>(out_shape, computed)
                                 .to_dtype(got_stored.dtype())
                                 .to_dtype(dtype_of<T>())
                                 .template to_vector<T>();
  // Same functor, same inputs; only the compiler's vectorisation of two loops may differ
  // (by an ulp of float32, which may move a 16-bit result by one of its own ulps).
  const double tol = is_half(got_stored.dtype()) ? 1.0 / 128 : (std::is_same_v<T, float> ? 1e-6 : 1e-14);
  const T* want = got.data<T>();
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (out[i] == want[i]) continue;  // equal infinities too
    ASSERT_LE(std::abs(static_cast<double>(out[i]) - static_cast<double>(want[i])),
              tol * (1 + std::abs(static_cast<double>(want[i]))))
        << def.name << " [" << c.label << "] element " << i;
  }
}

}  // namespace

TEST(ElementwiseMath, EveryElementwiseOpHasFunctorAndTiles) {
  int count = 0;
  for (const OpDef* d : OpRegistry::instance().all()) {
    if (!d->elementwise) continue;
    ++count;
    EXPECT_EQ(d->kind, OpKind::elementwise) << d->name;
    EXPECT_NE(d->elementwise->functor, nullptr) << d->name << " has no functor name";
    EXPECT_NE(d->elementwise->tile_f32, nullptr) << d->name << " has no tile_f32";
    EXPECT_NE(d->elementwise->tile_f64, nullptr) << d->name << " has no tile_f64";
    EXPECT_TRUE(d->elementwise->arity == 1 || d->elementwise->arity == 2) << d->name;
    EXPECT_TRUE(kernel_table(DeviceType::cpu).supports(*d)) << d->name;
  }
  EXPECT_GE(count, 24);  // this family alone registers 24
}

// tile_f32 / tile_f64 of every elementwise op on inputs expanded to the output's shape,
// against the op run through the graph (broadcasting done by the CPU's program
// launcher), on the inputs of its reference cases.
TEST(ElementwiseMath, TilesMatchKernels) {
  for (const OpDef* d : OpRegistry::instance().all()) {
    if (!d->elementwise) continue;
    auto gens = op_case_table().find(d->name);
    ASSERT_NE(gens, op_case_table().end()) << d->name << " has no reference cases";
    for (CaseGenerator gen : gens->second)
      for (const OpCase& c : gen()) {
        ASSERT_EQ(static_cast<int>(c.inputs.size()), d->elementwise->arity) << d->name << " [" << c.label << "]";
        OpGraph og = op_graph(*d, c);
        const Node& node = og.op_node();
        // The per-element form covers values of one compute type (a cast to an integer,
        // or between float32 and float64, runs only the op's kernel).
        const DType compute = compute_dtype(node.outputs[0].dtype);
        if (!is_floating(compute) ||
            std::any_of(c.inputs.begin(), c.inputs.end(), [&](const Tensor& t) { return compute_dtype(t.dtype()) != compute; }))
          continue;
        std::vector<Value> out{node.output()};
        Tensor got = interpret(*og.graph, out, deep_copy(og.bindings))[0];
        dispatch_floating(compute, d->name, [&]<class T>() { check_tile<T>(node, c, got); });
      }
  }
}
