#include "profiler/machine_peaks.h"

#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "frontend/data/atomic_file.h"
#include "ops/cpu/gemm_engine.h"
#include "profiler/machine_peaks_cuda.h"
#include "runtime/backend.h"
#include "runtime/error.h"

namespace dagrad::profiler {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Runs body(t) for t = 0 .. threads-1 at once: t = 0 on the calling thread.
template <class Body>
void on_threads(int threads, Body&& body) {
  std::vector<std::jthread> helpers;
  for (int t = 1; t < threads; ++t) helpers.emplace_back(body, t);
  body(0);
}  // the helpers join here

// More threads than hardware threads share the cores: they cannot add to the machine's
// rate, whatever each measured on its own CPU time.
double sum_of_thread_rates(const std::vector<double>& rates) {
  double sum = 0;
  for (double r : rates) sum += r;
  const auto threads = static_cast<double>(rates.size());
  const double hw = std::max(1u, std::thread::hardware_concurrency());
  return threads > hw ? sum * hw / threads : sum;
}

// The last-level cache of one CPU's cluster (sysfs, as lscpu shows it): sysconf's
// figure is the whole package's on some machines (320 MiB for ten 32 MiB caches), while
// a thread only fills the one of its own cluster. 0 when unknown.
size_t last_level_cache_bytes() {
  for (int index = 4; index >= 2; --index) {
    std::ifstream in(str_cat("/sys/devices/system/cpu/cpu0/cache/index", index, "/size"));
    std::string text;
    if (!(in >> text) || text.empty()) continue;
    size_t value = 0;
    size_t i = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i)
      value = value * 10 + static_cast<size_t>(text[i] - '0');
    const char unit = i < text.size() ? text[i] : ' ';
    return unit == 'K' ? value << 10 : unit == 'M' ? value << 20 : unit == 'G' ? value << 30 : value;
  }
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return l3 > 0 ? static_cast<size_t>(l3) : 0;
}

void check_threads(int threads) {
  if (threads < 1) throw ValueError(str_cat("[machine peaks] thread count must be at least 1, got ", threads));
}

// ---- the cache ----

std::mutex& peaks_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, MachinePeak>& memory_cache() {
  static std::map<std::string, MachinePeak> cache;
  return cache;
}

constexpr const char* kFormat = "dagrad machine peaks";

// The file's entries, or an empty object when it is missing or not what we wrote.
nlohmann::json read_cache_file(const std::filesystem::path& file) {
  nlohmann::json empty = nlohmann::json::object();
  std::ifstream in(file);
  if (!in) return empty;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("format", "") != kFormat || !j.contains("peaks") || !j["peaks"].is_object())
    return empty;
  return j["peaks"];
}

bool read_entry(const nlohmann::json& peaks, const std::string& key, MachinePeak& out) {
  auto it = peaks.find(key);
  if (it == peaks.end() || !it->is_object()) return false;
  const nlohmann::json& e = *it;
  auto number = [&](const char* name) {
    auto f = e.find(name);
    return f != e.end() && f->is_number() ? f->get<double>() : 0.0;
  };
  const double gflops = number("gflops"), gbps = number("gbps");
  if (!(std::isfinite(gflops) && gflops > 0 && std::isfinite(gbps) && gbps > 0)) return false;
  out.gflops = gflops;
  out.gbps = gbps;
  if (auto d = e.find("description"); d != e.end() && d->is_string()) out.description = d->get<std::string>();
  return true;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Adds `p` to the file, keeping the other entries (a corrupt file starts afresh). The
// cache only saves time: a file that cannot be written is left as it is.
void write_cache_entry(const std::filesystem::path& file, const MachinePeak& p) {
  nlohmann::json peaks = read_cache_file(file);
  peaks[p.key] = {{"description", p.description}, {"gflops", p.gflops}, {"gbps", p.gbps}, {"measured", utc_now()}};
  const std::string text = nlohmann::json{{"format", kFormat}, {"version", 1}, {"peaks", peaks}}.dump(2) + "\n";
  try {
    std::error_code ec;
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(text.data()), text.size());
    write_file_atomic(file, std::span<const std::span<const std::byte>>(&bytes, 1));
  } catch (const IoError&) {
  }
}

}  // namespace

std::filesystem::path default_peak_cache_file() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg) return std::filesystem::path(xdg) / "dagrad" / "machine_peaks.json";
  const char* home = std::getenv("HOME");
  if (home && *home) return std::filesystem::path(home) / ".cache" / "dagrad" / "machine_peaks.json";
  return {};
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    std::string name = line.substr(colon + 1);
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (!name.empty()) return name;
  }
  return "unknown CPU";
}

double measure_cpu_fma_gflops(int threads, double seconds) {
  check_threads(threads);
  using namespace gemm_engine;
  // One micro-kernel tile over packed panels that stay in L1/L2: the engine's inner loop
  // with no packing or memory traffic, i.e. its FMA ceiling.
  constexpr int64_t kc = 256;
  constexpr int64_t kCallsPerCheck = 64;
  const double flops_per_call = 2.0 * kMr * kNr * kc;
  std::vector<double> rates(static_cast<size_t>(threads), 0.0);
  std::barrier start(threads);
  auto body = [&](int t) {
    // The kernel reads its panels with aligned vector loads: the engine's own 64-byte
    // aligned scratch.
    Scratch scratch;
    float* a = scratch.get(Slot::pack_a, static_cast<size_t>(kMr * kc));
    float* b = scratch.get(Slot::pack_b, static_cast<size_t>(kc * kNr));
    float* c = scratch.get(Slot::output, static_cast<size_t>(kMr * kNr));
    std::fill_n(a, kMr * kc, 1e-3f);
    std::fill_n(b, kc * kNr, 1e-3f);
    std::fill_n(c, kMr * kNr, 0.f);
    auto call = [&] { micro_kernel(kNr, kc, a, b, c, kNr, kMr, kNr, true, nullptr); };
    for (int i = 0; i < kCallsPerCheck; ++i) call();  // warm: caches, clock
    start.arrive_and_wait();
    // The rate over this thread's own CPU time: cores do not share FMA units, so the
    // threads' rates add up, and other processes taking turns on the cores (a shared
    // machine) do not lower them.
    const double cpu0 = thread_cpu_s(), wall0 = now_s();
    int64_t calls = 0;
    do {
      for (int i = 0; i < kCallsPerCheck; ++i) call();
      calls += kCallsPerCheck;
    } while (now_s() - wall0 < seconds);
    const double cpu = thread_cpu_s() - cpu0;
    rates[static_cast<size_t>(t)] = cpu > 0 ? flops_per_call * static_cast<double>(calls) / cpu : 0;
  };
  on_threads(threads, body);
  return sum_of_thread_rates(rates) / 1e9;
}

double measure_cpu_triad_gbps(int threads, double seconds) {
  check_threads(threads);
  // Three arrays of twice the last-level cache each: 6x what it holds (STREAM asks 4x),
  // 64 to 512 MiB each so that setting them up stays short.
  const size_t array_bytes = std::clamp<size_t>(2 * last_level_cache_bytes(), 64u << 20, 512u << 20);
  const size_t n = array_bytes / sizeof(float) / static_cast<size_t>(threads);
  // A pass moves 3 arrays (STREAM counts the bytes the program reads and writes, not the
  // write-allocate traffic); estimate 10 GB/s per thread for the pass count.
  const double bytes_per_pass = 3.0 * sizeof(float) * static_cast<double>(n);
  const int passes = std::clamp(static_cast<int>(seconds * 10e9 / bytes_per_pass), 4, 200);
  std::vector<double> rates(static_cast<size_t>(threads), 0.0);
  std::barrier sync(threads);
  auto body = [&](int t) {
    // Each thread touches its own chunk first, so its pages sit near it.
    std::vector<float> va(n, 0.f), vb(n, 1.f), vc(n, 2.f);
    float* __restrict a = va.data();
    const float* __restrict b = vb.data();
    const float* __restrict c = vc.data();
    double best = INFINITY;
    for (int p = 0; p < passes; ++p) {
      // Passes start together, so the threads share the memory system as they would in a
      // kernel; each is timed by its own CPU time, so other processes taking turns on
      // the cores do not count. The best pass counts, as in STREAM.
      sync.arrive_and_wait();
      const double cpu0 = thread_cpu_s();
      for (size_t i = 0; i < n; ++i) a[i] = b[i] + 3.f * c[i];
      best = std::min(best, thread_cpu_s() - cpu0);
    }
    if (a[n / 2] != 7.f) best = INFINITY;  // keeps the loop; 1 + 3*2 is exact
    rates[static_cast<size_t>(t)] = best > 0 && std::isfinite(best) ? bytes_per_pass / best : 0;
  };
  on_threads(threads, body);
  return sum_of_thread_rates(rates) / 1e9;
}

MachinePeak cpu_peak(int threads, const PeakCacheOptions& cache) {
  check_threads(threads);
  const std::string model = cpu_model_name();
  return cached_peak(str_cat(model, " | ", threads, threads == 1 ? " thread" : " threads"),
                     str_cat(model, ", ", threads, threads == 1 ? " thread" : " threads"), cache,
                     [threads](MachinePeak& p) {
                       p.gflops = measure_cpu_fma_gflops(threads);
                       p.gbps = measure_cpu_triad_gbps(threads);
                     });
}

namespace detail {

int fp32_lanes_per_sm(int major, int minor) {
  switch (major) {
    case 3: return 192;
    case 5: return 128;
    case 6: return minor == 0 ? 64 : 128;
    case 7: return 64;
    case 8: return minor == 0 ? 64 : 128;
    default: return 128;  // 9.x (Hopper), 10.x and 12.x (Blackwell)
  }
}

}  // namespace detail

MachinePeak cuda_peak(int index, const PeakCacheOptions& cache) {
  if (index < 0 || index >= cuda_device_count()) {
    std::string why = cuda_unavailable_reason();
    throw DeviceError(
        why.empty() ? str_cat("[machine peaks] no CUDA device ", index, " (", cuda_device_count(), " present)") : why);
  }
  const detail::CudaDeviceInfo info = detail::cuda_device_info(index);
  const int lanes = detail::fp32_lanes_per_sm(info.major, info.minor);
  return cached_peak(str_cat("cuda | ", info.name, " | sm_", info.major, info.minor, " | ", info.sms, " SMs"),
                     str_cat(info.name, " (", info.sms, " SMs x ", lanes, " FP32 lanes at ", info.clock_ghz, " GHz)"),
                     cache, [&](MachinePeak& p) {
                       p.gflops = 2.0 * info.sms * lanes * info.clock_ghz;
                       p.gbps = detail::measure_cuda_copy_gbps(index);
                     });
}

MachinePeak cached_peak(const std::string& key, const std::string& description, const PeakCacheOptions& cache,
                        const std::function<void(MachinePeak&)>& measure) {
  std::lock_guard lock(peaks_mutex());  // also keeps two measurements from disturbing each other
  if (!cache.remeasure) {
    if (auto it = memory_cache().find(key); it != memory_cache().end()) {
      MachinePeak p = it->second;
      p.from_cache = true;
      return p;
    }
    MachinePeak p{key, description};
    if (!cache.file.empty() && read_entry(read_cache_file(cache.file), key, p)) {
      memory_cache()[key] = p;
      p.from_cache = true;
      return p;
    }
  }
  MachinePeak p{key, description};
  measure(p);
  memory_cache()[key] = p;
  if (!cache.file.empty()) write_cache_entry(cache.file, p);
  return p;
}

void clear_peak_memory_cache() {
  std::lock_guard lock(peaks_mutex());
  memory_cache().clear();
}

}  // namespace dagrad::profiler
