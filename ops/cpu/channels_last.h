// A padded channels-last copy of a channel-major image, for kernels that vectorise over
// channels (the Winograd transforms, ops/cpu/conv_winograd*.cpp).
#pragma once
#include <algorithm>
#include <cstdint>

#include "ops/cpu/transpose.h"

namespace dagrad {

// dst[(y*wd + x)*cp + c] = src[c, y - top, x - left] (zero outside, and for channels past
// ch): hd x wd pixels of cp channels.
inline void channels_last(const float* src, int64_t ch, int64_t h, int64_t w, int64_t top, int64_t left, int64_t hd,
                          int64_t wd, int64_t cp, float* dst) {
  const bool whole = top == 0 && left == 0 && wd == w && hd == h && cp == ch;
  if (whole) {  // one transpose, no padding (the MNIST CNN's shapes)
    transpose_32bit(reinterpret_cast<const uint32_t*>(src), h * w, ch, h * w, reinterpret_cast<uint32_t*>(dst), cp);
    return;
  }
  std::fill(dst, dst + hd * wd * cp, 0.f);
  for (int64_t y = 0; y < h && y + top < hd; ++y)
    transpose_32bit(reinterpret_cast<const uint32_t*>(src + y * w), h * w, ch, std::min(w, wd - left),
                    reinterpret_cast<uint32_t*>(dst + ((y + top) * wd + left) * cp), cp);
}

}  // namespace dagrad
