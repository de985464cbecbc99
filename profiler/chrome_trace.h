// Chrome trace-event JSON of a Profile, for Perfetto (ui.perfetto.dev) and
// chrome://tracing. One process, one named thread track per stream ("stream 0", ...)
// plus a "runs" track with each run's host wall time; one complete ("X") event per
// executed step with its nodes, FLOPs and bytes in args; flow arrows ("s"/"f") from the
// producer step of every cross-stream event to the first step after its wait; and a
// counter track with the planned live arena bytes. Each step event's args say whether it
// is on its run's critical path and its slack (critical_path.h); a "critical path" track
// repeats the path's steps of every run. Times are microseconds from Profile::origin_s().
#pragma once
#include <string>

#include "profiler/profile.h"

namespace dagrad::profiler {

// Track ids ("tid") of the trace: one per stream, from 1 (importers treat 0 as special),
// the runs track and the critical path track.
constexpr int kRunsTid = 1 << 20;
constexpr int kCriticalTid = kRunsTid + 1;
inline int stream_tid(int stream) { return stream + 1; }

std::string to_chrome_trace(const Profile& profile);

}  // namespace dagrad::profiler
