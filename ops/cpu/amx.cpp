// The AMX tile kernel and its run-time checks. Only block() and configure() execute tile
// instructions; they carry the target attribute themselves, so nothing else in the program
// is compiled for instructions the CPU may lack, and callers check available() first.
#include "ops/cpu/amx.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "ops/cpu/gemm_bf16.h"

namespace dagrad::amx {

namespace {

#define DAGRAD_AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f")))

constexpr int kArchReqXcompPerm = 0x1023;  // arch_prctl: request permission for a state component
constexpr int kXfeatureXtiledata = 18;     // the tile data registers

std::atomic<bool>& forced() {
  static std::atomic<bool> f{[] {
    const char* env = std::getenv("DAGRAD_NO_AMX");
    return env && *env && std::strcmp(env, "0") != 0;
  }()};
  return f;
}

// The LDTILECFG memory operand: palette 1, tile t has rows[t] rows of colsb[t] bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

}  // namespace

// CPUID leaf 7 lists AMX-BF16 (EDX bit 22) and AMX-TILE (bit 24), and XCR0 bits 17-18 say
// the OS saves the tile state. Read directly: clang before 18 knows no "amx-*" feature
// names for __builtin_cpu_supports (scripts/fuzz.sh builds with clang 16).
bool cpu_reports_amx() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return false;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  constexpr unsigned kAmxBf16 = 1u << 22, kAmxTile = 1u << 24;
  if ((edx & (kAmxBf16 | kAmxTile)) != (kAmxBf16 | kAmxTile)) return false;
  unsigned xcr0_lo, xcr0_hi;
  asm volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  constexpr unsigned kTileState = (1u << 17) | (1u << 18);
  return (xcr0_lo & kTileState) == kTileState;
}

bool cpu_has_amx() {
  static const bool has = [] {
    if (!cpu_reports_amx()) return false;
    // Linux keeps the 8 KiB tile state off until a process asks for it (kernel 5.16+).
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return has;
}

bool available() { return !forced().load(std::memory_order_relaxed) && gemm_bf16::available() && cpu_has_amx(); }

void force_off(bool on) { forced().store(on, std::memory_order_relaxed); }

DAGRAD_AMX_TARGET void configure() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  // Not _tile_loadconfig: GCC 12's version tells the compiler it reads only 8 bytes, and the
  // stores above are then dropped as dead.
  asm volatile("ldtilecfg %0" ::"m"(cfg));
}

// Tiles 0-3 hold the results (0: rows 0-15 x columns 0-15, 1: rows 0-15 x 16-31,
// 2: rows 16-31 x 0-15, 3: rows 16-31 x 16-31), 4-5 the two A row halves, 6-7 the two B
// column halves: each A and B tile feeds two products.
DAGRAD_AMX_TARGET void block(int64_t steps, const char* a, int64_t lda, const char* b, const int64_t* boff, int64_t ldb,
                             float* c, int64_t ldc, const float* init, int64_t ldinit) {
  const int64_t ldc_bytes = ldc * 4;
  if (init) {
    const int64_t li = ldinit * 4;
    _tile_loadd(0, init, li);
    _tile_loadd(1, init + 16, li);
    _tile_loadd(2, init + 16 * ldinit, li);
    _tile_loadd(3, init + 16 * ldinit + 16, li);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  const char* a_lo = a;
  const char* a_hi = a + 16 * lda;
  for (int64_t s = 0; s < steps; ++s) {
    const char* bs = b + boff[s];
    _tile_loadd(4, a_lo + 64 * s, lda);
    _tile_loadd(6, bs, ldb);
    _tile_loadd(7, bs + 64, ldb);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, a_hi + 64 * s, lda);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, ldc_bytes);
  _tile_stored(1, c + 16, ldc_bytes);
  _tile_stored(2, c + 16 * ldc, ldc_bytes);
  _tile_stored(3, c + 16 * ldc + 16, ldc_bytes);
}

}  // namespace dagrad::amx
