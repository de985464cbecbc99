// The CUDA backend's plumbing: streams (with their cuBLAS handles), events, the caching
// device allocator, pinned host buffers and the Backend itself. Host code only: kernels
// live with the ops. Everything here is RAII; handle classes cannot be copied.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/backend.h"

namespace dagrad::cuda {

// Makes `device` current for a scope and restores the previous one. CUDA's current
// device is per host thread, and streams, events and allocations bind to it.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);  // throws DeviceError if the device cannot be made current
  ~DeviceGuard();                    // never throws
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;  // -1: the device was already current, nothing to restore
};

// A cudaEvent_t. Events skip timing by default (cheaper record and wait); the profiler
// asks for timing events and reads them with elapsed_ms.
class CudaEvent final : public Event {
 public:
  explicit CudaEvent(int device, bool timing = false);
  ~CudaEvent() override;
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;

  void synchronize() override;  // returns at once if never recorded, as on the CPU
  cudaEvent_t handle() const { return event_; }
  int device() const { return device_; }
  bool timing() const { return timing_; }

  // Milliseconds between two recorded, completed timing events.
  static float elapsed_ms(const CudaEvent& start, const CudaEvent& end);

 private:
  int device_;
  bool timing_;
  cudaEvent_t event_ = nullptr;
};

// A non-blocking cudaStream_t (it never synchronises with the legacy default stream)
// and the cuBLAS handle bound to it, created on first use.
//
// workspace(bytes) is scratch device memory for the kernels of this stream only (im2col
// columns, reduction partials). Work on one stream runs in order, so one buffer serves
// every kernel in turn; it grows, never shrinks, and stays valid until the next call.
// Growing waits for the stream (the old buffer may still be in use), so a warm-up run
// must precede a CUDA Graph capture.
//
// submit(task) runs the task at once on the calling thread, with this stream's device
// current; the task launches asynchronous work onto handle(). A task that throws (or
// leaves a launch error behind) poisons the stream as on the CPU: later tasks are
// skipped, records and waits still happen, and synchronize() rethrows the first error.
class CudaStream final : public Stream {
 public:
  // `workspace_allocator` serves workspace(); null: cudaMalloc directly.
  CudaStream(int device, int index, Allocator* workspace_allocator = nullptr);
  ~CudaStream() override;
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;

  Device device() const override { return Device::cuda(device_); }
  int index() const override { return index_; }
  void submit(std::function<void()> task) override;
  void record(Event& event) override;
  void wait(Event& event) override;
  void synchronize() override;
  void* native_handle() const override { return stream_; }

  cudaStream_t handle() const { return stream_; }
  cublasHandle_t cublas();
  void* workspace(size_t bytes);
  size_t workspace_bytes() const { return workspace_bytes_; }

  // Copies `bytes` of pageable host memory to the device in stream order, through a
  // pinned staging buffer of this stream (grown as needed): the DMA runs at full speed
  // and asynchronously, and `src` may be reused on return. (The buffer is reused once
  // its previous copy has landed.)
  void copy_from_host(void* dst, const void* src, size_t bytes);

  // CUDA Graphs (scheduler/cuda_graph.h). While the stream is being captured, kernels
  // that depend on the run step (dropout) read it from replay_step(): a device slot,
  // refreshed by a copy enqueued (captured) with each call from a pinned host slot that
  // set_replay_step writes before every launch of the graph.
  bool capturing() const;
  const uint64_t* replay_step();
  void set_replay_step(uint64_t step);

 private:
  void keep_error(std::exception_ptr error);
  void release_workspace();

  int device_;
  int index_;
  cudaStream_t stream_ = nullptr;
  Allocator* workspace_allocator_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::once_flag cublas_once_;
  cublasHandle_t cublas_ = nullptr;
  void* cublas_workspace_ = nullptr;
  void* pinned_ = nullptr;  // copy_from_host's staging buffer
  size_t pinned_bytes_ = 0;
  cudaEvent_t pinned_done_ = nullptr;  // its last copy
  uint64_t* step_host_ = nullptr;      // pinned
  uint64_t* step_device_ = nullptr;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

// Device memory with a cache: sizes are rounded to size classes (512 B steps up to
// 1 MiB, 2 MiB steps above), and a freed block goes to its class's free list, from
// which the next request of that class is served without cudaMalloc/cudaFree (both
// are slow, and cudaFree synchronises the whole device).
//
// The cache is not stream-aware: a block is reusable as soon as it is deallocated, so
// memory still read or written by pending work must not be freed before that work is
// ordered before its next user (the executor frees only after synchronising).
//
// stats(): bytes_in_use counts requested bytes (as the CPU allocator does),
// reserved_bytes the block sizes held from cudaMalloc, cached blocks included.
class CudaCachingAllocator final : public Allocator {
 public:
  static constexpr size_t kSmallRound = 512;
  static constexpr size_t kSmallLimit = size_t{1} << 20;  // requests up to here are "small"
  static constexpr size_t kLargeRound = size_t{2} << 20;

  explicit CudaCachingAllocator(int device) : device_(device) {}
  ~CudaCachingAllocator() override;  // returns every block, live or cached, to CUDA
  CudaCachingAllocator(const CudaCachingAllocator&) = delete;
  CudaCachingAllocator& operator=(const CudaCachingAllocator&) = delete;

  // Throws OutOfMemoryError (after emptying the cache and retrying once) when the
  // device is full.
  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  Device device() const override { return Device::cuda(device_); }
  AllocatorStats stats() const override;

  // Returns the cached (free) blocks to CUDA; blocks in use are kept.
  void empty_cache();
  size_t cached_bytes() const;
  static size_t round_size(size_t bytes);

 private:
  struct Block {
    size_t size;       // the size class, as cudaMalloc'ed
    size_t requested;  // what the caller asked for
  };
  void release_cached_locked();

  int device_;
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> cached blocks
  std::unordered_map<void*, Block> live_;
  AllocatorStats stats_;
};

// Page-locked host memory (cudaMallocHost): host-to-device copies from it are truly
// asynchronous and run at full bus speed. Movable, not copyable.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device);
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  Device device() const override { return Device::cuda(device_); }
  std::string name() const override { return name_; }  // "cuda:0 (NVIDIA H100 80GB HBM3)"
  Allocator& allocator() override { return allocator_; }
  // Host<->device and device<->device (peer copies included). With a stream (a
  // CudaStream) the copy is submitted to it with cudaMemcpyAsync (from pageable host
  // memory through the stream's pinned staging buffer, so the source may be reused at
  // once); without, it uses cudaMemcpy on the legacy default stream and is complete on
  // return.
  void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes,
            Stream* stream = nullptr) override;
  std::unique_ptr<Stream> create_stream(int index) override;
  std::unique_ptr<Event> create_event() override;
  std::unique_ptr<CudaEvent> create_timing_event();
  void synchronize() override;  // the whole device

  CudaCachingAllocator& caching_allocator() { return allocator_; }
  const cudaDeviceProp& properties() const { return props_; }

 private:
  int device_;
  cudaDeviceProp props_{};
  std::string name_;
  CudaCachingAllocator allocator_;
};

// The CUDA stream behind `stream`; throws InternalError when it is null or not a
// CudaStream (a CUDA kernel was handed the wrong stream).
CudaStream& cuda_stream(Stream* stream);

}  // namespace dagrad::cuda
