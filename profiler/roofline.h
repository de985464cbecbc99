// The roofline: how far each op is from what the machine can do. An op with F FLOPs
// moving B bytes (the cost model) has arithmetic intensity I = F / B; the machine
// (machine_peaks.h) bounds its rate by roof(I) = min(peak GFLOP/s, I x peak GB/s).
// "% of roof" is its achieved rate over that bound, which is the same as the least time
// the op needs (max(F / peak FLOP/s, B / peak bytes/s)) over the time it took; ops
// without FLOPs (copies, gathers) are then measured against the bandwidth alone. The
// bandwidth is memory's (a triad far larger than the caches): an op whose data stays in
// cache can pass 100%.
#pragma once
#include <string>
#include <vector>

#include "profiler/machine_peaks.h"
#include "profiler/summary.h"

namespace dagrad::profiler {

// GFLOP/s a kernel of `intensity` FLOP/byte can reach at best.
double roof_gflops(double intensity, const MachinePeak& peak);
// Achieved share of the roof, 0..1, above 1 for an op that does fewer FLOPs than the cost
// model counts (Winograd), runs on faster units than the FMA peak measures (AMX,
// vdpbf16ps) or finds its data in cache; 0 for an op that took no time.
double roof_fraction(double flops, double bytes, double seconds, const MachinePeak& peak);
inline double roof_fraction(const SummaryRow& r, const MachinePeak& peak) {
  return roof_fraction(r.flops, r.bytes, r.seconds, peak);
}

// The rows taking at least `min_share` of the kernel time, lowest share of roof first
// (the ops that leave most of the machine unused), at most `count`.
std::vector<SummaryRow> furthest_below_roof(const Summary& s, const MachinePeak& peak, size_t count,
                                            double min_share = 0.01);

// Lines for summary.txt: the peaks and ridge point, the ops furthest below their roof, and
// (when there are any) the ops above it, with why that can happen.
std::string roofline_text(const Summary& s, const MachinePeak& peak);

// A self-contained log-log SVG: achieved GFLOP/s against arithmetic intensity, one dot
// per op with FLOPs (area by time share, colour by kind, hover for numbers), under the
// machine's roof (the bandwidth slope, then the FMA ceiling).
std::string roofline_svg(const Summary& s, const MachinePeak& peak);

}  // namespace dagrad::profiler
