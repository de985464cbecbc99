// The bfloat16 GEMM and convolution kernels (vdpbf16ps, ops/cpu/gemm_bf16.h) and their
// float32 fallback, each against the plain double-precision references of the op cases
// and against each other, on the reference geometries and on the MNIST CNN's own shapes.
// The fallback is forced here as it runs on a processor without AVX512_BF16.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "op_cases.h"
#include "ops/cpu/amx.h"
#include "ops/cpu/cast.h"
#include "ops/cpu/conv_f32.h"
#include "ops/cpu/conv_one_channel.h"
#include "ops/cpu/conv_winograd.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/interpreter.h"
#include "ops/ops.h"
#include "ops/registry.h"
#include "runtime/float16.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

// Sets the fallback for one scope.
struct Fallback {
  explicit Fallback(bool on) { gemm_bf16::force_fallback(on); }
  ~Fallback() { gemm_bf16::force_fallback(false); }
};

// The vdpbf16ps convolutions, also on an Intel CPU (where they would widen), for one scope.
struct Vdpbf16psForced {
  Vdpbf16psForced() { gemm_bf16::force_vdpbf16ps(true); }
  ~Vdpbf16psForced() { gemm_bf16::force_vdpbf16ps(false); }
};

Tensor run_op(const OpDef& def, const OpCase& c) {
  Graph g;
  std::vector<Value> ins;
  TensorMap bind;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const std::string name = str_cat("in", i);
    ins.push_back(g.input(name, c.inputs[i].shape(), c.inputs[i].dtype()));
    bind[name] = c.inputs[i];
  }
  const int id = g.add_node(def, ins, c.attrs, "op", std::source_location::current());
  return interpret(g, std::vector<Value>{g.node(id).output()}, bind)[0];
}

// |got - want| / (1 + |want|) over all elements.
double worst_error(const Tensor& got, const Tensor& want) {
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) worst = std::max(worst, std::abs(at(got, i) - at(want, i)) / (1 + std::abs(at(want, i))));
  return worst;
}

// The outputs without AMX on each bfloat16 path: as dispatched, with vdpbf16ps forced, and
// widened to float32 (the fallback), all inputs random bfloat16.
struct ThreePaths {
  std::vector<Tensor> chosen, forced, widened;
};
ThreePaths run_three_paths(const Graph& g, const std::vector<Value>& outs, uint64_t seed) {
  TensorMap bind;
  for (const Value& v : g.inputs()) bind[v.producer().name] = random_tensor(v.shape(), DType::bf16, seed++);
  amx::force_off(true);
  ThreePaths r;
  r.chosen = interpret(g, outs, bind);
  {
    Vdpbf16psForced on;
    r.forced = interpret(g, outs, bind);
  }
  {
    Fallback f(true);
    r.widened = interpret(g, outs, bind);
  }
  amx::force_off(false);
  return r;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

bool has_bf16_input(const OpCase& c) {
  for (const Tensor& t : c.inputs)
    if (t.dtype() == DType::bf16) return true;
  return false;
}

}  // namespace

TEST(BFloat16Kernels, AvailabilityFollowsCpuidAndTheSwitch) {
  EXPECT_EQ(gemm_bf16::available(), gemm_bf16::cpu_has_avx512_bf16());
  {
    Fallback f(true);
    EXPECT_FALSE(gemm_bf16::available());
  }
  EXPECT_EQ(gemm_bf16::available(), gemm_bf16::cpu_has_avx512_bf16());
}

// Without AMX, the products take vdpbf16ps only off Intel CPUs (or when forced), and
// otherwise widen image by image or panel by panel: then they give the fallback's results
// (whole tensors widened first) bit for bit. The GEMMs cover both layouts of A and of B.
TEST(BFloat16Kernels, ProductsWidenOnIntelWithoutAmx) {
  if (!gemm_bf16::cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16; only the fallback runs";
  __builtin_cpu_init();
  const bool intel = __builtin_cpu_is("intel");
  EXPECT_EQ(gemm_bf16::vdpbf16ps_pays(), !intel);
  {
    Vdpbf16psForced forced;
    EXPECT_TRUE(gemm_bf16::vdpbf16ps_pays());
  }
  {
    Fallback f(true);
    EXPECT_FALSE(gemm_bf16::vdpbf16ps_pays());
  }
  Graph g;
  // A 5x5 kernel: float32 Winograd takes 3x3 ones wherever vdpbf16ps is not forced.
  Value dy = g.input("dy", Shape{3, 16, 8, 8}, DType::bf16), w = g.input("w", Shape{16, 24, 5, 5}, DType::bf16);
  Value x = g.input("x", Shape{3, 24, 12, 12}, DType::bf16), h = g.input("h", Shape{6, 300}, DType::bf16);
  Value p = g.input("p", Shape{200, 30}, DType::bf16), q = g.input("q", Shape{200, 40}, DType::bf16);
  std::vector<Value> outs = {conv2d_backward_input(dy, w, x.shape(), {}), conv2d_backward_weight(dy, x, w.shape(), {}),
                             matmul(h, h, false, true), matmul(p, q, true, false)};
  const ThreePaths r = run_three_paths(g, outs, 700);
  for (size_t i = 0; i < outs.size(); ++i) {
    SCOPED_TRACE(str_cat("output ", i, " (", outs[i].producer().op_name(), ")"));
    int differ_forced = 0, differ_widened = 0;
    for (int64_t k = 0; k < r.chosen[i].numel(); ++k) {
      differ_forced += at(r.chosen[i], k) != at(r.forced[i], k);
      differ_widened += at(r.chosen[i], k) != at(r.widened[i], k);
    }
    if (!intel) {  // vdpbf16ps ran
      EXPECT_EQ(differ_forced, 0);
      EXPECT_GT(differ_widened, 0);
    } else {
      EXPECT_EQ(differ_widened, 0);
      EXPECT_GT(differ_forced, 0);
    }
  }
}

// Where float32 Winograd takes a convolution, it outruns vdpbf16ps on all three passes
// (AMD's Zen 4: bench/NOTES.md), so without AMX they run it on widened operands, bit for bit
// the fallback's, unless vdpbf16ps is forced.
TEST(BFloat16Kernels, WinogradShapesRunFloat32WinogradUnlessForced) {
  if (!gemm_bf16::cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16; only the fallback runs";
  Graph g;
  Value x = g.input("x", Shape{2, 32, 12, 12}, DType::bf16), w = g.input("w", Shape{64, 32, 3, 3}, DType::bf16);
  Value dy = g.input("dy", Shape{2, 64, 10, 10}, DType::bf16);
  ConvGeom geom;
  geom.n = 2, geom.c = 32, geom.h = geom.w = 12, geom.o = 64, geom.kh = geom.kw = 3, geom.oh = geom.ow = 10;
  if (!winograd::applies(geom)) GTEST_SKIP() << "Winograd needs AVX-512";
  std::vector<Value> outs = {conv2d(x, w), conv2d_backward_input(dy, w, x.shape(), {}),
                             conv2d_backward_weight(dy, x, w.shape(), {})};
  const ThreePaths r = run_three_paths(g, outs, 900);
  for (size_t i = 0; i < outs.size(); ++i) {
    SCOPED_TRACE(str_cat("output ", i, " (", outs[i].producer().op_name(), ")"));
    EXPECT_TRUE(same_bits(r.chosen[i], r.widened[i]));
    EXPECT_FALSE(same_bits(r.forced[i], r.widened[i])) << "vdpbf16ps did not run when forced";
  }
}

// The vdpbf16ps GEMM packs its operands' common layouts with vector code (rows along k,
// stored transposed, rows along j) and the rest element by element: every transpose case,
// with leading dimensions odd and even, operands starting on an odd element, sizes off
// the 8 x 48 tile, an odd depth and depths over one k block, against double sums.
TEST(BFloat16Kernels, GemmPacksEveryLayout) {
  if (!gemm_bf16::cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16; only the fallback runs";
  Vdpbf16psForced on_any_cpu;
  amx::force_off(true);
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  int checked = 0;
  for (const int64_t k : {1, 7, 64, 401})
    for (const int64_t pad : {0, 1})       // leading dimension = the packed extent + pad
      for (const int64_t offset : {0, 1})  // the operands start this many elements in
        for (const bool ta : {false, true})
          for (const bool tb : {false, true}) {
            const int64_t m = 13, n = 53;
            const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad;
            std::vector<uint16_t> a(static_cast<size_t>(offset + (ta ? k : m) * lda)),
                b(static_cast<size_t>(offset + (tb ? n : k) * ldb));
            for (uint16_t& x : a) x = float_to_bf16_bits(uniform(rng));
            for (uint16_t& x : b) x = float_to_bf16_bits(uniform(rng));
            const uint16_t *pa = a.data() + offset, *pb = b.data() + offset;
            std::vector<float> c(static_cast<size_t>(m * n));
            gemm_bf16::gemm(ta, tb, m, n, k, pa, lda, pb, ldb, c.data(), n, false);
            double worst = 0;
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) {
                double want = 0;
                for (int64_t p = 0; p < k; ++p)
                  want += static_cast<double>(bf16_bits_to_float(pa[ta ? p * lda + i : i * lda + p])) *
                          bf16_bits_to_float(pb[tb ? j * ldb + p : p * ldb + j]);
                worst = std::max(worst, std::abs(c[i * n + j] - want) / (1 + std::abs(want)));
              }
            EXPECT_LE(worst, 1e-5) << "k " << k << " pad " << pad << " offset " << offset << " trans " << ta << tb;
            ++checked;
          }
  amx::force_off(false);
  EXPECT_EQ(checked, 64);
}

// Winograd's gradients widen bfloat16 image by image: bit for bit the float32 kernels on
// operands widened beforehand (widening is exact).
TEST(BFloat16Kernels, WinogradGradientsWidenImageByImage) {
  ConvGeom g;
  g.n = 5, g.c = 24, g.h = 10, g.w = 11, g.o = 16, g.kh = 3, g.kw = 3, g.ph = 1, g.pw = 0, g.sh = 1, g.sw = 1,
  g.dh = 1, g.dw = 1, g.oh = 10, g.ow = 9;
  if (!winograd::applies(g)) GTEST_SKIP() << "Winograd needs AVX-512";
  const Tensor dy = random_tensor(Shape{g.n, g.o, g.oh, g.ow}, DType::bf16, 31);
  const Tensor x = random_tensor(Shape{g.n, g.c, g.h, g.w}, DType::bf16, 32);
  const Tensor w = random_tensor(Shape{g.o, g.c, 3, 3}, DType::f32, 33);
  const Tensor dy32 = dy.to_dtype(DType::f32), x32 = x.to_dtype(DType::f32);
  auto bits = [](const Tensor& t) { return reinterpret_cast<const uint16_t*>(t.raw_data()); };
  std::vector<float> dx(x.numel()), dx32(x.numel()), dw(w.numel()), dw32(w.numel());
  winograd::conv2d_input_grad(g, bits(dy), w.data<float>(), dx.data(), nullptr);
  winograd::conv2d_input_grad(g, dy32.data<float>(), w.data<float>(), dx32.data(), nullptr);
  winograd::conv2d_weight_grad(g, bits(dy), bits(x), dw.data());
  winograd::conv2d_weight_grad(g, dy32.data<float>(), x32.data<float>(), dw32.data());
  EXPECT_EQ(dx, dx32);
  EXPECT_EQ(dw, dw32);
  EXPECT_NE(dx, std::vector<float>(dx.size(), 0.f));
  EXPECT_NE(dw, std::vector<float>(dw.size(), 0.f));
}

// So does the first layer's weight gradient (one input channel).
TEST(BFloat16Kernels, OneChannelWeightGradientWidensImageByImage) {
  ConvGeom g;
  g.n = 19, g.c = 1, g.h = 12, g.w = 13, g.o = 5, g.kh = 3, g.kw = 3, g.ph = 1, g.pw = 1, g.oh = 12, g.ow = 13;
  if (!conv_one_channel::applies(g)) GTEST_SKIP() << "the one-channel kernel needs AVX-512";
  const Tensor dy = random_tensor(Shape{g.n, g.o, g.oh, g.ow}, DType::bf16, 41);
  const Tensor x = random_tensor(Shape{g.n, g.c, g.h, g.w}, DType::bf16, 42);
  const Tensor dy32 = dy.to_dtype(DType::f32), x32 = x.to_dtype(DType::f32);
  auto bits = [](const Tensor& t) { return reinterpret_cast<const uint16_t*>(t.raw_data()); };
  std::vector<float> dw(g.o * 9), dw32(g.o * 9);
  conv_one_channel::weight_grad(g, bits(dy), bits(x), dw.data());
  conv_one_channel::weight_grad(g, dy32.data<float>(), x32.data<float>(), dw32.data());
  EXPECT_EQ(dw, dw32);
  EXPECT_NE(dw, std::vector<float>(dw.size(), 0.f));
}

// So do the float32 direct kernels (stride 1), the first layer's forward pass, and the
// packed kernels (other strides, which widen whole tensors), when they take bfloat16
// products: bit for bit the float32 calls on tensors widened beforehand. The forward
// pass offers its epilogue every output element once.
TEST(BFloat16Kernels, Float32KernelsWidenBfloat16Activations) {
  auto geom = [](int64_t n, int64_t c, int64_t h, int64_t o, int64_t k, int64_t pad, int64_t stride) {
    ConvGeom g;
    g.n = n, g.c = c, g.h = h, g.w = h + 1, g.o = o, g.kh = k, g.kw = k, g.ph = pad, g.pw = pad, g.sh = stride,
    g.sw = stride, g.dh = 1, g.dw = 1;
    g.oh = (h + 2 * pad - k) / stride + 1;
    g.ow = (h + 1 + 2 * pad - k) / stride + 1;
    return g;
  };
  const struct {
    const char* label;
    ConvGeom g;
  } cases[] = {{"LeNet-5 conv2 (direct)", geom(5, 6, 14, 16, 5, 0, 1)},
               {"one input channel, padded", geom(7, 1, 12, 6, 5, 2, 1)},
               {"stride 2 (packed)", geom(3, 4, 11, 5, 3, 1, 2)}};
  auto bits = [](const Tensor& t) { return reinterpret_cast<const uint16_t*>(t.raw_data()); };
  uint64_t seed = 60;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const ConvGeom& g = c.g;
    const Tensor x = random_tensor(Shape{g.n, g.c, g.h, g.w}, DType::bf16, seed++);
    const Tensor dy = random_tensor(Shape{g.n, g.o, g.oh, g.ow}, DType::bf16, seed++);
    const Tensor w = random_tensor(Shape{g.o, g.c, g.kh, g.kw}, DType::f32, seed++);
    const Tensor x32 = x.to_dtype(DType::f32), dy32 = dy.to_dtype(DType::f32);
    const std::vector<float> bias(static_cast<size_t>(g.o), 0.5f);
    const int64_t ys = dy.numel(), xs = x.numel();
    std::vector<float> y(ys), y32(ys), dx(xs), dx32(xs), dw(w.numel()), dw32(w.numel());
    std::atomic<int64_t> seen{0};  // elements the epilogue ran over (from any thread), both calls together
    auto add_seen = [&](int64_t lo, int64_t hi) { seen += hi - lo; };
    const Epilogue count{add_seen};
    conv2d_forward_f32(g, bits(x), w.data<float>(), bias.data(), y.data(), &count);
    conv2d_forward_f32(g, x32.data<float>(), w.data<float>(), bias.data(), y32.data(), &count);
    conv2d_input_grad_f32(g, bits(dy), w.data<float>(), dx.data(), nullptr);
    conv2d_input_grad_f32(g, dy32.data<float>(), w.data<float>(), dx32.data(), nullptr);
    conv2d_weight_grad_f32(g, bits(dy), bits(x), dw.data());
    conv2d_weight_grad_f32(g, dy32.data<float>(), x32.data<float>(), dw32.data());
    EXPECT_EQ(y, y32);
    EXPECT_EQ(dx, dx32);
    EXPECT_EQ(dw, dw32);
    EXPECT_EQ(seen, 2 * ys);
    for (const std::vector<float>* out : {&y, &dx, &dw}) EXPECT_NE(*out, std::vector<float>(out->size(), 0.f));
  }
}

// Every bfloat16 case of the product ops, with the kernels and with the fallback: both
// within float32 summation error of the exact sums of the bfloat16 values.
TEST(BFloat16Kernels, ProductCasesMatchTheReferenceOnBothPaths) {
  Vdpbf16psForced on_any_cpu;
  int checked = 0;
  for (const char* op : {"matmul", "conv2d", "conv2d_backward_input", "conv2d_backward_weight"}) {
    const OpDef& def = op_def(op);
    for (CaseGenerator gen : op_case_table().at(op))
      for (const OpCase& c : gen()) {
        if (!has_bf16_input(c)) continue;
        SCOPED_TRACE(str_cat(op, " [", c.label, "]"));
        const Tensor want = c.reference(c.inputs, c.attrs)[0];
        const Tensor fast = run_op(def, c);
        Tensor slow;
        {
          Fallback f(true);
          slow = run_op(def, c);
        }
        ASSERT_EQ(fast.dtype(), DType::f32);
        EXPECT_LE(worst_error(fast, want), 1e-4);
        EXPECT_LE(worst_error(slow, want), 1e-4);
        ++checked;
      }
  }
  EXPECT_GE(checked, 40);
}

// The MNIST CNN's shapes at batch 9 (a partial weight-gradient group): conv2 forward and
// both gradients, fc1 forward and both gradients, and conv1's weight gradient (one input
// channel). The two paths pair and order their float32 sums differently, so they agree to
// float32 summation error, not bit for bit; the kernels must also really run (they differ).
// Forced, conv2's three passes run on vdpbf16ps (or AMX) even though Winograd applies.
TEST(BFloat16Kernels, MnistShapesAgreeWithTheFallback) {
  if (!gemm_bf16::cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16; only the fallback runs";
  Vdpbf16psForced on_any_cpu;
  Graph g;
  const int64_t n = 9;
  auto in = [&](const char* name, Shape s) { return g.input(name, s, DType::bf16); };
  Value x1 = in("x1", Shape{n, 32, 26, 26}), w2 = in("w2", Shape{64, 32, 3, 3}), dy2 = in("dy2", Shape{n, 64, 24, 24});
  Value x0 = in("x0", Shape{n, 1, 28, 28}), dy1 = in("dy1", Shape{n, 32, 26, 26});
  Value h = in("h", Shape{n, 9216}), w3 = in("w3", Shape{128, 9216}), dy3 = in("dy3", Shape{n, 128});
  std::vector<Value> outs = {conv2d(x1, w2),
                             conv2d_backward_input(dy2, w2, x1.shape(), {}),
                             conv2d_backward_weight(dy2, x1, w2.shape(), {}),
                             conv2d_backward_weight(dy1, x0, Shape{32, 1, 3, 3}, {}),
                             matmul(h, w3, false, true),
                             matmul(dy3, w3),
                             matmul(dy3, h, true, false)};
  TensorMap bind;
  uint64_t seed = 500;
  for (const char* name : {"x1", "w2", "dy2", "x0", "dy1", "h", "w3", "dy3"}) {
    const Node& node = g.node(name);
    bind[name] = random_tensor(node.outputs[0].shape, DType::bf16, seed++);
  }
  const std::vector<Tensor> fast = interpret(g, outs, bind);
  std::vector<Tensor> slow;
  {
    Fallback f(true);
    slow = interpret(g, outs, bind);
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    SCOPED_TRACE(str_cat("output ", i, " (", outs[i].producer().op_name(), ")"));
    // Sums of up to 9216 products of values within [-1, 1]: float32 rounding over such sums
    // stays below 1e-4 of 1 + |sum|. The fallback's conv2 input and weight gradients run
    // float32 Winograd F(4x4, 3x3), whose transforms scale terms by up to 10 in each
    // direction before they are rounded: up to ten times that (measured: 1.1e-4, 1.3e-4).
    // So does its forward pass.
    EXPECT_LE(worst_error(fast[i], slow[i]), i <= 2 ? 1e-3 : 1e-4);
    int differ = 0;
    for (int64_t k = 0; k < fast[i].numel(); ++k) differ += at(fast[i], k) != at(slow[i], k);
    EXPECT_GT(differ, 0) << "the bfloat16 kernel did not run";
  }
}

// convert_elements narrows float32 to bfloat16 with vcvtneps2bf16 where the CPU has it.
// The instruction flushes subnormals, so blocks holding one take the scalar conversion:
// every result equals float_to_bf16_bits, for a stride through all 2^32 bit patterns
// (NaNs, infinities, subnormals, ties) and for lone subnormals in otherwise normal blocks.
TEST(BFloat16Kernels, NarrowingEqualsTheScalarRoundingForEveryKindOfValue) {
  constexpr int64_t kBlock = 1 << 16;
  std::vector<float> x(kBlock);
  std::vector<uint16_t> got(kBlock);
  auto check = [&](const char* what) {
    convert_elements(x.data(), DType::f32, got.data(), DType::bf16, kBlock - 3);  // a partial tail too
    int64_t differ = 0;
    for (int64_t i = 0; i < kBlock - 3; ++i) differ += got[i] != float_to_bf16_bits(x[i]);
    EXPECT_EQ(differ, 0) << what;
  };
  for (uint64_t base = 0; base < (1ull << 32); base += kBlock * 4099ull) {
    for (int64_t j = 0; j < kBlock; ++j) {
      const uint32_t bits = static_cast<uint32_t>(base + static_cast<uint64_t>(j) * 4099u);
      std::memcpy(&x[j], &bits, sizeof bits);
    }
    check("strided bit patterns");
  }
  for (int64_t j = 0; j < kBlock; ++j) x[j] = 1.0f + static_cast<float>(j) * 0x1p-20f;
  for (int64_t j = 5; j < kBlock; j += 97) x[j] = (j % 2 ? 1 : -1) * static_cast<float>(j) * 0x1p-149f;  // subnormal
  check("subnormals among normal values");
}
