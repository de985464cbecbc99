// libFuzzer target: load_safetensors on arbitrary bytes. A file that loads holds every
// tensor's bytes; a bad one must be a dagrad::Error, nothing else (another exception, a
// sanitizer report or a huge allocation is a finding).

#include "frontend/checkpoint/safetensors.h"
#include "fuzz/fuzz_file.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dagrad::fuzz::MemFile file;
  std::string path = file.write(data, size);
  dagrad::Checkpoint ck;
  try {
    ck = dagrad::load_safetensors(path);
  } catch (const dagrad::Error&) {
    return 0;
  }
  size_t total = 0;
  for (const auto& [name, t] : ck.tensors) total += t.nbytes();
  if (total > size) __builtin_trap();  // the data section holds every tensor's bytes
  return 0;
}
