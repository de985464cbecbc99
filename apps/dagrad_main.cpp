// The `dagrad` command: one subcommand per job. Every flag is documented in --help.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "apps/common.h"
#include "comm/communicator.h"
#include "dagrad/version.h"
#include "frontend/data_parallel.h"
#include "frontend/trainer.h"
#include "ops/registry.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace {

using namespace dagrad;

cli::Command add_info_command(CLI::App& app) {
  return {app.add_subcommand("info", "show the version, backends and thread count"), [] {
    std::cout << "dagrad " << dagrad::version() << "\n"
              << "cpu backend:  " << backend_for(Device::cpu()).name() << "\n"
              << "cuda backend: "
              << (cuda_available() ? backend_for(Device::cuda(0)).name() : cuda_unavailable_reason()) << "\n"
              << "ops:          " << OpRegistry::instance().all().size() << " registered (dagrad ops lists them)\n";
  }};
}

cli::Command add_ops_command(CLI::App& app) {
  return {app.add_subcommand("ops", "list the registered ops"), [] {
    for (const OpDef* d : OpRegistry::instance().all()) {
      std::string tags;
      if (d->flags.elementwise) tags += " elementwise";
      if (d->vjp) tags += " differentiable";
      if (d->kernel(DeviceType::cuda)) tags += " cuda";
      std::printf("%-30s %s  [%s ]\n", d->name.c_str(), d->doc.c_str(), tags.c_str());
    }
  }};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dagrad: a C++ deep-learning runtime (graph DSL, autodiff, scheduler, profiler)"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "worker threads for CPU kernels (default: all hardware threads)")
      ->check(cli::non_negative_number);
  double comm_timeout = 300;
  app.add_option("--comm-timeout", comm_timeout,
                 "under mpirun: seconds a collective (gradient all-reduce, broadcast) waits for the other ranks "
                 "before the job stops with an error")
      ->check(cli::positive_number)
      ->capture_default_str();
  std::vector<cli::Command> commands{add_info_command(app),          add_ops_command(app),
                                     cli::add_train_command(app),    cli::add_eval_command(app),
                                     cli::add_predict_command(app),  cli::add_plan_command(app),
                                     cli::add_profile_command(app),  cli::add_bench_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  int code = 0;
  try {
    // Started by mpirun: join the job (data-parallel training), MPI initialised only then.
    // Ranks on one machine share its cores unless --threads says otherwise; only rank 0
    // prints to stdout.
    if (comm::launched_by_mpi()) {
      auto c = comm::make_mpi();
      c->set_timeout(comm_timeout);
      comm::set_world(std::move(c));
      if (threads == 0)
        set_num_threads(threads_per_local_rank(static_cast<int>(std::thread::hardware_concurrency()),
                                               comm::local_world_size()));
      if (comm::world().rank() != 0) std::cout.setstate(std::ios::badbit);
    }
    if (threads > 0) set_num_threads(threads);
    for (const auto& c : commands)
      if (*c.app) c.run();
  } catch (const InterruptedError& e) {
    std::cerr << "dagrad: " << e.what() << "\n";
    code = 130;  // the shell's code for SIGINT
  } catch (const dagrad::Error& e) {
    std::cerr << "dagrad: error" << (comm::world().world_size() > 1 ? str_cat(" (rank ", comm::world().rank(), ")") : "")
              << ": " << e.what() << "\n";
    code = 1;
  }
  // After a failure on one rank the whole job is aborted, so that mpirun ends.
  comm::finalize_world(code);
  return code;
}
