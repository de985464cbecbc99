// The dagrad umbrella header: the whole public API in one include.
//
//   #include <dagrad/dagrad.h>
//
// and link dagrad::dagrad (find_package(dagrad REQUIRED) in CMake). The headers below can
// also be included one by one, as "runtime/tensor.h", "frontend/nn.h", ...
//
// API rules: everything is in namespace dagrad (nn, optim, autograd, scheduler, profiler,
// models inside it); no public header has a `using namespace` at namespace scope; the
// only macros they define are DAGRAD_VERSION*, DAGRAD_ASSERT and DAGRAD_HD.
#pragma once

#include "dagrad/version.h"

// Tensors, devices and the runtime.
#include "runtime/allocator.h"
#include "runtime/backend.h"
#include "runtime/convert.h"
#include "runtime/device.h"
#include "runtime/dtype.h"
#include "runtime/error.h"
#include "runtime/float16.h"
#include "runtime/rng.h"
#include "runtime/shape.h"
#include "runtime/stream.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"

// The graph IR, the op registry (typed parameters, kernel tables) and the functions
// that build nodes.
#include "ops/attrs.h"
#include "ops/graph.h"
#include "ops/interpreter.h"
#include "ops/kernel_table.h"
#include "ops/math_mode.h"
#include "ops/op_def.h"
#include "ops/ops.h"
#include "ops/param_codec.h"
#include "ops/registry.h"

// Communicators and the collective ops (data-parallel training).
#include "comm/collective_ops.h"
#include "comm/communicator.h"

// Reverse-mode autodiff.
#include "autograd/grad.h"

// Compiling graphs into plans and running them.
#include "scheduler/compile.h"
#include "scheduler/compile_options.h"
#include "scheduler/executor.h"
#include "scheduler/mixed_precision.h"
#include "scheduler/plan.h"
#include "scheduler/plan_check.h"
#include "scheduler/session.h"

// Profiling a run.
#include "profiler/chrome_trace.h"
#include "profiler/critical_path.h"
#include "profiler/html_report.h"
#include "profiler/memory_timeline.h"
#include "profiler/profile.h"
#include "profiler/profiler.h"
#include "profiler/replay.h"
#include "profiler/roofline.h"
#include "profiler/step_info.h"
#include "profiler/summary.h"
#include "profiler/what_if.h"

// Models, training, data and checkpoints.
#include "frontend/checkpoint/safetensors.h"
#include "frontend/data/dataset.h"
#include "frontend/data/idx.h"
#include "frontend/data/loader.h"
#include "frontend/data/mnist.h"
#include "frontend/image.h"
#include "frontend/metrics.h"
#include "frontend/nn.h"
#include "frontend/nn_norm.h"
#include "frontend/nn_transformer.h"
#include "frontend/objective.h"
#include "frontend/optim.h"
#include "frontend/trainer.h"
#include "models/models.h"
