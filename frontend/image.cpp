#include "frontend/image.h"

#include <png.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include "runtime/error.h"

namespace dagrad {

namespace {

// `predict` needs 28x28; the bound keeps a corrupt header from asking for gigabytes
// (an RGBA buffer of 8192x8192 is 256 MiB).
constexpr int64_t kMaxSide = 8192;

void check_size(int64_t width, int64_t height, const std::string& name, const char* format) {
  if (width <= 0 || height <= 0 || width > kMaxSide || height > kMaxSide)
    throw IoError(str_cat(name, ": ", format, " size ", width, "x", height, " is out of range (at most ", kMaxSide,
                          " pixels a side)"));
}

// Releases libpng's reader on every path out, error or not.
struct PngImage {
  png_image image{};
  PngImage() { image.version = PNG_IMAGE_VERSION; }
  ~PngImage() { png_image_free(&image); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
};

// libpng does the decoding (every bit depth, palettes, interlacing, CRCs); the simplified
// API reports failures in image.message instead of longjmp-ing through C++ frames.
Tensor decode_png(const std::vector<unsigned char>& f, const std::string& name) {
  PngImage png;
  png_image& im = png.image;
  if (!png_image_begin_read_from_memory(&im, f.data(), f.size()))
    throw IoError(str_cat(name, ": corrupt or truncated PNG (libpng: ", im.message, ")"));
  check_size(im.width, im.height, name, "PNG");
  // 16-bit samples without gamma information are taken as sRGB, as image viewers show
  // them, rather than libpng's default of linear light.
  im.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  // 8-bit RGBA keeps the colour of every pixel as stored (no compositing); alpha is then
  // ignored, as the grey conversion of common image libraries does.
  im.format = PNG_FORMAT_RGBA;
  // Not zeroed: libpng writes every byte or fails.
  auto rgba = std::make_unique_for_overwrite<unsigned char[]>(PNG_IMAGE_SIZE(im));
  if (!png_image_finish_read(&im, nullptr, rgba.get(), 0, nullptr))
    throw IoError(str_cat(name, ": corrupt or truncated PNG (libpng: ", im.message, ")"));
  Tensor t = Tensor::empty(Shape{int64_t(im.height), int64_t(im.width)}, DType::u8);
  uint8_t* p = t.data<uint8_t>();
  for (size_t i = 0; i < size_t(im.width) * im.height; ++i)
    p[i] = static_cast<uint8_t>((rgba[4 * i] + rgba[4 * i + 1] + rgba[4 * i + 2]) / 3);
  return t;
}

// Binary PGM ("P5"), maxval 255: the header is four whitespace-separated fields (with
// optional '#' comments), then exactly one whitespace byte, then the pixels.
Tensor decode_pgm(const std::vector<unsigned char>& f, const std::string& name) {
  auto bad_header = [&]() -> IoError { return IoError(name + ": unsupported PGM header (need P5 with maxval 255)"); };
  size_t pos = 2;
  auto next_field = [&]() -> int64_t {
    while (pos < f.size() && (std::isspace(f[pos]) || f[pos] == '#')) {
      if (f[pos] == '#')
        while (pos < f.size() && f[pos] != '\n') ++pos;
      else
        ++pos;
    }
    const char* begin = reinterpret_cast<const char*>(f.data()) + pos;
    const char* end = reinterpret_cast<const char*>(f.data()) + f.size();
    int64_t v = 0;
    auto [stop, err] = std::from_chars(begin, end, v);
    if (err != std::errc() || stop == begin) throw bad_header();
    pos += static_cast<size_t>(stop - begin);
    return v;
  };
  int64_t w = next_field(), h = next_field(), maxval = next_field();
  if (maxval != 255 || pos >= f.size() || !std::isspace(f[pos])) throw bad_header();
  check_size(w, h, name, "PGM");
  size_t start = pos + 1, n = static_cast<size_t>(w * h);
  if (f.size() - start < n) throw IoError(name + ": truncated PGM data");
  Tensor t = Tensor::empty(Shape{h, w}, DType::u8);
  std::memcpy(t.data<uint8_t>(), f.data() + start, n);
  return t;
}

}  // namespace

Tensor read_grey_image(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(str_cat(path.string(), ": cannot open"));
  std::vector<unsigned char> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(str_cat(path.string(), ": cannot read"));
  if (f.size() >= 8 && png_sig_cmp(f.data(), 0, 8) == 0) return decode_png(f, path.string());
  if (f.size() >= 2 && f[0] == 'P' && f[1] == '5') return decode_pgm(f, path.string());
  throw IoError(str_cat(path.string(), ": not a PNG or binary PGM image"));
}

}  // namespace dagrad
