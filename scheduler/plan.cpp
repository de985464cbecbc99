// ExecutionPlan's queries and its three renderings: a text table, Graphviz DOT, JSON.
#include "scheduler/plan.h"

#include <algorithm>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "ops/op_def.h"
#include "runtime/error.h"

namespace dagrad::scheduler {

ElementwiseProgram FusedGroup::program(const Graph& g) const {
  std::vector<Value> in;
  for (const ValueRef& v : inputs) in.push_back(Value{const_cast<Graph*>(&g), v.node, v.index});
  std::vector<int> out;
  for (const ValueRef& v : outputs) out.push_back(v.node);
  return ElementwiseProgram::from_nodes(g, nodes, in, out);
}

std::string_view step_kind_name(StepKind k) {
  switch (k) {
    case StepKind::kernel:
      return "kernel";
    case StepKind::fused:
      return "fused";
    case StepKind::record:
      return "record";
    case StepKind::wait:
      return "wait";
  }
  return "?";
}

int ExecutionPlan::buffer_of(ValueRef v) const {
  if (v.node < 0 || v.node >= static_cast<int>(value_buffer.size()) || v.index < 0 ||
      v.index >= static_cast<int>(value_buffer[v.node].size()))
    return -1;
  return value_buffer[v.node][v.index];
}

int ExecutionPlan::num_kernels() const {
  int n = 0;
  for (const Step& s : steps) n += s.is_compute();
  return n;
}

int ExecutionPlan::num_fused_steps() const {
  int n = 0;
  for (const Step& s : steps) n += s.kind == StepKind::fused || (s.kind == StepKind::kernel && s.group >= 0);
  return n;
}

std::vector<int> ExecutionPlan::stream_steps(int stream) const {
  std::vector<int> out;
  for (const Step& s : steps)
    if (s.stream == stream) out.push_back(s.index);
  return out;
}

namespace {

std::string human_bytes(size_t b) {
  std::ostringstream os;
  if (b < 1024) {
    os << b << " B";
  } else if (b < (size_t{1} << 20)) {
    os << std::fixed << std::setprecision(1) << b / 1024.0 << " KiB";
  } else {
    os << std::fixed << std::setprecision(1) << b / (1024.0 * 1024.0) << " MiB";
  }
  return os.str();
}

// What a step does, in words: "matmul_3 (matmul) + [add_4 relu_5]".
std::string describe(const ExecutionPlan& p, const Step& s) {
  if (!s.is_compute()) return str_cat("event ", s.event);
  const Graph& g = *p.graph;
  std::ostringstream os;
  auto mark = [&](int id) { return p.recompute.contains(id) ? "^" : ""; };
  auto name = [&](int id) { return str_cat(mark(id), g.node(id).name, " (", g.node(id).op_name(), ")"); };
  if (s.kind == StepKind::kernel && s.group < 0) return name(s.nodes[0]);
  size_t first = 0;
  if (s.kind == StepKind::kernel) {
    os << name(s.nodes[0]) << " + epilogue ";
    first = 1;
  }
  os << "[";
  for (size_t i = first; i < s.nodes.size(); ++i)
    os << (i > first ? " " : "") << mark(s.nodes[i]) << g.node(s.nodes[i]).op_name();
  os << "]";
  return os.str();
}

std::string value_name(const ExecutionPlan& p, const ValueRef& v) {
  const Node& n = p.graph->node(v.node);
  return v.index == 0 ? n.name : str_cat(n.name, ":", v.index);
}

std::string list(const std::vector<int>& xs) {
  if (xs.empty()) return "-";
  std::ostringstream os;
  for (size_t i = 0; i < xs.size(); ++i) os << (i ? "," : "") << xs[i];
  return os.str();
}

// A light fill per stream, so stream membership reads at a glance in DOT.
const char* stream_colour(int s) {
  static const char* kColours[] = {"#cfe2ff", "#d1f2d9", "#ffe5b4", "#f8d0e0",
                                   "#e0d4f7", "#d4f1f4", "#fff3b0", "#e2e3e5"};
  return kColours[s % 8];
}

}  // namespace

std::string ExecutionPlan::summary() const {
  auto count = [](size_t n, const char* what) { return str_cat(n, " ", what, n == 1 ? "" : "s"); };
  size_t epilogues = 0, arena = 0;
  for (const FusedGroup& gr : groups) epilogues += gr.epilogue_of >= 0;
  for (const Buffer& b : buffers) arena += b.kind == Buffer::Kind::arena;
  std::string s = str_cat(count(num_streams, "stream"), ", ", count(groups.size(), "fused group"), " (",
                          count(epilogues, "epilogue"), "), ", count(events.size(), "event"), ", ",
                          count(arena, "arena buffer"), " (unplanned ", unplanned_bytes, " bytes); ",
                          count(num_kernels(), "kernel"), ", planned peak ", arena_bytes, " bytes (",
                          human_bytes(arena_bytes), ")");
  if (recompute.budget > 0)
    s += str_cat("; memory budget ", human_bytes(recompute.budget), recompute.met ? " met" : " NOT met",
                 " (peak without recomputation ", human_bytes(recompute.peak_before), "), ",
                 count(recompute.nodes.size(), "recomputed node"), ", +", recompute.extra_flops / 1e6, " MFLOP");
  return s;
}

std::string ExecutionPlan::budget_warning() const {
  if (recompute.met) return {};
  return str_cat("warning: [scheduler] memory budget ", human_bytes(recompute.budget),
                 " cannot be met: the smallest planned peak recomputation reached is ", human_bytes(arena_bytes),
                 " (", arena_bytes, " bytes; ", human_bytes(recompute.peak_before), " without it)");
}

std::string ExecutionPlan::to_table() const {
  std::ostringstream os;
  os << "steps\n";
  size_t what_w = 4, reads_w = 5;
  for (const Step& s : steps) {
    what_w = std::max(what_w, describe(*this, s).size());
    reads_w = std::max(reads_w, list(s.reads).size());
  }
  os << std::setw(5) << "step" << std::setw(7) << "stream"
     << "  " << std::left << std::setw(8) << "kind" << std::setw(static_cast<int>(what_w) + 2) << "what"
     << std::setw(static_cast<int>(reads_w) + 2) << "reads"
     << "writes" << std::right << "\n";
  for (const Step& s : steps) {
    os << std::setw(5) << s.index << std::setw(7) << s.stream << "  " << std::left << std::setw(8)
       << step_kind_name(s.kind) << std::setw(static_cast<int>(what_w) + 2) << describe(*this, s)
       << std::setw(static_cast<int>(reads_w) + 2) << (s.is_compute() ? list(s.reads) : "")
       << (s.is_compute() ? list(s.writes) : "") << std::right << "\n";
  }
  os << "\nbuffers\n";
  int name_w = 5, type_w = 4;
  for (const Buffer& b : buffers) {
    name_w = std::max(name_w, static_cast<int>(b.name.size()));
    type_w = std::max(type_w, static_cast<int>(TensorType{b.shape, b.dtype}.to_string().size()));
  }
  os << std::setw(4) << "id"
     << "  " << std::left << std::setw(7) << "kind" << std::setw(name_w + 2) << "value" << std::setw(type_w) << "type"
     << std::right << std::setw(12) << "bytes" << std::setw(12) << "offset" << std::setw(10) << "live"
     << "  aliases\n";
  for (const Buffer& b : buffers) {
    std::string live = str_cat(b.first_use, "..", b.last_use, b.is_output ? "*" : "");
    std::string aliases;
    for (size_t i = 1; i < b.aliases.size(); ++i) aliases.append(" ").append(value_name(*this, b.aliases[i]));
    os << std::setw(4) << b.id << "  " << std::left << std::setw(7)
       << (b.kind == Buffer::Kind::arena ? "arena" : "bound") << std::setw(name_w + 2) << b.name << std::setw(type_w)
       << TensorType{b.shape, b.dtype}.to_string() << std::right << std::setw(12) << b.bytes << std::setw(12)
       << (b.kind == Buffer::Kind::arena ? std::to_string(b.offset) : "-") << std::setw(10) << live << " " << aliases
       << "\n";
  }
  os << "(* = requested output, live to the end of the run)\n";
  if (recompute.budget > 0) {
    os << "\nrecomputed (^ above): " << recompute.nodes.size() << " nodes, +" << recompute.extra_flops / 1e6
       << " MFLOP per run; planned peak " << human_bytes(arena_bytes) << " (" << arena_bytes << " bytes) against a budget of "
       << human_bytes(recompute.budget) << " (" << recompute.budget << " bytes); " << human_bytes(recompute.peak_before)
       << " without recomputation\n";
    for (size_t i = 0; i < recompute.nodes.size(); ++i) {
      const Node& n = graph->node(recompute.nodes[i]);
      os << "  step " << std::setw(4) << node_step[n.id] << "  " << n.name << " (" << n.op_name() << ") repeats "
         << graph->node(recompute.originals[i]).name << ", " << n.op->cost_of(n).flops / 1e6 << " MFLOP\n";
    }
  }
  os << "\n" << summary() << "\n";
  return os.str();
}

std::string ExecutionPlan::to_dot() const {
  const Graph& g = *graph;
  std::ostringstream os;
  os << "digraph plan {\n  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"monospace\", fontsize=10];\n";
  std::set<int> shown(nodes.begin(), nodes.end());
  for (int id : bound_nodes) shown.insert(id);
  for (size_t id = 0; id < value_buffer.size(); ++id)  // views of kept values
    if (!shown.count(static_cast<int>(id)) && !value_buffer[id].empty() && value_buffer[id][0] >= 0)
      shown.insert(static_cast<int>(id));
  auto emit = [&](int id, const std::string& indent) {
    const Node& n = g.node(id);
    int s = node_step[id];
    std::string shapes;
    for (const TensorType& t : n.outputs) shapes += "\\n" + t.to_string();
    if (s < 0) {
      os << indent << "n" << id << " [label=\"" << n.name << "\\n"
         << n.op_name() << shapes << "\", shape=ellipse, fillcolor=\"#ffffff\"];\n";
    } else {
      os << indent << "n" << id << " [label=\"" << n.name << "\\n"
         << n.op_name() << shapes << "\\nstep " << s << " stream " << steps[s].stream << "\", fillcolor=\""
         << stream_colour(steps[s].stream) << "\"];\n";
    }
  };
  std::set<int> in_cluster;
  for (const FusedGroup& gr : groups) {
    os << "  subgraph cluster_g" << gr.id << " {\n    label=\"fused group " << gr.id;
    if (gr.epilogue_of >= 0) os << " (epilogue of " << g.node(gr.epilogue_of).name << ")";
    os << "\";\n    style=rounded;\n    color=\"#555555\";\n";
    if (gr.epilogue_of >= 0) emit(gr.epilogue_of, "    "), in_cluster.insert(gr.epilogue_of);
    for (int m : gr.nodes) emit(m, "    "), in_cluster.insert(m);
    os << "  }\n";
  }
  for (int id : shown)
    if (!in_cluster.count(id)) emit(id, "  ");
  for (int id : shown) {
    std::set<int> seen;
    for (const Value& v : g.node(id).inputs)
      if (shown.count(v.node) && seen.insert(v.node).second) os << "  n" << v.node << " -> n" << id << ";\n";
  }
  for (const EventInfo& e : events)
    for (int w : e.wait_steps) {
      int consumer = w + 1;  // a wait is issued just before its consumer's compute step
      while (consumer < static_cast<int>(steps.size()) && !steps[consumer].is_compute()) ++consumer;
      if (consumer < static_cast<int>(steps.size()))
        os << "  n" << steps[e.producer_step].nodes.back() << " -> n" << steps[consumer].nodes.front()
           << " [style=dashed, color=\"#c0392b\", label=\"event " << e.id << "\", fontsize=8];\n";
    }
  os << "  label=\"" << summary() << "\";\n}\n";
  return os.str();
}

std::string ExecutionPlan::to_json() const {
  using nlohmann::json;
  const Graph& g = *graph;
  json j;
  j["num_streams"] = num_streams;
  j["num_kernels"] = num_kernels();
  j["arena_bytes"] = arena_bytes;
  j["unplanned_bytes"] = unplanned_bytes;
  j["recompute"] = {{"budget", recompute.budget},
                    {"met", recompute.met},
                    {"peak_before", recompute.peak_before},
                    {"extra_flops", recompute.extra_flops},
                    {"nodes", recompute.nodes},
                    {"originals", recompute.originals}};
  json opts;
  opts["prune"] = options.prune;
  opts["fuse"] = options.fuse;
  opts["fuse_epilogues"] = options.fuse_epilogues;
  opts["num_streams"] = options.num_streams;
  opts["reorder_for_memory"] = options.reorder_for_memory;
  opts["plan_memory"] = options.plan_memory;
  opts["inplace"] = options.inplace;
  opts["alignment"] = options.alignment;
  opts["memory_budget"] = options.memory_budget;
  j["options"] = opts;
  auto value_json = [&](const ValueRef& v) {
    return json{{"node", v.node}, {"index", v.index}, {"name", g.node(v.node).name}};
  };
  j["steps"] = json::array();
  for (const Step& s : steps) {
    json js{{"index", s.index}, {"kind", std::string(step_kind_name(s.kind))}, {"stream", s.stream}};
    if (s.is_compute()) {
      json names = json::array(), ops = json::array();
      for (int id : s.nodes) names.push_back(g.node(id).name), ops.push_back(g.node(id).op_name());
      js["nodes"] = s.nodes;
      js["names"] = names;
      js["ops"] = ops;
      js["group"] = s.group;
      js["reads"] = s.reads;
      js["writes"] = s.writes;
    } else {
      js["event"] = s.event;
    }
    j["steps"].push_back(js);
  }
  j["events"] = json::array();
  for (const EventInfo& e : events)
    j["events"].push_back({{"id", e.id},
                           {"stream", e.stream},
                           {"record_step", e.record_step},
                           {"producer_step", e.producer_step},
                           {"wait_steps", e.wait_steps}});
  j["buffers"] = json::array();
  for (const Buffer& b : buffers) {
    json aliases = json::array();
    for (const ValueRef& v : b.aliases) aliases.push_back(value_json(v));
    j["buffers"].push_back({{"id", b.id},
                            {"kind", b.kind == Buffer::Kind::arena ? "arena" : "bound"},
                            {"name", b.name},
                            {"shape", b.shape.dims()},
                            {"dtype", std::string(dtype_name(b.dtype))},
                            {"bytes", b.bytes},
                            {"offset", b.offset},
                            {"first_use", b.first_use},
                            {"last_use", b.last_use},
                            {"is_output", b.is_output},
                            {"aliases", aliases}});
  }
  j["groups"] = json::array();
  for (const FusedGroup& gr : groups) {
    json ins = json::array(), outs = json::array();
    for (const ValueRef& v : gr.inputs) ins.push_back(value_json(v));
    for (const ValueRef& v : gr.outputs) outs.push_back(value_json(v));
    j["groups"].push_back({{"id", gr.id},
                           {"nodes", gr.nodes},
                           {"inputs", ins},
                           {"outputs", outs},
                           {"shape", gr.shape.dims()},
                           {"dtype", std::string(dtype_name(gr.dtype))},
                           {"epilogue_of", gr.epilogue_of}});
  }
  j["outputs"] = json::array();
  for (const ValueRef& v : outputs) j["outputs"].push_back(value_json(v));
  j["summary"] = summary();
  return j.dump(2);
}

}  // namespace dagrad::scheduler
