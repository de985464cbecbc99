// Kernels that apply their epilogue themselves (KernelContext::epilogue): the CPU
// convolution offers each image's output to it as soon as the image is done, max pooling
// and dropout each piece, covering the output exactly once, and say so; without an
// epilogue nothing changes. Given an epilogue that consumes pieces, the convolutions and
// dropout hand each piece over instead of writing output 0.
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <set>
#include <utility>

#include "op_cases.h"
#include "ops/builtin_ops.h"
#include "ops/cpu/epilogue_piece.h"
#include "ops/kernel_table.h"
#include "ops/ops.h"
#include "ops/registry.h"
#include "runtime/thread_pool.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

struct Offered {
  std::set<std::pair<int64_t, int64_t>> ranges;  // what the kernel offered its epilogue
  Tensor snapshot;                               // output 0 copied from each range as it was offered
  bool applied = false;
};

// Runs the CPU kernel of `node`'s op with an epilogue that records each range it is
// offered and copies that range of output 0 right then (it must be final when offered).
Offered run_offering(const Node& node, const std::vector<Tensor>& ins, std::vector<Tensor>& outs, uint64_t step = 0) {
  Offered o;
  o.snapshot = Tensor::empty(outs[0].shape());
  std::mutex m;
  auto record = [&](int64_t begin, int64_t end) {
    std::lock_guard lock(m);
    o.ranges.insert({begin, end});
    std::copy(outs[0].data<float>() + begin, outs[0].data<float>() + end, o.snapshot.data<float>() + begin);
  };
  const Epilogue epilogue{record};
  kernel_table(DeviceType::cpu).find (*node.op)(KernelContext{node, ins, outs, step, nullptr, &epilogue});
  o.applied = epilogue.applied;
  return o;
}

// The sizes of the offered ranges in order, checking that they cover output 0 exactly
// once and held its final values when offered.
std::vector<int64_t> piece_sizes(const Offered& o, const Tensor& out) {
  std::vector<int64_t> sizes;
  int64_t next = 0;
  for (const auto& [begin, end] : o.ranges) {
    EXPECT_EQ(begin, next);
    sizes.push_back(end - begin);
    next = end;
  }
  EXPECT_EQ(next, out.numel());
  EXPECT_EQ(o.snapshot.to_vector<float>(), out.to_vector<float>());
  return sizes;
}

// As run_offering, with an epilogue that consumes pieces: each range is taken from the
// piece handed over on that thread, or read from output 0 when none was handed.
struct Consumed {
  Offered offered;
  int64_t handed = 0;  // elements handed over
};
Consumed run_consuming(const Node& node, const std::vector<Tensor>& ins, std::vector<Tensor>& outs, uint64_t step = 0) {
  Consumed c;
  c.offered.snapshot = Tensor::empty(outs[0].shape());
  std::mutex m;
  auto take = [&](int64_t begin, int64_t end) {
    const HandedPiece piece = take_handed_piece();
    EXPECT_EQ(piece.row_stride, 0);  // contiguous: this consumer does not take padded rows
    const float* from = piece.data ? static_cast<const float*>(piece.data) : outs[0].data<float>() + begin;
    std::lock_guard lock(m);
    c.offered.ranges.insert({begin, end});
    std::copy(from, from + (end - begin), c.offered.snapshot.data<float>() + begin);
    if (piece.data) c.handed += end - begin;
  };
  const Epilogue epilogue{take, false, true};
  kernel_table(DeviceType::cpu).find (*node.op)(KernelContext{node, ins, outs, step, nullptr, &epilogue});
  c.offered.applied = epilogue.applied;
  return c;
}

// Runs `node` plainly and consuming pieces: the pieces must cover output 0 once and hold
// its values bit for bit, and output 0 (filled with NaN) must stay unwritten where they
// were handed over. Returns the number of elements handed.
int64_t expect_pieces_replace_the_output(const Node& node, const std::vector<Tensor>& ins, uint64_t step = 0) {
  const TensorType& type = node.outputs[0];
  std::vector<Tensor> plain;
  for (const TensorType& t : node.outputs) plain.push_back(Tensor::empty(t.shape, t.dtype));
  kernel_table(DeviceType::cpu).find (*node.op)(KernelContext{node, ins, plain, step});
  std::vector<Tensor> consumed;
  for (const TensorType& t : node.outputs) consumed.push_back(Tensor::full(t.shape, std::nan(""), t.dtype));
  const Consumed c = run_consuming(node, ins, consumed, step);
  EXPECT_TRUE(c.offered.applied);
  piece_sizes(c.offered, plain[0]);  // covered once, equal to the plain output
  int64_t untouched = 0;
  for (int64_t i = 0; i < type.shape.numel(); ++i) untouched += std::isnan(consumed[0].data<float>()[i]);
  EXPECT_EQ(untouched, c.handed);
  return c.handed;
}

}  // namespace

// Every path of the forward convolution and of its input gradient hands its images over:
// the one-channel kernel, Winograd, the direct and packed kernels, AMX and vdpbf16ps in
// bfloat16 (where the CPU has them, else widened to float32's).
TEST(KernelEpilogue, ConvolutionsHandTheirImagesToAConsumingEpilogue) {
  struct Case {
    const char* path;
    DType dtype;
    int64_t c, o, k, stride;
  };
  for (const Case& t :
       {Case{"one channel", DType::f32, 1, 8, 3, 1}, Case{"winograd", DType::f32, 8, 8, 3, 1},
        Case{"direct", DType::f32, 4, 6, 5, 1}, Case{"packed", DType::f32, 3, 5, 3, 2},
        Case{"bf16 one channel", DType::bf16, 1, 8, 3, 1}, Case{"bf16 tiles", DType::bf16, 32, 32, 3, 1},
        Case{"bf16 few channels", DType::bf16, 6, 16, 5, 1}}) {
    SCOPED_TRACE(t.path);
    const Shape xs{3, t.c, 14, 14}, ws{t.o, t.c, t.k, t.k};
    const ConvParams opt{.stride = {t.stride, t.stride}};
    Graph g;
    const Node& conv = conv2d(g.input("x", xs, t.dtype), g.input("w", ws, t.dtype), {}, opt).producer();
    const Tensor x = random_tensor(xs, t.dtype, 1), w = random_tensor(ws, t.dtype, 2);
    EXPECT_EQ(expect_pieces_replace_the_output(conv, {x, w}), conv.outputs[0].shape.numel());
    if (t.stride != 1) continue;
    const Shape ys = conv.outputs[0].shape;
    const Node& grad =
        conv2d_backward_input(g.input("dy", ys, t.dtype), g.input("w2", ws, t.dtype), xs, opt).producer();
    EXPECT_EQ(expect_pieces_replace_the_output(grad, {random_tensor(ys, t.dtype, 3), w}), xs.numel())
        << "input gradient";
  }
}

// Dropout hands its pieces over, all but the last partial group of 4, which it writes.
TEST(KernelEpilogue, DropoutHandsItsPiecesToAConsumingEpilogue) {
  const int64_t n = 3 * 8192 + 6;
  Graph g;
  const Node& drop = dropout(g.input("x", Shape{n}), 0.25, 11, true).producer();
  EXPECT_EQ(expect_pieces_replace_the_output(drop, {random_tensor(Shape{n}, DType::f32, 3)}, 5), n - 2);
}

// matmul offers tiles of whole rows of C once each GEMM is done, hands them over when the
// epilogue consumes pieces, and leaves the epilogue to the executor when its tiles split
// the columns or the depth (a long reduction's partial products are added afterwards).
TEST(KernelEpilogue, MatmulAppliesItToTilesOfWholeRows) {
  if (num_threads() > 8) GTEST_SKIP() << "the product has 8 row tiles, fewer than the threads";
  for (DType dt : {DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    const Node& mm = matmul(g.input("a", Shape{2048, 128}, dt), g.input("b", Shape{128, 64}, dt)).producer();
    const std::vector<Tensor> ins{random_tensor(Shape{2048, 128}, dt, 1), random_tensor(Shape{128, 64}, dt, 2)};
    std::vector<Tensor> outs{Tensor::empty(Shape{2048, 64})};
    const Offered o = run_offering(mm, ins, outs);
    EXPECT_TRUE(o.applied);
    const std::vector<int64_t> sizes = piece_sizes(o, outs[0]);
    EXPECT_GE(sizes.size(), 2u);
    for (int64_t size : sizes) EXPECT_EQ(size % 64, 0);  // whole rows
    EXPECT_EQ(expect_pieces_replace_the_output(mm, ins), 2048 * 64);
  }
  Graph g;
  const Node& long_k = matmul(g.input("a", Shape{64, 9216}), g.input("b", Shape{9216, 128})).producer();
  std::vector<Tensor> outs{Tensor::empty(Shape{64, 128})};
  const Offered o = run_offering(
      long_k, {random_tensor(Shape{64, 9216}, DType::f32, 3), random_tensor(Shape{9216, 128}, DType::f32, 4)}, outs);
  EXPECT_FALSE(o.applied);
  EXPECT_TRUE(o.ranges.empty());
}

TEST(KernelEpilogue, ConvolutionAppliesItImageByImage) {
  for (DType dt : {DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value x = g.input("x", Shape{5, 3, 9, 9}, dt), w = g.input("w", Shape{4, 3, 3, 3}, dt);
    const Node& conv = conv2d(x, w).producer();
    std::vector<Tensor> outs{Tensor::empty(Shape{5, 4, 7, 7})};
    const Offered o =
        run_offering(conv, {random_tensor(Shape{5, 3, 9, 9}, dt, 1), random_tensor(Shape{4, 3, 3, 3}, dt, 2)}, outs);
    EXPECT_TRUE(o.applied);
    const std::vector<int64_t> sizes = piece_sizes(o, outs[0]);
    ASSERT_EQ(sizes.size(), 5u);
    for (int64_t size : sizes) EXPECT_EQ(size, 4 * 7 * 7);
  }
}

// Max pooling offers its pooled output (output 0) a few whole planes at a time.
TEST(KernelEpilogue, MaxPoolingAppliesItPlaneByPlane) {
  Graph g;
  const Node& pool = max_pool2d(g.input("x", Shape{4, 40, 24, 24}), {.kernel = 2}).producer();
  std::vector<Tensor> outs{Tensor::empty(Shape{4, 40, 12, 12}), Tensor::empty(Shape{4, 40, 12, 12}, DType::u16)};
  const Offered o = run_offering(pool, {random_tensor(Shape{4, 40, 24, 24}, DType::f32, 5)}, outs);
  EXPECT_TRUE(o.applied);
  const std::vector<int64_t> sizes = piece_sizes(o, outs[0]);
  EXPECT_GT(sizes.size(), 1u);
  for (int64_t size : sizes) EXPECT_EQ(size % (12 * 12), 0);  // whole planes
}

// Dropout offers its output in pieces of at most 8,192 elements (then the last partial
// group of 4), each once and final when offered; with an offset not a multiple of 4 it
// takes its scalar loop and offers the whole output at the end.
TEST(KernelEpilogue, DropoutAppliesItPieceByPiece) {
  for (int64_t offset : {0, 2}) {
    SCOPED_TRACE(str_cat("offset ", offset));
    const int64_t n = 5 * 8192 + 6;
    Graph g;
    const Node& drop = dropout(g.input("x", Shape{n}), 0.25, 11, true).producer();
    g.set_attr(drop.id, "offset", offset);
    std::vector<Tensor> outs{Tensor::empty(Shape{n})};
    const Offered o = run_offering(drop, {random_tensor(Shape{n}, DType::f32, 3)}, outs, 3);
    EXPECT_TRUE(o.applied);
    const std::vector<int64_t> sizes = piece_sizes(o, outs[0]);
    // 40,964 elements in pieces of at most 8,192, then 2; or everything at once.
    EXPECT_TRUE(offset == 0 ? sizes.size() >= 6 : sizes.size() == 1) << sizes.size();
    for (int64_t size : sizes) EXPECT_LE(size, offset == 0 ? 8192 : n);
  }
}

// A bias gradient's sum (over every dim but 1) takes the plane sums that its input's
// producer took (KernelContext::plane_sums): the collector covers only planes wholly
// inside a piece, the sum folds the rest itself, and with every plane taken the bits are
// the sum's own. Sums of other shapes take none.
TEST(KernelEpilogue, BiasGradientSumTakesPlaneSums) {
  const KernelTable& cpu = kernel_table(DeviceType::cpu);
  ASSERT_TRUE(cpu.plane_sum_length && cpu.collect_plane_sums);
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    Graph g;
    Value x = g.input("x", Shape{3, 4, 5, 8}, dt);
    const Node& bias_sum = sum(x, {0, 2, 3}).producer();
    ASSERT_EQ(cpu.plane_sum_length(bias_sum), 40);
    EXPECT_EQ(cpu.plane_sum_length(sum(x, {0, 1}).producer()), 0);
    EXPECT_EQ(cpu.plane_sum_length(sum(g.input("small", Shape{3, 4, 2, 2}, dt), {0, 2, 3}).producer()), 0);

    const Tensor xt = random_tensor(Shape{3, 4, 5, 8}, dt, 7);
    std::vector<Tensor> ins{xt}, plain{Tensor::empty(Shape{4}, dt)}, taken{Tensor::empty(Shape{4}, dt)};
    cpu.find(*op::sum)(KernelContext{bias_sum, ins, plain});

    PlaneSums sums{40, std::vector<double>(12), std::vector<uint8_t>(12)};
    cpu.collect_plane_sums(xt, 30, 130, sums);  // planes 1 and 2 whole, 0 and 3 in part
    EXPECT_EQ(sums.ready, (std::vector<uint8_t>{0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    cpu.collect_plane_sums(xt, 0, 480, sums);
    EXPECT_EQ(sums.ready, std::vector<uint8_t>(12, 1));
    cpu.find(*op::sum)(KernelContext{bias_sum, ins, taken, 0, nullptr, nullptr, &sums});
    for (int64_t c = 0; c < 4; ++c) EXPECT_EQ(at(taken[0], c), at(plain[0], c)) << c;

    // A taken sum stands in for its plane (plane 5: image 1, channel 1).
    sums.sums[5] += 1000;
    std::fill(sums.ready.begin(), sums.ready.end(), uint8_t{0});
    sums.ready[5] = 1;
    cpu.find(*op::sum)(KernelContext{bias_sum, ins, taken, 0, nullptr, nullptr, &sums});
    for (int64_t c = 0; c < 4; ++c) EXPECT_NEAR(at(taken[0], c) - at(plain[0], c), c == 1 ? 1000 : 0, 1e-3) << c;
  }
}
