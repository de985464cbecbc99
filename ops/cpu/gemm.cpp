#include "ops/cpu/gemm.h"

#include <cblas.h>

#include <climits>
#include <type_traits>

#include "ops/cpu/gemm_engine.h"
#include "ops/cpu/reference_kernels.h"
#include "runtime/error.h"

namespace dagrad {

namespace {

// Once per process: OpenBLAS must not start threads that compete with dagrad's pool.
void init_blas_once() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

blasint to_blas(int64_t v) {
  DAGRAD_ASSERT(v >= 0 && v <= INT_MAX);
  return static_cast<blasint>(v);
}

CBLAS_TRANSPOSE trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS rejects zero leading dimensions; the product is empty
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (alpha == 1.f && (beta == 0.f || beta == 1.f) && !reference_kernels()) {
      gemm_engine::sgemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, beta == 1.f);
      return;
    }
  }
  init_blas_once();
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, trans(trans_a), trans(trans_b), to_blas(m), to_blas(n), to_blas(k), alpha, a,
                to_blas(lda), b, to_blas(ldb), beta, c, to_blas(ldc));
  else
    cblas_dgemm(CblasRowMajor, trans(trans_a), trans(trans_b), to_blas(m), to_blas(n), to_blas(k), alpha, a,
                to_blas(lda), b, to_blas(ldb), beta, c, to_blas(ldc));
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

}  // namespace dagrad
