// The `dagrad` command: one subcommand per job. Every flag is documented in --help.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "ops/interpreter.h"
#include "ops/ops.h"
#include "ops/registry.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace {

using namespace dagrad;

int cmd_info() {
  std::cout << "dagrad 0.1.0\n"
            << "cpu backend:  " << backend_for(Device::cpu()).name() << "\n"
            << "cuda backend: " << (cuda_available() ? backend_for(Device::cuda(0)).name() : cuda_unavailable_reason())
            << "\n"
            << "ops:          " << OpRegistry::instance().all().size() << " registered (dagrad ops lists them)\n";
  return 0;
}

int cmd_ops() {
  for (const OpDef* d : OpRegistry::instance().all()) {
    std::string tags;
    if (d->flags.elementwise) tags += " elementwise";
    if (d->vjp) tags += " differentiable";
    if (d->kernel(DeviceType::cuda)) tags += " cuda";
    std::printf("%-32s %s  [%s ]\n", d->name.c_str(), d->doc.c_str(), tags.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dagrad: a C++ deep-learning runtime (graph DSL, autodiff, scheduler, profiler)"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "worker threads for CPU kernels (default: all hardware threads)")
      ->check(CLI::NonNegativeNumber);
  auto* info = app.add_subcommand("info", "show the version, backends and thread count");
  auto* ops = app.add_subcommand("ops", "list the registered ops");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (threads > 0) set_num_threads(threads);
    if (*info) return cmd_info();
    if (*ops) return cmd_ops();
  } catch (const dagrad::Error& e) {
    std::cerr << "dagrad: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
