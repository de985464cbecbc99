#include "comm/communicator.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace dagrad::comm {

namespace {

// Every rank of one process sees the same sum: world 1 leaves the data as it is.
class SingleProcess final : public Communicator {
 public:
  std::string name() const override { return "single"; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void allreduce_sum(void*, int64_t count, DType, Stream*) override { check_count(count); }
  void broadcast(void*, int64_t bytes, int root, Stream*) override {
    check_count(bytes);
    if (root != 0) throw ValueError(str_cat("[comm] broadcast root ", root, " is not a rank of a world of 1"));
  }
  void barrier() override {}

 private:
  static void check_count(int64_t n) {
    if (n < 0) throw ValueError(str_cat("[comm] negative element count ", n));
  }
};

std::unique_ptr<Communicator>& world_slot() {
  static std::unique_ptr<Communicator> w = make_single_process();
  return w;
}

// for_device()'s communicators, by (communicator, device).
struct DeviceWorlds {
  std::mutex mu;
  std::map<std::pair<const Communicator*, int>, std::unique_ptr<Communicator>> by_device;
};
DeviceWorlds& device_worlds() {
  static DeviceWorlds d;
  return d;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return end && *end == 0 && x > 0 ? static_cast<int>(x) : fallback;
}

}  // namespace

void Communicator::set_timeout(double seconds) {
  if (!(seconds > 0) || !std::isfinite(seconds))
    throw ValueError(str_cat("[comm] timeout must be a positive number of seconds, got ", seconds));
  timeout_s_ = seconds;
}

std::string Communicator::timeout_message(const char* what) const {
  return str_cat("[comm] ", what, " timed out after ", timeout_s_, " s waiting for other ranks (this is rank ", rank(),
                 " of ", world_size(), "); a rank may have died");
}

Communicator& world() { return *world_slot(); }

void set_world(std::unique_ptr<Communicator> c) {
  if (!c) throw ValueError("[comm] set_world: no communicator given");
  world_slot() = std::move(c);
}

Communicator& Communicator::for_device(int device) {
  DeviceWorlds& d = device_worlds();
  std::lock_guard<std::mutex> lock(d.mu);
  std::unique_ptr<Communicator>& c = d.by_device[{this, device}];
  if (!c) c = make_nccl(*this, device);
  return *c;
}

Communicator& device_world(int device) { return world().for_device(device); }

void finalize_world(int code) {
  {
    DeviceWorlds& d = device_worlds();
    std::lock_guard<std::mutex> lock(d.mu);
    for (auto& [key, c] : d.by_device)
      if (code != 0 && c->world_size() > 1) c->abort(code);
    d.by_device.clear();  // before the world they were made over
  }
  auto& w = world_slot();
  if (code != 0 && w->world_size() > 1) w->abort(code);
  w = make_single_process();  // the old one's destructor finalises
}

std::unique_ptr<Communicator> make_single_process() { return std::make_unique<SingleProcess>(); }

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (const char* s = std::getenv(v); s && *s) return true;
  return false;
}

int local_world_size() {
  return env_int("OMPI_COMM_WORLD_LOCAL_SIZE", env_int("MPI_LOCALNRANKS", 1));
}

int local_rank() { return env_int("OMPI_COMM_WORLD_LOCAL_RANK", env_int("MPI_LOCALRANKID", 0)); }

}  // namespace dagrad::comm
