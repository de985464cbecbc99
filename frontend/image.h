// Reading single images for `dagrad predict`: 8-bit PNG (grey, grey+alpha, RGB, RGBA;
// non-interlaced) and binary PGM. Decoded to grey uint8 [H, W] (colour averaged).
#pragma once
#include <filesystem>

#include "runtime/tensor.h"

namespace dagrad {

// Throws IoError naming the file and the problem (not a PNG, unsupported bit depth,
// interlacing, truncated or corrupt data).
Tensor read_grey_image(const std::filesystem::path& path);

}  // namespace dagrad
