// Inputs that once got past the IDX and safetensors readers' checks (found by review
// while writing the fuzz targets in fuzz/, and by scripts/fuzz.sh): each must now be a
// clear IoError.
#include <gtest/gtest.h>

#include "frontend/checkpoint/safetensors.h"
#include "frontend/data/idx.h"
#include "test_files.h"

namespace dagrad {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;

std::vector<uint8_t> big_endian(std::initializer_list<uint32_t> words) {
  std::vector<uint8_t> out;
  for (uint32_t v : words)
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
  return out;
}

// 8-byte little-endian header length, the header, then `data_bytes` zero bytes.
void write_safetensors(const std::filesystem::path& p, const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> bytes(8);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data_bytes, 0);
  write_bytes(p, bytes);
}

// Zero images of 4294967295x4294967295: no bytes at all, but a shape whose strides
// overflow int64.
TEST(ParserRegression, IdxEmptyCountWithHugeItems) {
  TempDir dir;
  write_bytes(dir / "images", big_endian({0x803, 0, 0xFFFFFFFF, 0xFFFFFFFF}));
  expect_error<IoError>([&] { read_idx(dir / "images", IdxKind::images); },
                        {"images: header declares 0 images of 4294967295x4294967295: one item alone would be more "
                         "than 64 GiB; the header is corrupt"});
  write_bytes(dir / "any", big_endian({0x804, 0, 0x10000, 0x10000, 0x10000}));
  expect_error<IoError>([&] { read_idx(dir / "any"); },
                        {"header declares dimensions [0,65536,65536,65536]: one item alone would be more than 64 GiB"});
  // A zero count with a plausible item size is still an empty data set.
  write_bytes(dir / "empty", big_endian({0x803, 0, 28, 28}));
  EXPECT_EQ(read_idx(dir / "empty", IdxKind::images).shape(), (Shape{0, 28, 28}));
}

// A zero size makes the tensor 0 bytes, so the size check passed, but Shape::numel
// multiplied 2^62 by 2^62 first (signed overflow, caught by UBSan).
TEST(ParserRegression, SafetensorsZeroSizedShapeWhoseOtherSizesOverflow) {
  TempDir dir;
  write_safetensors(dir / "a.safetensors",
                    R"({"w":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904,0],"data_offsets":[0,0]}})",
                    0);
  expect_error<IoError>([&] { load_safetensors(dir / "a.safetensors"); },
                        {"a.safetensors: tensor 'w': shape [4611686018427387904,4611686018427387904,0] has more than "
                         "2^62 elements (not counting zero sizes)"});
  write_safetensors(dir / "b.safetensors", R"({"w":{"dtype":"U8","shape":[0,1000000],"data_offsets":[0,0]}})", 0);
  EXPECT_EQ(load_safetensors(dir / "b.safetensors").tensors.at("w").shape(), (Shape{0, 1000000}));
}

// Found by scripts/fuzz.sh (fuzz_safetensors, crash-5217924c...): nlohmann::json throws
// out_of_range, not parse_error, for a number beyond double's range, and it escaped the
// reader as a foreign exception.
TEST(ParserRegression, SafetensorsNumberOutOfRange) {
  TempDir dir;
  write_safetensors(dir / "a.safetensors", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[41e308,4]}})", 4);
  expect_error<IoError>([&] { load_safetensors(dir / "a.safetensors"); },
                        {"a.safetensors: the header is not valid JSON: ", "number overflow parsing '41e308'"});
}

}  // namespace
}  // namespace dagrad
