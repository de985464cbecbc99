// ONNX's backend test suite (Debian libonnx-testdata), all 1,072 tests in one process
// (ctest label "onnx"): every test listed in expected_pass.txt must pass; tests that pass
// but are not listed are reported (add them). Without the suite installed, it skips.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "frontend/onnx/conformance.h"
#include "frontend/onnx/tensor_proto.h"
#include "runtime/device.h"

#include <onnx/onnx_pb.h>
#include <unistd.h>

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

std::set<std::string> expected_passes() {
  std::ifstream in(DAGRAD_ONNX_EXPECTED_PASS);
  std::set<std::string> ids;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') ids.insert(line);
  return ids;
}

bool have_suite() { return fs::is_directory(fs::path(dagrad::onnx::kOnnxTestDataRoot) / "node"); }

}  // namespace

TEST(OnnxConformance, ExpectedTestsPass) {
  if (!have_suite()) GTEST_SKIP() << "ONNX's test suite is not installed (apt-get install libonnx-testdata)";
  const std::set<std::string> expected = expected_passes();
  ASSERT_GT(expected.size(), 300u);
  const std::vector<dagrad::onnx::CaseResult> results = dagrad::onnx::run_conformance(dagrad::onnx::kOnnxTestDataRoot, dagrad::onnx::kOnnxSuites,
                                                                       Device::cpu());
  EXPECT_EQ(results.size(), 1072u);
  std::set<std::string> passed;
  std::string regressions, news;
  for (const dagrad::onnx::CaseResult& r : results) {
    const bool ok = r.status == dagrad::onnx::CaseResult::Status::passed;
    if (ok) passed.insert(r.id());
    if (!ok && expected.count(r.id()))
      regressions += str_cat("  ", r.id(), ": ", dagrad::onnx::status_name(r.status), ": ", r.reason, "\n");
    if (ok && !expected.count(r.id())) news += "  " + r.id() + "\n";
  }
  for (const std::string& id : expected)
    if (!passed.count(id) && regressions.find(id) == std::string::npos) regressions += "  " + id + ": not run\n";
  EXPECT_EQ(regressions, "") << "tests of tests/frontend/onnx/expected_pass.txt that no longer pass";
  if (!news.empty())
    std::cout << "passing but not in tests/frontend/onnx/expected_pass.txt (add them):\n" << news;
  std::cout << dagrad::onnx::conformance_report(results);
}

// The runner must be able to fail: a test whose expected output is changed does not pass.
TEST(OnnxConformance, AWrongOutputFails) {
  if (!have_suite()) GTEST_SKIP() << "ONNX's test suite is not installed (apt-get install libonnx-testdata)";
  const fs::path src = fs::path(dagrad::onnx::kOnnxTestDataRoot) / "node" / "test_relu";
  const fs::path dir = fs::temp_directory_path() / str_cat("dagrad-onnx-", ::getpid()) / "test_relu";
  fs::remove_all(dir.parent_path());
  fs::create_directories(dir.parent_path());
  fs::copy(src, dir, fs::copy_options::recursive);
  EXPECT_EQ(dagrad::onnx::run_conformance_case(dir, "node", Device::cpu()).status, dagrad::onnx::CaseResult::Status::passed);
  const fs::path out = dir / "test_data_set_0" / "output_0.pb";
  std::string name;
  Tensor t = dagrad::onnx::read_tensor_file(out.string(), &name);
  t.data<float>()[3] += 0.01f;
  ::onnx::TensorProto p;
  dagrad::onnx::tensor_to_proto(t, name, p);
  std::ofstream(out, std::ios::binary | std::ios::trunc) << p.SerializeAsString();
  const dagrad::onnx::CaseResult r = dagrad::onnx::run_conformance_case(dir, "node", Device::cpu());
  EXPECT_EQ(r.status, dagrad::onnx::CaseResult::Status::failed);
  EXPECT_NE(r.reason.find("element 3"), std::string::npos) << r.reason;
  EXPECT_GT(r.max_error, 0.005);  // 0.01 off, less rtol·|want|
  fs::remove_all(dir.parent_path());
}
