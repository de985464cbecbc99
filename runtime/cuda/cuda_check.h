// Checking macros for every CUDA runtime, cuBLAS (and NVRTC) call: a failing call
// throws dagrad::DeviceError naming the call, the error and where it was made:
//   "CUDA error cudaErrorInvalidValue (invalid argument) in cudaMemcpyAsync(...) at file.cpp:42"
// Header-only and C++17, so .cu files compiled by nvcc can use it too.
#pragma once
#include <cuda_runtime_api.h>

#include "runtime/cuda/libraries.h"
#include "runtime/error.h"

namespace dagrad::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  // Resets the thread's last-error slot so that a later cudaGetLastError() does not
  // report this error a second time (sticky errors stay: the context is lost anyway).
  (void)cudaGetLastError();
  throw DeviceError(str_cat("CUDA error ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ") in ",
                            call, " at ", file, ":", line));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                            int line) {
  const CublasApi& api = cublas_api();  // loaded: a cuBLAS call returned `status`
  throw DeviceError(str_cat("cuBLAS error ", api.status_name(status), " (", api.status_string(status),
                            ") in ", call, " at ", file, ":", line));
}

}  // namespace dagrad::cuda::detail

#define DAGRAD_CUDA_CHECK(expr)                                                    \
  do {                                                                             \
    const cudaError_t dagrad_err_ = (expr);                                        \
    if (dagrad_err_ != cudaSuccess)                                                \
      ::dagrad::cuda::detail::throw_cuda_error(dagrad_err_, #expr, __FILE__, __LINE__); \
  } while (0)

#define DAGRAD_CUBLAS_CHECK(expr)                                                        \
  do {                                                                                   \
    const cublasStatus_t dagrad_status_ = (expr);                                        \
    if (dagrad_status_ != CUBLAS_STATUS_SUCCESS)                                         \
      ::dagrad::cuda::detail::throw_cublas_error(dagrad_status_, #expr, __FILE__, __LINE__); \
  } while (0)

// NVRTC's check, for the run-time compiled kernels.
namespace dagrad::cuda::detail {
[[noreturn]] inline void throw_nvrtc_error(nvrtcResult result, const char* call, const char* file, int line) {
  throw DeviceError(str_cat("NVRTC error ", nvrtc_api().error_string(result), " in ", call, " at ", file, ":", line));
}
}  // namespace dagrad::cuda::detail

#define DAGRAD_NVRTC_CHECK(expr)                                                      \
  do {                                                                                \
    const nvrtcResult dagrad_result_ = (expr);                                        \
    if (dagrad_result_ != NVRTC_SUCCESS)                                              \
      ::dagrad::cuda::detail::throw_nvrtc_error(dagrad_result_, #expr, __FILE__, __LINE__); \
  } while (0)
