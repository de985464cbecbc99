// A data-parallel training run for the MPI tests: a model (the MNIST CNN by default,
// dropout included: each rank's masks continue the global batch's) on generated digits
// for a few steps; rank 0 writes the parameters and optimizer state and prints the
// evaluation of 101 held-out samples (shared out among the ranks).
// In one process or under mpirun:
//   dp_driver --out FILE [--model NAME] [--batch B] [--steps K] [--bucket-mb X] [--streams S]
//             [--timeout SECONDS] [--leave-rank R --leave-after K]
// --leave-rank makes rank R stop after K steps and stop answering, as a rank that died
// would: the others must fail with the all-reduce timeout. It then sleeps rather than
// finalise at once (a dead rank does not finalise either; and Open MPI can hang when one
// rank calls MPI_Abort while another sits in MPI_Finalize, which CI once hit), so the
// others' abort stops it; if nothing does, it finalises after the sleep.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "comm/communicator.h"
#include "frontend/checkpoint/safetensors.h"
#include "frontend/data_parallel.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "runtime/thread_pool.h"
#include "synthetic_data.h"

using namespace dagrad;

int main(int argc, char** argv) {
  std::string out, model = "mnist-cnn";
  int64_t batch = 16, steps = 3, leave_after = -1;
  int streams = 1, leave_rank = -1;
  double bucket_mb = 0.05, timeout = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--out") out = v;
    else if (k == "--model") model = v;
    else if (k == "--batch") batch = std::stoll(v);
    else if (k == "--steps") steps = std::stoll(v);
    else if (k == "--bucket-mb") bucket_mb = std::stod(v);
    else if (k == "--streams") streams = std::stoi(v);
    else if (k == "--timeout") timeout = std::stod(v);
    else if (k == "--leave-rank") leave_rank = std::stoi(v);
    else if (k == "--leave-after") leave_after = std::stoll(v);
    else {
      std::cerr << "dp_driver: unknown option " << k << "\n";
      return 2;
    }
  }
  int code = 0;
  try {
    if (comm::launched_by_mpi()) {
      comm::set_world(comm::make_mpi());  // the default timeout while the ranks start up
    }
    set_num_threads(threads_per_local_rank(static_cast<int>(std::thread::hardware_concurrency()),
                                           comm::local_world_size()));
    comm::Communicator& world = comm::world();
    MnistDataset data = testing::synthetic_digits(256, 5);
    TrainConfig cfg;
    cfg.model_name = model;
    cfg.batch_size = batch;
    cfg.schedule.base_lr = 0.05;
    cfg.seed = 3;
    cfg.progress = false;
    cfg.bucket_mb = bucket_mb;
    cfg.compile.num_streams = streams;
    cfg.max_steps_per_epoch = world.rank() == leave_rank ? leave_after : steps;
    cfg.eval_batch_size = 16;
    Trainer trainer(models::make_model(model), cfg, std::cerr);
    // --timeout applies to training only: a busy machine may start the ranks seconds apart.
    world.set_timeout(timeout);
    double loss = trainer.train_epoch(data, 0);
    if (world.rank() == leave_rank) {
      std::cout << "rank " << world.rank() << " leaves after " << leave_after << " steps\n" << std::flush;
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(40.0, 20 * timeout)));
    } else {
      std::cout << "rank " << world.rank() << " of " << world.world_size() << ": mean loss " << loss << "\n";
      EvalResult ev = trainer.evaluate(testing::synthetic_digits(101, 6));
      if (world.rank() == 0) {
        std::cout << "eval: " << ev.samples << " samples, " << std::llround(ev.score("accuracy") * double(ev.samples))
                  << " correct, loss " << ev.loss << "\n";
        if (!out.empty()) trainer.save(out);
      }
    }
  } catch (const Error& e) {
    std::cerr << "dp_driver: error (rank " << comm::world().rank() << "): " << e.what() << "\n" << std::flush;
    code = 1;
  }
  comm::finalize_world(code);
  return code;
}
