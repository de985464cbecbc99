// sweep.svg: the scaling sweep as a self-contained SVG. One row per op, two log-log
// panels per row (time per run, and GFLOP/s, against size), one line per device. The
// GFLOP/s panel draws each device's measured FMA peak as a dashed horizontal line and,
// for ops that stay below the device's ridge point (square), the bandwidth ceiling
// (peak GB/s x the op's FLOP per byte) as a dotted one.
#pragma once
#include <string>

#include "bench/sweep.h"

namespace dagrad::bench {

std::string sweep_svg(const SweepResult& result, const std::string& title);

}  // namespace dagrad::bench
