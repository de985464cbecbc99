// The readers under test take a path: each input is written to one in-memory file
// (memfd), reached as /proc/self/fd/N, so fuzzing never touches the disk.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>

namespace dagrad::fuzz {

class MemFile {
 public:
  MemFile() : fd_(memfd_create("dagrad-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();  // the harness itself cannot run: not a finding
    }
  }
  ~MemFile() { close(fd_); }

  // Replaces the file's content; returns a path that opens it.
  std::string write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size)) {
      std::perror("memfd write");
      std::abort();
    }
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

}  // namespace dagrad::fuzz
