// The CUDA runtime plumbing. The first tests run on every CUDA build, GPU or not; the
// rest need a device and skip, saying why, without one.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/cuda_entry.h"
#include "runtime/error.h"
#include "runtime/tensor.h"

using namespace dagrad;

#define REQUIRE_CUDA_DEVICE() \
  if (!cuda_available()) GTEST_SKIP() << cuda_unavailable_reason()

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

cuda::CudaBackend& gpu() { return static_cast<cuda::CudaBackend&>(backend_for(Device::cuda(0))); }

// Device memory for one test, returned to the allocator at scope exit.
struct DeviceBuffer {
  Allocator& alloc;
  size_t bytes;
  void* ptr;
  DeviceBuffer(Allocator& a, size_t n) : alloc(a), bytes(n), ptr(a.allocate(n)) {}
  ~DeviceBuffer() { alloc.deallocate(ptr, bytes); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

}  // namespace

// ---- without a device ----

TEST(CudaRuntime, BuiltInAndMissingDeviceIsAClearError) {
  EXPECT_TRUE(cuda::built_with_cuda());
  if (cuda_available()) {
    EXPECT_GT(cuda::device_count(), 0);
    EXPECT_EQ(cuda::unavailable_reason(), "");
    EXPECT_THROW(backend_for(Device::cuda(cuda::device_count())), DeviceError);
    return;
  }
  EXPECT_EQ(cuda::device_count(), 0);
  EXPECT_EQ(cuda_device_count(), 0);
  const std::string reason = cuda::unavailable_reason();
  EXPECT_EQ(reason, cuda_unavailable_reason());
  EXPECT_TRUE(contains(reason, "cudaGetDeviceCount")) << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos) << "one line: " << reason;
  try {
    backend_for(Device::cuda(0));
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_EQ(std::string(e.what()), reason);
  }
  EXPECT_THROW(Tensor::empty(Shape({4}), DType::f32, Device::cuda()), DeviceError);
  // Asking again gives the same answer. (Without a driver every CUDA call, even
  // cudaGetLastError, keeps returning cudaErrorInsufficientDriver: nothing to check.)
  EXPECT_EQ(cuda::unavailable_reason(), reason);
}

TEST(CudaRuntime, CheckMacrosNameTheCallAndTheError) {
  try {
    DAGRAD_CUDA_CHECK(cudaErrorInvalidValue);
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "cudaErrorInvalidValue")) << msg;
    EXPECT_TRUE(contains(msg, "cuda_runtime_test.cpp:")) << msg;
  }
  try {
    DAGRAD_CUBLAS_CHECK(CUBLAS_STATUS_NOT_INITIALIZED);
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_TRUE(contains(e.what(), "CUBLAS_STATUS_NOT_INITIALIZED")) << e.what();
  }
  EXPECT_NO_THROW(DAGRAD_CUDA_CHECK(cudaSuccess));
  EXPECT_NO_THROW(DAGRAD_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

TEST(CudaRuntime, SizeClasses) {
  using A = cuda::CudaCachingAllocator;
  EXPECT_EQ(A::round_size(0), 512u);
  EXPECT_EQ(A::round_size(1), 512u);
  EXPECT_EQ(A::round_size(512), 512u);
  EXPECT_EQ(A::round_size(513), 1024u);
  EXPECT_EQ(A::round_size(size_t{1} << 20), size_t{1} << 20);
  EXPECT_EQ(A::round_size((size_t{1} << 20) + 1), size_t{2} << 20);
  EXPECT_EQ(A::round_size((size_t{2} << 20) + 1), size_t{4} << 20);
}

// ---- with a device ----

TEST(CudaRuntime, BackendBasics) {
  REQUIRE_CUDA_DEVICE();
  cuda::CudaBackend& b = gpu();
  EXPECT_EQ(&b, &backend_for(Device::cuda(0)));  // one per device
  EXPECT_EQ(b.device(), Device::cuda(0));
  EXPECT_TRUE(contains(b.name(), "cuda:0 (")) << b.name();
  auto s = b.create_stream(3);
  EXPECT_EQ(s->index(), 3);
  EXPECT_EQ(s->device(), Device::cuda(0));
  EXPECT_NE(s->native_handle(), nullptr);
  auto& cs = static_cast<cuda::CudaStream&>(*s);
  cublasHandle_t h = cs.cublas();
  EXPECT_NE(h, nullptr);
  EXPECT_EQ(cs.cublas(), h);
  cudaStream_t bound = nullptr;
  DAGRAD_CUBLAS_CHECK(cuda::cublas_api().get_stream(h, &bound));
  EXPECT_EQ(bound, cs.handle());
  auto start = b.create_timing_event(), end = b.create_timing_event();
  s->record(*start);
  s->record(*end);
  s->synchronize();
  EXPECT_GE(cuda::CudaEvent::elapsed_ms(*start, *end), 0.0f);
  auto plain = b.create_event();
  EXPECT_THROW(cuda::CudaEvent::elapsed_ms(static_cast<cuda::CudaEvent&>(*plain), *end), DeviceError);
  b.synchronize();
}

TEST(CudaRuntime, AllocatorReusesFreedBlocks) {
  REQUIRE_CUDA_DEVICE();
  cuda::CudaCachingAllocator alloc(0);
  void* p = alloc.allocate(1000);
  ASSERT_NE(p, nullptr);
  AllocatorStats s = alloc.stats();
  EXPECT_EQ(s.bytes_in_use, 1000u);
  EXPECT_EQ(s.reserved_bytes, 512u * 2);
  EXPECT_EQ(s.num_allocs, 1u);
  alloc.deallocate(p, 1000);
  EXPECT_EQ(alloc.stats().bytes_in_use, 0u);
  EXPECT_EQ(alloc.stats().reserved_bytes, 1024u);  // cached, not returned
  EXPECT_EQ(alloc.cached_bytes(), 1024u);

  void* q = alloc.allocate(1000);
  EXPECT_EQ(q, p);  // same size class: the cached block
  void* big = alloc.allocate(3u << 20);
  s = alloc.stats();
  EXPECT_EQ(s.bytes_in_use, 1000u + (3u << 20));
  EXPECT_EQ(s.peak_bytes, s.bytes_in_use);
  EXPECT_EQ(s.reserved_bytes, 1024u + (4u << 20));
  EXPECT_EQ(s.num_allocs, 3u);

  alloc.deallocate(big, 3u << 20);
  EXPECT_EQ(alloc.stats().peak_bytes, 1000u + (3u << 20));
  alloc.empty_cache();
  EXPECT_EQ(alloc.stats().reserved_bytes, 1024u);  // only the live block
  EXPECT_EQ(alloc.cached_bytes(), 0u);
  alloc.deallocate(q, 1000);
}

TEST(CudaRuntime, OutOfMemoryNamesTheRequest) {
  REQUIRE_CUDA_DEVICE();
  cuda::CudaCachingAllocator alloc(0);
  try {
    alloc.allocate(size_t{1} << 50);  // 1 PiB
    FAIL() << "expected OutOfMemoryError";
  } catch (const OutOfMemoryError& e) {
    std::string msg = e.what();
    EXPECT_TRUE(contains(msg, std::to_string(size_t{1} << 50))) << msg;
    EXPECT_TRUE(contains(msg, "free of")) << msg;
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  void* p = alloc.allocate(64);  // still usable
  alloc.deallocate(p, 64);
}

TEST(CudaRuntime, TensorCopyRoundTrip) {
  REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(12345);
  for (float& v : values) v = dist(rng);
  Tensor host = Tensor::from_vector(Shape({5, 2469}), values);
  Tensor dev = host.to(Device::cuda());
  EXPECT_EQ(dev.device(), Device::cuda(0));
  EXPECT_EQ(dev.shape(), host.shape());
  Tensor dev2 = dev.clone();  // device to device
  EXPECT_FALSE(dev2.same_storage(dev));
  EXPECT_EQ(dev2.to_vector<float>(), values);
  EXPECT_EQ(dev.to(Device::cpu()).to_vector<float>(), values);
}

// Stream b copies what stream a wrote, after waiting for an event a recorded behind
// its (slow, 64 MiB) upload. Without the wait b would read the zeros that were there.
TEST(CudaRuntime, CrossStreamEventOrdering) {
  REQUIRE_CUDA_DEVICE();
  cuda::CudaBackend& b = gpu();
  const size_t n = size_t{16} << 20, bytes = n * sizeof(uint32_t);
  cuda::PinnedBuffer src(bytes), dst(bytes);
  auto* s = static_cast<uint32_t*>(src.data());
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<uint32_t>(i * 2654435761u + 1);
  std::memset(dst.data(), 0, bytes);
  DeviceBuffer a_buf(b.allocator(), bytes), b_buf(b.allocator(), bytes);
  DAGRAD_CUDA_CHECK(cudaMemset(a_buf.ptr, 0, bytes));
  DAGRAD_CUDA_CHECK(cudaMemset(b_buf.ptr, 0, bytes));
  DAGRAD_CUDA_CHECK(cudaDeviceSynchronize());

  auto sa = b.create_stream(0), sb = b.create_stream(1);
  auto ev = b.create_event();
  b.copy(a_buf.ptr, Device::cuda(), src.data(), Device::cpu(), bytes, sa.get());
  sa->record(*ev);
  sb->wait(*ev);
  b.copy(b_buf.ptr, Device::cuda(), a_buf.ptr, Device::cuda(), bytes, sb.get());
  b.copy(dst.data(), Device::cpu(), b_buf.ptr, Device::cuda(), bytes, sb.get());
  sb->synchronize();
  EXPECT_EQ(std::memcmp(dst.data(), src.data(), bytes), 0);
  sa->synchronize();
  ev->synchronize();
}

TEST(CudaRuntime, StreamKeepsErrorsAndRethrowsThem) {
  REQUIRE_CUDA_DEVICE();
  auto s = gpu().create_stream(0);
  bool ran_after_error = false;
  s->submit([] { throw ValueError("boom"); });
  s->submit([&] { ran_after_error = true; });  // skipped: the stream is poisoned
  EXPECT_THROW(s->synchronize(), ValueError);
  EXPECT_FALSE(ran_after_error);
  EXPECT_NO_THROW(s->synchronize());  // the error was reported once

  // A failing CUDA call inside a task is kept with its name.
  auto* cs = static_cast<cuda::CudaStream*>(s.get());
  int host = 0;
  s->submit([&] {
    DAGRAD_CUDA_CHECK(cudaMemcpyAsync(&host, &host, sizeof host, static_cast<cudaMemcpyKind>(42), cs->handle()));
  });
  try {
    s->synchronize();
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_TRUE(contains(e.what(), "cudaMemcpyAsync")) << e.what();
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  s->submit([&] { ran_after_error = true; });
  s->synchronize();
  EXPECT_TRUE(ran_after_error);
}

TEST(CudaRuntime, PinnedBufferMoves) {
  REQUIRE_CUDA_DEVICE();
  cuda::PinnedBuffer a(4096);
  ASSERT_NE(a.data(), nullptr);
  void* p = a.data();
  cuda::PinnedBuffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_EQ(a.data(), nullptr);
  cudaPointerAttributes attr{};
  DAGRAD_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  EXPECT_EQ(attr.type, cudaMemoryTypeHost);
}
