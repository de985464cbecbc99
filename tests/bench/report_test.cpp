// The bench report's header names the precision and, in mixed precision, where the
// bfloat16 products run on this CPU, following the switches that choose the kernels.
#include <gtest/gtest.h>

#include <string>

#include "bench/bench.h"
#include "ops/cpu/amx.h"
#include "ops/cpu/gemm_bf16.h"

namespace dagrad::bench {
namespace {

std::string header(DType precision) {
  BenchReport r;
  r.options.threads = 2;
  r.options.precision = precision;
  r.train.batch = 1;
  const std::string text = format_report(r);
  return text.substr(0, text.find('\n'));
}

TEST(BenchReport, HeaderNamesWhereBfloat16ProductsRun) {
  EXPECT_NE(header(DType::f32).find(", float32, "), std::string::npos) << header(DType::f32);
  const std::string now = header(DType::bf16);
  EXPECT_NE(now.find(str_cat("bfloat16 products on ", gemm_bf16::kernels_name())), std::string::npos) << now;
  EXPECT_EQ(std::string(gemm_bf16::kernels_name()), amx::available()              ? "AMX tiles"
                                                    : gemm_bf16::vdpbf16ps_pays() ? "AVX512_BF16 vdpbf16ps"
                                                                                  : "the float32 kernels, widened");
  amx::force_off(true);
  EXPECT_EQ(header(DType::bf16).find("AMX"), std::string::npos);
  if (gemm_bf16::available()) {  // vdpbf16ps, as on a CPU where it pays
    gemm_bf16::force_vdpbf16ps(true);
    EXPECT_NE(header(DType::bf16).find("bfloat16 products on AVX512_BF16 vdpbf16ps"), std::string::npos);
    gemm_bf16::force_vdpbf16ps(false);
  }
  gemm_bf16::force_fallback(true);
  EXPECT_NE(header(DType::bf16).find("bfloat16 products on the float32 kernels, widened"), std::string::npos);
  gemm_bf16::force_fallback(false);
  amx::force_off(false);
}

}  // namespace
}  // namespace dagrad::bench
