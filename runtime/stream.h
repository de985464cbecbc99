// Streams are in-order queues of work on one device; an Event marks a point in one
// stream that other streams can wait for. On CUDA they wrap cudaStream_t/cudaEvent_t;
// on the CPU a stream is a worker thread and an event is a counter.
//
// The executor drives both the same way: stream.submit(task) and record/wait. On the
// CPU the task runs later on the stream's worker; on CUDA it runs at once on the calling
// thread and launches asynchronous device work onto the stream.
//
// Errors from asynchronous work are kept and rethrown by synchronize().
#pragma once
#include <functional>
#include <memory>

#include "runtime/device.h"

namespace dagrad {

class Stream;

class Event {
 public:
  virtual ~Event() = default;
  // Blocks the calling thread until the last recorded point has been reached.
  virtual void synchronize() = 0;
};

class Stream {
 public:
  virtual ~Stream() = default;
  virtual Device device() const = 0;
  virtual int index() const = 0;
  virtual void submit(std::function<void()> task) = 0;
  // Marks the current end of this stream's queue in `event`.
  virtual void record(Event& event) = 0;
  // Work submitted after this waits until `event`'s last recorded point is reached.
  virtual void wait(Event& event) = 0;
  // Blocks until all submitted work is done; rethrows the first error from it.
  virtual void synchronize() = 0;
  // Backend-specific handle (cudaStream_t on CUDA, null on the CPU).
  virtual void* native_handle() const { return nullptr; }
};

}  // namespace dagrad
