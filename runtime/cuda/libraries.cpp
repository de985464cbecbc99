#include "runtime/cuda/libraries.h"

#include <dlfcn.h>

#include "runtime/error.h"

namespace dagrad::cuda {

namespace {

// The soname first (the executable's run path and the loader's cache find it), then the
// toolkit's copy this build was linked against.
void* open_library(const char* soname, const char* path) {
  for (const char* name : {soname, path})
    if (*name)
      if (void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) return lib;
  throw DeviceError(str_cat("cannot load ", soname, ": ", dlerror()));
}

class Symbols {
 public:
  Symbols(const char* soname, const char* path) : soname_(soname), lib_(open_library(soname, path)) {}
  template <class F>
  void operator()(const char* name, F& fn) const {
    fn = reinterpret_cast<F>(dlsym(lib_, name));
    if (!fn) throw DeviceError(str_cat(soname_, " has no ", name));
  }

 private:
  const char* soname_;
  void* lib_;
};

CublasApi load_cublas() {
  const Symbols sym(DAGRAD_CUBLAS_SONAME, DAGRAD_CUBLAS_PATH);
  CublasApi api{};
  sym("cublasCreate_v2", api.create);
  sym("cublasDestroy_v2", api.destroy);
  sym("cublasSetStream_v2", api.set_stream);
  sym("cublasGetStream_v2", api.get_stream);
  sym("cublasSetWorkspace_v2", api.set_workspace);
  sym("cublasGetStatusName", api.status_name);
  sym("cublasGetStatusString", api.status_string);
  sym("cublasSgemmStridedBatched_64", api.sgemm_strided_batched);
  sym("cublasDgemmStridedBatched_64", api.dgemm_strided_batched);
  sym("cublasGemmStridedBatchedEx_64", api.gemm_strided_batched_ex);
  sym("cublasSscal_v2_64", api.sscal);
  sym("cublasDscal_v2_64", api.dscal);
  return api;
}

NvrtcApi load_nvrtc() {
  const Symbols sym(DAGRAD_NVRTC_SONAME, DAGRAD_NVRTC_PATH);
  NvrtcApi api{};
  sym("nvrtcCreateProgram", api.create_program);
  sym("nvrtcCompileProgram", api.compile_program);
  sym("nvrtcDestroyProgram", api.destroy_program);
  sym("nvrtcGetProgramLogSize", api.program_log_size);
  sym("nvrtcGetProgramLog", api.program_log);
  sym("nvrtcGetPTXSize", api.ptx_size);
  sym("nvrtcGetPTX", api.ptx);
  sym("nvrtcGetCUBINSize", api.cubin_size);
  sym("nvrtcGetCUBIN", api.cubin);
  sym("nvrtcGetNumSupportedArchs", api.num_supported_archs);
  sym("nvrtcGetSupportedArchs", api.supported_archs);
  sym("nvrtcGetErrorString", api.error_string);
  return api;
}

}  // namespace

// Function-local statics: initialised once, and again at the next call if loading threw.
const CublasApi& cublas_api() {
  static const CublasApi api = load_cublas();
  return api;
}

const NvrtcApi& nvrtc_api() {
  static const NvrtcApi api = load_nvrtc();
  return api;
}

}  // namespace dagrad::cuda
