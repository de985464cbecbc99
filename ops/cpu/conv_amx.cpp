// The AMX convolutions (ops/cpu/conv_amx.h), in 32 x 32 result blocks (amx::block). The
// forward pass and input gradient store blocks into the flattened image (edge blocks
// through scratch) that direct_by_image then compacts: measured faster than scattering
// each block straight into the output's rows, whose stores then miss the cache. The
// weight gradient stores each block into the group's partial sum (tiles start from it),
// its depth in L1-sized passes.
#include "ops/cpu/conv_amx.h"

#include <algorithm>
#include <cstring>

#include "ops/cpu/amx.h"
#include "ops/cpu/conv_direct.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/cpu/gemm_engine.h"
#include "ops/cpu/transpose.h"

namespace dagrad::conv_amx {

namespace {

namespace ge = gemm_engine;
using ge::Slot;
using namespace conv_direct;
using gemm_bf16::pair_word;
constexpr int kB = amx::kBlock;
constexpr int kP = amx::kPairs;
// dyᵀ's bytes per pass of the weight gradient (an L1-sized share; bench/NOTES.md, stop 38).
constexpr int64_t kChunkBytes = 24 << 10;

// The forward pass and the input gradient are one product: out[m, q] = Σ_{tap, ch}
// W'(m, ch, tap) · image(ch, q + offset(tap)) over a padded image of chs channels, q
// running over the result's rows at the padded width wq.
struct Direct {
  int64_t m, chs, kh, kw, dh, dw;  // result channels, contracted channels, taps
  int64_t hq, wq;                  // the padded image
  int64_t out_rows;                // rows of a result plane
  int64_t pair_blocks() const { return ge::ceil_div(ge::ceil_div(chs, 2), kP); }
  int64_t plane() const { return hq * wq; }
  int64_t steps() const { return kh * kw * pair_blocks(); }
  int64_t nq() const { return out_rows * wq; }
  // A block's B rows reach up to 31 words past the last q and a tap's offset past that.
  int64_t image_words() const {
    return pair_blocks() * kP * plane() + ge::round_up(nq(), kB) - nq() + (kw - 1) * dw + 2 * kB;
  }
};

// Shared by the images: B's byte offsets per step (k = (tap, pair block)), the weights as
// A ([m padded to 32] rows of steps x 16 words), and, with a bias, a 32 x 32 block per 32
// rows holding each row's bias, the blocks' starting value.
struct Packed {
  int64_t* boff;
  uint32_t* a;
  float* bias_blocks;
};

template <class WeightAt>
Packed pack_direct(const Direct& d, WeightAt&& at, const float* bias) {
  const int64_t steps = d.steps(), blocks = d.pair_blocks(), m_pad = ge::round_up(d.m, kB), k_words = steps * kP;
  const int64_t offsets = 2 * ge::round_up(steps, 8);  // floats holding the int64 offsets
  float* shared = ge::thread_scratch().get(Slot::shared, offsets + m_pad * k_words + m_pad * kB);
  Packed p{reinterpret_cast<int64_t*>(shared), reinterpret_cast<uint32_t*>(shared + offsets),
           bias ? shared + offsets + m_pad * k_words : nullptr};
  for (int64_t i = 0; i < d.kh; ++i)
    for (int64_t j = 0; j < d.kw; ++j)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t s = (i * d.kw + j) * blocks + b;
        p.boff[s] = 4 * (b * kP * d.plane() + i * d.dh * d.wq + j * d.dw);
        for (int64_t r = 0; r < m_pad; ++r)
          for (int64_t pp = 0; pp < kP; ++pp) {
            const int64_t ch = 2 * (b * kP + pp);
            uint32_t word = 0;
            if (r < d.m && ch < d.chs) word = pair_word(at(r, ch, i, j), ch + 1 < d.chs ? at(r, ch + 1, i, j) : 0);
            p.a[r * k_words + s * kP + pp] = word;
          }
      }
  if (bias)
    for (int64_t r = 0; r < m_pad; ++r) std::fill_n(p.bias_blocks + r * kB, kB, r < d.m ? bias[r] : 0.f);
  return p;
}

// One padded image (pair planes at img) times the packed weights into flat[m, nq].
void multiply_direct(const Direct& d, const Packed& p, const uint32_t* img, float* flat) {
  alignas(64) float edge[kB * kB];
  amx::configure();
  const int64_t nq = d.nq(), lda = 4 * d.steps() * kP, ldb = 4 * d.plane();
  const char* a = reinterpret_cast<const char*>(p.a);
  const char* b = reinterpret_cast<const char*>(img);
  for (int64_t q0 = 0; q0 < nq; q0 += kB)
    for (int64_t r0 = 0; r0 < d.m; r0 += kB)
      amx::store_block(flat, nq, d.m, nq, r0, q0, false, p.bias_blocks ? p.bias_blocks + r0 * kB : nullptr, edge,
                       [&](float* c, int64_t ldc, const float* init, int64_t ldi) {
                         amx::block(d.steps(), a + r0 * lda, lda, b + 4 * q0, p.boff, ldb, c, ldc, init, ldi);
                       });
}

}  // namespace

// A tile step contracts 16 channel pairs of one tap, and a block has 32 result channels:
// with fewer than 16 channels on either side most of each tile is padding, and the float32
// kernels are faster (LeNet-5's conv2, 6 -> 16 channels: bench/NOTES.md, stop 40).
bool forward_applies(const ConvGeom& g) { return g.sh == 1 && g.sw == 1 && g.c >= 16 && g.o >= 16; }

bool input_grad_applies(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && g.ph <= g.dh * (g.kh - 1) && g.pw <= g.dw * (g.kw - 1) && g.o >= 16 && g.c >= 16;
}

bool weight_grad_applies(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && g.o >= 16 && (g.c >= 16 || g.patch() <= 2 * kB);
}

void forward(const ConvGeom& g, const uint16_t* x, const uint16_t* w, const float* bias, float* y,
             const Epilogue* epilogue) {
  const Direct d{g.o, g.c, g.kh, g.kw, g.dh, g.dw, g.h + 2 * g.ph, g.w + 2 * g.pw, g.oh};
  const Packed p = pack_direct(
      d, [&](int64_t o, int64_t c, int64_t i, int64_t j) { return w[((o * g.c + c) * g.kh + i) * g.kw + j]; }, bias);
  const int64_t pairs = ge::ceil_div(g.c, 2);
  direct_by_image<uint32_t>(
      g.n, d.image_words(), {g.o, g.oh, d.wq, g.ow, y}, epilogue,
      [&](int64_t n, uint32_t* img) {
        pad_image_pairs(x + n * g.c * g.in_pixels(), g.c, g.h, g.w, g.ph, g.pw, d.hq, d.wq,
                        d.image_words() - pairs * d.plane(), img);
      },
      [&](const uint32_t* img, float* flat) { multiply_direct(d, p, img, flat); });
}

// dx[c, h, w] = Σ_{o, i, j} W[o, c, KH-1-i, KW-1-j] · dy_padded[o, h + i*dh, w + j*dw].
void input_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* w, float* dx, const Epilogue* epilogue) {
  const int64_t top = g.dh * (g.kh - 1) - g.ph, left = g.dw * (g.kw - 1) - g.pw;
  const Direct d{g.c, g.o, g.kh, g.kw, g.dh, g.dw, g.oh + 2 * top, g.ow + 2 * left, g.h};
  const Packed p = pack_direct(
      d,
      [&](int64_t c, int64_t o, int64_t i, int64_t j) {
        return w[((o * g.c + c) * g.kh + g.kh - 1 - i) * g.kw + g.kw - 1 - j];
      },
      nullptr);
  const int64_t pairs = ge::ceil_div(g.o, 2);
  direct_by_image<uint32_t>(
      g.n, d.image_words(), {g.c, g.h, d.wq, g.w, dx}, epilogue,
      [&](int64_t n, uint32_t* img) {
        pad_image_pairs(dy + n * g.o * g.out_pixels(), g.o, g.oh, g.ow, top, left, d.hq, d.wq,
                        d.image_words() - pairs * d.plane(), img);
      },
      [&](const uint32_t* img, float* flat) { multiply_direct(d, p, img, flat); });
}

namespace {

// Few input channels (the first layer): per image dW[o, t] = Σ_p dy[o, p] · X[p, t] with
// every (channel, tap) t a column, p over the pixel pairs of the output flattened at the
// padded width: A is dy's flattened rows as they are, X[p, t] gathers the image's pair at
// t's offset (a few words per pixel pair). Each block is added transposed into dWᵀ.
void weight_grad_by_taps(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, nq = g.oh * wp, taps = g.patch();
  const int64_t steps = ge::ceil_div(ge::ceil_div(nq, 2), kP), kp = steps * kP;
  const int64_t t_pad = ge::round_up(taps, kB), o_pad = ge::round_up(g.o, kB);
  // t's offset in the padded image, in halves (scratch: the steady state allocates nothing)
  int64_t* off = reinterpret_cast<int64_t*>(ge::thread_scratch().get(Slot::shared, 2 * taps));
  for (int64_t c = 0, t = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) off[t++] = c * hp * wp + i * g.dh * wp + j * g.dw;
  const int64_t image = g.c * hp * wp + 2 * kp + 2;  // halves: the last tap reads up to 2 kp past its offset
  weight_grad_by_groups(g, taps, dw, [&] {
    ge::Scratch& s = ge::thread_scratch();
    uint16_t* img = reinterpret_cast<uint16_t*>(s.get(Slot::image, image / 2 + 1));
    uint32_t* xt = reinterpret_cast<uint32_t*>(s.get(Slot::pack_b, kp * t_pad));
    uint32_t* dy_rows = reinterpret_cast<uint32_t*>(s.get(Slot::pack_a, o_pad * kp));
    int64_t* boff = reinterpret_cast<int64_t*>(s.get(Slot::output, 2 * steps));
    for (int64_t st = 0; st < steps; ++st) boff[st] = 4 * st * kP * t_pad;
    std::fill(dy_rows + g.o * kp, dy_rows + o_pad * kp, 0u);  // rows past O: dropped, but finite
    for (int64_t p = 0; p < kp; ++p) std::fill(xt + p * t_pad + taps, xt + (p + 1) * t_pad, 0u);
    return [&, img, xt, dy_rows, boff, off](int64_t n, float* acc, bool accumulate) {
      const uint16_t* xn = x + n * g.c * g.in_pixels();
      pad_image(xn, g.c, g.h, g.w, g.ph, g.pw, hp, wp, image - g.c * hp * wp, img);
      for (int64_t p = 0; p < kp; ++p)
        for (int64_t t = 0; t < taps; ++t) {
          const uint16_t* at = img + off[t] + 2 * p;
          xt[p * t_pad + t] = pair_word(at[0], at[1]);
        }
      const uint16_t* dyn = dy + n * g.o * g.out_pixels();
      for (int64_t o = 0; o < g.o; ++o)
        pad_image(dyn + o * g.out_pixels(), 1, g.oh, g.ow, 0, 0, g.oh, wp, 2 * kp - nq,
                  reinterpret_cast<uint16_t*>(dy_rows + o * kp));
      alignas(64) float blk[kB * kB];
      amx::configure();
      for (int64_t o0 = 0; o0 < g.o; o0 += kB)
        for (int64_t t0 = 0; t0 < taps; t0 += kB) {
          amx::block(steps, reinterpret_cast<const char*>(dy_rows + o0 * kp), 4 * kp,
                     reinterpret_cast<const char*>(xt + t0), boff, 4 * t_pad, blk, kB, nullptr, kB);
          for (int64_t t = 0; t < std::min<int64_t>(kB, taps - t0); ++t)
            for (int64_t r = 0; r < std::min<int64_t>(kB, g.o - o0); ++r) {
              float& d = acc[(t0 + t) * g.o + o0 + r];
              d = (accumulate ? d : 0.f) + blk[r * kB + t];
            }
        }
    };
  });
}

// Per image: dWᵀ_tap[c, o] = Σ_p X_tap[c, p] · dyᵀ[p, o] for each tap, p over the pixel
// pairs of the output flattened at the padded width (dy zero in the wrapped columns), in
// passes of `chunk` steps of p, each over every tap: one pass's operands stay in L1 while
// all the taps read them, where the whole depth (conv2: 80 KiB of dyᵀ) fell to L2.
// X_tap row c is channel c's padded plane from the tap's offset, read in pairs at any
// half-word; dyᵀ is dy's flattened rows transposed to [pixel pair, O].
void weight_grad_by_channels(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, nq = g.oh * wp, taps = g.kh * g.kw;
  const int64_t steps = ge::ceil_div(ge::ceil_div(nq, 2), kP), kp = steps * kP;
  const int64_t max_off = (g.kh - 1) * g.dh * wp + (g.kw - 1) * g.dw;
  const int64_t plane = ge::round_up(max_off + 2 * kp, 2 * kB);  // halves per channel plane
  const int64_t c_pad = ge::round_up(g.c, kB), o_pad = ge::round_up(g.o, kB);
  // Steps per pass: dyᵀ's rows for one pass (16 per step, o_pad words each) stay within
  // kChunkBytes. Each pass's tiles start from the blocks the previous one stored.
  const int64_t chunk = std::max<int64_t>(1, kChunkBytes / (4 * kP * o_pad));
  weight_grad_by_groups(g, g.patch(), dw, [&] {
    ge::Scratch& s = ge::thread_scratch();
    uint16_t* img = reinterpret_cast<uint16_t*>(s.get(Slot::image, c_pad * plane / 2));
    uint32_t* dyt = reinterpret_cast<uint32_t*>(s.get(Slot::pack_b, kp * o_pad));
    uint32_t* dy_rows = reinterpret_cast<uint32_t*>(s.get(Slot::pack_a, o_pad * kp));
    int64_t* boff = reinterpret_cast<int64_t*>(s.get(Slot::output, 2 * steps));
    for (int64_t st = 0; st < steps; ++st) boff[st] = 4 * st * kP * o_pad;
    // Channels and output channels past the real ones only feed results that are dropped,
    // but stay finite.
    std::fill(img + g.c * plane, img + c_pad * plane, uint16_t{0});
    std::fill(dy_rows + g.o * kp, dy_rows + o_pad * kp, 0u);
    return [&, img, dyt, dy_rows, boff](int64_t n, float* acc, bool accumulate) {
      const uint16_t* xn = x + n * g.c * g.in_pixels();
      for (int64_t c = 0; c < g.c; ++c)
        pad_image(xn + c * g.in_pixels(), 1, g.h, g.w, g.ph, g.pw, hp, wp, plane - hp * wp, img + c * plane);
      const uint16_t* dyn = dy + n * g.o * g.out_pixels();
      for (int64_t o = 0; o < g.o; ++o)
        pad_image(dyn + o * g.out_pixels(), 1, g.oh, g.ow, 0, 0, g.oh, wp, 2 * kp - nq,
                  reinterpret_cast<uint16_t*>(dy_rows + o * kp));
      transpose_32bit(dy_rows, kp, o_pad, kp, dyt, o_pad);
      alignas(64) float edge[kB * kB];
      amx::configure();
      const int64_t lda = 2 * plane, ldc = taps * g.o;
      for (int64_t k0 = 0; k0 < steps; k0 += chunk) {
        const int64_t ks = std::min(chunk, steps - k0);
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t tap = i * g.kw + j, off = i * g.dh * wp + j * g.dw;
            float* acc_tap = acc + tap * g.o;  // dWᵀ_tap row c is acc row c * taps + tap
            for (int64_t c0 = 0; c0 < g.c; c0 += kB)
              for (int64_t o0 = 0; o0 < g.o; o0 += kB)
                amx::store_block(acc_tap, ldc, g.c, g.o, c0, o0, accumulate || k0 > 0, nullptr, edge,
                                 [&](float* dst, int64_t ld, const float* init, int64_t ldi) {
                                   amx::block(ks, reinterpret_cast<const char*>(img + c0 * plane + off) + 64 * k0, lda,
                                              reinterpret_cast<const char*>(dyt + o0), boff + k0, 4 * o_pad, dst, ld,
                                              init, ldi);
                                 });
          }
      }
    };
  });
}

}  // namespace

void weight_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw) {
  if (g.c >= 16) return weight_grad_by_channels(g, dy, x, dw);
  weight_grad_by_taps(g, dy, x, dw);
}

}  // namespace dagrad::conv_amx
