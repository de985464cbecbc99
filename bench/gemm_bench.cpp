// Single-thread GEMM rates on a model's shapes (the MNIST CNN's per image for the
// convolutions and per batch of 64 for the linear layers; the vision transformer's
// linear layers over the 64·16 tokens of a batch): dagrad's engine against OpenBLAS and,
// when the build found it, oneDNN's dnnl_sgemm (AVX-512 kernels whatever
// OPENBLAS_CORETYPE says).
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include "bench/bench.h"
#include "ops/cpu/gemm_engine.h"

#if DAGRAD_BENCH_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

namespace dagrad::bench {

namespace {

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// GFLOP/s of fn over at least `seconds` of this thread's CPU time (robust to other load).
template <class Fn>
double rate(Fn&& fn, double flops, double seconds) {
  fn();
  int64_t reps = 0;
  const double t0 = thread_cpu_s();
  double t = 0;
  do {
    fn();
    ++reps;
    t = thread_cpu_s() - t0;
  } while (t < seconds || reps < 3);
  return flops * static_cast<double>(reps) / t / 1e9;
}

}  // namespace

bool have_onednn() { return DAGRAD_BENCH_ONEDNN != 0; }

namespace {

// The GEMMs of the model's training step, as the matmul kernel issues them.
std::vector<GemmRate> model_shapes(const std::string& model) {
  if (model == "mnist-vit")
    return {
        {"qkv forward   (1024 tokens)", false, true, 1024, 192, 64},
        {"qkv dX", false, false, 1024, 64, 192},
        {"qkv dW", true, false, 192, 64, 1024},
        {"out_proj forward", false, true, 1024, 64, 64},
        {"linear1 forward", false, true, 1024, 128, 64},
        {"linear2 forward", false, true, 1024, 64, 128},
        {"linear2 dX", false, false, 1024, 128, 64},
        {"linear2 dW", true, false, 64, 128, 1024},
        {"square 1024", false, false, 1024, 1024, 1024},
    };
  return {
      {"conv2 forward  (per image)", false, false, 64, 576, 288},
      {"conv2 dX cols  (per image)", true, false, 288, 576, 64},
      {"conv2 dW       (per image)", false, true, 64, 288, 576},
      {"fc1 forward    (batch 64)", false, true, 64, 128, 9216},
      {"fc1 dW         (batch 64)", true, false, 128, 9216, 64},
      {"fc1 dX         (batch 64)", false, false, 64, 9216, 128},
      {"square 1024", false, false, 1024, 1024, 1024},
  };
}

}  // namespace

std::vector<GemmRate> gemm_rates(const std::string& model, double seconds_per_shape) {
  std::vector<GemmRate> rates = model_shapes(model);
  openblas_set_num_threads(1);
#if DAGRAD_BENCH_ONEDNN
  omp_set_num_threads(1);  // this thread's OpenMP regions: one thread, as dagrad runs GEMMs
#endif
  for (GemmRate& r : rates) {
    std::vector<float> a(static_cast<size_t>(r.m * r.k)), b(static_cast<size_t>(r.k * r.n)),
        c(static_cast<size_t>(r.m * r.n));
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 17) * 0.01f - 0.08f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 13) * 0.01f - 0.06f;
    const int64_t lda = r.trans_a ? r.m : r.k, ldb = r.trans_b ? r.k : r.n;
    const double flops = 2.0 * static_cast<double>(r.m * r.n * r.k);
    r.engine_gflops = rate(
        [&] {
          gemm_engine::sgemm(r.trans_a, r.trans_b, r.m, r.n, r.k, a.data(), lda, b.data(), ldb, c.data(), r.n, false);
        },
        flops, seconds_per_shape);
    r.openblas_gflops = rate(
        [&] {
          cblas_sgemm(CblasRowMajor, r.trans_a ? CblasTrans : CblasNoTrans, r.trans_b ? CblasTrans : CblasNoTrans,
                      static_cast<int>(r.m), static_cast<int>(r.n), static_cast<int>(r.k), 1.f, a.data(),
                      static_cast<int>(lda), b.data(), static_cast<int>(ldb), 0.f, c.data(), static_cast<int>(r.n));
        },
        flops, seconds_per_shape);
#if DAGRAD_BENCH_ONEDNN
    r.onednn_gflops = rate(
        [&] {
          dnnl_sgemm(r.trans_a ? 'T' : 'N', r.trans_b ? 'T' : 'N', r.m, r.n, r.k, 1.f, a.data(), lda, b.data(), ldb,
                     0.f, c.data(), r.n);
        },
        flops, seconds_per_shape);
#endif
  }
  return rates;
}

std::string format_gemm_rates(const std::vector<GemmRate>& rates) {
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "%-28s %-4s %5s %5s %5s %10s %10s %10s\n", "single-thread SGEMM, GFLOP/s", "op",
                "M", "N", "K", "dagrad", "OpenBLAS", "oneDNN");
  out += line;
  for (const GemmRate& r : rates) {
    char onednn[16] = "-";
    if (r.onednn_gflops > 0) std::snprintf(onednn, sizeof onednn, "%.1f", r.onednn_gflops);
    std::snprintf(line, sizeof line, "%-28s %c%c   %5lld %5lld %5lld %10.1f %10.1f %10s\n", r.name.c_str(),
                  r.trans_a ? 'T' : 'N', r.trans_b ? 'T' : 'N', static_cast<long long>(r.m),
                  static_cast<long long>(r.n), static_cast<long long>(r.k), r.engine_gflops, r.openblas_gflops,
                  onednn);
    out += line;
  }
  return out;
}

}  // namespace dagrad::bench
