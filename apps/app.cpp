#include "apps/app.h"

#include <cstdio>
#include <iostream>

#include "dagrad/version.h"
#include "comm/collective_ops.h"
#include "ops/kernel_table.h"
#include "ops/registry.h"
#include "runtime/backend.h"

namespace dagrad::cli {

DagradApp::DagradApp() {
  // At most one command; that one is given is checked after parsing (require_command),
  // so that an unknown flag or word is reported as such rather than as a missing command.
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string("dagrad ") + dagrad::version());
  app.add_option("--threads", threads, "worker threads for CPU kernels (default: all hardware threads)")
      ->check(non_negative_number);
  app.add_option("--comm-timeout", comm_timeout,
                 "under mpirun: seconds a collective (gradient all-reduce, broadcast) waits for the other ranks "
                 "before the job stops with an error")
      ->check(positive_number)
      ->capture_default_str();
  commands = {add_info_command(app),    add_ops_command(app),     add_train_command(app), add_eval_command(app),
              add_predict_command(app), add_plan_command(app),    add_profile_command(app),
              add_bench_command(app),   add_onnx_command(app),    add_export_command(app)};
}

void DagradApp::require_command() const {
  if (app.get_subcommands().empty())
    throw CLI::RequiredError("A command (info, ops, train, eval, predict, plan, profile, bench, onnx or export)");
}

Command add_info_command(CLI::App& app) {
  return {app.add_subcommand("info", "show the version, backends and thread count"), [] {
    comm::allreduce_mean_op();
    std::cout << "dagrad " << dagrad::version() << "\n"
              << "cpu backend:  " << backend_for(Device::cpu()).name() << "\n"
              << "cuda backend: "
              << (cuda_available() ? backend_for(Device::cuda(0)).name() : cuda_unavailable_reason()) << "\n"
              << "ops:          " << OpRegistry::instance().all().size() << " registered (dagrad ops lists them)\n";
  }};
}

Command add_ops_command(CLI::App& app) {
  return {app.add_subcommand("ops", "list the registered ops with their kind and flags"), [] {
    comm::allreduce_mean_op();  // the collectives live above ops/
    for (const OpDef* d : OpRegistry::instance().all()) {
      std::string tags = str_cat(" ", op_kind_name(d->kind));
      if (d->vjp) tags += " differentiable";
      if (kernel_table(DeviceType::cuda).supports(*d)) tags += " cuda";
      std::printf("%-30s %s  [%s ]\n", d->name.c_str(), d->doc.c_str(), tags.c_str());
    }
  }};
}

}  // namespace dagrad::cli
