// The whole `dagrad` command line: global options and every subcommand. dagrad_main.cpp
// parses and runs it; fuzz/cli_fuzz.cpp parses the very same app.
#pragma once
#include <CLI/CLI.hpp>
#include <vector>

#include "apps/common.h"

namespace dagrad::cli {

struct DagradApp {
  DagradApp();
  // After app.parse(): throws CLI::RequiredError when no command was given.
  void require_command() const;

  CLI::App app{"dagrad: a C++ deep-learning runtime (graph DSL, autodiff, scheduler, profiler)"};
  int threads = 0;             // --threads; 0: all hardware threads (shared out under mpirun)
  double comm_timeout = 300;   // --comm-timeout, seconds
  std::vector<Command> commands;
};

Command add_info_command(CLI::App& app);
Command add_ops_command(CLI::App& app);

}  // namespace dagrad::cli
