// Kernels that apply their epilogue themselves (KernelContext::epilogue): the CPU
// convolution offers each image's output to it as soon as the image is done, covering the
// output exactly once, and says so; without an epilogue nothing changes.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <utility>

#include "op_cases.h"
#include "ops/builtin_ops.h"
#include "ops/kernel_table.h"
#include "ops/ops.h"
#include "ops/registry.h"

using namespace dagrad;
using namespace dagrad::testing;

TEST(KernelEpilogue, ConvolutionAppliesItImageByImage) {
  for (DType dt : {DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value x = g.input("x", Shape{5, 3, 9, 9}, dt), w = g.input("w", Shape{4, 3, 3, 3}, dt);
    const Node& conv = conv2d(x, w).producer();
    const Tensor xt = random_tensor(Shape{5, 3, 9, 9}, dt, 1), wt = random_tensor(Shape{4, 3, 3, 3}, dt, 2);
    std::vector<Tensor> ins{xt, wt}, outs{Tensor::empty(Shape{5, 4, 7, 7})};
    std::mutex m;
    std::set<std::pair<int64_t, int64_t>> ranges;
    Tensor snapshot = Tensor::empty(Shape{5, 4, 7, 7});
    auto record = [&](int64_t begin, int64_t end) {
      std::lock_guard lock(m);
      ranges.insert({begin, end});
      // The range is final when offered: copy it now, compare with the result below.
      std::copy(outs[0].data<float>() + begin, outs[0].data<float>() + end, snapshot.data<float>() + begin);
    };
    const Epilogue epilogue{record};
    kernel_table(DeviceType::cpu).find(*op::conv2d)(KernelContext{conv, ins, outs, 0, nullptr, &epilogue});
    EXPECT_TRUE(epilogue.applied);
    ASSERT_EQ(ranges.size(), 5u);
    int64_t next = 0;
    for (const auto& [begin, end] : ranges) {
      EXPECT_EQ(begin, next);
      EXPECT_EQ(end - begin, 4 * 7 * 7);
      next = end;
    }
    EXPECT_EQ(next, outs[0].numel());
    EXPECT_EQ(snapshot.to_vector<float>(), outs[0].to_vector<float>());
  }
}
