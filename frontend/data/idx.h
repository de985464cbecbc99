// IDX files (the format of LeCun's MNIST distribution and of Fashion-MNIST): a big-endian
// magic number 0x000008NN (0x08 = unsigned bytes, NN = number of dimensions), NN big-endian
// uint32 sizes, then the bytes in row-major order. Files may be gzip-compressed; the reader
// detects compression from the content, whatever the file is called.
#pragma once
#include <filesystem>

#include "runtime/tensor.h"

namespace dagrad {

// What the caller expects: the check of the magic number and its error message follow it.
enum class IdxKind {
  any,     // any number of dimensions >= 1
  images,  // 0x00000803: [count, rows, columns]
  labels,  // 0x00000801: [count]
};

// Reads an unsigned-byte IDX file into a uint8 CPU tensor of the declared shape. Every
// problem (missing file, bad magic, wrong dimension count, empty or implausible sizes,
// truncated or trailing data, a damaged gzip stream) is an IoError naming the file, what
// was wrong and what was expected.
Tensor read_idx(const std::filesystem::path& path, IdxKind kind = IdxKind::any);

// Writes a uint8 tensor of rank 1..255 as IDX, gzip-compressed when the path ends in ".gz".
// Atomic: the file appears complete or not at all (see write_file_atomic).
void write_idx(const std::filesystem::path& path, const Tensor& t);

}  // namespace dagrad
