// The `dagrad` command: one subcommand per job. Every flag is documented in --help.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>
#include <thread>

#include "apps/app.h"
#include "comm/communicator.h"
#include "frontend/data_parallel.h"
#include "frontend/trainer.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

using namespace dagrad;

int main(int argc, char** argv) {
  cli::DagradApp cmd;
  try {
    cmd.app.parse(argc, argv);
    cmd.require_command();
  } catch (const CLI::ParseError& e) {
    return cmd.app.exit(e);
  }
  int code = 0;
  try {
    // Started by mpirun: join the job (data-parallel training), MPI initialised only then.
    // Ranks on one machine share its cores unless --threads says otherwise; only rank 0
    // prints to stdout.
    if (comm::launched_by_mpi()) {
      auto c = comm::make_mpi();
      c->set_timeout(cmd.comm_timeout);
      comm::set_world(std::move(c));
      if (cmd.threads == 0)
        set_num_threads(threads_per_local_rank(static_cast<int>(std::thread::hardware_concurrency()),
                                               comm::local_world_size()));
      if (comm::world().rank() != 0) std::cout.setstate(std::ios::badbit);
    }
    if (cmd.threads > 0) set_num_threads(cmd.threads);
    for (const auto& c : cmd.commands)
      if (*c.app) c.run();
  } catch (const InterruptedError& e) {
    std::cerr << "dagrad: " << e.what() << "\n";
    code = 130;  // the shell's code for SIGINT
  } catch (const std::exception& e) {
    // dagrad::Error and anything else (std::filesystem::filesystem_error names its paths,
    // std::bad_alloc) ends as one line and status 1, never as std::terminate's abort.
    std::cerr << "dagrad: error" << (comm::world().world_size() > 1 ? str_cat(" (rank ", comm::world().rank(), ")") : "")
              << ": " << (dynamic_cast<const std::bad_alloc*>(&e) ? "out of memory" : e.what()) << "\n";
    code = 1;
  }
  // After a failure on one rank the whole job is aborted, so that mpirun ends.
  comm::finalize_world(code);
  return code;
}
