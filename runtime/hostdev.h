// Marks per-element math that both g++ (CPU backend) and nvcc (CUDA backend) compile.
// Self-contained: runtime/float16.h and ops/elementwise_math.h include it, and the NVRTC
// prelude of the fused elementwise kernels carries its text in front of theirs.
#pragma once
#ifndef DAGRAD_HD
#if defined(__CUDACC__)
#define DAGRAD_HD __host__ __device__ __forceinline__
#else
#define DAGRAD_HD inline
#endif
#endif
