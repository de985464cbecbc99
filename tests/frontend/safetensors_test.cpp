#include "frontend/checkpoint/safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "runtime/convert.h"
#include "test_files.h"

namespace dagrad {
namespace {

using testing::expect_error;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

template <class T>
Tensor ramp(const Shape& shape, double scale) {
  Tensor t = Tensor::empty(shape, dtype_of<T>());
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = static_cast<double>(i * 37 % 101 - 50) * scale;
    if constexpr (is_float_type_v<T>)
      t.data<T>()[i] = convert<T>(v);
    else
      t.data<T>()[i] = static_cast<T>(static_cast<int64_t>(v));  // unsigned types wrap, as intended
  }
  return t;
}

std::vector<uint8_t> raw(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  return std::vector<uint8_t>(p, p + t.nbytes());
}

NamedTensors sample_tensors() {
  return {
      {"conv1.weight", ramp<float>(Shape{4, 1, 3, 3}, 0.013f)},
      {"fc.bias", ramp<double>(Shape{10}, 1e-3)},
      {"step_counts", ramp<int32_t>(Shape{2, 3}, 1000)},
      {"bn.num_batches", ramp<int64_t>(Shape{}, 1e12)},  // a scalar
      {"mask", ramp<uint8_t>(Shape{7}, -1)},
      {"empty", Tensor::empty(Shape{0, 5}, DType::f32)},
      {"w_bf16", ramp<bfloat16>(Shape{3, 3}, 0.37)},
      {"w_f16", ramp<float16>(Shape{5}, 0.011)},
      {"keep", Tensor::from_vector<bool>(Shape{3}, {true, false, true})},
      {"i8", ramp<int8_t>(Shape{4}, 2)},
      {"i16", ramp<int16_t>(Shape{4}, 500)},
      {"u16", ramp<uint16_t>(Shape{4}, 300)},
      {"u32", ramp<uint32_t>(Shape{4}, 1e6)},
      {"u64", ramp<uint64_t>(Shape{4}, 1e15)},
  };
}

void expect_same(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    const Tensor& u = b.at(name);
    EXPECT_EQ(t.shape(), u.shape()) << name;
    EXPECT_EQ(t.dtype(), u.dtype()) << name;
    EXPECT_EQ(raw(t), raw(u)) << name;
  }
}

// A file with this header text (as given, unpadded) and these data bytes.
void write_st(const std::filesystem::path& p, const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  write_bytes(p, bytes);
}

// The same with `data_bytes` zero bytes of data.
void write_st(const std::filesystem::path& p, const std::string& header, size_t data_bytes) {
  write_st(p, header, std::vector<uint8_t>(data_bytes, 0));
}

// Loading a.safetensors made of `header` and `data_bytes` zero bytes fails with an
// IoError that says `message`.
void expect_header_refused(const std::string& header, size_t data_bytes, std::string_view message) {
  TempDir dir;
  write_st(dir / "a.safetensors", header, data_bytes);
  expect_error<IoError>([&] { load_safetensors(dir / "a.safetensors"); }, message);
}

TEST(Safetensors, RoundTripIsExactForEveryDtype) {
  TempDir dir;
  NamedTensors tensors = sample_tensors();
  CheckpointMetadata meta = {{"model", "mnist_cnn"}, {"step", "1200"}, {"note", "quotes \" and \\ survive"}};
  save_safetensors(dir / "model.safetensors", tensors, meta);
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors.tmp"));
  Checkpoint ck = load_safetensors(dir / "model.safetensors");
  expect_same(tensors, ck.tensors);
  EXPECT_EQ(ck.metadata, meta);
  for (DType t : kAllDTypes)  // the sample really holds every dtype
    EXPECT_TRUE(std::any_of(tensors.begin(), tensors.end(), [&](const auto& kv) { return kv.second.dtype() == t; }))
        << dtype_name(t);
  // Without metadata there is no "__metadata__" entry, and reading gives none.
  save_safetensors(dir / "plain.safetensors", tensors);
  EXPECT_TRUE(load_safetensors(dir / "plain.safetensors").metadata.empty());
  // An empty checkpoint is valid too.
  save_safetensors(dir / "none.safetensors", {});
  EXPECT_TRUE(load_safetensors(dir / "none.safetensors").tensors.empty());
}

TEST(Safetensors, LayoutFollowsTheFormat) {
  TempDir dir;
  NamedTensors tensors = sample_tensors();
  save_safetensors(dir / "m.safetensors", tensors, {{"model", "m"}});
  std::vector<uint8_t> bytes = read_bytes(dir / "m.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  EXPECT_EQ(n % 8, 0u) << "the data must start 8-byte aligned";
  std::string text(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(n));
  EXPECT_EQ(text.rfind("{\"__metadata__\":{\"model\":\"m\"}", 0), 0u) << text;
  auto header = nlohmann::json::parse(text);
  // Offsets: the 8-byte types first, then 4-, 2- and 1-byte ones, by name within each; packed.
  std::vector<std::string> order = {"bn.num_batches", "fc.bias", "u64",    "conv1.weight", "empty", "step_counts",
                                    "u32",            "i16",     "u16",    "w_bf16",       "w_f16", "i8",
                                    "keep",           "mask"};
  ASSERT_EQ(order.size(), tensors.size());
  uint64_t offset = 0;
  for (const std::string& name : order) {
    auto offsets = header[name]["data_offsets"];
    EXPECT_EQ(offsets[0].get<uint64_t>(), offset) << name;
    EXPECT_EQ(offset % dtype_size(tensors.at(name).dtype()), 0u) << name << " is not aligned";
    offset = offsets[1].get<uint64_t>();
  }
  EXPECT_EQ(8 + n + offset, bytes.size());
  EXPECT_EQ(header["conv1.weight"]["dtype"], "F32");
  EXPECT_EQ(header["fc.bias"]["dtype"], "F64");
  EXPECT_EQ(header["step_counts"]["dtype"], "I32");
  EXPECT_EQ(header["bn.num_batches"]["dtype"], "I64");
  EXPECT_EQ(header["mask"]["dtype"], "U8");
  EXPECT_EQ(header["w_bf16"]["dtype"], "BF16");
  EXPECT_EQ(header["w_f16"]["dtype"], "F16");
  EXPECT_EQ(header["keep"]["dtype"], "BOOL");
  EXPECT_EQ(header["u64"]["dtype"], "U64");
  EXPECT_EQ(header["conv1.weight"]["shape"], nlohmann::json::parse("[4,1,3,3]"));
  EXPECT_EQ(header["bn.num_batches"]["shape"], nlohmann::json::array());
  // The header's keys appear in offset order.
  EXPECT_LT(text.find("\"bn.num_batches\""), text.find("\"fc.bias\""));
  EXPECT_LT(text.find("\"step_counts\""), text.find("\"mask\""));
}

TEST(Safetensors, ReadsAFileWrittenByTheReferenceLibrary) {
  // safetensors.torch.save_file({"w": torch.tensor([1.0, -2.0], dtype=torch.float32)}):
  // header {"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} padded to 56 bytes.
  TempDir dir;
  std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  float values[2] = {1.0f, -2.0f};
  const auto* p = reinterpret_cast<const uint8_t*>(values);
  write_st(dir / "ref.safetensors", header, std::vector<uint8_t>(p, p + 8));
  Checkpoint ck = load_safetensors(dir / "ref.safetensors");
  EXPECT_EQ(ck.tensors.at("w").to_vector<float>(), (std::vector<float>{1.0f, -2.0f}));
}

TEST(Safetensors, ShortFile) {
  TempDir dir;
  write_bytes(dir / "a.safetensors", {1, 2, 3});
  expect_error<IoError>([&] { load_safetensors(dir / "a.safetensors"); },
                        {"a.safetensors: the file has 3 bytes, fewer than the 8-byte header length"});
}

TEST(Safetensors, HeaderLengthLargerThanTheFile) {
  TempDir dir;
  std::vector<uint8_t> bytes(28, ' ');
  std::fill(bytes.begin(), bytes.begin() + 8, 0);
  bytes[0] = 0xE8;  // header length 1000, little-endian
  bytes[1] = 0x03;
  write_bytes(dir / "a.safetensors", bytes);
  expect_error<IoError>([&] { load_safetensors(dir / "a.safetensors"); },
                        {"a.safetensors: header length 1000 is larger than the file allows (20 bytes follow"});
}

TEST(Safetensors, BadJson) {
  expect_header_refused(R"({"w":{"dtype":"F32",)", 0, "a.safetensors: the header is not valid JSON");
  expect_header_refused("[1,2]", 0, "header must be a JSON object, got array");
}

TEST(Safetensors, UnsupportedDtype) {
  expect_header_refused(R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 2,
                        "a.safetensors: tensor 'w': unsupported dtype \"F8_E4M3\" (dagrad reads F32, F64, BF16, F16, "
                        "BOOL, I8, I16, I32, I64, U8, U16, U32, U64)");
}

// Bytes as PyTorch writes them: bfloat16 1.0 is 0x3f80, float16 -2.0 is 0xc000, and any
// nonzero BOOL byte is true.
TEST(Safetensors, ReadsSixteenBitFloatsAndBoolsWrittenElsewhere) {
  TempDir dir;
  write_st(dir / "a.safetensors",
           R"({"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"h":{"dtype":"F16","shape":[1],"data_offsets":[4,6]},)"
           R"("m":{"dtype":"BOOL","shape":[3],"data_offsets":[6,9]}})",
           std::vector<uint8_t>{0x80, 0x3f, 0xc0, 0xff, 0x00, 0xc0, 0x00, 0x01, 0x07});
  Checkpoint ck = load_safetensors(dir / "a.safetensors");
  const Tensor& b = ck.tensors.at("b");
  ASSERT_EQ(b.dtype(), DType::bf16);
  EXPECT_EQ(static_cast<float>(b.data<bfloat16>()[0]), 1.0f);
  EXPECT_TRUE(std::isnan(static_cast<float>(b.data<bfloat16>()[1])));
  ASSERT_EQ(ck.tensors.at("h").dtype(), DType::f16);
  EXPECT_EQ(static_cast<float>(ck.tensors.at("h").data<float16>()[0]), -2.0f);
  EXPECT_EQ(ck.tensors.at("m").to_vector<bool>(), (std::vector<bool>{false, true, true}));
}

TEST(Safetensors, MalformedEntries) {
  expect_header_refused(R"({"w":{"dtype":"F32","shape":[2]}})", 8, "tensor 'w': header entry has no \"data_offsets\"");
  expect_header_refused(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8,
                        "tensor 'w': shape must be an array of non-negative integers, got [-2]");
  expect_header_refused(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8,
                        "tensor 'w': data_offsets must be [begin, end] with 0 <= begin <= end, got [8,0]");
  expect_header_refused(R"({"__metadata__":{"step":12}})", 0, "metadata 'step' must be a string, got 12");
}

TEST(Safetensors, SizeDisagreesWithShape) {
  expect_header_refused(
      R"({"fc1.weight":{"dtype":"F32","shape":[128,9216],"data_offsets":[0,4718588]}})", 16,
      "a.safetensors: tensor 'fc1.weight': shape [128,9216] float32 needs 4718592 bytes but data_offsets span 4718588");
}

TEST(Safetensors, OffsetsOutOfRange) {
  expect_header_refused(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}})", 16,
                        "tensor 'w': data_offsets [8,24] lie outside the data section, which has 16 bytes");
}

TEST(Safetensors, OverlappingTensors) {
  expect_header_refused(
      R"({"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
      24, "a.safetensors: tensors 'a' [0,16) and 'b' [8,24) overlap");
}

TEST(Safetensors, GapsInTheDataSection) {
  expect_header_refused(
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}})",
      12, "bytes [4,8) of the data section belong to no tensor (a gap after 'a', before 'b')");
  expect_header_refused(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", 10,
                        "the data section has 10 bytes but the tensors cover only 4");
  expect_header_refused(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", 6,
                        "bytes [0,2) of the data section belong to no tensor (before the first tensor");
}

TEST(Safetensors, MissingFile) {
  TempDir dir;
  expect_error<IoError>([&] { load_safetensors(dir / "absent.safetensors"); },
                        {"absent.safetensors: cannot open: No such file or directory"});
}

TEST(Safetensors, WriterRejectsBadNames) {
  TempDir dir;
  expect_error<ValueError>([&] { save_safetensors(dir / "a.safetensors", {{"__metadata__", ramp<float>(Shape{1}, 1)}}); },
                           {"'__metadata__' cannot name a tensor"});
  expect_error<ValueError>([&] { save_safetensors(dir / "a.safetensors", {{"w", Tensor()}}); },
                           {"tensor 'w' is undefined"});
  EXPECT_FALSE(std::filesystem::exists(dir / "a.safetensors"));
}

TEST(Safetensors, UnwritablePathsThrow) {
  TempDir dir;
  std::filesystem::path nowhere = dir / "no_such_dir" / "model.safetensors";
  expect_error<IoError>([&] { save_safetensors(nowhere, sample_tensors()); },
                        {"cannot create '" + nowhere.string() + ".tmp': No such file or directory"});
  expect_error<IoError>([&] { save_safetensors("/proc/dagrad_test.safetensors", sample_tensors()); },
                        {"cannot create '/proc/dagrad_test.safetensors.tmp'"});
}

TEST(Safetensors, FailedSaveLeavesTheOldCheckpointUntouched) {
  TempDir dir;
  std::filesystem::path path = dir / "model.safetensors";
  NamedTensors old_tensors = sample_tensors();
  save_safetensors(path, old_tensors, {{"step", "1"}});
  std::vector<uint8_t> old_bytes = read_bytes(path);
  NamedTensors new_tensors = {{"w", ramp<float>(Shape{1000}, 0.5)}};

  // The temp file cannot be created: a directory is in the way.
  std::filesystem::create_directory(dir / "model.safetensors.tmp");
  expect_error<IoError>([&] { save_safetensors(path, new_tensors, {{"step", "2"}}); },
                        {"model.safetensors.tmp", "Is a directory"});
  EXPECT_EQ(read_bytes(path), old_bytes);
  std::filesystem::remove(dir / "model.safetensors.tmp");

  // The disk fills up in the middle of the write (the temp name points at /dev/full).
  if (std::filesystem::exists("/dev/full")) {
    std::filesystem::create_symlink("/dev/full", dir / "model.safetensors.tmp");
    expect_error<IoError>([&] { save_safetensors(path, new_tensors, {{"step", "2"}}); },
                          {"cannot write '" + path.string() + ".tmp': No space left on device"});
    EXPECT_EQ(read_bytes(path), old_bytes);
    EXPECT_FALSE(std::filesystem::is_symlink(dir / "model.safetensors.tmp")) << "the temp file is removed";
  }
  Checkpoint ck = load_safetensors(path);
  expect_same(old_tensors, ck.tensors);
  EXPECT_EQ(ck.metadata.at("step"), "1");

  // And a successful save replaces it.
  save_safetensors(path, new_tensors, {{"step", "2"}});
  expect_same(new_tensors, load_safetensors(path).tensors);
}

}  // namespace
}  // namespace dagrad
