#include "frontend/data/idx.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "frontend/data/mnist.h"
#include "test_files.h"

namespace dagrad {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;

Tensor random_bytes(const Shape& shape, uint32_t seed) {
  Tensor t = Tensor::empty(shape, DType::u8);
  uint8_t* p = t.data<uint8_t>();
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = static_cast<uint8_t>(x >> 24);
  }
  return t;
}

Tensor random_labels(int64_t n, uint32_t seed) {
  Tensor t = random_bytes(Shape{n}, seed);
  for (int64_t i = 0; i < n; ++i) t.data<uint8_t>()[i] %= 10;
  return t;
}

void expect_equal(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  ASSERT_EQ(a.dtype(), b.dtype());
  EXPECT_EQ(a.to_vector<uint8_t>(), b.to_vector<uint8_t>());
}

// Big-endian magic then sizes, as an IDX header.
std::vector<uint8_t> idx_header(uint32_t magic, std::initializer_list<uint32_t> dims) {
  std::vector<uint8_t> out;
  auto put = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
  };
  put(magic);
  for (uint32_t d : dims) put(d);
  return out;
}

// Writes dir/name: an IDX header (magic, dims) and `data_bytes` bytes of `value`.
std::filesystem::path write_idx_file(const TempDir& dir, const std::string& name, uint32_t magic,
                                     std::initializer_list<uint32_t> dims, size_t data_bytes, uint8_t value = 0) {
  std::vector<uint8_t> bytes = idx_header(magic, dims);
  bytes.insert(bytes.end(), data_bytes, value);
  write_bytes(dir / name, bytes);
  return dir / name;
}

// Reading `path` as `kind` fails with an IoError saying every one of `parts`.
void expect_refused(const std::filesystem::path& path, IdxKind kind, std::initializer_list<std::string_view> parts) {
  expect_error<IoError>([&] { read_idx(path, kind); }, parts);
}

void write_gz(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

TEST(Idx, RoundTripPlainIsExact) {
  TempDir dir;
  Tensor images = random_bytes(Shape{5, 7, 3}, 1);
  Tensor labels = random_labels(5, 2);
  Tensor cube = random_bytes(Shape{2, 3, 4, 5}, 3);
  write_idx(dir / "images", images);
  write_idx(dir / "labels", labels);
  write_idx(dir / "cube", cube);
  expect_equal(read_idx(dir / "images", IdxKind::images), images);
  expect_equal(read_idx(dir / "labels", IdxKind::labels), labels);
  expect_equal(read_idx(dir / "cube"), cube);
  // The header is the standard one: 0x00000803, then big-endian sizes.
  std::vector<uint8_t> bytes = testing::read_bytes(dir / "images");
  ASSERT_EQ(bytes.size(), 16u + 105u);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 16), idx_header(0x803, {5, 7, 3}));
  EXPECT_FALSE(std::filesystem::exists(dir / "images.tmp"));
}

TEST(Idx, RoundTripGzipIsExact) {
  TempDir dir;
  Tensor images = random_bytes(Shape{9, 28, 28}, 4);
  Tensor labels = random_labels(9, 5);
  write_idx(dir / "images.gz", images);
  write_idx(dir / "labels.gz", labels);
  std::vector<uint8_t> bytes = testing::read_bytes(dir / "images.gz");
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0x1f);  // gzip magic
  EXPECT_EQ(bytes[1], 0x8b);
  expect_equal(read_idx(dir / "images.gz", IdxKind::images), images);
  expect_equal(read_idx(dir / "labels.gz", IdxKind::labels), labels);
  // Compression is recognised by content, not by name.
  std::filesystem::rename(dir / "images.gz", dir / "images");
  expect_equal(read_idx(dir / "images", IdxKind::images), images);
}

TEST(Idx, EmptyDataSetRoundTrips) {
  TempDir dir;
  Tensor none = Tensor::empty(Shape{0, 28, 28}, DType::u8);
  write_idx(dir / "images", none);
  EXPECT_EQ(read_idx(dir / "images", IdxKind::images).shape(), (Shape{0, 28, 28}));
}

TEST(Idx, WriterRejectsWhatIdxCannotHold) {
  TempDir dir;
  expect_error<ValueError>([&] { write_idx(dir / "f", Tensor::zeros(Shape{2, 2}, DType::f32)); },
                           {"needs a uint8 tensor", "[2,2] float32"});
  expect_error<ValueError>([&] { write_idx(dir / "f", Tensor::zeros(Shape{}, DType::u8)); }, {"rank 1 to 255"});
  EXPECT_FALSE(std::filesystem::exists(dir / "f"));
}

TEST(Idx, LabelsFileReadAsImagesIsBadMagic) {
  TempDir dir;
  write_idx(dir / "train-labels-idx1-ubyte", random_labels(4, 1));
  expect_error<IoError>([&] { read_idx(dir / "train-labels-idx1-ubyte", IdxKind::images); },
                        {"train-labels-idx1-ubyte: bad magic number 0x00000801 (expected 0x00000803 for an images file)"});
}

TEST(Idx, ImagesFileReadAsLabelsIsBadMagic) {
  TempDir dir;
  write_idx(dir / "images", random_bytes(Shape{2, 2, 2}, 1));
  expect_error<IoError>([&] { read_idx(dir / "images", IdxKind::labels); },
                        {"bad magic number 0x00000803 (expected 0x00000801 for a labels file)",
                         "declares 3 dimensions but a labels file has 1 (count)"});
}

TEST(Idx, NotAnIdxFile) {
  TempDir dir;
  write_bytes(dir / "notes.txt", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!', '!', '!'});
  expect_error<IoError>([&] { read_idx(dir / "notes.txt", IdxKind::images); },
                        {"notes.txt: bad magic number 0x68656C6C (expected 0x00000803 for an images file)",
                         "not an IDX file"});
}

TEST(Idx, UnsupportedElementType) {
  TempDir dir;
  expect_refused(write_idx_file(dir, "floats", 0x00000D03, {1, 1, 1}, 4), IdxKind::images,  // float32 elements
                 {"bad magic number 0x00000D03", "element type 0x0D is not supported", "(0x08)"});
}

TEST(Idx, WrongDimensionCount) {
  TempDir dir;
  expect_refused(write_idx_file(dir, "images4d", 0x00000804, {1, 2, 2, 1}, 4, 7), IdxKind::images,
                 {"images4d: bad magic number 0x00000804 (expected 0x00000803 for an images file)",
                  "declares 4 dimensions but an images file has 3 (count, rows, columns)"});
  // The same file is fine when any rank is acceptable.
  EXPECT_EQ(read_idx(dir / "images4d").shape(), (Shape{1, 2, 2, 1}));
}

TEST(Idx, TruncatedData) {
  TempDir dir;
  expect_refused(
      write_idx_file(dir, "train-images-idx3-ubyte", 0x803, {60000, 28, 28}, 1024), IdxKind::images,
      {"train-images-idx3-ubyte: truncated: header says 60000 images of 28x28 (47040000 bytes) but only 1024 bytes follow"});

  std::vector<uint8_t> labels = idx_header(0x801, {100});
  labels.insert(labels.end(), 60, 1);
  write_gz(dir / "labels.gz", labels);
  expect_error<IoError>([&] { read_idx(dir / "labels.gz", IdxKind::labels); },
                        {"truncated: header says 100 labels (100 bytes) but only 60 bytes follow"});
}

TEST(Idx, TruncatedGzipStream) {
  TempDir dir;
  write_idx(dir / "images.gz", random_bytes(Shape{50, 28, 28}, 9));
  std::vector<uint8_t> bytes = testing::read_bytes(dir / "images.gz");
  bytes.resize(bytes.size() / 2);
  write_bytes(dir / "images.gz", bytes);
  expect_error<IoError>([&] { read_idx(dir / "images.gz", IdxKind::images); },
                        {"truncated: header says 50 images of 28x28 (39200 bytes)", "gzip stream ends early"});
}

TEST(Idx, TruncatedHeader) {
  TempDir dir;
  write_bytes(dir / "short", {0, 0, 8, 3, 0, 0});
  expect_error<IoError>([&] { read_idx(dir / "short", IdxKind::images); },
                        {"short: truncated header: 3 dimension sizes need 12 bytes after the magic number but only 2 follow"});
  write_bytes(dir / "tiny", {0, 0});
  expect_error<IoError>([&] { read_idx(dir / "tiny"); }, {"truncated", "fewer than the 4-byte magic number"});
}

TEST(Idx, TrailingBytes) {
  TempDir dir;
  expect_refused(write_idx_file(dir, "labels", 0x801, {3}, 5, 1), IdxKind::labels,
                 {"2 unexpected bytes after the 3 bytes of data (header says 3 labels)"});
}

TEST(Idx, EmptyImageSize) {
  TempDir dir;
  expect_refused(write_idx_file(dir, "images", 0x803, {4, 0, 28}, 0), IdxKind::images,
                 {"header declares 4 images of 0x28, an empty image size"});
}

TEST(Idx, MissingFile) {
  TempDir dir;
  expect_error<IoError>([&] { read_idx(dir / "nope-idx3-ubyte", IdxKind::images); },
                        {"nope-idx3-ubyte: cannot open: No such file or directory"});
}

// --- MnistDataset::load: finding the files and checking that they fit together.

void write_split(const std::filesystem::path& dir, const std::string& images_name, const std::string& labels_name,
                 int64_t n_images, int64_t n_labels) {
  write_idx(dir / images_name, random_bytes(Shape{n_images, 28, 28}, 11));
  write_idx(dir / labels_name, random_labels(n_labels, 12));
}

TEST(MnistLoad, FindsStandardDottedAndGzipNames) {
  TempDir dir;
  write_split(dir.path(), "train-images-idx3-ubyte", "train-labels-idx1-ubyte.gz", 6, 6);
  write_split(dir.path(), "t10k-images.idx3-ubyte.gz", "t10k-labels.idx1-ubyte", 4, 4);
  MnistDataset train = MnistDataset::load(dir.path(), "train");
  MnistDataset test = MnistDataset::load(dir.path(), "test", Normalization::fashion_mnist());
  EXPECT_EQ(train.size(), 6);
  EXPECT_EQ(test.size(), 4);
  EXPECT_EQ(train.rows(), 28);
  EXPECT_EQ(test.cols(), 28);
  EXPECT_EQ(test.normalization().mean, 0.2860);
  expect_equal(train.images(), read_idx(dir / "train-images-idx3-ubyte"));
  expect_equal(test.labels(), read_idx(dir / "t10k-labels.idx1-ubyte"));
}

TEST(MnistLoad, MissingFilesListWhatWasLookedFor) {
  TempDir dir;
  expect_error<IoError>([&] { MnistDataset::load(dir.path(), "test"); },
                        {"MNIST test split not found in '" + dir.path().string() + "': looked for ",
                         "t10k-images-idx3-ubyte, t10k-images-idx3-ubyte.gz, t10k-images.idx3-ubyte, "
                         "t10k-images.idx3-ubyte.gz, t10k-labels-idx1-ubyte",
                         "scripts/fetch_data.sh"});
  // With the images present only the labels are reported missing.
  write_idx(dir / "train-images-idx3-ubyte", random_bytes(Shape{2, 28, 28}, 1));
  try {
    MnistDataset::load(dir.path(), "train");
    ADD_FAILURE() << "expected IoError";
  } catch (const IoError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("looked for train-labels-idx1-ubyte,"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("train-images"), std::string::npos) << msg;
  }
  expect_error<IoError>([&] { MnistDataset::load(dir / "absent", "train"); }, {"(no such directory)"});
  expect_error<ValueError>([&] { MnistDataset::load(dir.path(), "validation"); },
                           {"split must be 'train' or 'test', got 'validation'"});
}

TEST(MnistLoad, ImageAndLabelCountsMustAgree) {
  TempDir dir;
  write_split(dir.path(), "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 5, 4);
  expect_error<IoError>([&] { MnistDataset::load(dir.path()); },
                        {"train-images-idx3-ubyte has 5 images but", "train-labels-idx1-ubyte has 4 labels"});
}

TEST(MnistLoad, LabelsMustBeDigits) {
  TempDir dir;
  write_idx(dir / "train-images-idx3-ubyte", random_bytes(Shape{3, 28, 28}, 1));
  write_idx(dir / "train-labels-idx1-ubyte", Tensor::from_vector<uint8_t>(Shape{3}, {1, 12, 3}));
  expect_error<IoError>([&] { MnistDataset::load(dir.path()); },
                        {"train-labels-idx1-ubyte: label 12 at index 1 is outside 0..9"});
}

TEST(MnistLoad, ConstructorChecksTensors) {
  expect_error<ValueError>([] { MnistDataset(Tensor::zeros(Shape{2, 28}, DType::u8), Tensor::zeros(Shape{2}, DType::u8)); },
                           {"images must be uint8 [N,H,W], got [2,28] uint8"});
  expect_error<ValueError>(
      [] { MnistDataset(Tensor::zeros(Shape{2, 2, 2}, DType::u8), Tensor::zeros(Shape{3}, DType::u8)); },
      {"images has 2 images but labels has 3 labels"});
  expect_error<ValueError>([] {
    MnistDataset(Tensor::zeros(Shape{2, 2, 2}, DType::u8), Tensor::zeros(Shape{2}, DType::u8), Normalization{0.5, 0});
  }, {"std must be > 0"});
}

}  // namespace
}  // namespace dagrad
