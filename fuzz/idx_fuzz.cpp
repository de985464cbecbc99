// libFuzzer target: read_idx on arbitrary bytes (plain or gzip). Every outcome must be a
// tensor that agrees with its header or a dagrad::Error; anything else (another
// exception, a sanitizer report, a huge allocation) is a finding.
#include <cstring>

#include "frontend/data/idx.h"
#include "fuzz/fuzz_file.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dagrad::fuzz::MemFile file;
  std::string path = file.write(data, size);
  for (dagrad::IdxKind kind : {dagrad::IdxKind::any, dagrad::IdxKind::images, dagrad::IdxKind::labels}) {
    try {
      dagrad::Tensor t = dagrad::read_idx(path, kind);
      // A plain file that parsed holds exactly header + data.
      bool plain = size < 2 || data[0] != 0x1f || data[1] != 0x8b;
      if (plain && static_cast<size_t>(4 + 4 * t.rank() + t.nbytes()) != size) __builtin_trap();
      if (plain && t.nbytes() && std::memcmp(t.raw_data(), data + 4 + 4 * t.rank(), t.nbytes()) != 0)
        __builtin_trap();
    } catch (const dagrad::Error&) {
    }
  }
  return 0;
}
