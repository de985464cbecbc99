// The AMX kernels (ops/cpu/amx.h, conv_amx.h) against double-precision sums of the same
// bfloat16 values and against the vdpbf16ps kernels they replace, on geometries whose
// sizes are not multiples of the 32 x 32 blocks (edge blocks), with odd channel counts
// (a half-empty pair), padding, dilation and non-square kernels, and on every transpose
// case and odd size of the GEMM. Skipped with a message on processors without AMX.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ops/cpu/amx.h"
#include "ops/cpu/conv_amx.h"
#include "ops/cpu/conv_f32.h"
#include "ops/cpu/gemm_bf16.h"
#include "runtime/float16.h"

using namespace dagrad;

namespace {

// Turns AMX off for one scope (the vdpbf16ps kernels run).
struct AmxOff {
  AmxOff() {
    amx::force_off(true);
    gemm_bf16::force_vdpbf16ps(true);  // an Intel CPU would widen its convolutions
  }
  ~AmxOff() {
    amx::force_off(false);
    gemm_bf16::force_vdpbf16ps(false);
  }
};

std::vector<uint16_t> random_bf16(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<uint16_t> v(n);
  for (uint16_t& x : v) x = float_to_bf16_bits(u(rng));
  return v;
}

double val(const std::vector<uint16_t>& v, int64_t i) { return bf16_bits_to_float(v[static_cast<size_t>(i)]); }

// |got - want| / (1 + |want|), worst over all elements.
double worst_error(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]) / (1 + std::abs(want[i])));
  return worst;
}
double worst_error(const std::vector<float>& got, const std::vector<float>& want) {
  return worst_error(got, std::vector<double>(want.begin(), want.end()));
}

ConvGeom geom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw, int64_t ph, int64_t pw,
              int64_t dh, int64_t dw) {
  ConvGeom g;
  g.n = n, g.c = c, g.h = h, g.w = w, g.o = o, g.kh = kh, g.kw = kw, g.ph = ph, g.pw = pw, g.dh = dh, g.dw = dw;
  g.oh = h + 2 * ph - dh * (kh - 1);
  g.ow = w + 2 * pw - dw * (kw - 1);
  return g;
}

// Every (image, output channel, output pixel, input channel, tap) product once:
// f(index of x, index of w, index of y).
template <class F>
void for_each_product(const ConvGeom& g, F&& f) {
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < g.o; ++o)
      for (int64_t oh = 0; oh < g.oh; ++oh)
        for (int64_t ow = 0; ow < g.ow; ++ow)
          for (int64_t c = 0; c < g.c; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t h = oh - g.ph + i * g.dh, w = ow - g.pw + j * g.dw;
                if (h < 0 || h >= g.h || w < 0 || w >= g.w) continue;
                f(((n * g.c + c) * g.h + h) * g.w + w, ((o * g.c + c) * g.kh + i) * g.kw + j,
                  ((n * g.o + o) * g.oh + oh) * g.ow + ow);
              }
}

struct ConvCase {
  const char* label;
  ConvGeom g;
};

std::vector<ConvCase> conv_cases() {
  return {{"MNIST conv2 at batch 3", geom(3, 32, 26, 26, 64, 3, 3, 0, 0, 1, 1)},
          {"odd channels, padded", geom(2, 33, 9, 11, 17, 3, 3, 1, 1, 1, 1)},
          {"dilated 1x3", geom(2, 20, 8, 13, 40, 1, 3, 0, 2, 1, 2)},
          {"5x5 padded, wide", geom(1, 48, 7, 30, 35, 5, 5, 2, 2, 1, 1)}};
}

}  // namespace

TEST(AmxKernels, AvailabilityFollowsCpuidAndBothSwitches) {
  EXPECT_EQ(amx::available(), amx::cpu_has_amx() && gemm_bf16::available());
  {
    AmxOff off;
    EXPECT_FALSE(amx::available());
  }
  gemm_bf16::force_fallback(true);
  EXPECT_FALSE(amx::available());
  gemm_bf16::force_fallback(false);
  EXPECT_EQ(amx::available(), amx::cpu_has_amx() && gemm_bf16::available());
}

// amx.cpp reads CPUID itself (clang 16 has no "amx-*" names for __builtin_cpu_supports);
// under GCC it must agree with the compiler's own reading.
TEST(AmxKernels, CpuidReadingAgreesWithTheCompiler) {
#if defined(__clang__)
  GTEST_SKIP() << "clang before 18 cannot name the AMX features";
#else
  __builtin_cpu_init();
  EXPECT_EQ(amx::cpu_reports_amx(), __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16"));
  if (amx::cpu_has_amx()) EXPECT_TRUE(amx::cpu_reports_amx());
#endif
}

// Forward (with and without bias), input gradient and weight gradient: within float32
// summation error of the double sums, and of the vdpbf16ps kernels, which must differ in
// some element (they sum in another order), so that AMX is known to have run.
TEST(AmxKernels, ConvolutionsMatchDoubleSumsAndTheVdpbf16psKernels) {
  if (!amx::available()) GTEST_SKIP() << "this CPU (or kernel) offers no AMX-BF16; the vdpbf16ps kernels run instead";
  uint32_t seed = 1;
  for (const ConvCase& cc : conv_cases()) {
    SCOPED_TRACE(cc.label);
    const ConvGeom& g = cc.g;
    ASSERT_TRUE(conv_amx::forward_applies(g) && conv_amx::input_grad_applies(g) && conv_amx::weight_grad_applies(g));
    const int64_t xs = g.n * g.c * g.in_pixels(), ws = g.o * g.patch(), ys = g.n * g.o * g.out_pixels();
    const std::vector<uint16_t> x = random_bf16(xs, seed++), w = random_bf16(ws, seed++), dy = random_bf16(ys, seed++);
    std::vector<float> bias(static_cast<size_t>(g.o));
    for (int64_t o = 0; o < g.o; ++o) bias[o] = 0.25f * static_cast<float>(o % 7) - 0.75f;
    std::vector<double> y_ref(ys), dx_ref(xs), dw_ref(ws);
    for_each_product(g, [&](int64_t xi, int64_t wi, int64_t yi) {
      y_ref[yi] += val(x, xi) * val(w, wi);
      dx_ref[xi] += val(dy, yi) * val(w, wi);
      dw_ref[wi] += val(dy, yi) * val(x, xi);
    });
    std::vector<double> yb_ref = y_ref;
    for (int64_t i = 0; i < ys; ++i) yb_ref[i] += bias[i / g.out_pixels() % g.o];

    auto run_all = [&] {
      std::vector<float> y(ys), yb(ys), dx(xs), dw(ws);
      gemm_bf16::conv2d_forward(g, x.data(), w.data(), nullptr, y.data());
      gemm_bf16::conv2d_forward(g, x.data(), w.data(), bias.data(), yb.data());
      gemm_bf16::conv2d_input_grad(g, dy.data(), w.data(), dx.data());
      gemm_bf16::conv2d_weight_grad(g, dy.data(), x.data(), dw.data());
      return std::vector<std::vector<float>>{y, yb, dx, dw};
    };
    const std::vector<std::vector<float>> amx_out = run_all();
    std::vector<std::vector<float>> vdp_out;
    {
      AmxOff off;
      vdp_out = run_all();
    }
    const std::vector<double>* refs[] = {&y_ref, &yb_ref, &dx_ref, &dw_ref};
    const char* names[] = {"forward", "forward with bias", "input gradient", "weight gradient"};
    for (int k = 0; k < 4; ++k) {
      SCOPED_TRACE(names[k]);
      // Sums of up to 3 * 26 * 26 * 9 products of values in [-1, 1], each exact in float32:
      // float32 accumulation keeps them well within 1e-4 of 1 + |sum|.
      EXPECT_LE(worst_error(amx_out[k], *refs[k]), 1e-4);
      EXPECT_LE(worst_error(amx_out[k], vdp_out[k]), 1e-4);
      EXPECT_NE(amx_out[k], vdp_out[k]) << "AMX did not run";
    }
  }
}

// With few input channels the weight gradient takes the (channel, tap) pairs as columns:
// conv1's shape, a padded dilated 3-channel case, and 50 columns (two column blocks).
TEST(AmxKernels, FewChannelWeightGradientMatchesDoubleSums) {
  if (!amx::available()) GTEST_SKIP() << "this CPU (or kernel) offers no AMX-BF16";
  uint32_t seed = 50;
  for (const ConvCase& cc : {ConvCase{"MNIST conv1 at batch 9", geom(9, 1, 28, 28, 32, 3, 3, 0, 0, 1, 1)},
                             ConvCase{"3 channels, padded, dilated", geom(2, 3, 10, 9, 20, 3, 3, 1, 2, 2, 1)},
                             ConvCase{"50 columns", geom(2, 2, 7, 7, 33, 5, 5, 2, 2, 1, 1)}}) {
    SCOPED_TRACE(cc.label);
    const ConvGeom& g = cc.g;
    ASSERT_TRUE(conv_amx::weight_grad_applies(g));
    const std::vector<uint16_t> x = random_bf16(g.n * g.c * g.in_pixels(), seed++),
                                dy = random_bf16(g.n * g.o * g.out_pixels(), seed++);
    std::vector<double> want(g.o * g.patch());
    for_each_product(g, [&](int64_t xi, int64_t wi, int64_t yi) { want[wi] += val(dy, yi) * val(x, xi); });
    std::vector<float> got(want.size()), vdp(want.size());
    gemm_bf16::conv2d_weight_grad(g, dy.data(), x.data(), got.data());
    {
      AmxOff off;
      gemm_bf16::conv2d_weight_grad(g, dy.data(), x.data(), vdp.data());
    }
    EXPECT_LE(worst_error(got, want), 1e-4);
    EXPECT_LE(worst_error(got, vdp), 1e-4);
    EXPECT_NE(got, vdp) << "AMX did not run";
  }
}

// With fewer than 16 channels on the contracted or the result side, most of each tile
// would be padding: the forward pass and input gradient leave such convolutions (LeNet-5's
// conv2, 6 -> 16 channels) to the other kernels. On an Intel CPU those widen to float32,
// so the results equal the float32 kernels on widened operands bit for bit.
TEST(AmxKernels, FewChannelsLeaveTheTiles) {
  const ConvGeom lenet_conv2 = geom(4, 6, 14, 14, 16, 5, 5, 0, 0, 1, 1);
  EXPECT_FALSE(conv_amx::forward_applies(lenet_conv2));
  EXPECT_FALSE(conv_amx::input_grad_applies(lenet_conv2));
  EXPECT_FALSE(conv_amx::input_grad_applies(geom(4, 16, 14, 14, 6, 5, 5, 0, 0, 1, 1)));  // 6 contracted
  EXPECT_TRUE(conv_amx::forward_applies(geom(4, 16, 14, 14, 16, 5, 5, 0, 0, 1, 1)));
  if (!amx::available() || gemm_bf16::vdpbf16ps_pays())
    GTEST_SKIP() << "the rest needs AMX on a CPU whose other bfloat16 products widen (Intel)";
  const ConvGeom& g = lenet_conv2;
  const std::vector<uint16_t> x = random_bf16(g.n * g.c * g.in_pixels(), 90), w = random_bf16(g.o * g.patch(), 91);
  auto widen = [](const std::vector<uint16_t>& v) {
    std::vector<float> f(v.size());
    for (size_t i = 0; i < v.size(); ++i) f[i] = bf16_bits_to_float(v[i]);
    return f;
  };
  std::vector<float> y(g.n * g.o * g.out_pixels()), y32(y.size());
  gemm_bf16::conv2d_forward(g, x.data(), w.data(), nullptr, y.data());
  conv2d_forward_f32(g, widen(x).data(), widen(w).data(), nullptr, y32.data());
  EXPECT_EQ(y, y32);
}

// The convolutions are split over images (the weight gradient over fixed groups of
// images), so the thread count cannot change a result: two runs agree bit for bit.
TEST(AmxKernels, ConvolutionsAreDeterministic) {
  if (!amx::available()) GTEST_SKIP() << "this CPU (or kernel) offers no AMX-BF16";
  const ConvGeom g = geom(11, 32, 12, 12, 48, 3, 3, 1, 1, 1, 1);
  const std::vector<uint16_t> x = random_bf16(g.n * g.c * g.in_pixels(), 7),
                              dy = random_bf16(g.n * g.o * g.out_pixels(), 8);
  std::vector<float> a(g.o * g.patch()), b(g.o * g.patch());
  gemm_bf16::conv2d_weight_grad(g, dy.data(), x.data(), a.data());
  gemm_bf16::conv2d_weight_grad(g, dy.data(), x.data(), b.data());
  EXPECT_EQ(a, b);
}

// C = op(A)·op(B) (+ C) for the four transpose cases, sizes off the block grid and an
// odd depth (a half-empty last pair), against double sums and the vdpbf16ps GEMM.
TEST(AmxKernels, GemmMatchesDoubleSumsInEveryTransposeCase) {
  if (!amx::available()) GTEST_SKIP() << "this CPU (or kernel) offers no AMX-BF16";
  const int64_t m = 45, n = 70, k = 67;
  ASSERT_TRUE(amx::gemm_applies(m, n, k));
  uint32_t seed = 100;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool accumulate : {false, true}) {
        SCOPED_TRACE(testing::Message() << "trans_a " << ta << " trans_b " << tb << " accumulate " << accumulate);
        const std::vector<uint16_t> a = random_bf16(m * k, seed++), b = random_bf16(k * n, seed++);
        const int64_t lda = ta ? m : k, ldb = tb ? k : n, ldc = n + 3;  // C with a row stride of its own
        std::vector<float> c0(m * ldc);
        for (size_t i = 0; i < c0.size(); ++i) c0[i] = 0.01f * static_cast<float>(i % 13);
        std::vector<double> want(m * ldc);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            double s = accumulate || j >= n ? c0[i * ldc + j] : 0.0;
            for (int64_t p = 0; j < n && p < k; ++p)
              s += val(a, ta ? p * lda + i : i * lda + p) * val(b, tb ? j * ldb + p : p * ldb + j);
            want[i * ldc + j] = s;
          }
        std::vector<float> got = c0, vdp = c0;
        gemm_bf16::gemm(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, got.data(), ldc, accumulate);
        {
          AmxOff off;
          gemm_bf16::gemm(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, vdp.data(), ldc, accumulate);
        }
        EXPECT_LE(worst_error(got, want), 1e-5);  // columns past n are untouched: exact there
        EXPECT_LE(worst_error(got, vdp), 1e-5);
      }
}
