// <immintrin.h> without GCC 12's false -Wuninitialized: intrinsics such as
// _mm512_cvtps_pd and _mm512_mul_epu32 fill their pass-through operand with
// _mm512_undefined_*(), a self-initialised variable that GCC then reports as uninitialised
// at every inlined call.
#pragma once

#if defined(__AVX512F__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
