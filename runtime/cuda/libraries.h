// cuBLAS and NVRTC, opened (dlopen) when first needed rather than linked: a linked
// library is loaded at program start, and these two add about 210 MB and 32 MB of
// resident memory to every process that maps them (measured on processes that only load
// libcublasLt.so.13 / libnvrtc.so.13), while most processes of a CUDA build (CPU
// training, the test suites, `dagrad --help`) never run a GEMM on a GPU or compile a
// kernel.
#pragma once
#include <cublas_v2.h>
#include <nvrtc.h>

namespace dagrad::cuda {

// The cuBLAS entry points dagrad calls, by their exported names (cublas_v2.h maps the
// short names to these).
struct CublasApi {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasDestroy_v2) destroy;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasGetStream_v2) get_stream;
  decltype(&cublasSetWorkspace_v2) set_workspace;
  decltype(&cublasGetStatusName) status_name;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasSgemmStridedBatched_64) sgemm_strided_batched;
  decltype(&cublasDgemmStridedBatched_64) dgemm_strided_batched;
  decltype(&cublasGemmStridedBatchedEx_64) gemm_strided_batched_ex;  // 16-bit operands, TF32
  decltype(&cublasSscal_v2_64) sscal;
  decltype(&cublasDscal_v2_64) dscal;
};

struct NvrtcApi {
  decltype(&nvrtcCreateProgram) create_program;
  decltype(&nvrtcCompileProgram) compile_program;
  decltype(&nvrtcDestroyProgram) destroy_program;
  decltype(&nvrtcGetProgramLogSize) program_log_size;
  decltype(&nvrtcGetProgramLog) program_log;
  decltype(&nvrtcGetPTXSize) ptx_size;
  decltype(&nvrtcGetPTX) ptx;
  decltype(&nvrtcGetCUBINSize) cubin_size;
  decltype(&nvrtcGetCUBIN) cubin;
  decltype(&nvrtcGetNumSupportedArchs) num_supported_archs;
  decltype(&nvrtcGetSupportedArchs) supported_archs;
  decltype(&nvrtcGetErrorString) error_string;
};

// Open the library at the first call (thread-safe; a failure throws DeviceError naming
// the library and the loader's reason, and the next call tries again).
const CublasApi& cublas_api();
const NvrtcApi& nvrtc_api();

}  // namespace dagrad::cuda
