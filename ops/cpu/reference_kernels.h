// A process-wide switch to the simple float32 CPU kernels: convolutions as per-image
// im2col + BLAS GEMM, GEMMs through OpenBLAS instead of dagrad's engine, max-pooling by
// the generic window loop instead of the vectorised 2x2 path. The fast kernels must agree
// with these to float tolerance; tests and `DAGRAD_REFERENCE_KERNELS=1` use them to
// check the optimised configuration against the plain one. Off by default.
#pragma once

namespace dagrad {

// Initially true when the environment variable DAGRAD_REFERENCE_KERNELS is set to a
// value other than "0". Not to be flipped while kernels run.
bool reference_kernels();
void set_reference_kernels(bool on);

}  // namespace dagrad
