// The stage queue and the event pool, on their own: order, policies, counts,
// reuse. The agent's use of them is covered by the bpf and e2e tiers.

#include "agent/pipeline/event_pool.h"
#include "agent/pipeline/stage_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace vigil::pipeline {
namespace {

TEST(StageQueue, KeepsOrderAcrossThreads) {
  StageQueue<uint64_t> q(64, FullPolicy::kBlock);
  constexpr uint64_t kItems = 200000;
  std::thread producer([&] {
    for (uint64_t i = 0; i < kItems; ++i) {
      ASSERT_TRUE(q.push(i));
      if (i % 100 == 99) {
        q.publish();
      }
    }
    q.close();
  });
  uint64_t expect = 0;
  uint64_t batch[32];
  while (!q.drained()) {
    size_t n = q.popBatch(batch, 32);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(batch[i], expect++);
    }
    if (n == 0) {
      q.waitForData(100);
    }
  }
  producer.join();
  EXPECT_EQ(expect, kItems);
  auto s = q.stats();
  EXPECT_EQ(s.pushed, kItems);
  EXPECT_EQ(s.popped, kItems);
  EXPECT_EQ(s.dropped_full, 0u);
  EXPECT_LE(s.max_depth, 64u);
}

TEST(StageQueue, DropPolicyRefusesTheNewestAndCountsIt) {
  StageQueue<int> q(16, FullPolicy::kDrop);
  int accepted = 0;
  for (int i = 0; i < 20; ++i) {
    accepted += q.push(i) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 16);
  auto s = q.stats();
  EXPECT_EQ(s.dropped_full, 4u);
  EXPECT_EQ(s.depth, 16u);
  EXPECT_EQ(s.max_depth, 16u);
  int out[32];
  ASSERT_EQ(q.popBatch(out, 32), 16u);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(out[i], i); // the oldest stayed, the newest were refused
  }
}

TEST(StageQueue, BlockPolicyWaitsForTheConsumerAndLosesNothing) {
  StageQueue<int> q(16, FullPolicy::kBlock);
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(q.push(i));
  }
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    pushed = q.push(16); // full: waits until the consumer makes room
  });
  // The producer is (or will be) waiting; it cannot have succeeded before a pop.
  while (q.stats().producer_waits == 0) {
    std::this_thread::yield();
  }
  EXPECT_FALSE(pushed.load());
  int out[4];
  ASSERT_EQ(q.popBatch(out, 4), 4u);
  producer.join();
  EXPECT_TRUE(pushed.load());
  auto s = q.stats();
  EXPECT_EQ(s.dropped_full, 0u);
  EXPECT_EQ(s.pushed, 17u);
  EXPECT_GE(s.producer_waits, 1u);
}

TEST(StageQueue, CloseReleasesABlockedProducerAndCountsTheRefusal) {
  StageQueue<int> q(16, FullPolicy::kBlock);
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(q.push(i));
  }
  std::thread producer([&] { EXPECT_FALSE(q.push(99)); });
  while (q.stats().producer_waits == 0) {
    std::this_thread::yield();
  }
  q.close();
  producer.join();
  EXPECT_EQ(q.stats().dropped_full, 1u);
  EXPECT_FALSE(q.drained()); // 16 still queued
  int out[16];
  EXPECT_EQ(q.popBatch(out, 16), 16u);
  EXPECT_TRUE(q.drained());
}

TEST(StageQueue, ASleepingConsumerIsWokenByAPublish) {
  StageQueue<int> q(16, FullPolicy::kBlock);
  std::atomic<int> got{-1};
  std::thread consumer([&] {
    int v;
    while (q.popBatch(&v, 1) == 0) {
      q.waitForData(60000); // without the wake, this would outlast the test
    }
    got = v;
  });
  while (!q.consumerAsleep()) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(q.push(7));
  q.publish();
  consumer.join();
  EXPECT_EQ(got.load(), 7);
  EXPECT_EQ(q.stats().wakeups, 1u);
}

TEST(EventPool, ReusesTheMemoryOfReturnedEvents) {
  EventPool pool(4, 1024);
  for (int i = 0; i < 10; ++i) {
    EventPtr e = pool.acquire();
    ASSERT_NE(e->GetArena(), nullptr);
    e->set_node("node-a");
    e->mutable_exec()->mutable_process()->set_binary(std::string(4000, 'x')); // outgrows the block
    EXPECT_EQ(e->seq(), 0u) << "a recycled event starts empty";
    e->set_seq(uint64_t(i) + 1);
  }
  auto s = pool.stats();
  EXPECT_EQ(s.slots, 1u);
  EXPECT_EQ(s.reused, 9u);
  EXPECT_EQ(s.heap_events, 0u);
  EXPECT_EQ(s.free, 1u);
}

// Trimming resets the idle arenas in place: no slot is lost, and the next
// events still start empty.
TEST(EventPool, TrimKeepsEverySlot) {
  EventPool pool(8, 1024);
  {
    std::vector<EventPtr> held;
    for (int i = 0; i < 5; ++i) {
      held.push_back(pool.acquire());
      held.back()->set_seq(uint64_t(i) + 1);
      held.back()->mutable_exec()->mutable_process()->set_binary(std::string(3000, 'x'));
    }
  }
  ASSERT_EQ(pool.stats().free, 5u);
  pool.trim();
  pool.trim(); // nothing left to reset: harmless
  EXPECT_EQ(pool.stats().free, 5u);
  std::vector<EventPtr> again;
  for (int i = 0; i < 5; ++i) {
    again.push_back(pool.acquire());
    EXPECT_EQ(again.back()->seq(), 0u);
    EXPECT_FALSE(again.back()->has_exec());
  }
  auto s = pool.stats();
  EXPECT_EQ(s.slots, 5u);
  EXPECT_EQ(s.reused, 5u);
  EXPECT_EQ(s.heap_events, 0u);
}

TEST(EventPool, FallsBackToTheHeapWhenEverySlotIsInUse) {
  EventPool pool(2, 1024);
  std::vector<EventPtr> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(pool.acquire());
    held.back()->set_seq(uint64_t(i));
  }
  auto s = pool.stats();
  EXPECT_EQ(s.slots, 2u);
  EXPECT_EQ(s.heap_events, 3u);
  EXPECT_EQ(held[4]->GetArena(), nullptr);
  held.clear();
  EXPECT_EQ(pool.stats().free, 2u);
}

TEST(EventPool, EventsAreReturnedFromAnotherThread) {
  EventPool pool(64, 2048);
  StageQueue<Event*> q(1024, FullPolicy::kBlock);
  std::vector<EventRecycler*> owners(1 << 16);
  constexpr int kEvents = 20000;
  std::thread consumer([&] {
    int seen = 0;
    Event* batch[64];
    while (!q.drained()) {
      size_t n = q.popBatch(batch, 64);
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(batch[i]->seq(), uint64_t(seen++));
        EventPtr back(batch[i], EventDeleter(owners[batch[i]->seq() % owners.size()]));
      }
      if (n == 0) {
        q.waitForData(100);
      }
    }
    EXPECT_EQ(seen, kEvents);
  });
  for (int i = 0; i < kEvents; ++i) {
    EventPtr e = pool.acquire();
    e->set_seq(uint64_t(i));
    e->mutable_syscall()->set_name("openat");
    owners[size_t(i) % owners.size()] = e.get_deleter().owner;
    ASSERT_TRUE(q.push(e.release()));
    q.publish();
  }
  q.close();
  consumer.join();
  auto s = pool.stats();
  EXPECT_LE(s.slots, 64u);
  EXPECT_EQ(s.reused + s.slots + s.heap_events, uint64_t(kEvents));
  EXPECT_EQ(s.free, s.slots);
}

} // namespace
} // namespace vigil::pipeline
