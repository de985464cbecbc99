#include "scheduler/executor.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include "ops/kernel_table.h"
#include "runtime/error.h"
#include "runtime/memory_info.h"
#include "scheduler/numerics.h"

namespace dagrad::scheduler {

// What one compute step needs at run time, prepared once: the arena-backed tensors are
// fixed; the entries that hold bound tensors are refreshed per run (bound_slots).
struct Executor::StepExec {
  const Step* step = nullptr;
  const Node* node = nullptr;  // the kernel's node; null for a fused step
  Kernel kernel = nullptr;
  std::vector<Tensor> ins, outs;
  // Fused steps, epilogues and elementwise ops without a kernel of their own.
  std::unique_ptr<ElementwiseProgram> program;
  ProgramLauncher launcher = nullptr;
  RangeLauncher range_launcher = nullptr;  // epilogues a kernel may apply piece by piece
  // The group input that is the kernel's output 0 when nothing after this step reads that
  // output: the kernel may hand its pieces to the epilogue instead of writing them.
  int handed_input = -1;
  std::vector<Tensor> group_ins, group_outs;
  std::vector<std::pair<Tensor*, ValueRef>> bound_slots;
  uint64_t run_step = 0;  // of the run it was last submitted for
  // Values of this step whose plane sums a later reduction takes (on every finished piece
  // of the epilogue), and, for such a reduction, the plane sums of its input.
  std::vector<std::pair<Tensor, PlaneSums*>> plane_sums_taken;
  const PlaneSums* plane_sums_in = nullptr;
};

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

bool is_input_node(const Node& n) { return n.op->flags.bound_input; }

}  // namespace

Executor::Arena::Arena(Allocator& alloc, const ExecutionPlan& plan) : alloc_(alloc), bytes_(plan.arena_bytes) {
  if (bytes_ == 0) return;
  try {
    data_ = static_cast<char*>(alloc_.allocate(bytes_));
  } catch (const OutOfMemoryError& e) {
    // Say which plan and which buffer dominate, so the user knows what to shrink.
    std::string outputs;
    for (size_t i = 0; plan.graph && i < plan.outputs.size() && i < 3; ++i)
      outputs += str_cat(i ? ", '" : "'", plan.graph->node(plan.outputs[i].node).name, "'");
    if (plan.outputs.size() > 3) outputs += str_cat(" and ", plan.outputs.size() - 3, " more");
    const Buffer* largest = nullptr;
    for (const Buffer& b : plan.buffers)
      if (b.kind == Buffer::Kind::arena && (!largest || b.bytes > largest->bytes)) largest = &b;
    throw OutOfMemoryError(str_cat("[executor] cannot allocate the memory arena (", describe_bytes(bytes_),
                                   ") of the plan computing ", outputs.empty() ? "nothing" : outputs,
                                   largest ? str_cat(" (largest buffer '", largest->name, "' ", largest->shape.to_string(),
                                                     " ", dtype_name(largest->dtype), ", ", describe_bytes(largest->bytes), ")")
                                           : std::string(),
                                   ": ", e.what()));
  }
}

Executor::Arena::~Arena() {
  if (data_) alloc_.deallocate(data_, bytes_);
}

Executor::Executor(ExecutionPlan plan, Backend& backend)
    : plan_(std::move(plan)),
      backend_(backend),
      device_(backend.device()),
      arena_(backend.allocator(), plan_) {
  if (!plan_.graph) throw ValueError("[executor] the plan has no graph; make it with scheduler::compile");
  const Graph& g = *plan_.graph;
  for (int s = 0; s < plan_.num_streams; ++s) streams_.push_back(backend_.create_stream(s));
  for (size_t e = 0; e < plan_.events.size(); ++e) events_.push_back(backend_.create_event());

  // Touch the arena now, so that no run pays for first-touch page faults.
  std::vector<char> zeros(std::min<size_t>(plan_.arena_bytes, size_t{1} << 20), 0);
  for (size_t off = 0; off < plan_.arena_bytes; off += zeros.size())
    backend_.copy(arena_.data() + off, device_, zeros.data(), Device::cpu(),
                  std::min(zeros.size(), plan_.arena_bytes - off));

  values_.resize(g.num_nodes());
  for (size_t id = 0; id < g.num_nodes(); ++id) {
    values_[id].resize(g.node(static_cast<int>(id)).outputs.size());
    for (size_t i = 0; i < values_[id].size(); ++i) {
      int b = plan_.buffer_of(ValueRef{static_cast<int>(id), static_cast<int>(i)});
      if (b < 0 || plan_.buffers[b].kind != Buffer::Kind::arena) continue;
      const TensorType& t = g.node(static_cast<int>(id)).outputs[i];
      values_[id][i] = Tensor::borrow(arena_.data() + plan_.buffers[b].offset, t.shape, t.dtype, device_);
    }
  }
  prepare_steps();
}

Executor::~Executor() {
  for (auto& s : streams_) {
    try {
      s->synchronize();
    } catch (...) {  // a failed run was already reported by run()
    }
  }
}

void Executor::prepare_steps() {
  const Graph& g = *plan_.graph;
  auto tensors_of = [&](const std::vector<ValueRef>& refs) {
    std::vector<Tensor> out;
    for (const ValueRef& v : refs) out.push_back(values_[v.node][v.index]);
    return out;
  };
  auto is_bound = [&](ValueRef v) {
    int b = plan_.buffer_of(v);
    return b >= 0 && plan_.buffers[b].kind == Buffer::Kind::bound;
  };
  const KernelTable& table = kernel_table(device_.type);
  steps_.resize(plan_.steps.size());
  for (const Step& step : plan_.steps) {
    if (!step.is_compute()) continue;
    auto se = std::make_unique<StepExec>();
    se->step = &step;
    std::vector<ValueRef> in_refs, group_in_refs;
    if (step.kind == StepKind::kernel) {
      const Node& n = g.node(step.nodes[0]);
      se->node = &n;
      se->kernel = table.find(*n.op);
      if (!table.supports(*n.op))
        throw ValueError(str_cat("[", n.op_name(), "] has no ", device_.to_string(), " kernel (node '", n.name,
                                 "'); run this graph on the CPU"));
      for (const Value& v : n.inputs) in_refs.push_back(ValueRef{v.node, v.index});
      se->ins = tensors_of(in_refs);
      se->outs = values_[n.id];
      if (!se->kernel) {  // an elementwise op: its one-instruction program
        se->program = std::make_unique<ElementwiseProgram>(ElementwiseProgram::from_node(n));
        se->launcher = table.elementwise;
      }
      for (size_t i = 0; i < se->outs.size(); ++i)
        if (!se->outs[i].defined())
          throw InternalError(str_cat("[executor] output ", i, " of '", n.name, "' has no buffer"));
    }
    if (step.group >= 0) {
      const FusedGroup& grp = plan_.groups[step.group];
      se->program = std::make_unique<ElementwiseProgram>(grp.program(g));
      se->launcher = table.elementwise;
      if (se->kernel) se->range_launcher = table.elementwise_range;
      if (!se->launcher)
        throw ValueError(str_cat("[executor] fused groups have no ", device_.to_string(),
                                 " implementation yet; compile with fuse=false"));
      group_in_refs = grp.inputs;
      se->group_ins = tensors_of(group_in_refs);
      se->group_outs = tensors_of(grp.outputs);
      if (se->range_launcher) se->handed_input = output_read_only_by_epilogue(step, *se->program);
      if (se->handed_input >= 0) ++handed_outputs_;
    }
    // Entries holding bound tensors, refreshed at every run (the vectors no longer grow).
    for (size_t i = 0; i < in_refs.size(); ++i)
      if (is_bound(in_refs[i])) se->bound_slots.emplace_back(&se->ins[i], in_refs[i]);
    for (size_t i = 0; i < group_in_refs.size(); ++i)
      if (is_bound(group_in_refs[i])) se->bound_slots.emplace_back(&se->group_ins[i], group_in_refs[i]);
    steps_[step.index] = std::move(se);
  }
  link_plane_sums();
}

// The index of the epilogue's input that is the kernel's output 0, when that output's
// buffer holds nothing else and no later step reads it; -1 otherwise.
int Executor::output_read_only_by_epilogue(const Step& step, const ElementwiseProgram& program) const {
  const FusedGroup& grp = plan_.groups[step.group];
  const int b = plan_.buffer_of(ValueRef{grp.epilogue_of, 0});
  if (b < 0) return -1;
  const Buffer& buf = plan_.buffers[b];
  if (buf.kind != Buffer::Kind::arena || buf.is_output || buf.last_use != step.index || buf.aliases.size() != 1)
    return -1;
  int handed = -1;
  for (size_t i = 0; i < grp.inputs.size(); ++i) {
    if (plan_.buffer_of(grp.inputs[i]) != b) continue;
    if (handed >= 0 || program.inputs[i].mode != ElementwiseProgram::Input::Mode::full) return -1;
    handed = static_cast<int>(i);
  }
  return handed;
}

// A reduction that folds planes of a value (KernelContext::plane_sums) gets their sums
// from the step that produced the value when that step runs an epilogue piece by piece:
// each piece is summed while it is still in cache, and the reduction reads only what no
// piece covered whole. The sums are those it would take itself: results do not change.
void Executor::link_plane_sums() {
  const KernelTable& table = kernel_table(device_.type);
  if (!table.plane_sum_length || !table.collect_plane_sums) return;
  collect_plane_sums_ = table.collect_plane_sums;
  const Graph& g = *plan_.graph;
  std::vector<std::pair<ValueRef, PlaneSums*>> taken;
  for (auto& reader : steps_) {
    if (!reader || !reader->kernel || reader->node->inputs.empty()) continue;
    const int64_t len = table.plane_sum_length(*reader->node);
    const ValueRef v{reader->node->inputs[0].node, reader->node->inputs[0].index};
    const int producer = plan_.step_of(v.node);
    if (len <= 0 || producer < 0 || !steps_[producer]->range_launcher) continue;
    // Final on each piece: the kernel's output 0, or one of its epilogue's outputs.
    const FusedGroup& grp = plan_.groups[plan_.steps[producer].group];
    if (v != ValueRef{grp.epilogue_of, 0} && std::find(grp.outputs.begin(), grp.outputs.end(), v) == grp.outputs.end())
      continue;
    auto it = std::find_if(taken.begin(), taken.end(), [&](const auto& t) { return t.first == v; });
    if (it == taken.end()) {
      auto sums = std::make_unique<PlaneSums>();
      const size_t planes = static_cast<size_t>(g.node(v.node).outputs[v.index].shape.numel() / len);
      sums->len = len;
      sums->sums.assign(planes, 0.0);
      sums->ready.assign(planes, 0);
      steps_[producer]->plane_sums_taken.emplace_back(values_[v.node][v.index], sums.get());
      taken.emplace_back(v, sums.get());
      plane_sums_.push_back(std::move(sums));
      it = taken.end() - 1;
    }
    if (it->second->len != len) continue;  // a second reader folding other planes
    reader->plane_sums_in = it->second;
    ++plane_sum_readers_;
  }
}

void Executor::bind(const std::string& name, const Tensor& t) {
  if (!plan_.graph->has_node(name))
    throw ValueError(str_cat("[executor] the graph has no input or parameter named '", name, "'"));
  state_[name] = t;
}

void Executor::bind(const TensorMap& state) {
  for (const auto& [name, t] : state) bind(name, t);
}

void Executor::bind_run(const TensorMap& inputs) {
  const Graph& g = *plan_.graph;
  for (const auto& [name, t] : inputs)
    if (!g.has_node(name))
      throw ValueError(str_cat("[executor] the graph has no input or parameter named '", name, "'"));
  bool staged_on_stream = false;
  for (int id : plan_.bound_nodes) {
    const Node& n = g.node(id);
    auto it = inputs.find(n.name);
    const Tensor* t = it != inputs.end() ? &it->second : nullptr;
    if (!t) {
      auto st = state_.find(n.name);
      if (st != state_.end()) t = &st->second;
    }
    if (!t || !t->defined())
      throw ValueError(str_cat("[", n.op_name(), "] no tensor bound for '", n.name, "' (expected ",
                               n.outputs[0].to_string(), is_input_node(n) ? "); pass it to run()" : "); bind() it",
                               ")"));
    if (t->shape() != n.outputs[0].shape || t->dtype() != n.outputs[0].dtype)
      throw ShapeError(str_cat("[", n.op_name(), "] tensor bound for '", n.name, "' is ", t->shape().to_string(), " ",
                               dtype_name(t->dtype()), " but the graph expects ", n.outputs[0].to_string()));
    if (t->device() == device_) {
      values_[id][0] = *t;
    } else if (is_input_node(n)) {
      // An input on another device is staged: copied into a buffer kept for the purpose.
      // To a device, the copy is ordered on stream 0 (asynchronous, through pinned
      // memory on CUDA); the other streams wait for it below.
      Tensor& st = staging_[id];
      if (!st.defined()) st = Tensor::empty(t->shape(), t->dtype(), device_);
      if (st.nbytes() > 0) {
        if (device_.is_cpu()) {
          backend_for(t->device()).copy(st.raw_data(), device_, t->raw_data(), t->device(), st.nbytes());
        } else {
          backend_.copy(st.raw_data(), device_, t->raw_data(), t->device(), st.nbytes(), streams_[0].get());
          staged_on_stream = true;
        }
      }
      values_[id][0] = st;
    } else {
      // State is updated in place, so it must live where the kernels run.
      throw DeviceError(str_cat("[", n.op_name(), "] tensor bound for '", n.name, "' is on ", t->device().to_string(),
                                " but the executor runs on ", device_.to_string(), "; move it with .to(",
                                device_.to_string(), ") before binding"));
    }
  }
  if (staged_on_stream && streams_.size() > 1) {
    if (!staging_event_) staging_event_ = backend_.create_event();
    streams_[0]->record(*staging_event_);
    for (size_t i = 1; i < streams_.size(); ++i) streams_[i]->wait(*staging_event_);
  }
  // Views of bound tensors alias them with their own shape.
  for (const Buffer& b : plan_.buffers) {
    if (b.kind != Buffer::Kind::bound) continue;
    const Tensor& root = values_[b.value.node][b.value.index];
    for (const ValueRef& v : b.aliases) {
      Tensor& alias = values_[v.node][v.index];
      // Rebuilt only when the bound tensor changed (a view copies its Shape: allocates).
      if (v == b.value || (alias.same_storage(root) && alias.raw_data() == root.raw_data())) continue;
      alias = root.view(g.node(v.node).outputs[v.index].shape);
    }
  }
  for (auto& se : steps_)
    if (se)
      for (auto& [entry, v] : se->bound_slots) *entry = values_[v.node][v.index];
}

void Executor::submit(StepExec& se, uint64_t step) {
  se.run_step = step;
  // Two pointers fit std::function's in-place buffer: submitting allocates nothing.
  streams_[se.step->stream]->submit([this, p = &se] {
    StepExec& se = *p;
    const uint64_t step = se.run_step;
    Stream* stream = streams_[se.step->stream].get();
    double t0 = observer_ ? now_s() : 0;
    if (se.kernel) {
      // The kernel may apply its epilogue to finished pieces of its output itself.
      for (auto& taken : se.plane_sums_taken) std::fill(taken.second->ready.begin(), taken.second->ready.end(), 0);
      // With numerics checked, output 0 is checked too, so it must be written.
      const int handed = check_numerics_ ? -1 : se.handed_input;
      auto run_range = [this, &se, handed](int64_t begin, int64_t end) {
        se.range_launcher(*se.program, se.group_ins, se.group_outs, begin, end, handed);
        for (auto& [value, sums] : se.plane_sums_taken) collect_plane_sums_(value, begin, end, *sums);
      };
      const Epilogue epilogue{run_range, false, handed >= 0};
      se.kernel(KernelContext{*se.node, se.ins, se.outs, step, stream, se.range_launcher ? &epilogue : nullptr,
                              se.plane_sums_in});
      if (se.step->group >= 0 && !epilogue.applied) se.launcher(*se.program, se.group_ins, se.group_outs, stream);
    } else {
      if (se.node) se.launcher(*se.program, se.ins, se.outs, stream);  // an elementwise op without a kernel
      if (se.step->group >= 0) se.launcher(*se.program, se.group_ins, se.group_outs, stream);
    }
    if (check_numerics_) check_step_outputs(*plan_.graph, se.step->nodes, se.node ? se.outs : se.group_outs, step);
    if (observer_) {
      // A device step only launches work: wait for it, so the time is its device time.
      if (!device_.is_cpu()) stream->synchronize();
      observer_(StepTiming{se.step, t0, now_s()});
    }
  });
}

std::vector<Tensor> Executor::run(const TensorMap& inputs) { return run(inputs, next_step_); }

std::vector<Tensor> Executor::run(const TensorMap& inputs, uint64_t step) {
  begin_run(inputs, step);
  submit_steps();
  return end_run();
}

void Executor::begin_run(const TensorMap& inputs, uint64_t step) {
  bind_run(inputs);
  run_step_ = step;
  run_error_ = nullptr;
}

void Executor::submit_steps() {
  try {
    for (const Step& s : plan_.steps) {
      switch (s.kind) {
        case StepKind::wait:
          streams_[s.stream]->wait(*events_[s.event]);
          break;
        case StepKind::record:
          streams_[s.stream]->record(*events_[s.event]);
          break;
        default:
          submit(*steps_[s.index], run_step_);
          break;
      }
    }
  } catch (...) {
    run_error_ = std::current_exception();
  }
}

std::vector<Tensor> Executor::end_run() {
  std::vector<Tensor> out;
  end_run(out);
  return out;
}

void Executor::run(const TensorMap& inputs, uint64_t step, std::vector<Tensor>& outputs) {
  begin_run(inputs, step);
  submit_steps();
  end_run(outputs);
}

void Executor::end_run(std::vector<Tensor>& out) {
  std::exception_ptr error = std::exchange(run_error_, nullptr);
  // Every stream stops before anything is reported, so no task outlives a failed run.
  for (auto& s : streams_) {
    try {
      s->synchronize();
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  next_step_ = run_step_ + 1;
  ++runs_;

  const Graph& g = *plan_.graph;
  out.resize(plan_.outputs.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const ValueRef& v = plan_.outputs[i];
    const Tensor& src = values_[v.node][v.index];
    const TensorType& t = g.node(v.node).outputs[v.index];
    Tensor& dst = out[i];
    // A tensor that someone else still shares is never overwritten.
    bool reuse = dst.defined() && dst.storage().use_count() == 1 && dst.shape() == t.shape &&
                 dst.dtype() == t.dtype && dst.device() == device_;
    if (!reuse) dst = Tensor::empty(t.shape, t.dtype, device_);
    if (dst.nbytes() > 0) backend_.copy(dst.raw_data(), device_, src.raw_data(), device_, dst.nbytes());
  }
}

}  // namespace dagrad::scheduler
