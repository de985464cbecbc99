// The float32 3x3 convolutions by Winograd F(4x4, 3x3) on dagrad's GEMM micro-kernel: which
// convolutions they take, and the input gradient as a forward pass. The forward pass is in
// ops/cpu/conv_winograd_f4.cpp, the weight gradient in ops/cpu/conv_winograd_f4_weight.cpp.
#include "ops/cpu/conv_winograd.h"

#include "ops/cpu/gemm_engine.h"
#include "runtime/error.h"

namespace dagrad::winograd {

namespace {
constexpr int64_t kMinChannels = 8;  // below, the transforms cost more than they save
}  // namespace

bool applies(const ConvGeom& g) {
#if defined(__AVX512F__)
  return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.ph <= 2 && g.pw <= 2 &&
         g.c >= kMinChannels && g.o >= kMinChannels && g.oh > 0 && g.ow > 0;
#else
  (void)g;
  return false;
#endif
}

#if defined(__AVX512F__)

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                    const Epilogue* epilogue) {
  forward_f4(g, x, w, bias, y, epilogue);
}

namespace {
// dx = conv(dy padded by 2 - pad, W[c, o, 2-i, 2-j]); dy float32 or bfloat16 bits.
template <class T>
void input_grad_as_forward(const ConvGeom& g, const T* dy, const float* w, float* dx, const Epilogue* epilogue) {
  ConvGeom f = g;
  f.c = g.o, f.h = g.oh, f.w = g.ow, f.o = g.c, f.oh = g.h, f.ow = g.w, f.ph = 2 - g.ph, f.pw = 2 - g.pw;
  // The calling thread's pack_a slot: the workers use other slots.
  float* flipped = gemm_engine::thread_scratch().get(gemm_engine::Slot::pack_a, g.o * g.c * 9);
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t c = 0; c < g.c; ++c)
      for (int t = 0; t < 9; ++t) flipped[(c * g.o + o) * 9 + t] = w[(o * g.c + c) * 9 + 8 - t];
  forward_f4(f, dy, flipped, nullptr, dx, epilogue);
}
}  // namespace

void conv2d_input_grad(const ConvGeom& g, const float* dy, const float* w, float* dx, const Epilogue* epilogue) {
  input_grad_as_forward(g, dy, w, dx, epilogue);
}

void conv2d_input_grad(const ConvGeom& g, const uint16_t* dy, const float* w, float* dx, const Epilogue* epilogue) {
  input_grad_as_forward(g, dy, w, dx, epilogue);
}

#else

void conv2d_forward(const ConvGeom&, const float*, const float*, const float*, float*, const Epilogue*) {
  throw InternalError("[winograd] conv2d_forward needs AVX-512; applies() said no");
}
void conv2d_input_grad(const ConvGeom&, const float*, const float*, float*, const Epilogue*) {
  throw InternalError("[winograd] conv2d_input_grad needs AVX-512; applies() said no");
}
void conv2d_input_grad(const ConvGeom&, const uint16_t*, const float*, float*, const Epilogue*) {
  throw InternalError("[winograd] conv2d_input_grad needs AVX-512; applies() said no");
}
void conv2d_weight_grad(const ConvGeom&, const float*, const float*, float*) {
  throw InternalError("[winograd] conv2d_weight_grad needs AVX-512; applies() said no");
}
void conv2d_weight_grad(const ConvGeom&, const uint16_t*, const uint16_t*, float*) {
  throw InternalError("[winograd] conv2d_weight_grad needs AVX-512; applies() said no");
}

#endif

}  // namespace dagrad::winograd
