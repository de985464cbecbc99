// Where a CPU kernel that writes its output image by image puts image n: at its place in
// y, or, for an epilogue that consumes images (Epilogue::consumes_images), in the calling
// thread's image scratch, where the epilogue's run() on that thread reads it back.
#pragma once
#include <cstdint>

#include "ops/op_def.h"
#include "runtime/thread_buffer.h"

namespace dagrad {

inline constexpr int kEpilogueImageTag = 40;  // the scratch's thread_buffer tag

template <class T>
T* epilogue_image(int64_t per_image) {
  return thread_buffer<T, kEpilogueImageTag>(static_cast<size_t>(per_image));
}

template <class T>
T* image_destination(const Epilogue* epilogue, T* y, int64_t n, int64_t per_image) {
  return epilogue && epilogue->consumes_images ? epilogue_image<T>(per_image) : y + n * per_image;
}

}  // namespace dagrad
