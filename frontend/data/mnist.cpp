#include "frontend/data/mnist.h"

#include <cmath>
#include <string>
#include <vector>

#include "frontend/data/idx.h"
#include "runtime/error.h"

namespace dagrad {

namespace {

constexpr int kNumClasses = 10;

// What is wrong with an (images, labels) pair, or "" when they fit together.
std::string problem(const Tensor& images, const Tensor& labels, const std::string& images_name,
                    const std::string& labels_name) {
  if (!images.defined() || images.dtype() != DType::u8 || images.rank() != 3)
    return str_cat(images_name, " must be uint8 [N,H,W], got ",
                   images.defined() ? str_cat(images.shape().to_string(), " ", dtype_name(images.dtype())) : "nothing");
  if (!labels.defined() || labels.dtype() != DType::u8 || labels.rank() != 1)
    return str_cat(labels_name, " must be uint8 [N], got ",
                   labels.defined() ? str_cat(labels.shape().to_string(), " ", dtype_name(labels.dtype())) : "nothing");
  if (images.shape()[0] != labels.shape()[0])
    return str_cat(images_name, " has ", images.shape()[0], " images but ", labels_name, " has ", labels.shape()[0],
                   " labels; they must come in pairs (are they from the same split?)");
  Tensor host = labels.to(Device::cpu());
  const uint8_t* l = host.data<uint8_t>();
  for (int64_t i = 0; i < host.numel(); ++i)
    if (l[i] >= kNumClasses)
      return str_cat(labels_name, ": label ", int{l[i]}, " at index ", i, " is outside 0..", kNumClasses - 1);
  return {};
}

// The first of `names` (each tried plain and .gz) that exists in dir; when none does,
// "" with every candidate appended to `missing`.
std::filesystem::path find_file(const std::filesystem::path& dir, std::initializer_list<std::string> names,
                                std::vector<std::string>& missing) {
  std::vector<std::string> tried;
  for (const std::string& name : names)
    for (const char* suffix : {"", ".gz"}) {
      std::filesystem::path p = dir / (name + suffix);
      std::error_code ec;
      if (std::filesystem::is_regular_file(p, ec)) return p;
      tried.push_back(p.filename().string());
    }
  missing.insert(missing.end(), tried.begin(), tried.end());
  return {};
}

}  // namespace

Normalization Normalization::named(std::string_view name) {
  if (name == "mnist") return mnist();
  if (name == "fashion" || name == "fashion-mnist" || name == "fashion_mnist") return fashion_mnist();
  throw ValueError(str_cat("unknown data set '", name, "' for normalisation; expected 'mnist' or 'fashion'"));
}

Normalization compute_normalization(const Tensor& images) {
  if (!images.defined() || images.dtype() != DType::u8 || images.numel() == 0)
    throw ValueError("compute_normalization needs a non-empty uint8 tensor of images");
  Tensor host = images.to(Device::cpu());
  // Exact integer histogram first: the sums are then independent of summation order.
  int64_t counts[256] = {};
  const uint8_t* p = host.data<uint8_t>();
  for (int64_t i = 0; i < host.numel(); ++i) ++counts[p[i]];
  const double n = static_cast<double>(host.numel());
  double sum = 0;
  for (int v = 0; v < 256; ++v) sum += static_cast<double>(counts[v]) * (v / 255.0);
  const double mean = sum / n;
  double sq = 0;  // second pass around the mean: no cancellation for near-constant images
  for (int v = 0; v < 256; ++v) sq += static_cast<double>(counts[v]) * (v / 255.0 - mean) * (v / 255.0 - mean);
  return {mean, std::sqrt(sq / n)};
}

MnistDataset MnistDataset::load(const std::filesystem::path& dir, std::string_view split, Normalization norm) {
  if (split != "train" && split != "test")
    throw ValueError(str_cat("MNIST split must be 'train' or 'test', got '", split, "'"));
  const std::string p = split == "train" ? "train" : "t10k";
  std::vector<std::string> missing;
  std::filesystem::path images_path =
      find_file(dir, {p + "-images-idx3-ubyte", p + "-images.idx3-ubyte"}, missing);
  std::filesystem::path labels_path =
      find_file(dir, {p + "-labels-idx1-ubyte", p + "-labels.idx1-ubyte"}, missing);
  if (images_path.empty() || labels_path.empty()) {
    std::string names;
    for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
    std::error_code ec;
    throw IoError(str_cat("MNIST ", split, " split not found in '", dir.string(), "'",
                          std::filesystem::is_directory(dir, ec) ? "" : " (no such directory)", ": looked for ",
                          names, " (scripts/fetch_data.sh downloads the data)"));
  }
  Tensor images = read_idx(images_path, IdxKind::images);
  Tensor labels = read_idx(labels_path, IdxKind::labels);
  std::string why = problem(images, labels, images_path.string(), labels_path.string());
  if (!why.empty()) throw IoError(why);
  return MnistDataset(std::move(images), std::move(labels), norm);
}

MnistDataset::MnistDataset(Tensor images, Tensor labels, Normalization norm)
    : images_(images.defined() ? images.to(Device::cpu()) : images),
      labels_(labels.defined() ? labels.to(Device::cpu()) : labels),
      norm_(norm) {
  std::string why = problem(images_, labels_, "images", "labels");
  if (!why.empty()) throw ValueError(str_cat("MnistDataset: ", why));
  if (!(norm.std > 0)) throw ValueError(str_cat("MnistDataset: normalisation std must be > 0, got ", norm.std));
  for (int v = 0; v < 256; ++v) table_[v] = static_cast<float>((v / 255.0 - norm.mean) / norm.std);
}

Batch MnistDataset::gather(std::span<const int64_t> indices) const {
  const int64_t b = static_cast<int64_t>(indices.size()), pixels = rows() * cols();
  Batch batch;
  batch.input = Tensor::empty(Shape{b, 1, rows(), cols()}, DType::f32);
  batch.target = Tensor::empty(Shape{b}, DType::i64);
  const uint8_t* src = images_.data<uint8_t>();
  const uint8_t* lab = labels_.data<uint8_t>();
  float* dst = batch.input.data<float>();
  int64_t* out_labels = batch.target.data<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    int64_t s = indices[i];
    if (s < 0 || s >= size())
      throw ValueError(str_cat("MnistDataset: sample index ", s, " out of range [0, ", size(), ")"));
    const uint8_t* img = src + s * pixels;
    float* out = dst + i * pixels;
    for (int64_t k = 0; k < pixels; ++k) out[k] = table_[img[k]];
    out_labels[i] = lab[s];
  }
  return batch;
}

}  // namespace dagrad
