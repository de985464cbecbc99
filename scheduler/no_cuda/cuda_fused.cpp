// The CPU-only build: no CUDA launcher for fused groups (a CUDA build links
// scheduler/cuda_fused.cpp instead).
#include "scheduler/cuda_fused.h"

namespace dagrad::scheduler {

FusedLauncher cuda_fused_launcher() { return nullptr; }

}  // namespace dagrad::scheduler
