// Row-major GEMM on the calling thread (dagrad's own pool parallelises): float32 with
// alpha = 1 and beta = 0 or 1 on dagrad's GEMM engine (ops/cpu/gemm_engine.h), everything
// else through OpenBLAS (single-threaded).
// C[m,n] = alpha * op(A)[m,k] · op(B)[k,n] + beta * C, where op(X) is X or Xᵀ.
// lda/ldb/ldc are the row strides of A, B, C as stored (before any transpose).
#pragma once
#include <cstdint>

namespace dagrad {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);

extern template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                 int64_t, float, float*, int64_t);
extern template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                                  int64_t, double, double*, int64_t);

}  // namespace dagrad
