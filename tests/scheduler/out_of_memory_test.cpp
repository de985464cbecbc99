// Out of memory: an impossible request is an OutOfMemoryError that names what was being
// allocated, the requested bytes and what the system has available, never bad_alloc or
// an abort. (Under AddressSanitizer the tests need allocator_may_return_null=1, which
// tests/CMakeLists.txt sets for sanitizer builds.)
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "ops/ops.h"
#include "runtime/allocator.h"
#include "runtime/memory_info.h"
#include "runtime/tensor.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"
#include "tests/error_of.h"

namespace dagrad {
namespace {

constexpr size_t kPiB = size_t{1} << 50;  // beyond any machine's address space

template <class Fn>
std::string oom_message(Fn&& fn) {
  return testing::error_of<OutOfMemoryError>(fn);
}

void expect_contains(const std::string& msg, const std::string& part) {
  EXPECT_NE(msg.find(part), std::string::npos) << "missing \"" << part << "\" in: " << msg;
}

TEST(OutOfMemory, SystemAvailableBytesIsKnownOnLinux) {
  std::optional<size_t> avail = system_available_bytes();
  ASSERT_TRUE(avail.has_value());
  EXPECT_GT(*avail, size_t{0});
  EXPECT_EQ(describe_bytes(1536), "1.50 KiB (1536 bytes)");
  EXPECT_EQ(describe_bytes(12), "12 bytes");
}

TEST(OutOfMemory, CpuAllocatorNamesRequestedAndAvailableBytes) {
  size_t in_use = cpu_allocator().stats().bytes_in_use;
  std::string msg = oom_message([] { cpu_allocator().allocate(kPiB); });
  expect_contains(msg, "CPU out of memory: tried to allocate 1.00 PiB (1125899906842624 bytes); dagrad has ");
  expect_contains(msg, " in use and the system has ");
  expect_contains(msg, " available (MemAvailable). Reduce the batch size or free tensors.");
  EXPECT_EQ(cpu_allocator().stats().bytes_in_use, in_use);  // a failed request counts nothing
}

TEST(OutOfMemory, SizeThatWouldWrapAroundIsRefused) {
  size_t huge = std::numeric_limits<size_t>::max() - 3;
  std::string msg = oom_message([&] { cpu_allocator().allocate(huge); });
  expect_contains(msg, "tried to allocate 16.00 EiB (" + std::to_string(huge) + " bytes)");
}

TEST(OutOfMemory, TensorNamesItsShape) {
  std::string msg = oom_message([] { Tensor::empty(Shape{int64_t{1} << 48}, DType::f32); });
  expect_contains(msg, "cannot allocate a [281474976710656] float32 tensor on cpu: CPU out of memory: tried to "
                       "allocate 1.00 PiB (1125899906842624 bytes)");
}

TEST(OutOfMemory, ExecutorArenaNamesThePlanAndItsLargestBuffer) {
  Graph g;
  Value x = g.input("x", Shape{int64_t{1} << 48});
  Value y = exp(x);
  Value out = sum(y);
  std::vector<Value> outs{out};
  scheduler::CompileOptions opt;
  opt.fuse = false;  // keep exp's output a buffer of its own
  scheduler::ExecutionPlan plan = scheduler::compile(g, outs, opt);
  ASSERT_GE(plan.arena_bytes, kPiB);
  std::string msg = oom_message([&] { scheduler::Executor ex(std::move(plan)); });
  expect_contains(msg, "[executor] cannot allocate the memory arena (");
  expect_contains(msg, ") of the plan computing '" + out.producer().name + "' (largest buffer '" + y.producer().name +
                           "' [281474976710656] float32, 1.00 PiB (1125899906842624 bytes)): CPU out of memory: tried "
                           "to allocate ");
  expect_contains(msg, "available (MemAvailable)");
}

}  // namespace
}  // namespace dagrad
