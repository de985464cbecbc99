// Process-wide choices of how float32 products are computed, read by the kernels.
#pragma once

namespace dagrad {

// Whether float32 GEMMs and convolutions may use TF32 tensor cores on CUDA (inputs rounded
// to 10 mantissa bits, float32 accumulation): faster, but it changes results, so it is
// off unless asked for (`--tf32`). The CPU has no TF32 and ignores it.
void set_tf32_allowed(bool on);
bool tf32_allowed();

}  // namespace dagrad
