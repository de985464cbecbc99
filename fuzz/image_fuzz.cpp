// libFuzzer target: read_grey_image (PNG through libpng, binary PGM) on arbitrary bytes.
// An image that reads is a grey [H, W] tensor within the size bound; a bad one must be a
// dagrad::Error, nothing else (another exception, a sanitizer report, a huge allocation
// or a libpng abort is a finding).
#include "frontend/image.h"
#include "fuzz/fuzz_file.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dagrad::fuzz::MemFile file;
  std::string path = file.write(data, size);
  try {
    dagrad::Tensor t = dagrad::read_grey_image(path);
    if (t.rank() != 2 || t.dtype() != dagrad::DType::u8 || t.numel() == 0) __builtin_trap();
    if (t.shape()[0] > 8192 || t.shape()[1] > 8192) __builtin_trap();
  } catch (const dagrad::Error&) {
  }
  return 0;
}
