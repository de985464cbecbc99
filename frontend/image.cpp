#include "frontend/image.h"

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "runtime/error.h"

namespace dagrad {

namespace {

uint32_t be32(const unsigned char* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

int paeth(int a, int b, int c) {
  int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c);
}

Tensor decode_png(const std::vector<unsigned char>& f, const std::string& name) {
  auto fail = [&](const std::string& why) -> Tensor { throw IoError(name + ": " + why); };
  size_t pos = 8;
  uint32_t width = 0, height = 0;
  int color = -1, channels = 0;
  std::vector<unsigned char> idat;
  bool ended = false;
  while (pos + 12 <= f.size()) {
    uint32_t len = be32(&f[pos]);
    std::string type(reinterpret_cast<const char*>(&f[pos + 4]), 4);
    if (pos + 12 + uint64_t(len) > f.size()) return fail("truncated PNG chunk '" + type + "'");
    const unsigned char* d = &f[pos + 8];
    if (type == "IHDR") {
      if (len < 13) return fail("bad IHDR chunk");
      width = be32(d);
      height = be32(d + 4);
      int depth = d[8];
      color = d[9];
      if (depth != 8) return fail(str_cat("PNG bit depth ", depth, " is not supported (only 8)"));
      if (d[12] != 0) return fail("interlaced PNGs are not supported");
      channels = color == 0 ? 1 : color == 4 ? 2 : color == 2 ? 3 : color == 6 ? 4 : 0;
      if (!channels) return fail(str_cat("PNG colour type ", color, " is not supported (grey, RGB, with or without alpha)"));
      if (width == 0 || height == 0 || width > 16384 || height > 16384)
        return fail(str_cat("PNG size ", width, "x", height, " is out of range"));
    } else if (type == "IDAT") {
      idat.insert(idat.end(), d, d + len);
    } else if (type == "IEND") {
      ended = true;
      break;
    }
    pos += 12 + len;
  }
  if (!ended) return fail("truncated PNG: the file ends before its IEND chunk");
  if (!channels || idat.empty()) return fail("PNG has no image data");
  size_t stride = size_t(width) * channels;
  std::vector<unsigned char> raw((stride + 1) * height);
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, idat.data(), idat.size()) != Z_OK || raw_len != raw.size())
    return fail("corrupt or truncated PNG image data");
  std::vector<unsigned char> img(stride * height);
  for (uint32_t y = 0; y < height; ++y) {
    int filter = raw[y * (stride + 1)];
    const unsigned char* src = &raw[y * (stride + 1) + 1];
    unsigned char* out = &img[y * stride];
    const unsigned char* up = y ? &img[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      int a = x >= size_t(channels) ? out[x - channels] : 0, b = up ? up[x] : 0;
      int c = (up && x >= size_t(channels)) ? up[x - channels] : 0;
      int pred = filter == 0 ? 0 : filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2 : filter == 4 ? paeth(a, b, c) : -1;
      if (pred < 0) return fail(str_cat("bad PNG filter type ", filter, " in row ", y));
      out[x] = static_cast<unsigned char>(src[x] + pred);
    }
  }
  Tensor t = Tensor::empty(Shape{int64_t(height), int64_t(width)}, DType::u8);
  uint8_t* p = t.data<uint8_t>();
  int colour_channels = channels >= 3 ? 3 : 1;
  for (size_t i = 0; i < size_t(width) * height; ++i) {
    int sum = 0;
    for (int ch = 0; ch < colour_channels; ++ch) sum += img[i * channels + ch];
    p[i] = static_cast<uint8_t>(sum / colour_channels);
  }
  return t;
}

Tensor decode_pgm(const std::vector<unsigned char>& f, const std::string& name) {
  std::string text(f.begin(), f.begin() + std::min<size_t>(f.size(), 64));
  std::istringstream in(text);
  std::string magic;
  int64_t w = 0, h = 0, maxval = 0;
  in >> magic >> w >> h >> maxval;
  if (!in || w <= 0 || h <= 0 || maxval != 255) throw IoError(name + ": unsupported PGM header (need P5 with maxval 255)");
  size_t start = static_cast<size_t>(in.tellg()) + 1;
  if (start + size_t(w * h) > f.size()) throw IoError(name + ": truncated PGM data");
  Tensor t = Tensor::empty(Shape{h, w}, DType::u8);
  std::copy(f.begin() + start, f.begin() + start + w * h, t.data<uint8_t>());
  return t;
}

}  // namespace

Tensor read_grey_image(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(str_cat(path.string(), ": cannot open"));
  std::vector<unsigned char> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (f.size() >= 8 && std::equal(kPng, kPng + 8, f.begin())) return decode_png(f, path.string());
  if (f.size() >= 2 && f[0] == 'P' && f[1] == '5') return decode_pgm(f, path.string());
  throw IoError(str_cat(path.string(), ": not a PNG or binary PGM image"));
}

}  // namespace dagrad
