// Where a CPU kernel that writes its output image by image puts image n: at its place in
// y, or, for an epilogue that consumes images (Epilogue::consumes_images), where the
// epilogue's run() on the same thread then finds it: handed_image(), the thread's image
// scratch unless the kernel hands over the planes it already holds.
#pragma once
#include <cstdint>

#include "ops/op_def.h"
#include "runtime/thread_buffer.h"

namespace dagrad {

// The calling thread's image for a consuming epilogue: planes whose rows lie row_stride
// elements apart and planes plane_stride apart; row_stride 0: contiguous planes.
struct HandedImage {
  const void* data = nullptr;
  int64_t row_stride = 0, plane_stride = 0;
};
inline HandedImage& handed_image() {
  thread_local HandedImage image;
  return image;
}

inline constexpr int kEpilogueImageTag = 40;  // the scratch's thread_buffer tag

template <class T>
T* image_destination(const Epilogue* epilogue, T* y, int64_t n, int64_t per_image) {
  if (!epilogue || !epilogue->consumes_images) return y + n * per_image;
  T* scratch = thread_buffer<T, kEpilogueImageTag>(static_cast<size_t>(per_image));
  handed_image() = {scratch, 0, 0};
  return scratch;
}

}  // namespace dagrad
