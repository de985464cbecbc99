// Inverted dropout. The mask is a pure function of (seed, run step, element index)
// (ops/nn_math.h), so the vjp and the CUDA backend regenerate it exactly. The index
// starts at the "offset" attribute: a data-parallel rank's batch continues the global
// batch's indices, so its masks are those one process would draw at the global batch.
#include <algorithm>
#include <cstring>

#include "ops/cpu/epilogue_piece.h"
#include "ops/cpu/immintrin_quiet.h"
#include "ops/cpu/nn_kernels.h"
#include "ops/nn_math.h"
#include "ops/params/nn.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

// Philox-4x32-10 (runtime/rng.h) for 16 consecutive counters at a time, in GCC vector
// extensions (one zmm per word of the 16 counters):
// the same bits as philox4x32_10, lane by lane. out[4·q + j] is word j of counter
// first + q, the order in which dropout reads them.
typedef uint32_t U32x16 __attribute__((vector_size(64)));
typedef uint64_t U64x8 __attribute__((vector_size(64)));

// The low and high 32 bits of a·m for 16 lanes, from the 64-bit products of the even and
// the odd lanes (32x32->64 multiplies), put back in place. With AVX-512 the products are
// vpmuludq (one uop) and the words move by in-lane dword swaps, which issue on a different
// port from the multiplies. Written as 64-bit vector multiplies and shifts, GCC emits
// vpmullq (three uops on Intel) and loads one port with everything (measured: Philox at
// 1.9x the rate, bench/NOTES.md stop 35).
inline void mul_lo_hi(U32x16 a, uint32_t m, U32x16& lo, U32x16& hi) {
#if defined(__AVX512F__)
  const __m512i va = reinterpret_cast<__m512i>(a), vm = _mm512_set1_epi64(m);
  const __m512i even = _mm512_mul_epu32(va, vm);
  const __m512i odd = _mm512_mul_epu32(_mm512_shuffle_epi32(va, _MM_PERM_CDAB), vm);
  // Low words: the even products' stay, the odd products' move up into the odd lanes.
  lo = reinterpret_cast<U32x16>(_mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB));
  // High words: the odd products' stay, the even products' move down into the even lanes.
  hi = reinterpret_cast<U32x16>(_mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB));
#else
  const U64x8 w = reinterpret_cast<U64x8>(a);
  const U64x8 even = (w & 0xFFFFFFFFull) * static_cast<uint64_t>(m);
  const U64x8 odd = (w >> 32) * static_cast<uint64_t>(m);
  lo = a * m;
  hi = reinterpret_cast<U32x16>((even >> 32) | (odd & 0xFFFFFFFF00000000ull));
#endif
}

// kSets sets of 16 consecutive counters side by side: one set's rounds are a
// chain of dependent multiplies, so interleaving four keeps the multiplier busy (measured:
// 1.6x the rate of one set at a time). The words are transposed with two rounds of
// two-vector shuffles.
template <int kSets>
void philox_x16(uint64_t first, uint32_t k0, uint32_t k1, uint32_t* out) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  const U32x16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  U32x16 c0[kSets], c1[kSets], c2[kSets], c3[kSets];
  for (int s = 0; s < kSets; ++s) {
    const uint64_t set_first = first + 16 * static_cast<uint64_t>(s);
    const uint32_t lo = static_cast<uint32_t>(set_first), hi = static_cast<uint32_t>(set_first >> 32);
    c0[s] = lo + iota;
    c1[s] = hi - reinterpret_cast<U32x16>(c0[s] < lo);  // + 1 where the low word wrapped
    c2[s] = U32x16{};
    c3[s] = U32x16{};
  }
  for (int round = 0; round < 10; ++round) {
    for (int s = 0; s < kSets; ++s) {
      U32x16 lo0, hi0, lo1, hi1;
      mul_lo_hi(c0[s], kM0, lo0, hi0);
      mul_lo_hi(c2[s], kM1, lo1, hi1);
      const U32x16 n0 = hi1 ^ c1[s] ^ k0, n2 = hi0 ^ c3[s] ^ k1;
      c0[s] = n0;
      c1[s] = lo1;
      c2[s] = n2;
      c3[s] = lo0;
    }
    k0 += kW0;
    k1 += kW1;
  }
  for (int s = 0; s < kSets; ++s) {
    // Words 0,1 and 2,3 of counters 0..7 and 8..15 paired, then the pairs joined.
    const U32x16 a01 = __builtin_shufflevector(c0[s], c1[s], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const U32x16 b01 = __builtin_shufflevector(c0[s], c1[s], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const U32x16 a23 = __builtin_shufflevector(c2[s], c3[s], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const U32x16 b23 = __builtin_shufflevector(c2[s], c3[s], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const U32x16 words[4] = {
        __builtin_shufflevector(a01, a23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23),
        __builtin_shufflevector(a01, a23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31),
        __builtin_shufflevector(b01, b23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23),
        __builtin_shufflevector(b01, b23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31)};
    std::memcpy(out + 64 * s, words, sizeof words);
  }
}

// y = x·scale where kept, else x·0 (branch-free, so it vectorises; as PyTorch's
// x·mask·scale, a NaN stays NaN). x and y may be the same buffer (in place).
template <class T>
void apply_mask(const T* x, T* y, const uint32_t* __restrict bits, int64_t len, uint32_t threshold, T scale) {
  for (int64_t i = 0; i < len; ++i) y[i] = x[i] * (dropout_keep_bits(bits[i], threshold) ? scale : T(0));
}

}  // namespace

void dropout_cpu(const KernelContext& ctx) {
  const DropoutParams& params = ctx.params<DropoutParams>();
  const double p = params.p;
  const bool training = params.training;
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  const int64_t n = x.numel();
  if (!training || p == 0.0) {
    if (x.raw_data() != y.raw_data() && n > 0) std::memcpy(y.raw_data(), x.raw_data(), x.nbytes());
    return;
  }
  const uint64_t seed = dropout_step_seed(static_cast<uint64_t>(params.seed), ctx.step);
  const uint32_t threshold = dropout_threshold(p);
  const uint64_t offset = static_cast<uint64_t>(params.offset);
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    const T scale = static_cast<T>(1.0 / (1.0 - p));
    // One Philox call yields the bits of 4 consecutive elements (random_bits' counter is
    // index / 4, its lane index % 4). Bits for a block of groups are drawn first (a full
    // block in one vectorised call, a partial one 16 groups at a time), and the mask
    // applied after in a loop the compiler vectorises.
    constexpr int64_t kBlock = 64;  // groups of 4 elements
    const int64_t groups = offset % 4 == 0 ? n / 4 : 0;  // an unaligned offset takes the scalar loop
    const uint64_t group0 = offset / 4;
    // A fused epilogue (relu's gradient after the backward dropout) runs after every
    // 2,048 groups (32 KiB of float32), while they are in cache; if it consumes pieces,
    // they are written to the thread's scratch and handed over instead.
    constexpr int64_t kEpilogueGroups = 2048;
    const Epilogue* epilogue = ctx.epilogue;
    if (epilogue) epilogue->applied = true;
    parallel_for(0, groups, kEpilogueGroups, [&, k0, k1, threshold, scale, group0](int64_t lo, int64_t hi) {
      alignas(64) uint32_t bits[kBlock * 4];
      T* piece = epilogue && epilogue->consumes_pieces
                     ? thread_buffer<T, kEpiloguePieceTag>(static_cast<size_t>(4 * (kEpilogueGroups + kBlock)))
                     : nullptr;
      int64_t done = lo;  // groups before it have had the epilogue
      for (int64_t g0 = lo; g0 < hi; g0 += kBlock) {
        const int64_t ng = std::min(kBlock, hi - g0);
        int64_t q = 0;
        if (ng == kBlock) {
          philox_x16<kBlock / 16>(group0 + static_cast<uint64_t>(g0), k0, k1, bits);
          q = kBlock;
        }
        for (; q + 16 <= ng; q += 16) philox_x16<1>(group0 + static_cast<uint64_t>(g0 + q), k0, k1, bits + 4 * q);
        for (; q < ng; ++q) {
          const uint64_t ctr = group0 + static_cast<uint64_t>(g0 + q);
          const U32x4 r =
              philox4x32_10(U32x4{{static_cast<uint32_t>(ctr), static_cast<uint32_t>(ctr >> 32), 0u, 0u}}, k0, k1);
          for (int j = 0; j < 4; ++j) bits[4 * q + j] = r.v[j];
        }
        apply_mask(in + 4 * g0, piece ? piece + 4 * (g0 - done) : out + 4 * g0, bits, 4 * ng, threshold, scale);
        if (epilogue && (g0 + ng - done >= kEpilogueGroups || g0 + ng == hi)) {
          if (piece) hand_piece({piece, 0, 0});
          epilogue->run(4 * done, 4 * (g0 + ng));
          done = g0 + ng;
        }
      }
    });
    for (int64_t i = 4 * groups; i < n; ++i)  // the last partial group
      out[i] = in[i] * (dropout_keep(seed, offset + static_cast<uint64_t>(i), threshold) ? scale : T(0));
    if (epilogue && 4 * groups < n) epilogue->run(4 * groups, n);
  });
}

}  // namespace dagrad
