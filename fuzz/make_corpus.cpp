// Writes the seed corpus of the fuzz targets: valid inputs that reach deep into each
// parser, from which libFuzzer mutates, and dictionaries of their keywords. Usage:
// fuzz_make_corpus DIR (makes DIR/idx, DIR/safetensors, DIR/image, DIR/onnx, DIR/cli and DIR/*.dict).
#include <CLI/CLI.hpp>
#include <png.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "apps/app.h"
#include "frontend/checkpoint/safetensors.h"
#include "frontend/data/idx.h"
#include "runtime/error.h"

namespace {

using namespace dagrad;
namespace fs = std::filesystem;

Tensor ramp_u8(const Shape& s, int seed) {
  Tensor t = Tensor::empty(s, DType::u8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>((i * 37 + seed) % 251);
  return t;
}

template <class T>
Tensor ramp(const Shape& s, DType dtype) {
  Tensor t = Tensor::empty(s, dtype);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(i % 7) - 3;
  return t;
}

void write_idx_seeds(const fs::path& dir) {
  write_idx(dir / "images-3x4x5", ramp_u8(Shape{3, 4, 5}, 1));
  write_idx(dir / "images-2x28x28.gz", ramp_u8(Shape{2, 28, 28}, 2));
  write_idx(dir / "labels-10", ramp_u8(Shape{10}, 3));
  write_idx(dir / "labels-7.gz", ramp_u8(Shape{7}, 4));
  write_idx(dir / "rank4-1x2x2x3", ramp_u8(Shape{1, 2, 2, 3}, 5));
  write_idx(dir / "empty-0x28x28", ramp_u8(Shape{0, 28, 28}, 6));
}

void write_safetensors_seeds(const fs::path& dir) {
  save_safetensors(dir / "one-f32.safetensors", {{"w", ramp<float>(Shape{2, 3}, DType::f32)}});
  save_safetensors(dir / "every-dtype.safetensors",
                   {{"a.f32", ramp<float>(Shape{3}, DType::f32)},
                    {"b.f64", ramp<double>(Shape{2, 2}, DType::f64)},
                    {"c.i32", ramp<int32_t>(Shape{5}, DType::i32)},
                    {"d.i64", ramp<int64_t>(Shape{1}, DType::i64)},
                    {"e.u8", ramp_u8(Shape{3, 3}, 7)},
                    {"f.scalar", ramp<float>(Shape{}, DType::f32)},
                    {"g.empty", ramp<float>(Shape{0, 4}, DType::f32)}},
                   {{"model", "mlp"}, {"step", "12"}, {"epoch", "1"}});
  save_safetensors(dir / "metadata-only.safetensors", {}, {{"format", "pt"}});
}

// PNGs of every kind libpng's simplified writer makes (grey, grey+alpha, RGB, RGBA,
// palette, 16-bit) and binary PGMs, small enough for -max_len.
void write_image_seeds(const fs::path& dir) {
  struct Kind {
    const char* name;
    png_uint_32 format;
    int width, height;
  };
  for (const Kind& k : {Kind{"grey-28x28.png", PNG_FORMAT_GRAY, 28, 28}, Kind{"grey-alpha-3x3.png", PNG_FORMAT_GA, 3, 3},
                        Kind{"rgb-5x3.png", PNG_FORMAT_RGB, 5, 3}, Kind{"rgba-4x4.png", PNG_FORMAT_RGBA, 4, 4},
                        Kind{"palette-6x2.png", PNG_FORMAT_RGB_COLORMAP, 6, 2},
                        Kind{"grey16-4x3.png", PNG_FORMAT_LINEAR_Y, 4, 3}}) {
    png_image im{};
    im.version = PNG_IMAGE_VERSION;
    im.format = k.format;
    im.width = static_cast<png_uint_32>(k.width);
    im.height = static_cast<png_uint_32>(k.height);
    std::vector<unsigned char> colormap;
    if (k.format & PNG_FORMAT_FLAG_COLORMAP) {
      im.colormap_entries = 4;
      colormap = {0, 0, 0, 90, 60, 30, 200, 100, 0, 255, 255, 255};
    }
    std::vector<unsigned char> pixels(PNG_IMAGE_SIZE(im));
    for (size_t i = 0; i < pixels.size(); ++i)
      pixels[i] = static_cast<unsigned char>(k.format & PNG_FORMAT_FLAG_COLORMAP ? i % 4 : (i * 37 + 11) % 251);
    if (!png_image_write_to_file(&im, (dir / k.name).c_str(), 0, pixels.data(), 0,
                                 colormap.empty() ? nullptr : colormap.data()))
      throw IoError(str_cat(k.name, ": ", im.message));
  }
  std::string pgm = "P5\n# a comment\n4 3\n255\n";
  for (int i = 0; i < 12; ++i) pgm += static_cast<char>(i * 20);
  std::ofstream(dir / "grey-4x3.pgm", std::ios::binary) << pgm;
}

void write_cli_seeds(const fs::path& dir) {
  const std::vector<std::vector<std::string>> lines = {
      {"info"},
      {"ops"},
      {"--threads", "2", "train", "--model", "mlp", "--epochs", "1", "--batch", "64", "--lr", "0.05"},
      {"train", "--model", "lenet5", "--optimizer", "adamw", "--weight-decay", "0.01", "--schedule", "cosine",
       "--warmup", "10", "--device", "cpu", "--streams", "2", "--no-fusion", "--check-numerics", "--quiet"},
      {"train", "--dataset", "fashion", "--norm", "auto", "--schedule", "step", "--step-size", "100", "--gamma", "0.5",
       "--momentum", "0.9", "--nesterov", "--seed", "7", "--max-steps", "5", "--out", "runs/x", "--save", "m.st"},
      {"train", "--data", "data/mnist", "--device", "cuda:1", "--bucket-mb", "2.5", "--allreduce", "--no-memory-plan"},
      {"eval", "--model", "mlp", "--load", "/dev/null", "--split", "train", "--batch", "500"},
      {"predict", "--model", "mnist-cnn", "--load", "/dev/null", "--index", "3", "--json", "--invert"},
      {"plan", "--model", "mnist-cnn", "--batch", "32", "--format", "dot", "--streams", "4", "--infer"},
      {"profile", "--model", "lenet5", "--steps", "3", "--out", "prof", "--ops"},
      {"bench", "--gemm", "--seconds", "0.5", "--device", "cpu"},
      {"--comm-timeout", "30", "--help"},
      {"train", "--epochs", "-1"},
  };
  int i = 0;
  for (const auto& line : lines) {
    std::string bytes;
    for (size_t k = 0; k < line.size(); ++k) bytes += (k ? std::string(1, '\0') : std::string()) + line[k];
    std::ofstream(dir / ("cmd-" + std::to_string(i++)), std::ios::binary) << bytes;
  }
}

// The JSON keys and values a safetensors header is made of.
void write_safetensors_dict(const fs::path& file) {
  std::ofstream out(file);
  for (const char* w : {"__metadata__", "dtype", "shape", "data_offsets", "F32", "F64", "I32", "I64", "U8", "BF16",
                        "{", "}", "[", "]", ":", ",", "\\\\u0000", "18446744073709551615", "-1", "1e308"})
    out << '"' << w << "\"\n";  // (no entry holds a quote; a backslash is doubled above)
}

// PNG's signature and chunk names, and PGM's header words.
void write_image_dict(const fs::path& file) {
  std::ofstream out(file);
  out << "\"\\x89PNG\\x0D\\x0A\\x1A\\x0A\"\n";
  for (const char* w : {"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA", "sRGB", "iCCP", "cHRM", "bKGD", "sBIT", "P5",
                        "255", "65535", "#"})
    out << '"' << w << "\"\n";
}

// Every subcommand and option name of the real command line, read from its CLI11 apps.
void write_cli_dict(const fs::path& file) {
  cli::DagradApp cmd;
  std::ofstream out(file);
  out << "\"cpu\"\n\"cuda:\"\n";  // --device values
  auto options = [&](const CLI::App& a) {
    for (const CLI::Option* o : a.get_options())
      for (const std::string& n : o->get_lnames()) out << "\"--" << n << "\"\n";
  };
  options(cmd.app);
  for (const cli::Command& c : cmd.commands) {
    out << '"' << c.app->get_name() << "\"\n";
    options(*c.app);
  }
}

// Small models of ONNX's own test suite (libonnx-testdata), when it is installed.
void write_onnx_seeds(const fs::path& dir) {
  const fs::path suite = "/usr/share/libonnx-testdata/data/node";
  for (const char* t : {"test_relu", "test_add_bcast", "test_conv_with_strides_padding", "test_maxpool_2d_pads",
                        "test_reshape_reordered_all_dims", "test_slice", "test_softmax_axis_1", "test_gemm_all_attributes",
                        "test_unsqueeze_axis_0", "test_constant", "test_reduce_sum_keepdims_example"})
    if (fs::exists(suite / t / "model.onnx")) fs::copy_file(suite / t / "model.onnx", dir / t);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    fs::path root = argv[1];
    for (const char* sub : {"idx", "safetensors", "image", "onnx", "cli"}) fs::create_directories(root / sub);
    write_idx_seeds(root / "idx");
    write_safetensors_seeds(root / "safetensors");
    write_image_seeds(root / "image");
    write_cli_seeds(root / "cli");
    write_onnx_seeds(root / "onnx");
    write_safetensors_dict(root / "safetensors.dict");
    write_image_dict(root / "image.dict");
    write_cli_dict(root / "cli.dict");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_make_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
