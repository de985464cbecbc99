// The scheduler and the profiler decide by an op's kind and flags, never by its name: no
// string literal in their sources may be the name of a registered op. (A new pass that
// compares op names fails here, not when someone renames an op.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "comm/collective_ops.h"
#include "ops/registry.h"

using namespace dagrad;

namespace {

std::set<std::string> op_names() {
  comm::allreduce_mean_op();  // registered above ops/
  std::set<std::string> names;
  for (const OpDef* d : OpRegistry::instance().all()) names.insert(d->name);
  return names;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace

TEST(LayersDecideByTraits, NoOpNameLiteralInSchedulerOrProfiler) {
  const std::set<std::string> names = op_names();
  ASSERT_GT(names.size(), 40u);
  // "..." with escapes; raw strings and character literals do not occur in these folders.
  const std::regex literal(R"re("((?:[^"\\\n]|\\.)*)")re");
  int files = 0;
  std::string found;
  for (const char* dir : {"scheduler", "profiler"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(std::filesystem::path(DAGRAD_SOURCE_DIR) / dir)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".cpp" && ext != ".h") continue;
      ++files;
      const std::string text = read_file(entry.path());
      for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it)
        if (names.count((*it)[1].str()))
          found += str_cat(entry.path().filename().string(), ": \"", (*it)[1].str(), "\"\n");
    }
  }
  EXPECT_GT(files, 20);
  EXPECT_EQ(found, "") << "op names in scheduler/ or profiler/: decide by OpDef::kind and OpDef::flags instead";
}

// The test above must be able to fail: a literal naming an op is found.
TEST(LayersDecideByTraits, TheCheckFindsAnOpName) {
  const std::set<std::string> names = op_names();
  const std::regex literal(R"re("((?:[^"\\\n]|\\.)*)")re");
  const std::string text = R"(if (n.op_name() == "conv2d") return; const char* s = "not an op";)";
  int hits = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it) hits += names.count((*it)[1].str());
  EXPECT_EQ(hits, 1);
}
