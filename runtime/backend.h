// The small interface every device implements (ggml-backend style): memory, copies,
// streams and events. It knows no op: kernels are looked up in the op registry by
// the device type this backend reports.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "runtime/allocator.h"
#include "runtime/device.h"
#include "runtime/stream.h"

namespace dagrad {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;  // "cpu (2 threads)", "cuda:0 (NVIDIA H100 ...)"
  virtual Allocator& allocator() = 0;
  // Copies bytes between this backend's memory and the host (or within the device).
  // With a stream the copy is ordered on it (and may be asynchronous); without, it is
  // complete on return.
  virtual void copy(void* dst, Device dst_device, const void* src, Device src_device,
                    size_t bytes, Stream* stream = nullptr) = 0;
  virtual std::unique_ptr<Stream> create_stream(int index) = 0;
  virtual std::unique_ptr<Event> create_event() = 0;
  virtual void synchronize() = 0;
};

// The backend for a device; the CPU always exists. Throws DeviceError with a one-line
// reason when CUDA is not built in or no GPU is present.
Backend& backend_for(Device device);

// True when this build has CUDA and at least one device answers.
bool cuda_available();
int cuda_device_count();  // 0 without CUDA or without a device
// Why cuda_available() is false ("built without CUDA", "no CUDA driver ..."); empty if true.
std::string cuda_unavailable_reason();

}  // namespace dagrad
