#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/backend.h"
#include "runtime/error.h"

using namespace dagrad;
using namespace std::chrono_literals;

TEST(CpuStream, RunsInOrder) {
  auto s = backend_for(Device::cpu()).create_stream(0);
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) s->submit([&order, i] { order.push_back(i); });
  s->synchronize();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

// The worker wakes a waiting synchronize() only when its queue runs empty (not after every
// task): one waiting while a task queues another must still see both finish.
TEST(CpuStream, SynchronizeWaitsForTasksQueuedByTasks) {
  auto s = backend_for(Device::cpu()).create_stream(0);
  std::atomic<int> done{0};
  for (int round = 0; round < 20; ++round) {
    s->submit([&] {
      std::this_thread::sleep_for(1ms);
      s->submit([&] {
        std::this_thread::sleep_for(1ms);
        ++done;
      });
    });
    s->synchronize();
    EXPECT_EQ(done.load(), round + 1);
  }
}

// The queue is a ring that grows when full: growing while it has wrapped around must keep
// the order. The worker is held at a gate so the queue really fills past its capacity.
TEST(CpuStream, KeepsOrderWhenTheQueueWrapsAndGrows) {
  auto s = backend_for(Device::cpu()).create_stream(0);
  std::vector<int> order;
  for (int i = 0; i < 40; ++i) s->submit([&order, i] { order.push_back(i); });
  s->synchronize();  // the ring's head is now well past its start
  std::atomic<bool> open{false};
  s->submit([&open] {
    while (!open.load()) std::this_thread::sleep_for(1ms);
  });
  for (int i = 40; i < 300; ++i) s->submit([&order, i] { order.push_back(i); });
  open = true;
  s->synchronize();
  ASSERT_EQ(order.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(order[i], i);
}

// Stream B's task must see the value written by stream A's slow task, because B waits
// for the event A recorded after it. Without the wait B reads 0: the test then fails.
static int run_cross_stream(bool with_wait) {
  Backend& cpu = backend_for(Device::cpu());
  auto a = cpu.create_stream(0);
  auto b = cpu.create_stream(1);
  auto ev = cpu.create_event();
  std::atomic<int> value{0};
  int seen = -1;
  a->submit([&] {
    std::this_thread::sleep_for(50ms);
    value = 42;
  });
  a->record(*ev);
  if (with_wait) b->wait(*ev);
  b->submit([&] { seen = value.load(); });
  b->synchronize();
  a->synchronize();
  return seen;
}

TEST(CpuStream, CrossStreamWaitOrdersWork) {
  EXPECT_EQ(run_cross_stream(true), 42);
  EXPECT_EQ(run_cross_stream(false), 0);  // shows the wait is what orders it
}

TEST(CpuStream, WaitTargetsLatestRecordBeforeTheWait) {
  Backend& cpu = backend_for(Device::cpu());
  auto a = cpu.create_stream(0), b = cpu.create_stream(1);
  auto ev = cpu.create_event();
  std::atomic<int> stage{0};
  std::vector<int> seen;
  for (int round = 1; round <= 3; ++round) {
    a->submit([&, round] {
      std::this_thread::sleep_for(10ms);
      stage = round;
    });
    a->record(*ev);
    b->wait(*ev);
    b->submit([&] { seen.push_back(stage.load()); });
  }
  b->synchronize();
  ASSERT_EQ(seen.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_GE(seen[i], i + 1);
  ev->synchronize();
}

TEST(CpuStream, ErrorsAreRethrownAtSynchronizeAndDoNotHangWaiters) {
  Backend& cpu = backend_for(Device::cpu());
  auto a = cpu.create_stream(0), b = cpu.create_stream(1);
  auto ev = cpu.create_event();
  bool ran_after_error = false;
  a->submit([] { throw ValueError("kernel failed"); });
  a->submit([&] { ran_after_error = true; });
  a->record(*ev);
  b->wait(*ev);  // must not hang although a failed
  b->synchronize();
  EXPECT_THROW(a->synchronize(), ValueError);
  EXPECT_FALSE(ran_after_error);
  a->synchronize();  // error reported once; stream usable again
}
