#include "frontend/data/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "runtime/error.h"

namespace dagrad {

namespace {

// `what` is completed with the reason of the failed system call, which set errno.
[[noreturn]] void fail(int err, const std::string& what) {
  throw IoError(str_cat(what, ": ", std::strerror(err)));
}

// Closes the descriptor and removes the temp file unless the write was committed.
class TempFile {
 public:
  explicit TempFile(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      int err = errno;
      fail(err, str_cat("cannot create '", path_.string(), "'"));
    }
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(std::span<const std::byte> bytes) {
    const std::byte* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        fail(err, str_cat("cannot write '", path_.string(), "'"));
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

  void commit(const std::filesystem::path& target) {
    if (::fsync(fd_) != 0) {
      int err = errno;
      fail(err, str_cat("cannot flush '", path_.string(), "' to disk"));
    }
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      int err = errno;
      fail(err, str_cat("cannot close '", path_.string(), "'"));
    }
    if (::rename(path_.c_str(), target.c_str()) != 0) {
      int err = errno;
      fail(err, str_cat("cannot rename '", path_.string(), "' to '", target.string(), "'"));
    }
    committed_ = true;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Best effort: on a file system whose directories cannot be synced the file is still there.
void sync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path,
                       std::span<const std::span<const std::byte>> pieces) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  TempFile file(tmp);
  for (std::span<const std::byte> piece : pieces) file.write(piece);
  file.commit(path);
  sync_directory(path.parent_path());
}

}  // namespace dagrad
