// PNG/PGM reading for `dagrad predict`, on images the test encodes itself: by hand (zlib
// and the chunk layout) and, for the kinds that are tedious by hand (palette, low and
// high bit depths, Adam7 interlacing), with libpng's writer.
#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <cstdio>

#include <filesystem>
#include <fstream>

#include "frontend/image.h"
#include "runtime/error.h"
#include "tests/error_of.h"

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

// A PNG written by libpng: `rows` hold the packed samples of each row as the PNG stores
// them (big-endian for 16 bits, several pixels a byte below 8).
std::filesystem::path write_png_with_libpng(const std::string& name, int w, int h, int depth, int colour_type,
                                            bool interlaced, const std::vector<std::vector<uint8_t>>& rows,
                                            const std::vector<png_color>& palette = {}) {
  auto path = std::filesystem::temp_directory_path() / ("dagrad_image_test_" + name);
  FILE* f = std::fopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), depth, colour_type,
               interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  std::vector<png_bytep> row_pointers;
  for (const auto& r : rows) row_pointers.push_back(const_cast<png_bytep>(r.data()));
  png_set_rows(png, info, row_pointers.data());
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
  return path;
}

std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> px(n);
  for (size_t i = 0; i < n; ++i) px[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  return px;
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

TEST(Image, ReadsInterlacedPng) {
  const int w = 11, h = 9;  // not a multiple of Adam7's 8x8 block: every pass is partial
  std::vector<uint8_t> px = ramp(w * h);
  std::vector<std::vector<uint8_t>> rows;
  for (int y = 0; y < h; ++y) rows.emplace_back(px.begin() + y * w, px.begin() + (y + 1) * w);
  auto p = write_png_with_libpng("interlaced.png", w, h, 8, PNG_COLOR_TYPE_GRAY, true, rows);
  Tensor t = read_grey_image(p);
  EXPECT_EQ(t.shape(), (Shape{h, w}));
  EXPECT_EQ(t.to_vector<uint8_t>(), px);
  std::filesystem::remove(p);
}

TEST(Image, ReadsPalettePng) {
  std::vector<png_color> palette = {{0, 0, 0}, {30, 60, 90}, {255, 255, 255}};
  auto p = write_png_with_libpng("palette.png", 3, 1, 8, PNG_COLOR_TYPE_PALETTE, false, {{2, 1, 0}}, palette);
  EXPECT_EQ(read_grey_image(p).to_vector<uint8_t>(), (std::vector<uint8_t>{255, 60, 0}));
  std::filesystem::remove(p);
}

TEST(Image, ReadsOneBitAndSixteenBitGrey) {
  // 1 bit: 0b10110000 is white, black, white, white.
  auto p1 = write_png_with_libpng("grey1.png", 4, 1, 1, PNG_COLOR_TYPE_GRAY, false, {{0xb0}});
  EXPECT_EQ(read_grey_image(p1).to_vector<uint8_t>(), (std::vector<uint8_t>{255, 0, 255, 255}));
  std::filesystem::remove(p1);
  // 16 bits without gamma information: v * 257 reads as v, as image viewers show it.
  auto p16 = write_png_with_libpng("grey16.png", 3, 1, 16, PNG_COLOR_TYPE_GRAY, false,
                                   {{0x00, 0x00, 0x80, 0x80, 0xff, 0xff}});
  EXPECT_EQ(read_grey_image(p16).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 128, 255}));
  std::filesystem::remove(p16);
}

TEST(Image, IgnoresAlpha) {
  // A transparent pixel keeps its stored colour: no compositing onto a background.
  auto p = write_png_with_libpng("rgba.png", 2, 1, 8, PNG_COLOR_TYPE_RGBA, false,
                                 {{90, 120, 150, 0, 10, 20, 30, 255}});
  EXPECT_EQ(read_grey_image(p).to_vector<uint8_t>(), (std::vector<uint8_t>{120, 20}));
  std::filesystem::remove(p);
}

TEST(Image, ReadsPgmWithAComment) {
  std::string pgm = "P5\n# drawn by hand\n2 2\n255\n";
  pgm += std::string{9, 8, 7, 6};
  auto p = write_temp("comment.pgm", pgm);
  EXPECT_EQ(read_grey_image(p).to_vector<uint8_t>(), (std::vector<uint8_t>{9, 8, 7, 6}));
  std::filesystem::remove(p);
}

TEST(Image, OversizedOrUnsupportedImagesGiveClearErrors) {
  auto message = [](const std::string& name, const std::string& bytes) {
    auto p = write_temp(name, bytes);
    std::string m = dagrad::testing::error_of<IoError>([&] { read_grey_image(p); });
    std::filesystem::remove(p);
    return m;
  };
  // A wide image is refused from its header, before its pixels are allocated.
  EXPECT_NE(message("wide.png", encode_png(9000, 1, 1, 0, std::vector<uint8_t>(9000, 0)))
                .find("PNG size 9000x1 is out of range (at most 8192 pixels a side)"),
            std::string::npos);
  EXPECT_NE(message("huge.pgm", "P5 4294967296 4294967296 255\n").find("PGM size 4294967296x4294967296 is out of range"),
            std::string::npos);
  EXPECT_NE(message("deep.pgm", "P5\n2 2\n65535\n01234567").find("unsupported PGM header (need P5 with maxval 255)"),
            std::string::npos);
  EXPECT_NE(message("short.pgm", "P5\n2 2\n255").find("unsupported PGM header"), std::string::npos);
  // libpng's own reason is quoted.
  std::string good = encode_png(4, 4, 1, 0, std::vector<uint8_t>(16, 7));
  std::string bad_crc = good;
  bad_crc[good.size() - 20] ^= 0x55;  // inside the IDAT chunk
  EXPECT_NE(message("crc.png", bad_crc).find("corrupt or truncated PNG (libpng: "), std::string::npos);
}
