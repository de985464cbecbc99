#include "runtime/cuda/cuda_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/cuda_entry.h"
#include "runtime/error.h"

namespace dagrad::cuda {

namespace {

// "1.5 MiB": for the messages a user reads.
std::string format_bytes(size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

CudaEvent& as_cuda_event(Event& event) {
  auto* e = dynamic_cast<CudaEvent*>(&event);
  if (!e) throw DeviceError("a CUDA stream can only record or wait for a CUDA event");
  return *e;
}

}  // namespace

// ---- DeviceGuard ----

DeviceGuard::DeviceGuard(int device) {
  int current = -1;
  DAGRAD_CUDA_CHECK(cudaGetDevice(&current));
  if (current != device) {
    DAGRAD_CUDA_CHECK(cudaSetDevice(device));
    previous_ = current;
  }
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) (void)cudaSetDevice(previous_);
}

// ---- CudaEvent ----

CudaEvent::CudaEvent(int device, bool timing) : device_(device), timing_(timing) {
  DeviceGuard guard(device);
  DAGRAD_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

// Destroying handles needs no current device; errors are ignored (destructors never throw).
CudaEvent::~CudaEvent() { (void)cudaEventDestroy(event_); }

void CudaEvent::synchronize() { DAGRAD_CUDA_CHECK(cudaEventSynchronize(event_)); }

float CudaEvent::elapsed_ms(const CudaEvent& start, const CudaEvent& end) {
  if (!start.timing_ || !end.timing_)
    throw DeviceError("elapsed_ms needs timing events (CudaBackend::create_timing_event)");
  float ms = 0;
  DAGRAD_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, end.event_));
  return ms;
}

// ---- CudaStream ----

CudaStream::CudaStream(int device, int index, Allocator* workspace_allocator)
    : device_(device), index_(index), workspace_allocator_(workspace_allocator) {
  DeviceGuard guard(device);
  DAGRAD_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

CudaStream::~CudaStream() {
  // The workspace may still be read by pending kernels: wait before handing it back.
  if (workspace_) {
    (void)cudaStreamSynchronize(stream_);
    release_workspace();
  }
  // cublasDestroy waits for the device; cudaStreamDestroy returns at once and CUDA frees
  // the stream when its pending work is done.
  if (cublas_) (void)cublas_api().destroy(cublas_);
  if (cublas_workspace_) (void)cudaFree(cublas_workspace_);
  if (pinned_) (void)cudaFreeHost(pinned_);
  if (pinned_done_) (void)cudaEventDestroy(pinned_done_);
  if (step_host_) (void)cudaFreeHost(step_host_);
  if (step_device_) (void)cudaFree(step_device_);
  (void)cudaStreamDestroy(stream_);
}

void CudaStream::copy_from_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  DeviceGuard guard(device_);
  if (!pinned_done_) DAGRAD_CUDA_CHECK(cudaEventCreateWithFlags(&pinned_done_, cudaEventDisableTiming));
  DAGRAD_CUDA_CHECK(cudaEventSynchronize(pinned_done_));  // the previous copy has left the buffer
  if (pinned_bytes_ < bytes) {
    if (pinned_) DAGRAD_CUDA_CHECK(cudaFreeHost(pinned_));
    pinned_ = nullptr;
    pinned_bytes_ = 0;
    const size_t want = std::max(bytes, size_t{1} << 20);
    DAGRAD_CUDA_CHECK(cudaMallocHost(&pinned_, want));
    pinned_bytes_ = want;
  }
  std::memcpy(pinned_, src, bytes);
  DAGRAD_CUDA_CHECK(cudaMemcpyAsync(dst, pinned_, bytes, cudaMemcpyHostToDevice, stream_));
  DAGRAD_CUDA_CHECK(cudaEventRecord(pinned_done_, stream_));
}

bool CudaStream::capturing() const {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  DAGRAD_CUDA_CHECK(cudaStreamIsCapturing(stream_, &status));
  return status != cudaStreamCaptureStatusNone;
}

void CudaStream::set_replay_step(uint64_t step) {
  if (!step_host_) {
    DeviceGuard guard(device_);
    DAGRAD_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&step_host_), sizeof(uint64_t)));
    DAGRAD_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&step_device_), sizeof(uint64_t)));
  }
  *step_host_ = step;
}

const uint64_t* CudaStream::replay_step() {
  if (!step_host_) throw InternalError("CudaStream::replay_step before set_replay_step");
  DAGRAD_CUDA_CHECK(cudaMemcpyAsync(step_device_, step_host_, sizeof(uint64_t), cudaMemcpyHostToDevice, stream_));
  return step_device_;
}

void CudaStream::release_workspace() {
  if (!workspace_) return;
  if (workspace_allocator_) {
    workspace_allocator_->deallocate(workspace_, workspace_bytes_);
  } else {
    DeviceGuard guard(device_);
    (void)cudaFree(workspace_);
  }
  workspace_ = nullptr;
  workspace_bytes_ = 0;
}

void* CudaStream::workspace(size_t bytes) {
  if (bytes <= workspace_bytes_) return workspace_;
  // Kernels queued earlier may still use the old buffer; once it is back in the cache
  // another stream could be handed it.
  DAGRAD_CUDA_CHECK(cudaStreamSynchronize(stream_));
  release_workspace();
  // Some slack, so that a slightly larger request does not grow it again.
  const size_t want = std::max(bytes + bytes / 4, size_t{1} << 20);
  if (workspace_allocator_) {
    workspace_ = workspace_allocator_->allocate(want);
  } else {
    DeviceGuard guard(device_);
    DAGRAD_CUDA_CHECK(cudaMalloc(&workspace_, want));
  }
  workspace_bytes_ = want;
  return workspace_;
}

cublasHandle_t CudaStream::cublas() {
  // Lazily: creating a handle costs time and device memory, and most streams never
  // run a GEMM. call_once retries if creation throws.
  std::call_once(cublas_once_, [this] {
    DeviceGuard guard(device_);
    const CublasApi& api = cublas_api();
    cublasHandle_t h = nullptr;
    DAGRAD_CUBLAS_CHECK(api.create(&h));
    // A workspace of its own (the size NVIDIA recommends for Hopper), so that cuBLAS
    // never allocates while a CUDA Graph is being captured.
    constexpr size_t kCublasWorkspace = size_t{32} << 20;
    void* ws = nullptr;
    cudaError_t err = cudaMalloc(&ws, kCublasWorkspace);
    cublasStatus_t st = err == cudaSuccess ? api.set_stream(h, stream_) : CUBLAS_STATUS_ALLOC_FAILED;
    if (st == CUBLAS_STATUS_SUCCESS) st = api.set_workspace(h, ws, kCublasWorkspace);
    if (st != CUBLAS_STATUS_SUCCESS) {
      (void)api.destroy(h);
      if (ws) (void)cudaFree(ws);
      (void)cudaGetLastError();
      DAGRAD_CUBLAS_CHECK(st);
    }
    cublas_ = h;
    cublas_workspace_ = ws;
  });
  return cublas_;
}

void CudaStream::keep_error(std::exception_ptr error) {
  std::lock_guard lock(error_mutex_);
  if (!error_) error_ = std::move(error);
}

void CudaStream::submit(std::function<void()> task) {
  {
    std::lock_guard lock(error_mutex_);
    if (error_) return;  // poisoned: skip, synchronize() reports the first error
  }
  try {
    DeviceGuard guard(device_);
    task();
    // A kernel launch with a bad configuration fails silently until someone asks:
    // ask here, so the error is charged to the task that caused it.
    DAGRAD_CUDA_CHECK(cudaGetLastError());
  } catch (...) {
    keep_error(std::current_exception());
  }
}

void CudaStream::record(Event& event) {
  DAGRAD_CUDA_CHECK(cudaEventRecord(as_cuda_event(event).handle(), stream_));
}

void CudaStream::wait(Event& event) {
  DAGRAD_CUDA_CHECK(cudaStreamWaitEvent(stream_, as_cuda_event(event).handle(), 0));
}

void CudaStream::synchronize() {
  // Wait first, so all work has finished even when a task's error is rethrown.
  cudaError_t err = cudaStreamSynchronize(stream_);
  {
    std::lock_guard lock(error_mutex_);
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }
  // An error from the asynchronous work itself.
  if (err != cudaSuccess) detail::throw_cuda_error(err, "cudaStreamSynchronize(stream)", __FILE__, __LINE__);
}

// ---- CudaCachingAllocator ----

size_t CudaCachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;  // distinct, non-null pointers even for empty tensors
  size_t step = bytes <= kSmallLimit ? kSmallRound : kLargeRound;
  return (bytes + step - 1) / step * step;
}

CudaCachingAllocator::~CudaCachingAllocator() {
  try {
    DeviceGuard guard(device_);
    for (auto& [ptr, block] : live_) (void)cudaFree(ptr);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) (void)cudaFree(p);
  } catch (const Error&) {
    // The device cannot be made current (context lost): the memory is gone with it.
  }
}

void* CudaCachingAllocator::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  std::lock_guard lock(mutex_);
  void* ptr = nullptr;
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
  } else {
    DeviceGuard guard(device_);
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation) {
      // The cache may hold enough memory in other size classes: give it back and retry.
      (void)cudaGetLastError();
      release_cached_locked();
      err = cudaMalloc(&ptr, size);
    }
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      (void)cudaMemGetInfo(&free_bytes, &total_bytes);
      throw OutOfMemoryError(str_cat(
          "CUDA out of memory on cuda:", device_, ": tried to allocate ", format_bytes(bytes), " (", bytes,
          " bytes); dagrad has ", format_bytes(stats_.reserved_bytes), " reserved (",
          format_bytes(stats_.bytes_in_use), " in use) and the device has ", format_bytes(free_bytes),
          " free of ", format_bytes(total_bytes), ". Reduce the batch size or free tensors."));
    }
    if (err != cudaSuccess) detail::throw_cuda_error(err, "cudaMalloc(&ptr, size)", __FILE__, __LINE__);
    stats_.reserved_bytes += size;
  }
  live_.emplace(ptr, Block{size, bytes});
  stats_.bytes_in_use += bytes;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes_in_use);
  ++stats_.num_allocs;
  return ptr;
}

void CudaCachingAllocator::deallocate(void* ptr, size_t /*bytes*/) {
  if (!ptr) return;
  std::lock_guard lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) {
    // A caller bug, but deallocate runs in destructors, where throwing would terminate.
    std::fprintf(stderr, "dagrad: CudaCachingAllocator::deallocate of unknown pointer %p ignored\n", ptr);
    return;
  }
  stats_.bytes_in_use -= it->second.requested;
  free_[it->second.size].push_back(ptr);
  live_.erase(it);
}

AllocatorStats CudaCachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

size_t CudaCachingAllocator::cached_bytes() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (auto& [size, blocks] : free_) n += size * blocks.size();
  return n;
}

void CudaCachingAllocator::empty_cache() {
  std::lock_guard lock(mutex_);
  DeviceGuard guard(device_);
  release_cached_locked();
}

void CudaCachingAllocator::release_cached_locked() {
  for (auto& [size, blocks] : free_) {
    for (void* p : blocks) {
      DAGRAD_CUDA_CHECK(cudaFree(p));
      stats_.reserved_bytes -= size;
    }
    blocks.clear();
  }
  free_.clear();
}

// ---- PinnedBuffer ----

PinnedBuffer::PinnedBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  cudaError_t err = cudaMallocHost(&data_, bytes);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    throw OutOfMemoryError(str_cat("pinned host allocation of ", format_bytes(bytes), " (", bytes,
                                   " bytes) failed"));
  }
  if (err != cudaSuccess) detail::throw_cuda_error(err, "cudaMallocHost(&data_, bytes)", __FILE__, __LINE__);
}

PinnedBuffer::~PinnedBuffer() {
  if (data_) (void)cudaFreeHost(data_);
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) (void)cudaFreeHost(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

// ---- CudaBackend ----

CudaBackend::CudaBackend(int device) : device_(device), allocator_(device) {
  DAGRAD_CUDA_CHECK(cudaGetDeviceProperties(&props_, device));
  name_ = str_cat("cuda:", device, " (", props_.name, ")");
}

void CudaBackend::copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes,
                       Stream* stream) {
  const bool dst_gpu = !dst_device.is_cpu(), src_gpu = !src_device.is_cpu();
  if (!(dst_gpu && dst_device.index == device_) && !(src_gpu && src_device.index == device_))
    throw DeviceError(str_cat("the backend of cuda:", device_, " was asked to copy between devices it does not own"));
  CudaStream* cuda_stream = nullptr;
  if (stream) {
    cuda_stream = dynamic_cast<CudaStream*>(stream);
    if (!cuda_stream) throw DeviceError("CudaBackend::copy needs a CUDA stream");
  }
  if (bytes == 0) return;

  if (dst_gpu && src_gpu && dst_device.index != src_device.index) {  // peer copy
    if (cuda_stream) {
      cuda_stream->submit([=] {
        DAGRAD_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, bytes,
                                              cuda_stream->handle()));
      });
    } else {
      DAGRAD_CUDA_CHECK(cudaMemcpyPeer(dst, dst_device.index, src, src_device.index, bytes));
      // cudaMemcpyPeer returns before the copy is done; wait on both devices.
      for (int d : {src_device.index, dst_device.index}) {
        DeviceGuard guard(d);
        DAGRAD_CUDA_CHECK(cudaDeviceSynchronize());
      }
    }
    return;
  }
  const cudaMemcpyKind kind = dst_gpu ? (src_gpu ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                      : cudaMemcpyDeviceToHost;
  if (cuda_stream) {
    bool pageable_source = false;
    if (kind == cudaMemcpyHostToDevice) {
      cudaPointerAttributes attr{};
      DAGRAD_CUDA_CHECK(cudaPointerGetAttributes(&attr, src));
      pageable_source = attr.type == cudaMemoryTypeUnregistered;
    }
    cuda_stream->submit([=] {
      if (pageable_source)
        cuda_stream->copy_from_host(dst, src, bytes);
      else
        DAGRAD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, cuda_stream->handle()));
    });
    return;
  }
  DeviceGuard guard(device_);
  DAGRAD_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
  // cudaMemcpy may return before the data has landed: device to device it does not wait
  // at all, and from pageable host memory it returns once the data is staged. Our
  // streams are non-blocking (not ordered after the legacy default stream that cudaMemcpy
  // uses), and the contract says a copy without a stream is complete on return: wait.
  if (kind != cudaMemcpyDeviceToHost) DAGRAD_CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy));
}

std::unique_ptr<Stream> CudaBackend::create_stream(int index) {
  return std::make_unique<CudaStream>(device_, index, &allocator_);
}

CudaStream& cuda_stream(Stream* stream) {
  auto* s = dynamic_cast<CudaStream*>(stream);
  if (!s) throw InternalError("a CUDA kernel ran without a CUDA stream (KernelContext::stream)");
  return *s;
}

std::unique_ptr<Event> CudaBackend::create_event() { return std::make_unique<CudaEvent>(device_, false); }

std::unique_ptr<CudaEvent> CudaBackend::create_timing_event() {
  return std::make_unique<CudaEvent>(device_, true);
}

void CudaBackend::synchronize() {
  DeviceGuard guard(device_);
  DAGRAD_CUDA_CHECK(cudaDeviceSynchronize());
}

// ---- cuda_entry.h ----

namespace {

struct Probe {
  int count = 0;
  std::string reason;  // empty when count > 0
};

// Asked once: the driver and the set of devices do not change while the process runs.
const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
      (void)cudaGetLastError();  // without a driver the call leaves an error behind
      r.reason = err != cudaSuccess
                     ? str_cat("no CUDA device available: cudaGetDeviceCount returned ", cudaGetErrorName(err),
                               " (", cudaGetErrorString(err), ")")
                     : std::string("no CUDA device available: cudaGetDeviceCount found 0 devices");
      return r;
    }
    r.count = n;
    return r;
  }();
  return p;
}

}  // namespace

bool built_with_cuda() { return true; }
int device_count() { return probe().count; }
std::string unavailable_reason() { return probe().reason; }

Backend& backend(int index) {
  const Probe& p = probe();
  if (p.count == 0) throw DeviceError(p.reason);
  if (index < 0 || index >= p.count)
    throw DeviceError(str_cat("cuda:", index, " does not exist: this machine has ", p.count, " CUDA device",
                              p.count == 1 ? "" : "s", " (cuda:0", p.count > 1 ? str_cat("..cuda:", p.count - 1) : "",
                              ")"));
  static std::mutex mutex;
  // Never destroyed: tensors freed during static destruction still reach their allocator,
  // and tearing CUDA down at exit races the runtime's own teardown.
  static std::vector<CudaBackend*> backends(p.count, nullptr);
  std::lock_guard lock(mutex);
  if (!backends[index]) backends[index] = new CudaBackend(index);
  return *backends[index];
}

}  // namespace dagrad::cuda
