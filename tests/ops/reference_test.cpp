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
bool is_bound_source(const OpDef& d) { return d.flags.bound(); }

// The inputs `def` writes in place that case `c` has (optional inputs may be absent).
std::vector<int> written_inputs(const OpDef& def, const OpCase& c) {
  std::vector<int> slots;
  for (int slot : def.writes_inputs)
    if (slot < static_cast<int>(c.inputs.size())) slots.push_back(slot);
  return slots;
}

void expect_close(const Tensor& got, const Tensor& want, const OpDef& def, const OpCase& c, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << def.name << " [" << c.label << "] " << what;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double gv = at(got, i), wv = at(want, i);
    if (gv == wv || (std::isnan(gv) && std::isnan(wv))) continue;  // also equal infinities, NaN for NaN
    ASSERT_LE(std::abs(gv - wv) / (1 + std::abs(wv)), c.tol)
        << def.name << " [" << c.label << "] " << what << " element " << i << ": got " << gv << " want " << wv;
  }
}

// The outputs, then the new values of the inputs the op writes in place: a reference
// returns both (OpCase::reference), so every in-place write is checked.
void run_case(const OpDef& def, const OpCase& c) {
  OpGraph og = op_graph(def, c);
  // The inputs are copied so that in-place ops leave the reference's view of them alone.
  TensorMap fresh = deep_copy(og.bindings);
  std::vector<Tensor> got = interpret(*og.graph, og.outputs(), fresh);
  std::vector<Tensor> want = c.reference(c.inputs, c.attrs);
  const std::vector<int> written = written_inputs(def, c);
  ASSERT_EQ(want.size(), got.size() + written.size())
      << def.name << " [" << c.label << "]: the reference must return the " << got.size() << " outputs, then the new "
      << "values of the " << written.size() << " inputs the op writes in place (OpDef::writes_inputs)";
  for (size_t o = 0; o < got.size(); ++o) {
    ASSERT_EQ(got[o].dtype(), og.op_node().outputs[o].dtype) << def.name << " [" << c.label << "] output " << o;
    expect_close(got[o], want[o], def, c, str_cat("output ", o));
  }
  for (size_t k = 0; k < written.size(); ++k)
    expect_close(fresh.at(str_cat("in", written[k])), want[got.size() + k], def, c,
                 str_cat("input ", written[k], " written in place"));
}
}  // namespace

// Each op that writes inputs has cases that write them: the explicit check above is not
// vacuous for any of them.
TEST(OpReference, EveryInPlaceOpHasCasesThatWrite) {
  for (const OpDef* d : OpRegistry::instance().all()) {
    if (d->writes_inputs.empty() || !op_case_table().count(d->name)) continue;
    bool writes = false;
    for (CaseGenerator gen : op_case_table().at(d->name))
      for (const OpCase& c : gen()) writes = writes || !written_inputs(*d, c).empty();
    EXPECT_TRUE(writes) << d->name << " writes inputs in place but none of its cases has them";
  }
}

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
