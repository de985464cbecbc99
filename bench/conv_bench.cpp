// The convolution passes of a model's training step on every path this CPU has: float32,
// and bfloat16 as dispatched, on vdpbf16ps forced, and widened to the float32 kernels. Each
// is timed on the thread pool at the training batch, so the rates are those a training step
// gets; they decide which path bfloat16 takes (bench/NOTES.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

#include "bench/bench.h"
#include "ops/cpu/amx.h"
#include "ops/cpu/conv_f32.h"
#include "ops/cpu/gemm_bf16.h"
#include "runtime/float16.h"
#include "runtime/thread_pool.h"

namespace dagrad::bench {

namespace {

ConvGeom geom(int64_t n, int64_t c, int64_t hw, int64_t o, int64_t k, int64_t pad) {
  ConvGeom g;
  g.n = n, g.c = c, g.h = g.w = hw, g.o = o, g.kh = g.kw = k, g.ph = g.pw = pad;
  g.oh = g.ow = hw + 2 * pad - k + 1;
  return g;
}

struct Layer {
  const char* name;
  ConvGeom g;
};

// The model's convolutions (kernel, padding and channels as models/ builds them).
std::vector<Layer> model_layers(const std::string& model, int64_t batch) {
  if (model == "mnist-cnn") return {{"conv1", geom(batch, 1, 28, 32, 3, 0)}, {"conv2", geom(batch, 32, 26, 64, 3, 0)}};
  if (model == "lenet5") return {{"conv1", geom(batch, 1, 28, 6, 5, 2)}, {"conv2", geom(batch, 6, 14, 16, 5, 0)}};
  return {};
}

// The median wall time of fn over about `seconds` (at least 5 runs, after one warm-up).
double median_seconds(const std::function<void()>& fn, double seconds) {
  fn();
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  do {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  } while (times.size() < 5 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds);
  return median_of(std::move(times));
}

// Deterministic values within [-1, 1], as float32 and as bfloat16 bits (the same values).
struct Operand {
  std::vector<float> f32;
  std::vector<uint16_t> bf16;
  explicit Operand(int64_t n, int salt) : f32(static_cast<size_t>(n)), bf16(static_cast<size_t>(n)) {
    for (size_t i = 0; i < f32.size(); ++i) {
      bf16[i] = float_to_bf16_bits(static_cast<float>(static_cast<int>((i * 7 + static_cast<size_t>(salt)) % 23) - 11) / 11.f);
      f32[i] = bf16_bits_to_float(bf16[i]);
    }
  }
};

// Sets the bfloat16 dispatch for one path and restores it.
struct PathSwitches {
  PathSwitches(bool vdpbf16ps, bool widened) {
    amx::force_off(vdpbf16ps);
    gemm_bf16::force_vdpbf16ps(vdpbf16ps);
    gemm_bf16::force_fallback(widened);
  }
  ~PathSwitches() {
    amx::force_off(false);
    gemm_bf16::force_vdpbf16ps(false);
    gemm_bf16::force_fallback(false);
  }
};

}  // namespace

std::vector<ConvRate> conv_rates(const std::string& model, int64_t batch, int threads, double seconds_per_case) {
  set_num_threads(threads);
  std::vector<ConvRate> rates;
  for (const Layer& layer : model_layers(model, batch)) {
    const ConvGeom& g = layer.g;
    Operand x(g.n * g.c * g.in_pixels(), 1), w(g.o * g.patch(), 2), dy(g.n * g.o * g.out_pixels(), 3);
    std::vector<float> y(static_cast<size_t>(g.n * g.o * g.out_pixels())), dx(x.f32.size()), dw(w.f32.size());
    struct Path {
      std::string name;
      bool bf16, vdpbf16ps, widened;
    };
    std::vector<Path> paths = {{"float32", false, false, false},
                               {str_cat("bfloat16 as chosen (", gemm_bf16::kernels_name(), ")"), true, false, false}};
    if (gemm_bf16::cpu_has_avx512_bf16()) paths.push_back({"bfloat16 on vdpbf16ps (forced)", true, true, false});
    paths.push_back({"bfloat16 widened to float32", true, false, true});
    const double macs = static_cast<double>(g.n * g.o * g.out_pixels() * g.patch());
    for (const Path& path : paths) {
      PathSwitches switches(path.vdpbf16ps, path.widened);
      const std::pair<const char*, std::function<void()>> passes[] = {
          {"forward",
           [&] {
             if (path.bf16)
               gemm_bf16::conv2d_forward(g, x.bf16.data(), w.bf16.data(), nullptr, y.data());
             else
               conv2d_forward_f32(g, x.f32.data(), w.f32.data(), nullptr, y.data());
           }},
          {"input grad",
           [&] {
             if (path.bf16)
               gemm_bf16::conv2d_input_grad(g, dy.bf16.data(), w.bf16.data(), dx.data());
             else
               conv2d_input_grad_f32(g, dy.f32.data(), w.f32.data(), dx.data());
           }},
          {"weight grad", [&] {
             if (path.bf16)
               gemm_bf16::conv2d_weight_grad(g, dy.bf16.data(), x.bf16.data(), dw.data());
             else
               conv2d_weight_grad_f32(g, dy.f32.data(), x.f32.data(), dw.data());
           }}};
      for (const auto& [pass, run] : passes) {
        const double s = median_seconds(run, seconds_per_case);
        rates.push_back({layer.name, pass, path.name, s * 1e3, macs / s / 1e9});
      }
    }
  }
  return rates;
}

std::string format_conv_rates(const std::string& model, int64_t batch, const std::vector<ConvRate>& rates) {
  if (rates.empty()) return str_cat("--conv: ", model, " has no convolutions to time\n");
  std::string out = str_cat("convolutions of ", model, " at batch ", batch, ", ", num_threads(),
                            " threads: median ms per pass and GMAC/s (direct multiply-adds per second)\n");
  char line[200];
  for (const ConvRate& r : rates) {
    std::snprintf(line, sizeof line, "%-6s %-12s %-48s %9.3f ms %8.1f GMAC/s\n", r.layer.c_str(), r.pass.c_str(),
                  r.path.c_str(), r.ms, r.gmacs);
    out += line;
  }
  return out;
}

}  // namespace dagrad::bench
