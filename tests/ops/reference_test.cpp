// Every registered op against its plain-loop double-precision reference.
#include <gtest/gtest.h>

#include <cmath>

#include "op_cases.h"
#include "ops/interpreter.h"
#include "ops/registry.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {
// Sources bound at run time have no kernel to check.
bool is_bound_source(const OpDef& d) { return d.name == "input" || d.name == "parameter"; }

void run_case(const OpDef& def, const OpCase& c) {
  Graph g;
  std::vector<Value> ins;
  TensorMap bind;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    std::string name = "in" + std::to_string(i);
    ins.push_back(g.input(name, c.inputs[i].shape(), c.inputs[i].dtype()));
    bind[name] = c.inputs[i];
  }
  int id = g.add_node(def, ins, c.attrs, "op", std::source_location::current());
  std::vector<Value> outs;
  for (size_t i = 0; i < g.node(id).outputs.size(); ++i) outs.push_back(Value{&g, id, static_cast<int>(i)});
  // Inputs are cloned so in-place ops do not disturb the reference's view of them.
  TensorMap fresh;
  for (auto& [k, t] : bind) fresh[k] = t.clone();
  std::vector<Tensor> got = interpret(g, outs, fresh);
  std::vector<Tensor> want = c.reference(c.inputs, c.attrs);
  // Ops that write inputs in place: the reference may append the expected new values
  // of those inputs after the outputs.
  std::vector<int> written;
  for (int slot : def.writes_inputs)
    if (slot < static_cast<int>(c.inputs.size())) written.push_back(slot);
  if (want.size() == got.size() + written.size())
    for (int slot : written) got.push_back(fresh["in" + std::to_string(slot)]);
  ASSERT_EQ(got.size(), want.size()) << def.name << " " << c.label;
  for (size_t o = 0; o < got.size(); ++o) {
    ASSERT_EQ(got[o].shape(), want[o].shape()) << def.name << " " << c.label << " output " << o;
    if (o < g.node(id).outputs.size()) {
      ASSERT_EQ(got[o].dtype(), g.node(id).outputs[o].dtype);
    }
    for (int64_t i = 0; i < got[o].numel(); ++i) {
      double gv = at(got[o], i), wv = at(want[o], i);
      if (gv == wv || (std::isnan(gv) && std::isnan(wv))) continue;  // also equal infinities, NaN for NaN
      ASSERT_LE(std::abs(gv - wv) / (1 + std::abs(wv)), c.tol)
          << def.name << " [" << c.label << "] output " << o << " element " << i << ": got " << gv << " want " << wv;
    }
  }
}
}  // namespace

TEST(OpReference, EveryOpHasCases) {
  std::vector<std::string> missing;
  for (const OpDef* d : OpRegistry::instance().all())
    if (!is_bound_source(*d) && !op_case_table().count(d->name)) missing.push_back(d->name);
  std::string list;
  for (auto& m : missing) list += m + " ";
  EXPECT_TRUE(missing.empty()) << "ops without reference cases: " << list;
}

TEST(OpReference, CasesNameRegisteredOps) {
  for (const auto& [name, _] : op_case_table()) EXPECT_NE(OpRegistry::instance().find(name), nullptr) << name;
}

class OpReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OpReferenceTest, MatchesReference) {
  const OpDef& def = op_def(GetParam());
  for (CaseGenerator gen : op_case_table().at(GetParam()))
    for (const OpCase& c : gen()) {
      SCOPED_TRACE(c.label);
      run_case(def, c);
    }
}

static std::vector<std::string> ops_with_cases() {
  std::vector<std::string> names;
  for (const auto& [name, _] : op_case_table()) names.push_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpReferenceTest, ::testing::ValuesIn(ops_with_cases()),
                         [](const auto& info) { return info.param; });
