#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/backend.h"

namespace dagrad {

// A point that CPU streams can wait for: `recorded` counts record() calls made so far
// (at submission), `reached` how many of them the recording stream has executed.
class CpuEvent final : public Event {
 public:
  void synchronize() override;

  uint64_t mark_recorded();            // at submission; returns the point's number
  void mark_reached(uint64_t point);   // on the recording stream's worker
  void wait_for(uint64_t point);       // blocks until reached >= point
  uint64_t recorded_point();           // the latest point submitted

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t recorded_ = 0;
  uint64_t reached_ = 0;
};

// A worker thread running its queue in order. A task that throws poisons the stream:
// later compute tasks are skipped (records still happen, so nobody waits forever) and
// synchronize() rethrows the first error.
class CpuStream final : public Stream {
 public:
  explicit CpuStream(int index);
  ~CpuStream() override;

  Device device() const override { return Device::cpu(); }
  int index() const override { return index_; }
  void submit(std::function<void()> task) override;
  void record(Event& event) override;
  void wait(Event& event) override;
  void synchronize() override;

 private:
  struct Item {
    std::function<void()> fn;
    bool always_run;  // records/waits run even after an error
  };
  void push(Item item);
  void loop();
  bool queue_empty() const { return count_ == 0; }

  int index_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  // The queue is a ring over `ring_` that grows (doubling) only when full, so a run that
  // submits no more tasks than an earlier one allocates nothing (std::deque frees and
  // reallocates its blocks as it drains and refills).
  std::vector<Item> ring_ = std::vector<Item>(64);
  size_t head_ = 0, count_ = 0;
  bool busy_ = false;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu(); }
  std::string name() const override;
  Allocator& allocator() override { return cpu_allocator(); }
  void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes,
            Stream* stream) override;
  std::unique_ptr<Stream> create_stream(int index) override;
  std::unique_ptr<Event> create_event() override;
  void synchronize() override {}
};

CpuBackend& cpu_backend();

}  // namespace dagrad
