#include "runtime/cpu/cpu_backend.h"

#include <cstring>
#include <utility>

#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace dagrad {

// ---- CpuEvent ----

uint64_t CpuEvent::mark_recorded() {
  std::lock_guard lock(mutex_);
  return ++recorded_;
}

void CpuEvent::mark_reached(uint64_t point) {
  // Notify under the lock: a waiter that sees `reached_` may destroy the event at once
  // (Event::synchronize, then delete), so cv_ must not be touched after the unlock.
  std::lock_guard lock(mutex_);
  reached_ = std::max(reached_, point);
  cv_.notify_all();
}

void CpuEvent::wait_for(uint64_t point) {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return reached_ >= point; });
}

uint64_t CpuEvent::recorded_point() {
  std::lock_guard lock(mutex_);
  return recorded_;
}

void CpuEvent::synchronize() { wait_for(recorded_point()); }

// ---- CpuStream ----

CpuStream::CpuStream(int index) : index_(index), worker_([this] { loop(); }) {}

CpuStream::~CpuStream() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void CpuStream::push(Item item) {
  {
    std::lock_guard lock(mutex_);
    if (count_ == ring_.size()) {
      std::vector<Item> bigger(ring_.size() * 2);
      for (size_t i = 0; i < count_; ++i) bigger[i] = std::move(ring_[(head_ + i) % ring_.size()]);
      ring_ = std::move(bigger);
      head_ = 0;
    }
    ring_[(head_ + count_) % ring_.size()] = std::move(item);
    ++count_;
  }
  cv_.notify_one();
}

void CpuStream::submit(std::function<void()> task) { push({std::move(task), false}); }

void CpuStream::record(Event& event) {
  auto* e = dynamic_cast<CpuEvent*>(&event);
  if (!e) throw DeviceError("a CPU stream can only record a CPU event");
  uint64_t point = e->mark_recorded();
  push({[e, point] { e->mark_reached(point); }, true});
}

void CpuStream::wait(Event& event) {
  auto* e = dynamic_cast<CpuEvent*>(&event);
  if (!e) throw DeviceError("a CPU stream can only wait for a CPU event");
  // Waits for the latest record submitted before this wait, as cudaStreamWaitEvent does.
  push({[e, target = e->recorded_point()] { e->wait_for(target); }, true});
}

void CpuStream::synchronize() {
  std::unique_lock lock(mutex_);
  idle_cv_.wait(lock, [&] { return queue_empty() && !busy_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void CpuStream::loop() {
  for (;;) {
    Item item;
    bool skip;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_empty(); });
      if (queue_empty()) return;  // stopping with nothing left
      item = std::move(ring_[head_]);
      ring_[head_].fn = nullptr;  // drop the task's captures now, not when the slot is reused
      head_ = (head_ + 1) % ring_.size();
      --count_;
      busy_ = true;
      skip = error_ && !item.always_run;
    }
    if (!skip) {
      try {
        item.fn();
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    bool idle;
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
      idle = queue_empty();
    }
    // synchronize() waits for an empty queue: waking it after every task would take a
    // core from the next one.
    if (idle) idle_cv_.notify_all();
  }
}

// ---- CpuBackend ----

std::string CpuBackend::name() const {
  return str_cat("cpu (", num_threads(), " threads)");
}

void CpuBackend::copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes,
                      Stream* stream) {
  if (!dst_device.is_cpu() || !src_device.is_cpu())
    throw DeviceError("the CPU backend copies only between CPU buffers");
  if (stream) {
    stream->submit([=] { std::memcpy(dst, src, bytes); });
  } else if (bytes) {
    std::memcpy(dst, src, bytes);
  }
}

std::unique_ptr<Stream> CpuBackend::create_stream(int index) { return std::make_unique<CpuStream>(index); }
std::unique_ptr<Event> CpuBackend::create_event() { return std::make_unique<CpuEvent>(); }

CpuBackend& cpu_backend() {
  static CpuBackend* backend = new CpuBackend;
  return *backend;
}

}  // namespace dagrad
