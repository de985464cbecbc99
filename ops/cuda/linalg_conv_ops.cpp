// CUDA kernels of matmul, convolution and pooling. GEMMs are cuBLAS strided-batched
// calls on the stream's handle; convolution lowers chunks of images with im2col (into
// the stream's workspace) and multiplies the whole chunk in one batched GEMM. bfloat16
// and float16 operands multiply on tensor cores with float32 accumulation and float32
// results (cublasGemmStridedBatchedEx); float32 uses TF32 tensor cores only when
// allowed (ops/math_mode.h, --tf32).
#include <cublas_v2.h>

#include <algorithm>

#include "ops/builtin_ops.h"
#include "ops/cuda/glue.h"
#include "ops/math_mode.h"
#include "ops/params/linalg.h"
#include "runtime/cuda/cuda_check.h"

namespace dagrad::cuda {

namespace {

// Column buffer budget per conv chunk: large enough for a whole MNIST batch, small
// enough for any GPU.
constexpr size_t kChunkBytes = size_t{64} << 20;

// Row-major GEMM on `batch` matrices: C[b] (m×n) = alpha·op(A[b])·op(B[b]) + beta·C[b],
// A stored [m,k] (or [k,m] when ta), B [k,n] (or [n,k] when tb), a stride of 0 sharing
// one matrix. cuBLAS is column-major: a row-major C is a column-major Cᵀ = op(B)ᵀ·op(A)ᵀ,
// so the operands swap places and keep their transposes.
template <class T>
void gemm(cublasHandle_t h, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t stride_a,
          const T* b, int64_t stride_b, T beta, T* c, int64_t stride_c, int64_t batch) {
  const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  if constexpr (std::is_same_v<T, float>) {
    if (tf32_allowed()) {
      DAGRAD_CUBLAS_CHECK(cublas_api().gemm_strided_batched_ex(
          h, op_b, op_a, n, m, k, &alpha, b, CUDA_R_32F, ldb, stride_b, a, CUDA_R_32F, lda, stride_a, &beta, c,
          CUDA_R_32F, n, stride_c, batch, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT));
      return;
    }
    DAGRAD_CUBLAS_CHECK(cublas_api().sgemm_strided_batched(h, op_b, op_a, n, m, k, &alpha, b, ldb, stride_b, a, lda,
                                                     stride_a, &beta, c, n, stride_c, batch));
  } else {
    DAGRAD_CUBLAS_CHECK(cublas_api().dgemm_strided_batched(h, op_b, op_a, n, m, k, &alpha, b, ldb, stride_b, a, lda,
                                                     stride_a, &beta, c, n, stride_c, batch));
  }
}

// The same with 16-bit operands (`type`: CUDA_R_16BF or CUDA_R_16F) and a float32 C.
void gemm_half(cublasHandle_t h, cudaDataType type, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
               const void* a, int64_t stride_a, const void* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
               int64_t batch) {
  const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  DAGRAD_CUBLAS_CHECK(cublas_api().gemm_strided_batched_ex(h, op_b, op_a, n, m, k, &alpha, b, type, ldb, stride_b, a,
                                                           type, lda, stride_a, &beta, c, CUDA_R_32F, n, stride_c,
                                                           batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

cudaDataType cuda_type(DType t) { return t == DType::bf16 ? CUDA_R_16BF : CUDA_R_16F; }
const uint16_t* half_bits(const Tensor& t) { return static_cast<const uint16_t*>(t.raw_data()); }

void zero(Tensor& t, cudaStream_t s) {
  if (t.nbytes()) DAGRAD_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, t.nbytes(), s));
}

// ---- matmul ----

void matmul_cuda(const KernelContext& ctx) {
  const bool ta = ctx.params<MatmulParams>().trans_a, tb = ctx.params<MatmulParams>().trans_b;
  const Tensor &a = ctx.inputs[0], &b = ctx.inputs[1];
  Tensor& c = ctx.outputs[0];
  CudaStream& stream = stream_of(ctx);
  int64_t m = c.shape().dim(-2), n = c.shape().dim(-1);
  const int64_t k = ta ? a.shape().dim(-2) : a.shape().dim(-1);
  if (m * n == 0) return;
  if (k == 0) return zero(c, stream.handle());  // an empty sum
  int64_t batch = c.numel() / (m * n);
  const bool shared_b = b.rank() == 2 && batch > 1;
  const int64_t stride_a = m * k, stride_b = b.rank() == 2 ? 0 : k * n;
  // A shared b with an untransposed a is one tall GEMM: [batch·M, K] · [K, N].
  if (shared_b && !ta) {
    m *= batch;
    batch = 1;
  }
  if (is_half(a.dtype())) {
    gemm_half(stream.cublas(), cuda_type(a.dtype()), ta, tb, m, n, k, 1.f, a.raw_data(), stride_a, b.raw_data(),
              stride_b, 0.f, c.data<float>(), m * n, batch);
    return;
  }
  dispatch_floating(c.dtype(), "matmul", [&]<class T>() {
    gemm<T>(stream.cublas(), ta, tb, m, n, k, T(1), a.data<T>(), stride_a, b.data<T>(), stride_b, T(0), c.data<T>(),
            m * n, batch);
  });
}

// ---- convolution ----

// Images per chunk when each image needs `per_image` bytes of workspace.
int64_t chunk_images(int64_t n, size_t per_image) {
  if (per_image == 0) return std::max<int64_t>(n, 1);
  return std::clamp<int64_t>(static_cast<int64_t>(kChunkBytes / per_image), 1, std::max<int64_t>(n, 1));
}

// A convolution's operands and GEMMs: In, the stored operand type (T, or the bits of a
// 16-bit float), multiplied into Out (T, or float32) on `dtype`'s cuBLAS path. One
// driver per convolution op then serves every dtype.
template <class In, class Out>
struct ConvGemm {
  cublasHandle_t h;
  DType dtype;
  // c[b] = op(a[b])·op(b[b]) (+ c[b] when accumulate), as gemm().
  void operator()(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const In* a, int64_t stride_a, const In* b,
                  int64_t stride_b, bool accumulate, Out* c, int64_t stride_c, int64_t batch) const {
    if constexpr (std::is_same_v<In, uint16_t>)
      gemm_half(h, cuda_type(dtype), ta, tb, m, n, k, 1.f, a, stride_a, b, stride_b, accumulate ? 1.f : 0.f, c,
                stride_c, batch);
    else
      gemm<In>(h, ta, tb, m, n, k, In(1), a, stride_a, b, stride_b, accumulate ? In(1) : In(0), c, stride_c, batch);
  }
};

// Calls run.template operator()<In, Out>() for a tensor's dtype: the 16-bit floats as
// their bits into float32, float32 and float64 as themselves.
template <class Run>
void dispatch_conv(DType t, std::string_view who, Run&& run) {
  if (is_half(t)) return run.template operator()<uint16_t, float>();
  dispatch_floating(t, who, [&]<class T>() { run.template operator()<T, T>(); });
}

// A tensor as the In of dispatch_conv.
template <class In>
const In* operand(const Tensor& t) {
  if constexpr (std::is_same_v<In, uint16_t>)
    return half_bits(t);
  else
    return t.data<In>();
}

// y_n[O,P] = W[O,CKK] · cols_n[CKK,P] (+ bias[o] on row o, as GEMM's C input), by chunks
// of images. With `pool` (conv2d_max_pool2d), each chunk's y goes to the workspace after
// its columns and is max-pooled from there into outputs 0 and 1 instead.
void conv2d_forward_cuda(const KernelContext& ctx, const ConvGeom& g, const PoolGeom* pool) {
  const Tensor &x = ctx.inputs[0], &w = ctx.inputs[1];
  CudaStream& stream = stream_of(ctx);
  const cudaStream_t s = stream.handle();
  const int64_t patch = g.patch(), pixels = g.out_pixels(), in_image = g.c * g.in_pixels();
  dispatch_conv(x.dtype(), "conv2d", [&]<class In, class Out>() {  // 16-bit: float32 output and bias
    const ConvGemm<In, Out> mm{stream.cublas(), x.dtype()};
    const Out* bias = ctx.inputs.size() > 2 ? ctx.inputs[2].data<Out>() : nullptr;
    const size_t cols_bytes = g.pointwise() ? 0 : static_cast<size_t>(patch * pixels) * sizeof(In);
    const size_t y_bytes = pool ? static_cast<size_t>(g.o * pixels) * sizeof(Out) : 0;
    const int64_t chunk = chunk_images(g.n, cols_bytes + y_bytes);
    const size_t cols_region = (cols_bytes * chunk + 255) / 256 * 256;  // y after it, aligned
    char* space = cols_bytes + y_bytes ? static_cast<char*>(stream.workspace(cols_region + y_bytes * chunk)) : nullptr;
    In* cols = cols_bytes ? reinterpret_cast<In*>(space) : nullptr;
    Out* pool_in = pool ? reinterpret_cast<Out*>(space + cols_region) : nullptr;
    const int64_t pooled_image = pool ? g.o * pool->oh * pool->ow : 0;
    for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
      const int64_t nb = std::min(chunk, g.n - n0);
      const In* x_n = operand<In>(x) + n0 * in_image;
      Out* y_n = pool ? pool_in : ctx.outputs[0].data<Out>() + n0 * g.o * pixels;
      const In* b_mat = x_n;
      if (cols) {
        launch_im2col(g, x_n, cols, nb, s);
        b_mat = cols;
      }
      if (bias) launch_fill_rows(bias, y_n, nb, g.o, pixels, s);
      mm(false, false, g.o, pixels, patch, operand<In>(w), 0, b_mat, patch * pixels, bias != nullptr, y_n,
         g.o * pixels, nb);
      if (pool) {
        PoolGeom part = *pool;
        part.n = nb;
        launch_max_pool<Out>(part, y_n, ctx.outputs[0].data<Out>() + n0 * pooled_image,
                             ctx.outputs[1].data<PoolIndex>() + n0 * pooled_image, s);
      }
    }
  });
}

void conv2d_cuda(const KernelContext& ctx) {
  conv2d_forward_cuda(ctx, conv_geom(ctx.inputs[0].shape(), ctx.inputs[1].shape(), ctx.params<ConvParams>()), nullptr);
}

void conv2d_max_pool2d_cuda(const KernelContext& ctx) {
  const ConvPoolParams& p = ctx.params<ConvPoolParams>();
  const ConvGeom g = conv_geom(ctx.inputs[0].shape(), ctx.inputs[1].shape(), p);
  const PoolGeom pool = pool_geom(g.n, g.o, g.oh, g.ow, p.pool());
  conv2d_forward_cuda(ctx, g, &pool);
}

// cols_n[CKK,P] = Wᵀ[CKK,O] · dy_n[O,P], then col2im into dx_n.
void conv2d_backward_input_cuda(const KernelContext& ctx) {
  const Tensor &dy = ctx.inputs[0], &w = ctx.inputs[1];
  Tensor& dx = ctx.outputs[0];
  const ConvGeom g = conv_geom(dx.shape(), w.shape(), ctx.params<ConvInputGradParams>());
  CudaStream& stream = stream_of(ctx);
  const cudaStream_t s = stream.handle();
  const int64_t patch = g.patch(), pixels = g.out_pixels(), in_image = g.c * g.in_pixels();
  dispatch_conv(dy.dtype(), "conv2d_backward_input", [&]<class In, class Out>() {  // 16-bit: float32 columns and dx
    const ConvGemm<In, Out> mm{stream.cublas(), dy.dtype()};
    const size_t per_image = g.pointwise() ? 0 : static_cast<size_t>(patch * pixels) * sizeof(Out);
    const int64_t chunk = chunk_images(g.n, per_image);
    Out* cols = per_image ? static_cast<Out*>(stream.workspace(per_image * static_cast<size_t>(chunk))) : nullptr;
    for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
      const int64_t nb = std::min(chunk, g.n - n0);
      Out* dx_n = dx.data<Out>() + n0 * in_image;
      mm(true, false, patch, pixels, g.o, operand<In>(w), 0, operand<In>(dy) + n0 * g.o * pixels,
         g.o * pixels, false, cols ? cols : dx_n, patch * pixels, nb);
      if (cols) launch_col2im(g, cols, dx_n, nb, s);
    }
  });
}

// dW[O,CKK] = Σ_n dy_n[O,P] · cols_nᵀ[P,CKK]: one batched GEMM per chunk gives each
// image's term, summed in image order (deterministic, no atomics).
void conv2d_backward_weight_cuda(const KernelContext& ctx) {
  const Tensor &dy = ctx.inputs[0], &x = ctx.inputs[1];
  Tensor& dw = ctx.outputs[0];
  const ConvGeom g = conv_geom(x.shape(), dw.shape(), ctx.params<ConvWeightGradParams>());
  CudaStream& stream = stream_of(ctx);
  const cudaStream_t s = stream.handle();
  if (g.n == 0) return zero(dw, s);
  const int64_t patch = g.patch(), pixels = g.out_pixels(), in_image = g.c * g.in_pixels(), wsize = g.o * patch;
  // 16-bit: 16-bit columns, float32 per-image terms summed in order.
  dispatch_conv(dy.dtype(), "conv2d_backward_weight", [&]<class In, class Out>() {
    const ConvGemm<In, Out> mm{stream.cublas(), dy.dtype()};
    const size_t cols_per_image = g.pointwise() ? 0 : static_cast<size_t>(patch * pixels) * sizeof(In);
    const size_t per_image = cols_per_image + static_cast<size_t>(wsize) * sizeof(Out);
    const int64_t chunk = chunk_images(g.n, per_image);
    char* ws = static_cast<char*>(stream.workspace(per_image * static_cast<size_t>(chunk)));
    Out* parts = reinterpret_cast<Out*>(ws);
    In* cols = cols_per_image ? reinterpret_cast<In*>(ws + static_cast<size_t>(chunk * wsize) * sizeof(Out)) : nullptr;
    for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
      const int64_t nb = std::min(chunk, g.n - n0);
      const In* x_n = operand<In>(x) + n0 * in_image;
      const In* b_mat = x_n;
      if (cols) {
        launch_im2col(g, x_n, cols, nb, s);
        b_mat = cols;
      }
      mm(false, true, g.o, patch, pixels, operand<In>(dy) + n0 * g.o * pixels, g.o * pixels, b_mat,
         patch * pixels, false, parts, wsize, nb);
      launch_sum_parts(parts, nb, wsize, dw.data<Out>(), n0 > 0, s);
    }
  });
}

// ---- pooling ----

void max_pool2d_cuda(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const PoolGeom g = pool_geom(x.shape(), ctx.params<PoolParams>());
  dispatch_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    launch_max_pool<T>(g, x.data<T>(), ctx.outputs[0].data<T>(), ctx.outputs[1].data<PoolIndex>(), handle_of(ctx));
  });
}

void max_pool2d_backward_cuda(const KernelContext& ctx) {
  const Tensor &dy = ctx.inputs[0], &idx = ctx.inputs[1];
  const PoolGeom g = pool_geom(ctx.outputs[0].shape(), ctx.params<PoolGradParams>());
  dispatch_float(dy.dtype(), "max_pool2d_backward", [&]<class T>() {
    launch_max_pool_backward<T>(g, dy.data<T>(), idx.data<PoolIndex>(), ctx.outputs[0].data<T>(), handle_of(ctx));
  });
}

void max_pool2d_gather_cuda(const KernelContext& ctx) {
  const Tensor &source = ctx.inputs[0], &idx = ctx.inputs[1];
  const PoolGeom g = pool_geom(source.shape(), ctx.params<PoolParams>());
  dispatch_floating(source.dtype(), "max_pool2d_gather", [&]<class T>() {
    launch_max_pool_gather<T>(g, source.data<T>(), idx.data<PoolIndex>(), ctx.outputs[0].data<T>(), handle_of(ctx));
  });
}

void avg_pool2d_cuda(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const PoolGeom g = pool_geom(x.shape(), ctx.params<PoolParams>());
  dispatch_floating(x.dtype(), "avg_pool2d", [&]<class T>() {
    launch_avg_pool<T>(g, x.data<T>(), ctx.outputs[0].data<T>(), handle_of(ctx));
  });
}

void avg_pool2d_backward_cuda(const KernelContext& ctx) {
  const Tensor& dy = ctx.inputs[0];
  const PoolGeom g = pool_geom(ctx.outputs[0].shape(), ctx.params<PoolGradParams>());
  dispatch_floating(dy.dtype(), "avg_pool2d_backward", [&]<class T>() {
    launch_avg_pool_backward<T>(g, dy.data<T>(), ctx.outputs[0].data<T>(), handle_of(ctx));
  });
}

}  // namespace

void fill_linalg_conv(KernelTable& t) {
  t.set(*op::matmul, matmul_cuda);
  t.set(*op::conv2d, conv2d_cuda);
  t.set(*op::conv2d_max_pool2d, conv2d_max_pool2d_cuda);
  t.set(*op::conv2d_backward_input, conv2d_backward_input_cuda);
  t.set(*op::conv2d_backward_weight, conv2d_backward_weight_cuda);
  t.set(*op::max_pool2d, max_pool2d_cuda);
  t.set(*op::max_pool2d_backward, max_pool2d_backward_cuda);
  t.set(*op::max_pool2d_gather, max_pool2d_gather_cuda);
  t.set(*op::avg_pool2d, avg_pool2d_cuda);
  t.set(*op::avg_pool2d_backward, avg_pool2d_backward_cuda);
}

}  // namespace dagrad::cuda
