// `dagrad bench --conv`: every pass of the model's convolutions on every path this CPU has,
// the dispatch switches left as they were, and a clear line for a model without any.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "bench/bench.h"
#include "ops/cpu/amx.h"
#include "ops/cpu/gemm_bf16.h"

namespace dagrad::bench {
namespace {

TEST(ConvBench, TimesEveryPassOnEveryPath) {
  const bool was_vdpbf16ps_paying = gemm_bf16::vdpbf16ps_pays(), had_amx = amx::available();
  const std::vector<ConvRate> rates = conv_rates("lenet5", 2, 1, 0.0);
  const size_t paths = gemm_bf16::cpu_has_avx512_bf16() ? 4 : 3;
  ASSERT_EQ(rates.size(), 2 * 3 * paths);  // conv1 and conv2, three passes each
  std::set<std::string> seen;
  for (const ConvRate& r : rates) {
    EXPECT_GT(r.ms, 0) << r.layer << " " << r.pass << " " << r.path;
    EXPECT_GT(r.gmacs, 0) << r.layer << " " << r.pass << " " << r.path;
    seen.insert(r.layer + " " + r.pass + " " + r.path);
  }
  EXPECT_EQ(seen.size(), rates.size());  // no case timed twice
  EXPECT_TRUE(seen.count("conv2 weight grad float32"));
  EXPECT_TRUE(seen.count("conv2 input grad bfloat16 widened to float32"));
  EXPECT_EQ(gemm_bf16::vdpbf16ps_pays(), was_vdpbf16ps_paying);
  EXPECT_EQ(amx::available(), had_amx);
  EXPECT_FALSE(gemm_bf16::vdpbf16ps_forced());
  const std::string table = format_conv_rates("lenet5", 2, rates);
  EXPECT_NE(table.find("convolutions of lenet5 at batch 2"), std::string::npos) << table;
}

TEST(ConvBench, SaysWhenTheModelHasNoConvolutions) {
  EXPECT_TRUE(conv_rates("mnist-vit", 2, 1, 0.0).empty());
  EXPECT_EQ(format_conv_rates("mnist-vit", 2, {}), "--conv: mnist-vit has no convolutions to time\n");
}

}  // namespace
}  // namespace dagrad::bench
