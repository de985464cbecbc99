// libFuzzer target: the `dagrad` command line, parsed only (nothing runs: no training, no
// files read). The input is the argument list, arguments separated by NUL bytes. A
// command line is either parsed or refused with a CLI11 ParseError (which the real main
// prints with its usage); the values that main then interprets (--device) must parse or
// fail with a dagrad::Error. Any other exception or a sanitizer report is a finding.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "apps/app.h"
#include "runtime/error.h"

namespace {

std::vector<std::string> split_args(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"dagrad"};
  std::string cur;
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (!cur.empty() && args.size() < 64) args.push_back(std::move(cur));
  return args;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dagrad;
  std::vector<std::string> args = split_args(data, size);
  cli::DagradApp cmd;  // the app dagrad_main.cpp runs
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  try {
    cmd.app.parse(static_cast<int>(argv.size()), argv.data());
    cmd.require_command();
  } catch (const CLI::ParseError&) {
    return 0;
  }
  for (const cli::Command& c : cmd.commands) {
    if (!*c.app) continue;
    if (const CLI::Option* dev = c.app->get_option_no_throw("--device"); dev && dev->count() > 0) {
      try {
        cli::check_device(dev->as<std::string>());
      } catch (const dagrad::Error&) {
      }
    }
  }
  return 0;
}
