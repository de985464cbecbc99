#include "frontend/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "frontend/data/atomic_file.h"
#include "runtime/error.h"

namespace dagrad {

namespace {

constexpr uint32_t kUnsignedByte = 0x08;
// A header that asks for more than this is corrupt, not a data set (MNIST is 47 MB).
constexpr int64_t kMaxBytes = int64_t{1} << 36;

std::string hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

uint32_t big_endian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void put_big_endian32(std::vector<std::byte>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::byte>((v >> shift) & 0xFF));
}

// gzFile with RAII; reads plain files transparently.
class GzReader {
 public:
  explicit GzReader(const std::filesystem::path& path) : path_(path.string()) {
    errno = 0;
    file_ = gzopen(path_.c_str(), "rb");
    if (!file_) {
      int err = errno;
      throw IoError(str_cat(path_, ": cannot open: ", err ? std::strerror(err) : "out of memory"));
    }
    gzbuffer(file_, 1 << 17);
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; returns how many arrived before the end of the data. A damaged
  // gzip stream is an error; a stream cut short just ends early (callers report it).
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      int got = gzread(file_, static_cast<char*>(dst) + done, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(file_, &code);
        throw IoError(str_cat(path_, ": cannot read: ",
                              code == Z_ERRNO ? std::strerror(errno) : msg,
                              code == Z_DATA_ERROR ? " (the gzip data is corrupt)" : ""));
      }
      done += static_cast<size_t>(got);
      if (static_cast<unsigned>(got) < chunk) break;
    }
    return done;
  }

  // True when the data ended because a gzip stream was cut off, not at its proper end.
  bool cut_short() {
    int code = 0;
    gzerror(file_, &code);
    return code == Z_BUF_ERROR;
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

const char* kind_name(IdxKind kind) { return kind == IdxKind::images ? "an images" : "a labels"; }

// "60000 images of 28x28", "60000 labels", "dimensions [2,3,4]".
std::string describe(IdxKind kind, const std::vector<int64_t>& dims) {
  if (kind == IdxKind::images) return str_cat(dims[0], " images of ", dims[1], "x", dims[2]);
  if (kind == IdxKind::labels) return str_cat(dims[0], " labels");
  return str_cat("dimensions ", Shape(dims).to_string());
}

void check_magic(const std::string& file, uint32_t magic, IdxKind kind) {
  uint32_t ndims = magic & 0xFF;
  uint32_t expected_dims = kind == IdxKind::images ? 3 : 1;
  uint32_t expected = (kUnsignedByte << 8) | expected_dims;
  std::string head = kind == IdxKind::any
                         ? str_cat(file, ": bad magic number ", hex32(magic), " (expected 0x000008NN for an IDX file)")
                         : str_cat(file, ": bad magic number ", hex32(magic), " (expected ", hex32(expected), " for ",
                                   kind_name(kind), " file)");
  if ((magic >> 16) != 0)
    throw IoError(str_cat(head, ": this is not an IDX file, whose first two bytes are zero"));
  uint32_t type = (magic >> 8) & 0xFF;
  if (type != kUnsignedByte)
    throw IoError(str_cat(head, ": element type 0x", hex32(type).substr(8),
                          " is not supported; dagrad reads unsigned-byte IDX files (0x08)"));
  if (kind == IdxKind::any ? ndims == 0 : ndims != expected_dims) {
    std::string plural = ndims == 1 ? "" : "s";
    if (kind == IdxKind::any)
      throw IoError(str_cat(head, ": it declares 0 dimensions"));
    throw IoError(str_cat(head, ": it declares ", ndims, " dimension", plural, " but ", kind_name(kind),
                          " file has ", expected_dims,
                          kind == IdxKind::images ? " (count, rows, columns)" : " (count)"));
  }
}

// gzip (deflate with a gzip header) of `data`, in memory.
std::vector<std::byte> gzip(std::span<const std::byte> header, std::span<const std::byte> data,
                            const std::string& file) {
  // One deflate call takes at most 4 GiB; IDX files the loader reads are far smaller.
  if (header.size() + data.size() > 0xF0000000u)
    throw IoError(str_cat(file, ": too large to compress in one piece; write it uncompressed"));
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw IoError(str_cat(file, ": cannot start gzip compression (out of memory)"));
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, deflateEnd);
  std::vector<std::byte> out(deflateBound(&zs, header.size() + data.size()) + 64);
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  auto feed = [&](std::span<const std::byte> in, int flush) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    int rc = deflate(&zs, flush);
    if (rc != (flush == Z_FINISH ? Z_STREAM_END : Z_OK))
      throw IoError(str_cat(file, ": gzip compression failed (zlib code ", rc, ")"));
  };
  feed(header, Z_NO_FLUSH);
  feed(data, Z_FINISH);
  out.resize(zs.total_out);
  return out;
}

}  // namespace

Tensor read_idx(const std::filesystem::path& path, IdxKind kind) {
  const std::string file = path.string();
  GzReader in(path);

  unsigned char magic_bytes[4];
  size_t got = in.read(magic_bytes, 4);
  if (got < 4)
    throw IoError(str_cat(file, ": truncated: the file holds ", got, " bytes, fewer than the 4-byte magic number"));
  uint32_t magic = big_endian32(magic_bytes);
  check_magic(file, magic, kind);

  uint32_t ndims = magic & 0xFF;
  std::vector<unsigned char> size_bytes(4 * ndims);
  got = in.read(size_bytes.data(), size_bytes.size());
  if (got < size_bytes.size())
    throw IoError(str_cat(file, ": truncated header: ", ndims, " dimension sizes need ", size_bytes.size(),
                          " bytes after the magic number but only ", got, " follow"));
  std::vector<int64_t> dims(ndims);
  int64_t bytes = 1, item_bytes = 1;  // saturate above kMaxBytes; item: all but the count
  for (uint32_t i = 0; i < ndims; ++i) {
    dims[i] = big_endian32(&size_bytes[4 * i]);
    bytes = dims[i] > 0 && bytes > kMaxBytes / dims[i] ? kMaxBytes + 1 : bytes * dims[i];
    if (i > 0) item_bytes = dims[i] > 0 && item_bytes > kMaxBytes / dims[i] ? kMaxBytes + 1 : item_bytes * dims[i];
  }
  for (uint32_t i = 1; i < ndims; ++i)
    if (dims[i] == 0)
      throw IoError(str_cat(file, ": header declares ", describe(kind, dims), ", an empty ",
                            kind == IdxKind::images ? "image size" : "dimension", "; expected sizes >= 1"));
  if (bytes > kMaxBytes)
    throw IoError(str_cat(file, ": header declares ", describe(kind, dims), ", more than ", kMaxBytes >> 30,
                          " GiB: the header is corrupt"));
  // A count of 0 makes any item size 0 bytes, but the shape must still be one dagrad can
  // index (its strides are products of the item sizes).
  if (item_bytes > kMaxBytes)
    throw IoError(str_cat(file, ": header declares ", describe(kind, dims), ": one item alone would be more than ",
                          kMaxBytes >> 30, " GiB; the header is corrupt"));

  // Read in growing chunks (64 KiB, doubling up to 16 MiB) before allocating the tensor,
  // so a corrupt header over a short file cannot make us reserve, or zero, megabytes.
  std::vector<unsigned char> data;
  while (static_cast<int64_t>(data.size()) < bytes) {
    int64_t chunk = std::clamp<int64_t>(static_cast<int64_t>(data.size()), 64 << 10, 16 << 20);
    size_t want = static_cast<size_t>(std::min<int64_t>(bytes - static_cast<int64_t>(data.size()), chunk));
    size_t old = data.size();
    data.resize(old + want);
    size_t n = in.read(data.data() + old, want);
    data.resize(old + n);
    if (n < want) break;
  }
  if (static_cast<int64_t>(data.size()) < bytes)
    throw IoError(str_cat(file, ": truncated: header says ", describe(kind, dims), " (", bytes,
                          " bytes) but only ", data.size(), " bytes follow",
                          in.cut_short() ? " (the gzip stream ends early)" : ""));
  unsigned char extra[4096];
  size_t trailing = 0;
  while (size_t n = in.read(extra, sizeof extra)) {
    trailing += n;
    if (n < sizeof extra) break;
  }
  if (trailing > 0)
    throw IoError(str_cat(file, ": ", trailing, " unexpected bytes after the ", bytes, " bytes of data (header says ",
                          describe(kind, dims), "): the file is not what its header describes"));
  Tensor t = Tensor::empty(Shape(dims), DType::u8);
  if (bytes > 0) std::memcpy(t.raw_data(), data.data(), data.size());
  return t;
}

void write_idx(const std::filesystem::path& path, const Tensor& t) {
  const std::string file = path.string();
  if (!t.defined() || t.dtype() != DType::u8 || t.rank() < 1 || t.rank() > 255)
    throw ValueError(str_cat(file, ": write_idx needs a uint8 tensor of rank 1 to 255, got ",
                             t.defined() ? str_cat(t.shape().to_string(), " ", dtype_name(t.dtype())) : "an undefined tensor"));
  Tensor host = t.to(Device::cpu());
  std::vector<std::byte> header;
  put_big_endian32(header, (kUnsignedByte << 8) | static_cast<uint32_t>(host.rank()));
  for (int64_t d : host.shape()) {
    if (d > 0xFFFFFFFFll) throw ValueError(str_cat(file, ": dimension ", d, " does not fit IDX's 32-bit sizes"));
    put_big_endian32(header, static_cast<uint32_t>(d));
  }
  std::span<const std::byte> data(static_cast<const std::byte*>(host.raw_data()), host.nbytes());
  if (path.extension() == ".gz") {
    std::vector<std::byte> packed = gzip(header, data, file);
    std::span<const std::byte> pieces[] = {packed};
    write_file_atomic(path, pieces);
  } else {
    std::span<const std::byte> pieces[] = {header, data};
    write_file_atomic(path, pieces);
  }
}

}  // namespace dagrad
