// The custom kernels of convolution (im2col, col2im, bias rows, batch sums; the GEMMs
// are cuBLAS calls in conv_ops.cpp) and of 2-D pooling. Backward scatters are written
// as gathers, one thread per input element adding its contributions in the CPU's
// order: no atomics, so results are deterministic (and equal the CPU's bit for bit
// where the CPU adds in the same order).
#include <type_traits>

#include "ops/cuda/device_utils.cuh"

namespace dagrad::cuda {

namespace {

template <class T>
__global__ void im2col_kernel(ConvGeom g, const T* x, T* cols, int64_t total) {
  const int64_t pixels = g.oh * g.ow, patch = g.c * g.kh * g.kw;
  DAGRAD_GRID_STRIDE(t, total) {
    const int64_t p = t % pixels, row = t / pixels % patch, img = t / (pixels * patch);
    const int64_t c = row / (g.kh * g.kw), i = row / g.kw % g.kh, j = row % g.kw;
    const int64_t ih = p / g.ow * g.sh - g.ph + i * g.dh, iw = p % g.ow * g.sw - g.pw + j * g.dw;
    const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
    cols[t] = inside ? x[((img * g.c + c) * g.h + ih) * g.w + iw] : T(0);
  }
}

// Output coordinate o along one axis whose tap k reads input coordinate `in`, or -1.
__device__ __forceinline__ int64_t source_of(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation,
                                             int64_t out) {
  const int64_t t = in + pad - k * dilation;
  if (t < 0 || t % stride != 0) return -1;
  const int64_t o = t / stride;
  return o < out ? o : -1;
}

// Taps in (i, j) order, as the CPU's col2im adds them.
template <class T>
__global__ void col2im_kernel(ConvGeom g, const T* cols, T* dx, int64_t total) {
  const int64_t pixels = g.oh * g.ow, patch = g.c * g.kh * g.kw;
  DAGRAD_GRID_STRIDE(t, total) {
    const int64_t iw = t % g.w, ih = t / g.w % g.h, c = t / (g.w * g.h) % g.c, img = t / (g.w * g.h * g.c);
    const T* base = cols + img * patch * pixels;
    T acc = T(0);
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t oh = source_of(ih, i, g.sh, g.ph, g.dh, g.oh);
      if (oh < 0) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ow = source_of(iw, j, g.sw, g.pw, g.dw, g.ow);
        if (ow < 0) continue;
        acc += base[((c * g.kh + i) * g.kw + j) * pixels + oh * g.ow + ow];
      }
    }
    dx[t] = acc;
  }
}

template <class T>
__global__ void fill_rows_kernel(const T* bias, T* y, int64_t o, int64_t pixels, int64_t total) {
  DAGRAD_GRID_STRIDE(t, total) y[t] = bias[t / pixels % o];
}

template <class T>
__global__ void sum_parts_kernel(const T* parts, int64_t count, int64_t size, T* out, bool accumulate) {
  DAGRAD_GRID_STRIDE(i, size) {
    double acc = accumulate ? static_cast<double>(out[i]) : 0.0;
    for (int64_t b = 0; b < count; ++b) acc += static_cast<double>(parts[b * size + i]);
    out[i] = static_cast<T>(acc);
  }
}

// ---- pooling ----

template <class T>
__global__ void max_pool_kernel(PoolGeom g, const T* x, T* y, PoolIndex* idx, int64_t total) {
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  DAGRAD_GRID_STRIDE(t, total) {
    const int64_t plane = t / out_plane, oh = t % out_plane / g.ow, ow = t % g.ow;
    const int64_t best = window_argmax(x + plane * in_plane, g.w, window_of(g, oh, ow));
    y[t] = x[plane * in_plane + best];
    idx[t] = window_position(g, oh, ow, best);
  }
}

template <class T>
__global__ void max_pool_gather_kernel(PoolGeom g, const T* source, const PoolIndex* idx, T* y, int64_t total) {
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  DAGRAD_GRID_STRIDE(t, total) {
    const int64_t plane = t / out_plane, oh = t % out_plane / g.ow, ow = t % g.ow;
    const int64_t at = plane_index_of(g, oh, ow, idx[t]);
    y[t] = at < 0 ? T(0) : source[plane * in_plane + at];
  }
}

// The outputs [lo, hi] along one axis whose windows (kernel k) cover input coordinate in.
__device__ __forceinline__ void covering(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t out, int64_t& lo,
                                         int64_t& hi) {
  const int64_t a = in + pad - k + 1;  // o·stride >= a
  lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  hi = (in + pad) / stride;  // o·stride <= in + pad
  if (hi > out - 1) hi = out - 1;
}

// dx[i] = Σ dy[o] over windows o (in output order) whose argmax is i; 16-bit floats sum in
// float32 and round once, as on the CPU.
template <class T>
__global__ void max_pool_backward_kernel(PoolGeom g, const T* dy, const PoolIndex* idx, T* dx, int64_t total) {
  using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  DAGRAD_GRID_STRIDE(t, total) {
    const int64_t plane = t / in_plane, i = t % in_plane, ih = i / g.w, iw = i % g.w;
    const PoolIndex* ip = idx + plane * out_plane;
    int64_t oh0, oh1, ow0, ow1;
    covering(ih, g.kh, g.sh, g.ph, g.oh, oh0, oh1);
    covering(iw, g.kw, g.sw, g.pw, g.ow, ow0, ow1);
    Acc acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow)
        if (plane_index_of(g, oh, ow, ip[oh * g.ow + ow]) == i)
          acc += static_cast<Acc>(dy[plane * out_plane + oh * g.ow + ow]);
    dx[t] = T(acc);
  }
}

// Taps in row-major window order, then the 1/(kh·kw) scale: the CPU's order.
template <class T>
__global__ void avg_pool_kernel(PoolGeom g, const T* x, T* y, int64_t total) {
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  const T scale = T(1) / static_cast<T>(g.kh * g.kw);
  DAGRAD_GRID_STRIDE(t, total) {
    const int64_t plane = t / out_plane, oh = t % out_plane / g.ow, ow = t % g.ow;
    const Window win = window_of(g, oh, ow);
    const T* xp = x + plane * in_plane;
    T acc = T(0);
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) acc += xp[ih * g.w + iw];
    y[t] = acc * scale;
  }
}

// The CPU adds, per output row oh (ascending), the taps j ascending, i.e. ow descending.
template <class T>
__global__ void avg_pool_backward_kernel(PoolGeom g, const T* dy, T* dx, int64_t total) {
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  const T scale = T(1) / static_cast<T>(g.kh * g.kw);
  DAGRAD_GRID_STRIDE(t, total) {
    const int64_t plane = t / in_plane, i = t % in_plane, ih = i / g.w, iw = i % g.w;
    int64_t oh0, oh1, ow0, ow1;
    covering(ih, g.kh, g.sh, g.ph, g.oh, oh0, oh1);
    covering(iw, g.kw, g.sw, g.pw, g.ow, ow0, ow1);
    T acc = T(0);
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow1; ow >= ow0; --ow) acc += dy[plane * out_plane + oh * g.ow + ow] * scale;
    dx[t] = acc;
  }
}

}  // namespace

template <class T>
void launch_im2col(const ConvGeom& g, const T* x, T* cols, int64_t images, cudaStream_t stream) {
  const int64_t total = images * g.patch() * g.out_pixels();
  if (total == 0) return;
  im2col_kernel<<<grid_for(total), kBlock, 0, stream>>>(g, x, cols, total);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_col2im(const ConvGeom& g, const T* cols, T* dx, int64_t images, cudaStream_t stream) {
  const int64_t total = images * g.c * g.h * g.w;
  if (total == 0) return;
  col2im_kernel<<<grid_for(total), kBlock, 0, stream>>>(g, cols, dx, total);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_fill_rows(const T* bias, T* y, int64_t images, int64_t o, int64_t pixels, cudaStream_t stream) {
  const int64_t total = images * o * pixels;
  if (total == 0) return;
  fill_rows_kernel<<<grid_for(total), kBlock, 0, stream>>>(bias, y, o, pixels, total);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_sum_parts(const T* parts, int64_t count, int64_t size, T* out, bool accumulate, cudaStream_t stream) {
  if (size == 0) return;
  sum_parts_kernel<<<grid_for(size), kBlock, 0, stream>>>(parts, count, size, out, accumulate);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_max_pool(const PoolGeom& g, const T* x, T* y, PoolIndex* idx, cudaStream_t stream) {
  const int64_t total = g.n * g.c * g.oh * g.ow;
  if (total == 0) return;
  max_pool_kernel<<<grid_for(total), kBlock, 0, stream>>>(g, x, y, idx, total);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_max_pool_gather(const PoolGeom& g, const T* source, const PoolIndex* idx, T* y, cudaStream_t stream) {
  const int64_t total = g.n * g.c * g.oh * g.ow;
  if (total == 0) return;
  max_pool_gather_kernel<<<grid_for(total), kBlock, 0, stream>>>(g, source, idx, y, total);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_max_pool_backward(const PoolGeom& g, const T* dy, const PoolIndex* idx, T* dx, cudaStream_t stream) {
  const int64_t total = g.n * g.c * g.h * g.w;
  if (total == 0) return;
  max_pool_backward_kernel<<<grid_for(total), kBlock, 0, stream>>>(g, dy, idx, dx, total);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_avg_pool(const PoolGeom& g, const T* x, T* y, cudaStream_t stream) {
  const int64_t total = g.n * g.c * g.oh * g.ow;
  if (total == 0) return;
  avg_pool_kernel<<<grid_for(total), kBlock, 0, stream>>>(g, x, y, total);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_avg_pool_backward(const PoolGeom& g, const T* dy, T* dx, cudaStream_t stream) {
  const int64_t total = g.n * g.c * g.h * g.w;
  if (total == 0) return;
  avg_pool_backward_kernel<<<grid_for(total), kBlock, 0, stream>>>(g, dy, dx, total);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

#define DAGRAD_INSTANTIATE(T)                                                                               \
  template void launch_im2col<T>(const ConvGeom&, const T*, T*, int64_t, cudaStream_t);                     \
  template void launch_col2im<T>(const ConvGeom&, const T*, T*, int64_t, cudaStream_t);                     \
  template void launch_fill_rows<T>(const T*, T*, int64_t, int64_t, int64_t, cudaStream_t);                 \
  template void launch_sum_parts<T>(const T*, int64_t, int64_t, T*, bool, cudaStream_t);                    \
  template void launch_max_pool<T>(const PoolGeom&, const T*, T*, PoolIndex*, cudaStream_t);                \
  template void launch_max_pool_gather<T>(const PoolGeom&, const T*, const PoolIndex*, T*, cudaStream_t);   \
  template void launch_max_pool_backward<T>(const PoolGeom&, const T*, const PoolIndex*, T*, cudaStream_t); \
  template void launch_avg_pool<T>(const PoolGeom&, const T*, T*, cudaStream_t);                            \
  template void launch_avg_pool_backward<T>(const PoolGeom&, const T*, T*, cudaStream_t);
DAGRAD_INSTANTIATE(float)
DAGRAD_INSTANTIATE(double)
#undef DAGRAD_INSTANTIATE
template void launch_max_pool_backward<bfloat16>(const PoolGeom&, const bfloat16*, const PoolIndex*, bfloat16*,
                                                 cudaStream_t);
template void launch_max_pool_backward<float16>(const PoolGeom&, const float16*, const PoolIndex*, float16*,
                                                cudaStream_t);
// 16-bit images (bfloat16 or float16 bit patterns: im2col only moves them).
template void launch_im2col<uint16_t>(const ConvGeom&, const uint16_t*, uint16_t*, int64_t, cudaStream_t);

}  // namespace dagrad::cuda
