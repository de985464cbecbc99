// PNG/PGM reading for `dagrad predict`, on images the test encodes itself.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "frontend/image.h"
#include "runtime/error.h"

using namespace dagrad;

namespace {

void put32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

void chunk(std::string& png, const std::string& type, const std::string& data) {
  put32(png, static_cast<uint32_t>(data.size()));
  std::string body = type + data;
  png += body;
  put32(png, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

// An 8-bit PNG of `channels` (1 grey, 3 RGB) whose rows use `filter` (0 none, 1 sub, 2 up).
std::string encode_png(int w, int h, int channels, int filter, const std::vector<uint8_t>& pixels) {
  std::string raw;
  size_t stride = size_t(w) * channels;
  for (int y = 0; y < h; ++y) {
    raw += static_cast<char>(filter);
    for (size_t x = 0; x < stride; ++x) {
      int v = pixels[y * stride + x];
      int left = x >= size_t(channels) ? pixels[y * stride + x - channels] : 0;
      int up = y ? pixels[(y - 1) * stride + x] : 0;
      raw += static_cast<char>(filter == 1 ? v - left : filter == 2 ? v - up : v);
    }
  }
  uLongf zlen = compressBound(raw.size());
  std::string z(zlen, '\0');
  compress(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(raw.data()), raw.size());
  z.resize(zlen);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put32(ihdr, w);
  put32(ihdr, h);
  ihdr += std::string{8, static_cast<char>(channels == 1 ? 0 : 2), 0, 0, 0};
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", "");
  return png;
}

std::filesystem::path write_temp(const std::string& name, const std::string& bytes) {
  auto p = std::filesystem::temp_directory_path() / ("dagrad_image_test_" + name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

}  // namespace

TEST(Image, ReadsGreyPngWithEveryFilter) {
  std::vector<uint8_t> px(28 * 28);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  for (int filter : {0, 1, 2}) {
    auto p = write_temp("grey.png", encode_png(28, 28, 1, filter, px));
    Tensor t = read_grey_image(p);
    EXPECT_EQ(t.shape(), (Shape{28, 28}));
    EXPECT_EQ(t.to_vector<uint8_t>(), px) << "filter " << filter;
    std::filesystem::remove(p);
  }
}

TEST(Image, AveragesRgbToGrey) {
  std::vector<uint8_t> px(4 * 2 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 10);
  auto p = write_temp("rgb.png", encode_png(4, 2, 3, 0, px));
  Tensor t = read_grey_image(p);
  ASSERT_EQ(t.shape(), (Shape{2, 4}));
  EXPECT_EQ(t.to_vector<uint8_t>()[1], (30 + 40 + 50) / 3);
  std::filesystem::remove(p);
}

TEST(Image, ReadsPgm) {
  std::string pgm = "P5\n3 2\n255\n";
  pgm += std::string{1, 2, 3, 4, 5, 6};
  auto p = write_temp("img.pgm", pgm);
  EXPECT_EQ(read_grey_image(p).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  std::filesystem::remove(p);
}

TEST(Image, CorruptFilesGiveClearErrors) {
  auto expect = [](const std::string& bytes, const std::string& want) {
    auto p = write_temp("bad", bytes);
    try {
      read_grey_image(p);
      ADD_FAILURE() << "expected IoError for " << want;
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
    std::filesystem::remove(p);
  };
  expect("hello", "not a PNG or binary PGM image");
  std::string good = encode_png(4, 4, 1, 0, std::vector<uint8_t>(16, 7));
  expect(good.substr(0, 40), "truncated PNG");
  std::string corrupt = good;
  corrupt[45] ^= 0x55;  // inside the compressed data
  expect(corrupt, "PNG");
  expect("P5\n3 2\n255\n\x01", "truncated PGM data");
}
