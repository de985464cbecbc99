// conv2d and its backward ops on the CPU: float32 on dagrad's GEMM engine
// (ops/cpu/conv_f32.cpp), bfloat16 operands on vdpbf16ps (ops/cpu/conv_bf16.cpp); float64
// (gradient checks) by per-image im2col + BLAS here.
// Work is split over whole images, and the weight gradient sums fixed groups of images
// in group order, so no result depends on the number of threads.
#include "ops/cpu/conv.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <vector>

#include "ops/cpu/conv_f32.h"
#include "ops/cpu/epilogue_piece.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/cpu/im2col.h"
#include "ops/cpu/operands.h"
#include "ops/cpu/reference_kernels.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

// Images per weight-gradient partial sum: fixed, so the summation order is too.
constexpr int64_t kWeightGradGroup = 8;

// ---- float64, and float32 under reference_kernels(): per-image im2col + BLAS ----

template <class T>
void conv2d_forward_ref(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, const Epilogue* epilogue) {
  const int64_t patch = g.patch(), pixels = g.out_pixels();
  if (epilogue) epilogue->applied = true;  // image by image, below
  parallel_for(0, g.n, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> cols(g.pointwise() ? 0 : patch * pixels);
    for (int64_t n = lo; n < hi; ++n) {
      const T* x_n = x + n * g.c * g.in_pixels();
      T* y_n = image_destination(epilogue, y, n, g.o * pixels);
      const T* b_mat = x_n;
      if (!g.pointwise()) {
        im2col(g, x_n, cols.data());
        b_mat = cols.data();
      }
      if (bias)
        for (int64_t o = 0; o < g.o; ++o) std::fill(y_n + o * pixels, y_n + (o + 1) * pixels, bias[o]);
      gemm<T>(false, false, g.o, pixels, patch, T(1), w, patch, b_mat, pixels, bias ? T(1) : T(0), y_n, pixels);
      if (epilogue) epilogue->run(n * g.o * pixels, (n + 1) * g.o * pixels);
    }
  });
}

template <class T>
void conv2d_input_grad_ref(const ConvGeom& g, const T* dy, const T* w, T* dx) {
  const int64_t patch = g.patch(), pixels = g.out_pixels();
  parallel_for(0, g.n, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> cols(g.pointwise() ? 0 : patch * pixels);
    for (int64_t n = lo; n < hi; ++n) {
      const T* dy_n = dy + n * g.o * pixels;
      T* dx_n = dx + n * g.c * g.in_pixels();
      T* out = g.pointwise() ? dx_n : cols.data();
      gemm<T>(true, false, patch, pixels, g.o, T(1), w, patch, dy_n, pixels, T(0), out, pixels);
      if (g.pointwise()) continue;
      std::fill(dx_n, dx_n + g.c * g.in_pixels(), T(0));
      col2im(g, cols.data(), dx_n);
    }
  });
}

template <class T>
void conv2d_weight_grad_ref(const ConvGeom& g, const T* dy, const T* x, T* dw) {
  const int64_t patch = g.patch(), pixels = g.out_pixels(), wsize = g.o * patch;
  const int64_t groups = (g.n + kWeightGradGroup - 1) / kWeightGradGroup;
  if (groups == 0) {
    std::fill(dw, dw + wsize, T(0));
    return;
  }
  std::vector<T> partials(groups > 1 ? groups * wsize : 0);
  parallel_for(0, groups, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> cols(g.pointwise() ? 0 : patch * pixels);
    for (int64_t grp = lo; grp < hi; ++grp) {
      T* acc = groups > 1 ? partials.data() + grp * wsize : dw;
      const int64_t first = grp * kWeightGradGroup, last = std::min(g.n, first + kWeightGradGroup);
      for (int64_t n = first; n < last; ++n) {
        const T* x_n = x + n * g.c * g.in_pixels();
        const T* b_mat = x_n;
        if (!g.pointwise()) {
          im2col(g, x_n, cols.data());
          b_mat = cols.data();
        }
        gemm<T>(false, true, g.o, patch, pixels, T(1), dy + n * g.o * pixels, pixels, b_mat, pixels,
                n == first ? T(0) : T(1), acc, patch);
      }
    }
  });
  if (groups == 1) return;
  parallel_for(0, wsize, 4096, [&](int64_t lo, int64_t hi) {
    std::copy(partials.begin() + lo, partials.begin() + hi, dw + lo);
    for (int64_t grp = 1; grp < groups; ++grp) {
      const T* p = partials.data() + grp * wsize;
      for (int64_t i = lo; i < hi; ++i) dw[i] += p[i];
    }
  });
}

}  // namespace

// bfloat16 operands go to ops/cpu/gemm_bf16.h, which picks AMX or vdpbf16ps where they pay
// and otherwise widens them to float32 (exact) image by image, also on a CPU without
// AVX512_BF16; float16 operands (and bfloat16 under reference_kernels()) are widened whole.
namespace {
bool use_bf16_kernels(DType t) { return t == DType::bf16 && !reference_kernels(); }
bool use_bf16_kernels(const Tensor& t) { return use_bf16_kernels(t.dtype()); }
const uint16_t* bits(const Tensor& t) { return reinterpret_cast<const uint16_t*>(t.raw_data()); }
}  // namespace

void conv2d_forward(const ConvGeom& g, DType dtype, const void* x, const void* w, const void* bias, void* y,
                    const Epilogue* epilogue) {
  if (use_bf16_kernels(dtype))
    return gemm_bf16::conv2d_forward(g, static_cast<const uint16_t*>(x), static_cast<const uint16_t*>(w),
                                     static_cast<const float*>(bias), static_cast<float*>(y), epilogue);
  if (is_half(dtype)) {
    const float* xf = float32_operand(x, dtype, g.n * g.c * g.in_pixels(), gemm_engine::Slot::widen_a);
    const float* wf = float32_operand(w, dtype, g.o * g.patch(), gemm_engine::Slot::widen_b);
    const float* b = static_cast<const float*>(bias);
    if (!reference_kernels()) return conv2d_forward_f32(g, xf, wf, b, static_cast<float*>(y), epilogue);
    return conv2d_forward_ref<float>(g, xf, wf, b, static_cast<float*>(y), epilogue);
  }
  dispatch_floating(dtype, "conv2d", [&]<class T>() {
    const T *xt = static_cast<const T*>(x), *wt = static_cast<const T*>(w), *b = static_cast<const T*>(bias);
    if constexpr (std::is_same_v<T, float>) {
      if (!reference_kernels()) return conv2d_forward_f32(g, xt, wt, b, static_cast<T*>(y), epilogue);
    }
    conv2d_forward_ref<T>(g, xt, wt, b, static_cast<T*>(y), epilogue);
  });
}

void conv2d_cpu(const KernelContext& ctx) {
  const Tensor &x = ctx.inputs[0], &w = ctx.inputs[1];
  const ConvGeom g = conv_geom(x.shape(), w.shape(), ctx.params<ConvParams>());
  const void* bias = ctx.inputs.size() > 2 ? ctx.inputs[2].raw_data() : nullptr;
  conv2d_forward(g, x.dtype(), x.raw_data(), w.raw_data(), bias, ctx.outputs[0].raw_data(), ctx.epilogue);
}

void conv2d_backward_input_cpu(const KernelContext& ctx) {
  const Tensor &dy = ctx.inputs[0], &w = ctx.inputs[1];
  const ConvGeom g = conv_geom(ctx.outputs[0].shape(), w.shape(), ctx.params<ConvInputGradParams>());
  if (use_bf16_kernels(dy))
    return gemm_bf16::conv2d_input_grad(g, bits(dy), bits(w), ctx.outputs[0].data<float>(), ctx.epilogue);
  if (is_half(dy.dtype())) {
    const float* dyf = float32_operand(dy, gemm_engine::Slot::widen_a);
    const float* wf = float32_operand(w, gemm_engine::Slot::widen_b);
    if (!reference_kernels()) return conv2d_input_grad_f32(g, dyf, wf, ctx.outputs[0].data<float>(), ctx.epilogue);
    return conv2d_input_grad_ref<float>(g, dyf, wf, ctx.outputs[0].data<float>());
  }
  dispatch_floating(dy.dtype(), "conv2d_backward_input", [&]<class T>() {
    if constexpr (std::is_same_v<T, float>) {
      if (!reference_kernels())
        return conv2d_input_grad_f32(g, dy.data<T>(), w.data<T>(), ctx.outputs[0].data<T>(), ctx.epilogue);
    }
    conv2d_input_grad_ref<T>(g, dy.data<T>(), w.data<T>(), ctx.outputs[0].data<T>());
  });
}

void conv2d_backward_weight_cpu(const KernelContext& ctx) {
  const Tensor &dy = ctx.inputs[0], &x = ctx.inputs[1];
  const ConvGeom g = conv_geom(x.shape(), ctx.outputs[0].shape(), ctx.params<ConvWeightGradParams>());
  if (use_bf16_kernels(dy)) return gemm_bf16::conv2d_weight_grad(g, bits(dy), bits(x), ctx.outputs[0].data<float>());
  if (is_half(dy.dtype())) {
    const float* dyf = float32_operand(dy, gemm_engine::Slot::widen_a);
    const float* xf = float32_operand(x, gemm_engine::Slot::widen_b);
    if (!reference_kernels()) return conv2d_weight_grad_f32(g, dyf, xf, ctx.outputs[0].data<float>());
    return conv2d_weight_grad_ref<float>(g, dyf, xf, ctx.outputs[0].data<float>());
  }
  dispatch_floating(dy.dtype(), "conv2d_backward_weight", [&]<class T>() {
    if constexpr (std::is_same_v<T, float>) {
      if (!reference_kernels()) return conv2d_weight_grad_f32(g, dy.data<T>(), x.data<T>(), ctx.outputs[0].data<T>());
    }
    conv2d_weight_grad_ref<T>(g, dy.data<T>(), x.data<T>(), ctx.outputs[0].data<T>());
  });
}

}  // namespace dagrad
