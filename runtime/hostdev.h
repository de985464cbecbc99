// Marks per-element math that both g++ (CPU backend) and nvcc (CUDA backend) compile.
#pragma once
#if defined(__CUDACC__)
#define DAGRAD_HD __host__ __device__ __forceinline__
#else
#define DAGRAD_HD inline
#endif
