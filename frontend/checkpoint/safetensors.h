// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), so
// PyTorch, JAX and the `safetensors` Python package read dagrad's weights and back:
//
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   JSON: {"__metadata__": {"k": "v", ...},
//                    "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
//             padded with spaces so the data starts at a multiple of 8
//   rest      the tensors' bytes, little-endian, row-major, packed back to back; offsets are
//             relative to the start of this section and cover it exactly
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>

#include "runtime/tensor.h"

namespace dagrad {

// name -> tensor; the same type as TensorMap of ops/interpreter.h.
using NamedTensors = std::unordered_map<std::string, Tensor>;
// Free-form string pairs kept in "__metadata__" (model name, step, ...).
using CheckpointMetadata = std::map<std::string, std::string>;

struct Checkpoint {
  NamedTensors tensors;
  CheckpointMetadata metadata;
};

// Writes tensors of every dtype (any device) under safetensors' names: F32, F64, BF16, F16,
// BOOL, I8, I16, I32, I64, U8, U16, U32, U64 (the same bytes: bfloat16 and float16 as
// their 16-bit patterns, bool as one byte 0 or 1). Tensors are laid out by decreasing element size, then by name (the order of
// the reference implementation), which keeps every tensor aligned to its element size.
// Atomic: the bytes go to `<path>.tmp`, are fsynced and renamed over `path`; on failure the
// temp file is removed, an existing checkpoint at `path` is left untouched, and an IoError
// names the path and the system's reason.
void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                      const CheckpointMetadata& metadata = {});

// Reads a checkpoint into CPU tensors after validating all of it: the header length against
// the file size, the JSON, each tensor's dtype (any of the names above; a BOOL byte other
// than 0 reads as true), shape and data_offsets (size agreeing with
// shape and dtype, inside the data section) and that the tensors cover the data section
// exactly, without overlaps or gaps. Every problem is an IoError naming the file and the
// tensor.
Checkpoint load_safetensors(const std::filesystem::path& path);

}  // namespace dagrad
