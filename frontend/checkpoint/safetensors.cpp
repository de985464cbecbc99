#include "frontend/checkpoint/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

#include "frontend/data/atomic_file.h"
#include "runtime/error.h"

namespace dagrad {

static_assert(std::endian::native == std::endian::little, "safetensors stores little-endian bytes");

namespace {

constexpr const char* kMetadataKey = "__metadata__";

// safetensors' names of dagrad's dtypes (every dtype has one).
const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    case DType::boolean: return "BOOL";
    case DType::i8: return "I8";
    case DType::i16: return "I16";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
    case DType::u16: return "U16";
    case DType::u32: return "U32";
    case DType::u64: return "U64";
  }
  return "?";
}

std::optional<DType> parse_st_dtype(const std::string& s) {
  for (DType t : kAllDTypes)
    if (s == st_dtype(t)) return t;
  return std::nullopt;
}

std::string st_dtype_list() {
  std::string names;
  for (DType t : kAllDTypes) names += str_cat(names.empty() ? "" : ", ", st_dtype(t));
  return names;
}

// A read-only file descriptor with error messages naming the file.
class InFile {
 public:
  explicit InFile(const std::filesystem::path& path) : name_(path.string()) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      int err = errno;
      throw IoError(str_cat(name_, ": cannot open: ", std::strerror(err)));
    }
    struct stat st{};
    if (::fstat(fd_, &st) != 0) {
      int err = errno;
      ::close(fd_);
      throw IoError(str_cat(name_, ": cannot stat: ", std::strerror(err)));
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~InFile() { ::close(fd_); }
  InFile(const InFile&) = delete;
  InFile& operator=(const InFile&) = delete;

  uint64_t size() const { return size_; }

  void read_at(uint64_t offset, void* dst, size_t n) const {
    char* p = static_cast<char*>(dst);
    while (n > 0) {
      ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        int err = errno;
        throw IoError(str_cat(name_, ": cannot read: ", std::strerror(err)));
      }
      if (got == 0) throw IoError(str_cat(name_, ": the file became shorter while it was read"));
      p += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<size_t>(got);
    }
  }

 private:
  std::string name_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// One tensor's header entry, validated against the data section's size.
Entry parse_entry(const std::string& file, const std::string& name, const nlohmann::json& info,
                  uint64_t data_size) {
  std::string who = str_cat(file, ": tensor '", name, "'");
  if (!info.is_object()) throw IoError(str_cat(who, ": header entry must be an object, got ", info.dump()));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!info.contains(key)) throw IoError(str_cat(who, ": header entry has no \"", key, "\""));

  Entry e;
  e.name = name;
  const nlohmann::json& dtype = info["dtype"];
  std::optional<DType> t = dtype.is_string() ? parse_st_dtype(dtype.get<std::string>()) : std::nullopt;
  if (!t)
    throw IoError(str_cat(who, ": unsupported dtype ", dtype.dump(), " (dagrad reads ", st_dtype_list(), ")"));
  e.dtype = *t;

  const nlohmann::json& shape = info["shape"];
  auto is_size = [](const nlohmann::json& v) { return v.is_number_integer() && v.get<int64_t>() >= 0; };
  if (!shape.is_array() || !std::all_of(shape.begin(), shape.end(), is_size))
    throw IoError(str_cat(who, ": shape must be an array of non-negative integers, got ", shape.dump()));
  // Saturating product: anything above the data section's size is a mismatch anyway.
  // Shape::numel multiplies every dimension in order, so even with a zero among them the
  // others must multiply to an int64 (a [2^62,2^62,0] tensor has no bytes but overflows).
  constexpr uint64_t kMaxElements = uint64_t{1} << 62;
  uint64_t bytes = dtype_size(e.dtype), nonzero = 1;
  for (const nlohmann::json& d : shape) {
    auto v = d.get<uint64_t>();
    e.shape.push_back(static_cast<int64_t>(v));  // is_size: v < 2^63
    bytes = v != 0 && bytes > UINT64_MAX / v ? UINT64_MAX : bytes * v;
    if (v != 0) nonzero = nonzero > kMaxElements / v ? kMaxElements + 1 : nonzero * v;
  }
  if (nonzero > kMaxElements)
    throw IoError(str_cat(who, ": shape ", shape.dump(), " has more than 2^62 elements (not counting zero sizes)"));

  const nlohmann::json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !is_size(offsets[0]) || !is_size(offsets[1]) ||
      offsets[0].get<uint64_t>() > offsets[1].get<uint64_t>())
    throw IoError(str_cat(who, ": data_offsets must be [begin, end] with 0 <= begin <= end, got ", offsets.dump()));
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  if (bytes != e.end - e.begin)
    throw IoError(str_cat(who, ": shape ", Shape(e.shape).to_string(), " ", dtype_name(e.dtype), " needs ",
                          bytes == UINT64_MAX ? std::string("more than 2^64") : std::to_string(bytes),
                          " bytes but data_offsets span ", e.end - e.begin));
  if (e.end > data_size)
    throw IoError(str_cat(who, ": data_offsets [", e.begin, ",", e.end, "] lie outside the data section, which has ",
                          data_size, " bytes"));
  return e;
}

// The tensors must tile [0, data_size) exactly, in offset order.
void check_coverage(const std::string& file, std::vector<Entry>& entries, uint64_t data_size) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < covered)
      throw IoError(str_cat(file, ": tensors '", prev->name, "' [", prev->begin, ",", prev->end, ") and '", e.name,
                            "' [", e.begin, ",", e.end, ") overlap"));
    if (e.begin > covered)
      throw IoError(str_cat(file, ": bytes [", covered, ",", e.begin, ") of the data section belong to no tensor (",
                            prev ? str_cat("a gap after '", prev->name, "'") : std::string("before the first tensor"),
                            ", before '", e.name, "')"));
    covered = e.end;
    prev = &e;
  }
  if (covered != data_size)
    throw IoError(str_cat(file, ": the data section has ", data_size, " bytes but the tensors cover only ", covered,
                          " (", data_size - covered, " bytes at the end belong to no tensor)"));
}

}  // namespace

void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                      const CheckpointMetadata& metadata) {
  const std::string file = path.string();
  std::vector<std::pair<std::string, Tensor>> sorted;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == kMetadataKey)
      throw ValueError(str_cat(file, ": '", name, "' cannot name a tensor in a safetensors file"));
    if (!t.defined()) throw ValueError(str_cat(file, ": tensor '", name, "' is undefined"));
    sorted.emplace_back(name, t.to(Device::cpu()));
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    size_t sa = dtype_size(a.second.dtype()), sb = dtype_size(b.second.dtype());
    return sa != sb ? sa > sb : a.first < b.first;
  });

  // ordered_json keeps "__metadata__" first and the tensors in offset order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  std::vector<std::span<const std::byte>> pieces;
  pieces.reserve(sorted.size() + 2);
  for (const auto& [name, t] : sorted) {
    header[name] = {{"dtype", st_dtype(t.dtype())}, {"shape", t.shape().dims()}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));

  pieces.push_back(std::as_bytes(std::span(length)));
  pieces.push_back(std::as_bytes(std::span(text)));
  for (const auto& [name, t] : sorted)
    if (t.nbytes()) pieces.emplace_back(static_cast<const std::byte*>(t.raw_data()), t.nbytes());
  write_file_atomic(path, pieces);
}

Checkpoint load_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  InFile in(path);
  if (in.size() < 8)
    throw IoError(str_cat(file, ": the file has ", in.size(),
                          " bytes, fewer than the 8-byte header length that starts a safetensors file"));
  unsigned char length_bytes[8];
  in.read_at(0, length_bytes, 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | length_bytes[i];
  if (header_len > in.size() - 8)
    throw IoError(str_cat(file, ": header length ", header_len, " is larger than the file allows (", in.size() - 8,
                          " bytes follow the length field); the file is truncated or not safetensors"));
  const uint64_t data_start = 8 + header_len, data_size = in.size() - data_start;

  std::string text(header_len, '\0');
  in.read_at(8, text.data(), text.size());
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw IoError(str_cat(file, ": the header is not valid JSON: ", e.what()));
  }
  if (!header.is_object())
    throw IoError(str_cat(file, ": the header must be a JSON object, got ", header.type_name()));

  Checkpoint ck;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == kMetadataKey) {
      if (!info.is_object())
        throw IoError(str_cat(file, ": \"__metadata__\" must be an object of strings, got ", info.type_name()));
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string())
          throw IoError(str_cat(file, ": metadata '", k, "' must be a string, got ", v.dump()));
        ck.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(file, name, info, data_size));
  }
  check_coverage(file, entries, data_size);

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(Shape(e.shape), e.dtype);
    if (t.nbytes()) in.read_at(data_start + e.begin, t.raw_data(), t.nbytes());
    if (e.dtype == DType::boolean) {  // any nonzero byte is true; a C++ bool must hold 0 or 1
      auto* bytes = static_cast<unsigned char*>(t.raw_data());
      for (size_t i = 0; i < t.nbytes(); ++i) bytes[i] = bytes[i] != 0;
    }
    ck.tensors.emplace(e.name, std::move(t));
  }
  return ck;
}

}  // namespace dagrad
