#include "runtime/cuda/nvrtc_compiler.h"

#include <nvrtc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/cuda_check.h"
#include "runtime/error.h"

namespace dagrad::cuda {

namespace {

// Destroys the program however compilation ends.
struct Program {
  nvrtcProgram p = nullptr;
  ~Program() {
    if (p) (void)nvrtc_api().destroy_program(&p);
  }
};

std::string program_log(nvrtcProgram p) {
  size_t n = 0;
  if (nvrtc_api().program_log_size(p, &n) != NVRTC_SUCCESS || n <= 1) return {};
  std::string log(n, '\0');
  if (nvrtc_api().program_log(p, log.data()) != NVRTC_SUCCESS) return {};
  log.resize(n - 1);  // the terminating NUL
  return log;
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Best effort: a cache that cannot be written is only slower.
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes) {
  std::error_code ec;
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return;
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) {
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

NvrtcResult nvrtc_compile(const std::string& source, const std::string& arch, const std::string& name) {
  Program prog;
  const NvrtcApi& api = nvrtc_api();
  DAGRAD_NVRTC_CHECK(api.create_program(&prog.p, source.c_str(), name.c_str(), 0, nullptr, nullptr));
  const std::string arch_opt = "--gpu-architecture=" + arch;
  // IEEE math without multiply-add contraction, as the nvcc kernels (ops/CMakeLists.txt)
  // and the host: a fused group computes exactly what its ops compute one by one.
  const char* opts[] = {arch_opt.c_str(), "--std=c++17", "--fmad=false"};
  const nvrtcResult r = api.compile_program(prog.p, 3, opts);
  NvrtcResult out;
  out.log = program_log(prog.p);
  if (r == NVRTC_ERROR_COMPILATION || r == NVRTC_ERROR_INVALID_OPTION)
    throw DeviceError(str_cat("NVRTC could not compile ", name, " for ", arch, ": ", api.error_string(r), "\n",
                              out.log));
  DAGRAD_NVRTC_CHECK(r);
  out.cubin = arch.rfind("sm_", 0) == 0;
  size_t size = 0;
  if (out.cubin) {
    DAGRAD_NVRTC_CHECK(api.cubin_size(prog.p, &size));
    out.image.resize(size);
    DAGRAD_NVRTC_CHECK(api.cubin(prog.p, out.image.data()));
  } else {
    DAGRAD_NVRTC_CHECK(api.ptx_size(prog.p, &size));  // includes the terminating NUL
    out.image.resize(size);
    DAGRAD_NVRTC_CHECK(api.ptx(prog.p, out.image.data()));
    while (!out.image.empty() && out.image.back() == '\0') out.image.pop_back();
  }
  return out;
}

std::string nvrtc_arch_for(int major, int minor) {
  int n = 0;
  const NvrtcApi& api = nvrtc_api();
  DAGRAD_NVRTC_CHECK(api.num_supported_archs(&n));
  std::vector<int> archs(static_cast<size_t>(n));
  if (n > 0) DAGRAD_NVRTC_CHECK(api.supported_archs(archs.data()));
  const int want = major * 10 + minor;
  if (std::find(archs.begin(), archs.end(), want) != archs.end()) return str_cat("sm_", want);
  int best = -1;
  for (int a : archs)
    if (a <= want) best = std::max(best, a);
  if (best < 0)
    throw DeviceError(str_cat("this NVRTC cannot compile for compute capability ", major, ".", minor,
                              " (the oldest architecture it supports is ",
                              archs.empty() ? 0 : *std::min_element(archs.begin(), archs.end()), ")"));
  return str_cat("compute_", best);
}

uint64_t source_hash(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

struct KernelCache::Impl {
  std::mutex mutex;
  std::unordered_map<std::string, cudaKernel_t> kernels;  // arch \0 kernel \0 source
  std::map<int, std::string> arch_of_device;
  Stats stats;

  const std::string& arch(int device) {
    auto it = arch_of_device.find(device);
    if (it != arch_of_device.end()) return it->second;
    int major = 0, minor = 0;
    DAGRAD_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    DAGRAD_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    return arch_of_device[device] = nvrtc_arch_for(major, minor);
  }

  // The image from the disk cache when enabled and present (and made from this very
  // source), else from NVRTC, stored back to the cache.
  std::string image(const std::string& source, const std::string& arch) {
    const char* dir = std::getenv("DAGRAD_CUDA_KERNEL_CACHE");
    const bool cubin = arch.rfind("sm_", 0) == 0;
    std::filesystem::path base;
    if (dir && *dir) {
      base = std::filesystem::path(dir) / (hex64(source_hash(source)) + "-" + arch);
      std::filesystem::path src_path = base, img_path = base;
      src_path += ".cu";
      img_path += cubin ? ".cubin" : ".ptx";
      std::optional<std::string> cached_src = read_file(src_path), cached_img = read_file(img_path);
      if (cached_src && cached_img && *cached_src == source && !cached_img->empty()) {
        ++stats.disk_hits;
        return *cached_img;
      }
    }
    NvrtcResult r = nvrtc_compile(source, arch, "dagrad_generated.cu");
    ++stats.compiled;
    if (!base.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(base.parent_path(), ec);
      std::filesystem::path src_path = base, img_path = base;
      src_path += ".cu";
      img_path += r.cubin ? ".cubin" : ".ptx";
      write_file_atomically(img_path, r.image);
      write_file_atomically(src_path, source);  // last: it validates the image
    }
    return r.image;
  }
};

KernelCache& KernelCache::instance() {
  static KernelCache* cache = new KernelCache;  // never destroyed: kernels stay loaded
  return *cache;
}

KernelCache::Impl& KernelCache::impl() const {
  static Impl* impl = new Impl;
  return *impl;
}

cudaKernel_t KernelCache::get(int device, const std::string& source, const std::string& kernel_name) {
  Impl& m = impl();
  std::lock_guard lock(m.mutex);
  const std::string& arch = m.arch(device);
  std::string key = arch;
  key += '\0';
  key += kernel_name;
  key += '\0';
  key += source;
  auto it = m.kernels.find(key);
  if (it != m.kernels.end()) {
    ++m.stats.memory_hits;
    return it->second;
  }
  std::string image = m.image(source, arch);
  DeviceGuard guard(device);
  cudaLibrary_t library = nullptr;  // kept loaded for the life of the process
  DAGRAD_CUDA_CHECK(cudaLibraryLoadData(&library, image.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  cudaKernel_t kernel = nullptr;
  DAGRAD_CUDA_CHECK(cudaLibraryGetKernel(&kernel, library, kernel_name.c_str()));
  m.kernels.emplace(std::move(key), kernel);
  return kernel;
}

KernelCache::Stats KernelCache::stats() const {
  Impl& m = impl();
  std::lock_guard lock(m.mutex);
  return m.stats;
}

}  // namespace dagrad::cuda
