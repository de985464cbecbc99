// Reading single images for `dagrad predict`: PNG through libpng (any bit depth, grey,
// RGB or palette, with or without alpha, interlaced or not) and binary PGM (P5, maxval
// 255). Decoded to grey uint8 [H, W]: colour channels averaged, alpha ignored.
#pragma once
#include <filesystem>

#include "runtime/tensor.h"

namespace dagrad {

// Throws IoError naming the file and the problem (not a PNG or PGM, a size beyond 8192
// pixels a side, truncated or corrupt data: libpng's own message is quoted).
Tensor read_grey_image(const std::filesystem::path& path);

}  // namespace dagrad
