// report.html: one self-contained page (inline SVG and CSS, no scripts, nothing fetched)
// with the timeline of one run (a lane per stream, a box per step coloured by op kind,
// hover titles with each step's slack, arrows for cross-stream events, the critical path
// outlined in red and its hops between streams drawn), the critical path and what-ifs,
// the planned memory over the steps, the per-op summary table and, when the machine's
// peaks are known, a roofline chart (log-log, inline SVG).
#pragma once
#include <string>

#include "profiler/machine_peaks.h"
#include "profiler/profile.h"
#include "profiler/step_info.h"
#include "profiler/what_if.h"

namespace dagrad::profiler {

// `title` names what ran (e.g. "mnist-cnn, batch 64"); the timeline shows the median run.
// With `peak`, the per-op table gets a "% roof" column and the page a roofline chart.
std::string html_report(const Profile& profile, const std::string& title,
                        const std::vector<WhatIfResult>& what_ifs = {}, const MachinePeak* peak = nullptr);

// Fill colour of an op kind ("#4e79a7"), shared by the report's timeline and legend.
std::string_view class_colour(StepClass kind);

}  // namespace dagrad::profiler
