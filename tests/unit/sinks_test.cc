// The sink stage (agent/sinks/sink_set.h) with fake sinks whose writes the
// test holds and releases, the file sink's rotation and errors, the stdout
// sink against a reader that does not read, and the factory. No timing is
// asserted: the tests wait for conditions, with generous timeouts that only
// keep a broken build from hanging.

#include "agent/sinks/factory.h"
#include "agent/sinks/file_sink.h"
#include "agent/sinks/sink_set.h"
#include "agent/sinks/stdout_sink.h"
#include "proto/json.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace vigil {
namespace {

using namespace std::chrono_literals;
using pipeline::FullPolicy;

constexpr auto kHangGuard = 60s; // only a broken build waits this long

// What a fake sink saw. Shared with the test, so that it outlives a sink
// whose thread the set left behind.
struct Probe {
  std::mutex mu;
  std::condition_variable cv;
  bool gate_open = true; // write() waits while closed
  uint64_t entered = 0; // write() calls begun
  std::vector<uint64_t> seqs; // events written, in order
  std::vector<size_t> flushed_at; // seqs.size() at each flush
  int closes = 0;
  bool destroyed = false;
  std::thread::id thread;
  std::function<bool(uint64_t)> fails; // write() fails for these seqs

  void open() {
    std::lock_guard<std::mutex> lock(mu);
    gate_open = true;
    cv.notify_all();
  }
  template <typename Pred> bool waitUntil(Pred pred) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kHangGuard, pred);
  }
  std::vector<uint64_t> written() {
    std::lock_guard<std::mutex> lock(mu);
    return seqs;
  }
};

class FakeSink : public EventSink {
public:
  FakeSink(std::string name, std::shared_ptr<Probe> probe) : name_(std::move(name)), probe_(std::move(probe)) {}
  ~FakeSink() override {
    std::lock_guard<std::mutex> lock(probe_->mu);
    probe_->destroyed = true;
    probe_->cv.notify_all();
  }

  std::string_view name() const override { return name_; }
  Status write(const Event& event) override {
    std::unique_lock<std::mutex> lock(probe_->mu);
    ++probe_->entered;
    probe_->thread = std::this_thread::get_id();
    probe_->cv.notify_all();
    probe_->cv.wait(lock, [&] { return probe_->gate_open; });
    if (probe_->fails && probe_->fails(event.seq())) {
      return makeError("fake write failure at {}", event.seq());
    }
    probe_->seqs.push_back(event.seq());
    probe_->cv.notify_all();
    return okStatus();
  }
  Status flush() override {
    std::lock_guard<std::mutex> lock(probe_->mu);
    probe_->flushed_at.push_back(probe_->seqs.size());
    probe_->cv.notify_all();
    return okStatus();
  }
  Status close(std::chrono::steady_clock::time_point) override {
    std::lock_guard<std::mutex> lock(probe_->mu);
    ++probe_->closes;
    probe_->cv.notify_all();
    return okStatus();
  }

private:
  std::string name_;
  std::shared_ptr<Probe> probe_;
};

// Forwards to a real sink and tells the probe when it is destroyed.
class ProbedSink : public EventSink {
public:
  ProbedSink(EventSinkPtr inner, std::shared_ptr<Probe> probe) : inner_(std::move(inner)), probe_(std::move(probe)) {}
  ~ProbedSink() override {
    inner_.reset();
    std::lock_guard<std::mutex> lock(probe_->mu);
    probe_->destroyed = true;
    probe_->cv.notify_all();
  }
  std::string_view name() const override { return inner_->name(); }
  Status write(const Event& event) override { return inner_->write(event); }
  Status flush() override { return inner_->flush(); }
  Status close(std::chrono::steady_clock::time_point deadline) override { return inner_->close(deadline); }
  uint64_t discarded() const override { return inner_->discarded(); }
  uint64_t buffered() const override { return inner_->buffered(); }

private:
  EventSinkPtr inner_;
  std::shared_ptr<Probe> probe_;
};

// Frees events built on the heap and records who freed which.
class CountingRecycler : public EventRecycler {
public:
  void recycle(Event* event) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      seqs_.push_back(event->seq());
      threads_.push_back(std::this_thread::get_id());
      cv_.notify_all();
    }
    delete event;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return seqs_.size();
  }
  bool waitForCount(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kHangGuard, [&] { return seqs_.size() >= n; });
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_;
  }
  std::vector<uint64_t> seqs() {
    std::lock_guard<std::mutex> lock(mu_);
    return seqs_;
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint64_t> seqs_;
  std::vector<std::thread::id> threads_;
};

EventPtr makeEvent(uint64_t seq, CountingRecycler& recycler) {
  auto* e = new Event();
  e->set_seq(seq);
  e->set_node("node-1");
  return EventPtr(e, EventDeleter(&recycler));
}

OutputConfig fakeOutput(std::string name, uint32_t capacity, FullPolicy when_full) {
  OutputConfig c;
  c.type = "fake";
  c.name = std::move(name);
  c.source = "test";
  c.queue_capacity = capacity;
  c.when_full = when_full;
  return c;
}

std::vector<uint64_t> iota(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (uint64_t i = from; i < to; ++i) {
    out.push_back(i);
  }
  return out;
}

SinkStats statsOf(const SinkSet& set, const std::string& name) {
  for (auto& s : set.stats()) {
    if (s.name == name) {
      return s;
    }
  }
  ADD_FAILURE() << "no sink " << name;
  return {};
}

uint64_t dropCount(const SinkSet& set, const std::string& sink, const std::string& reason) {
  for (const auto& d : set.drops()) {
    if (d.sink == sink && d.reason == reason) {
      EXPECT_EQ(d.stage, "sink");
      return d.count;
    }
  }
  ADD_FAILURE() << "no drop row " << sink << "/" << reason;
  return 0;
}

// Waits (polling) for a condition on the set's stats; the set has no
// condition variable for tests to wait on.
template <typename Pred> bool eventually(Pred pred) {
  const auto give_up = std::chrono::steady_clock::now() + kHangGuard;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::unique_ptr<SinkSet> makeSet(std::vector<ConfiguredSink> sinks) {
  auto set = SinkSet::create(std::move(sinks));
  EXPECT_TRUE(set.ok()) << (set.ok() ? "" : set.error().message());
  auto out = std::move(*set);
  EXPECT_TRUE(out->start().ok());
  return out;
}

TEST(SinkSet, KeepsOrderPerSinkAndFreesEveryEventOnce) {
  CountingRecycler recycler;
  std::vector<std::shared_ptr<Probe>> probes;
  std::vector<ConfiguredSink> sinks;
  for (const char* name : {"a", "b", "c"}) {
    probes.push_back(std::make_shared<Probe>());
    sinks.push_back({fakeOutput(name, 64, FullPolicy::kBlock), std::make_unique<FakeSink>(name, probes.back())});
  }
  auto set = makeSet(std::move(sinks));
  constexpr uint64_t kEvents = 20000;
  for (uint64_t i = 0; i < kEvents; ++i) {
    set->deliver(makeEvent(i, recycler));
    if (i % 64 == 63) {
      set->publish();
    }
  }
  set->publish();
  ASSERT_TRUE(set->close(kHangGuard).ok());
  for (auto& probe : probes) {
    EXPECT_EQ(probe->written(), iota(0, kEvents));
    EXPECT_EQ(probe->closes, 1);
  }
  auto freed = recycler.seqs();
  std::sort(freed.begin(), freed.end());
  EXPECT_EQ(freed, iota(0, kEvents)); // each once
  for (const char* name : {"a", "b", "c"}) {
    auto s = statsOf(*set, name);
    EXPECT_EQ(s.accepted, kEvents);
    EXPECT_EQ(s.written, kEvents);
    EXPECT_EQ(s.dropped_queue_full + s.dropped_write_error + s.dropped_shutdown_deadline, 0u);
    EXPECT_EQ(s.queue_capacity, 64u);
    EXPECT_LE(s.queue_max_depth, 64u);
    EXPECT_FALSE(s.abandoned);
  }
}

// A sink whose write never returns, with when_full drop: deliver() goes on,
// the other sink gets everything while it is stuck, and every event the
// stuck sink did not write is counted as dropped, exactly.
TEST(SinkSet, StuckSinkWithDropStallsNeitherDeliverNorTheOthers) {
  CountingRecycler recycler;
  auto stuck = std::make_shared<Probe>();
  auto other = std::make_shared<Probe>();
  stuck->gate_open = false;
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({fakeOutput("stuck", 16, FullPolicy::kDrop), std::make_unique<FakeSink>("stuck", stuck)});
  sinks.push_back({fakeOutput("other", 64, FullPolicy::kBlock), std::make_unique<FakeSink>("other", other)});
  auto set = makeSet(std::move(sinks));

  constexpr uint64_t kEvents = 1001;
  auto producer = std::async(std::launch::async, [&] {
    set->deliver(makeEvent(0, recycler));
    set->publish();
    // The stuck sink took event 0 alone and sits in its write.
    if (!stuck->waitUntil([&] { return stuck->entered == 1; })) {
      return false;
    }
    for (uint64_t i = 1; i < kEvents; ++i) {
      set->deliver(makeEvent(i, recycler));
      if (i % 10 == 0) {
        set->publish();
      }
    }
    set->publish();
    return true;
  });
  ASSERT_EQ(producer.wait_for(kHangGuard), std::future_status::ready) << "deliver() stalled on the stuck sink";
  ASSERT_TRUE(producer.get());
  ASSERT_TRUE(other->waitUntil([&] { return other->seqs.size() == kEvents; })) << "the other sink was held up";
  EXPECT_EQ(other->written(), iota(0, kEvents));
  EXPECT_TRUE(stuck->written().empty()); // still inside its first write

  // Event 0 in its hands, 16 queued, the rest refused.
  EXPECT_EQ(statsOf(*set, "stuck").accepted, 17u);
  EXPECT_EQ(statsOf(*set, "stuck").dropped_queue_full, kEvents - 17);

  stuck->open();
  ASSERT_TRUE(set->close(kHangGuard).ok());
  const auto wrote = stuck->written();
  EXPECT_EQ(wrote, iota(0, 17)); // the oldest kept, in order
  EXPECT_EQ(dropCount(*set, "stuck", "queue_full"), kEvents - wrote.size());
  EXPECT_EQ(dropCount(*set, "stuck", "shutdown_deadline"), 0u);
  EXPECT_EQ(dropCount(*set, "other", "queue_full"), 0u);
  EXPECT_EQ(recycler.count(), kEvents);
}

TEST(SinkSet, BlockPolicyMakesDeliverWaitAndLosesNothing) {
  CountingRecycler recycler;
  auto slow = std::make_shared<Probe>();
  slow->gate_open = false;
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({fakeOutput("slow", 4, FullPolicy::kBlock), std::make_unique<FakeSink>("slow", slow)});
  auto set = makeSet(std::move(sinks));

  constexpr uint64_t kEvents = 200;
  auto producer = std::async(std::launch::async, [&] {
    for (uint64_t i = 0; i < kEvents; ++i) {
      set->deliver(makeEvent(i, recycler));
      set->publish();
    }
  });
  ASSERT_TRUE(slow->waitUntil([&] { return slow->entered == 1; }));
  ASSERT_TRUE(eventually([&] { return statsOf(*set, "slow").queue_depth == 4; }));
  // The sink holds one event and its queue is full: the producer must be waiting.
  EXPECT_NE(producer.wait_for(0s), std::future_status::ready);
  slow->open();
  ASSERT_EQ(producer.wait_for(kHangGuard), std::future_status::ready);
  ASSERT_TRUE(set->close(kHangGuard).ok());
  EXPECT_EQ(slow->written(), iota(0, kEvents));
  auto s = statsOf(*set, "slow");
  EXPECT_EQ(s.written, kEvents);
  EXPECT_EQ(s.dropped_queue_full, 0u);
  EXPECT_EQ(s.queue_max_depth, 4u);
  EXPECT_EQ(recycler.count(), kEvents);
}

TEST(SinkSet, CloseGivesUpOnAStuckSinkAtTheDeadlineAndCountsWhatItHeld) {
  CountingRecycler recycler;
  auto stuck = std::make_shared<Probe>();
  auto fine = std::make_shared<Probe>();
  stuck->gate_open = false;
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({fakeOutput("stuck", 64, FullPolicy::kDrop), std::make_unique<FakeSink>("stuck", stuck)});
  sinks.push_back({fakeOutput("fine", 64, FullPolicy::kDrop), std::make_unique<FakeSink>("fine", fine)});
  auto set = makeSet(std::move(sinks));
  constexpr uint64_t kEvents = 10;
  Event* first = nullptr; // stays with the abandoned thread: the test frees it at the end
  for (uint64_t i = 0; i < kEvents; ++i) {
    auto event = makeEvent(i, recycler);
    if (i == 0) {
      first = event.get();
    }
    set->deliver(std::move(event));
  }
  set->publish();
  ASSERT_TRUE(stuck->waitUntil([&] { return stuck->entered == 1; }));
  ASSERT_TRUE(fine->waitUntil([&] { return fine->seqs.size() == kEvents; }));

  auto closing = std::async(std::launch::async, [&] { return set->close(200ms); });
  ASSERT_EQ(closing.wait_for(kHangGuard), std::future_status::ready) << "close() waited for the stuck sink";
  Status st = closing.get();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("stuck"), std::string::npos) << st.error().message();
  EXPECT_EQ(st.error().message().find("fine"), std::string::npos) << st.error().message();

  auto s = statsOf(*set, "stuck");
  EXPECT_TRUE(s.abandoned);
  EXPECT_EQ(s.written, 0u);
  EXPECT_EQ(s.dropped_shutdown_deadline, kEvents);
  EXPECT_EQ(dropCount(*set, "stuck", "shutdown_deadline"), kEvents);
  EXPECT_FALSE(statsOf(*set, "fine").abandoned);
  EXPECT_EQ(statsOf(*set, "fine").written, kEvents);
  EXPECT_EQ(fine->closes, 1);
  // Events 1..9 were freed by close() once both sinks were done with them;
  // event 0 stays with the thread that was left behind (it may still read it).
  EXPECT_EQ(recycler.count(), kEvents - 1);
  EXPECT_EQ(stuck->closes, 0);

  // When the stuck write finally returns, the thread goes away without
  // writing, freeing or closing anything more.
  stuck->open();
  ASSERT_TRUE(stuck->waitUntil([&] { return stuck->seqs.size() == 1; }));
  set.reset();
  ASSERT_TRUE(stuck->waitUntil([&] { return stuck->destroyed; }));
  EXPECT_EQ(stuck->entered, 1u);
  EXPECT_EQ(stuck->closes, 0);
  EXPECT_EQ(recycler.count(), kEvents - 1);
  delete first; // its thread is gone: nothing reads it any more
}

TEST(SinkSet, TheLastSinkToFinishFreesTheEvent) {
  CountingRecycler recycler;
  auto fast = std::make_shared<Probe>();
  auto late = std::make_shared<Probe>();
  late->gate_open = false;
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({fakeOutput("fast", 64, FullPolicy::kDrop), std::make_unique<FakeSink>("fast", fast)});
  sinks.push_back({fakeOutput("late", 64, FullPolicy::kDrop), std::make_unique<FakeSink>("late", late)});
  auto set = makeSet(std::move(sinks));
  for (uint64_t i = 0; i < 5; ++i) {
    set->deliver(makeEvent(i, recycler));
  }
  set->publish();
  // Its flush comes after it let go of the batch it wrote.
  ASSERT_TRUE(fast->waitUntil([&] {
    return std::find(fast->flushed_at.begin(), fast->flushed_at.end(), 5u) != fast->flushed_at.end();
  }));
  ASSERT_TRUE(late->waitUntil([&] { return late->entered == 1; }));
  EXPECT_EQ(recycler.count(), 0u); // the late sink still needs all five

  late->open();
  ASSERT_TRUE(recycler.waitForCount(5));
  std::thread::id late_thread;
  {
    std::lock_guard<std::mutex> lock(late->mu);
    late_thread = late->thread;
  }
  for (auto id : recycler.threads()) {
    EXPECT_EQ(id, late_thread); // freed by the late sink's thread
  }
  ASSERT_TRUE(set->close(kHangGuard).ok());
  EXPECT_EQ(recycler.count(), 5u);
}

TEST(SinkSet, AnEventEverySinkRefusesIsFreedByDeliver) {
  CountingRecycler recycler;
  auto a = std::make_shared<Probe>();
  auto b = std::make_shared<Probe>();
  a->gate_open = false;
  b->gate_open = false;
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({fakeOutput("a", 1, FullPolicy::kDrop), std::make_unique<FakeSink>("a", a)});
  sinks.push_back({fakeOutput("b", 1, FullPolicy::kDrop), std::make_unique<FakeSink>("b", b)});
  auto set = makeSet(std::move(sinks));
  set->deliver(makeEvent(0, recycler));
  set->publish();
  ASSERT_TRUE(a->waitUntil([&] { return a->entered == 1; }));
  ASSERT_TRUE(b->waitUntil([&] { return b->entered == 1; }));
  set->deliver(makeEvent(1, recycler)); // queued by both
  EXPECT_EQ(recycler.count(), 0u);
  set->deliver(makeEvent(2, recycler)); // refused by both
  ASSERT_EQ(recycler.count(), 1u);
  EXPECT_EQ(recycler.seqs()[0], 2u);
  EXPECT_EQ(recycler.threads()[0], std::this_thread::get_id());
  EXPECT_EQ(dropCount(*set, "a", "queue_full"), 1u);
  EXPECT_EQ(dropCount(*set, "b", "queue_full"), 1u);
  a->open();
  b->open();
  ASSERT_TRUE(set->close(kHangGuard).ok());
  EXPECT_EQ(recycler.count(), 3u);
}

TEST(SinkSet, SingleSinkRefusalIsFreedByDeliver) {
  CountingRecycler recycler;
  auto a = std::make_shared<Probe>();
  a->gate_open = false;
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({fakeOutput("a", 1, FullPolicy::kDrop), std::make_unique<FakeSink>("a", a)});
  auto set = makeSet(std::move(sinks));
  set->deliver(makeEvent(0, recycler));
  set->publish();
  ASSERT_TRUE(a->waitUntil([&] { return a->entered == 1; }));
  set->deliver(makeEvent(1, recycler));
  set->deliver(makeEvent(2, recycler));
  EXPECT_EQ(recycler.seqs(), std::vector<uint64_t>{2});
  a->open();
  ASSERT_TRUE(set->close(kHangGuard).ok());
  EXPECT_EQ(a->written(), iota(0, 2));
  EXPECT_EQ(recycler.count(), 3u);
}

TEST(SinkSet, FlushesWhenItsQueueGoesIdle) {
  CountingRecycler recycler;
  auto probe = std::make_shared<Probe>();
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({fakeOutput("a", 64, FullPolicy::kDrop), std::make_unique<FakeSink>("a", probe)});
  auto set = makeSet(std::move(sinks));
  for (uint64_t i = 0; i < 3; ++i) {
    set->deliver(makeEvent(i, recycler));
  }
  set->publish();
  // Without close(): the sink flushes on its own once its queue is empty.
  ASSERT_TRUE(probe->waitUntil([&] {
    return std::find(probe->flushed_at.begin(), probe->flushed_at.end(), 3u) != probe->flushed_at.end();
  }));
  EXPECT_TRUE(eventually([&] { return statsOf(*set, "a").flushes >= 1; })); // counted once flush() returned
  ASSERT_TRUE(set->close(kHangGuard).ok());
  EXPECT_EQ(probe->closes, 1);
}

TEST(SinkSet, WriteErrorsAreCountedPerSink) {
  CountingRecycler recycler;
  auto flaky = std::make_shared<Probe>();
  flaky->fails = [](uint64_t seq) { return seq % 2 == 1; };
  auto good = std::make_shared<Probe>();
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({fakeOutput("flaky", 64, FullPolicy::kBlock), std::make_unique<FakeSink>("flaky", flaky)});
  sinks.push_back({fakeOutput("good", 64, FullPolicy::kBlock), std::make_unique<FakeSink>("good", good)});
  auto set = makeSet(std::move(sinks));
  for (uint64_t i = 0; i < 10; ++i) {
    set->deliver(makeEvent(i, recycler));
  }
  set->publish();
  ASSERT_TRUE(set->close(kHangGuard).ok());
  auto s = statsOf(*set, "flaky");
  EXPECT_EQ(s.written, 5u);
  EXPECT_EQ(s.write_errors, 5u);
  EXPECT_EQ(dropCount(*set, "flaky", "write_error"), 5u);
  EXPECT_EQ(dropCount(*set, "good", "write_error"), 0u);
  EXPECT_EQ(good->written(), iota(0, 10));
  EXPECT_EQ(recycler.count(), 10u);
}

TEST(SinkSet, CreateRejectsDuplicateNamesAndEmptyQueues) {
  auto probe = std::make_shared<Probe>();
  {
    std::vector<ConfiguredSink> sinks;
    sinks.push_back({fakeOutput("x", 8, FullPolicy::kDrop), std::make_unique<FakeSink>("x", probe)});
    auto second = fakeOutput("x", 8, FullPolicy::kDrop);
    second.source = "agent.yaml:9:5";
    sinks.push_back({second, std::make_unique<FakeSink>("x", probe)});
    auto set = SinkSet::create(std::move(sinks));
    ASSERT_FALSE(set.ok());
    EXPECT_NE(set.error().message().find("agent.yaml:9:5"), std::string::npos) << set.error().message();
  }
  {
    std::vector<ConfiguredSink> sinks;
    auto c = fakeOutput("y", 0, FullPolicy::kDrop);
    c.source = "agent.yaml:3:5";
    sinks.push_back({c, std::make_unique<FakeSink>("y", probe)});
    auto set = SinkSet::create(std::move(sinks));
    ASSERT_FALSE(set.ok());
    EXPECT_NE(set.error().message().find("agent.yaml:3:5"), std::string::npos) << set.error().message();
    EXPECT_NE(set.error().message().find("queue_capacity"), std::string::npos) << set.error().message();
  }
}

// --- stdout ------------------------------------------------------------------

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~Pipe() {
    if (r >= 0) {
      ::close(r);
    }
    if (w >= 0) {
      ::close(w);
    }
  }
  // Fills the pipe so that the next write blocks.
  void fill() {
    int flags = ::fcntl(w, F_GETFL);
    ::fcntl(w, F_SETFL, flags | O_NONBLOCK);
    std::string chunk(4096, 'x');
    while (::write(w, chunk.data(), chunk.size()) > 0) {
    }
    ::fcntl(w, F_SETFL, flags);
  }
};

TEST(SinkStdout, CloseReturnsByTheDeadlineWhenTheReaderDoesNotRead) {
  Pipe pipe;
  ASSERT_GE(pipe.w, 0);
  pipe.fill();
  CountingRecycler recycler;
  StdoutSink sink(pipe.w);
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(sink.write(*makeEvent(i, recycler)).ok());
  }
  auto closing = std::async(std::launch::async,
                            [&] { return sink.close(std::chrono::steady_clock::now() + 100ms); });
  ASSERT_EQ(closing.wait_for(kHangGuard), std::future_status::ready) << "close() blocked on the full pipe";
  Status st = closing.get();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("5 events"), std::string::npos) << st.error().message();
  EXPECT_EQ(sink.discarded(), 5u);
}

TEST(SinkStdout, WritesJsonLines) {
  Pipe pipe;
  ASSERT_GE(pipe.w, 0);
  CountingRecycler recycler;
  StdoutSink sink(pipe.w);
  ASSERT_TRUE(sink.write(*makeEvent(7, recycler)).ok());
  ASSERT_TRUE(sink.close(std::chrono::steady_clock::now() + kHangGuard).ok());
  char buf[4096];
  ssize_t n = ::read(pipe.r, buf, sizeof buf);
  ASSERT_GT(n, 0);
  std::string line(buf, size_t(n));
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  Event back;
  ASSERT_TRUE(parseJson(line, back).ok()) << line;
  EXPECT_EQ(back.seq(), 7u);
}

// stdout piped into a reader that stopped reading: capture and the other
// sink go on, and shutdown does not hang on it.
TEST(SinkStdout, AStuckReaderStallsNothing) {
  signal(SIGPIPE, SIG_IGN); // the read end is closed below, under a writing thread
  Pipe pipe;
  ASSERT_GE(pipe.w, 0);
  pipe.fill();
  CountingRecycler recycler;
  auto stdout_probe = std::make_shared<Probe>();
  auto other = std::make_shared<Probe>();
  std::vector<ConfiguredSink> sinks;
  OutputConfig out = fakeOutput("stdout", 8, FullPolicy::kDrop);
  out.type = "stdout";
  sinks.push_back({out, std::make_unique<ProbedSink>(std::make_unique<StdoutSink>(pipe.w), stdout_probe)});
  sinks.push_back({fakeOutput("other", 256, FullPolicy::kBlock), std::make_unique<FakeSink>("other", other)});
  auto set = makeSet(std::move(sinks));
  constexpr uint64_t kEvents = 200;
  auto producer = std::async(std::launch::async, [&] {
    for (uint64_t i = 0; i < kEvents; ++i) {
      set->deliver(makeEvent(i, recycler));
      set->publish();
    }
  });
  ASSERT_EQ(producer.wait_for(kHangGuard), std::future_status::ready) << "deliver() stalled on stdout";
  ASSERT_TRUE(other->waitUntil([&] { return other->seqs.size() == kEvents; }));
  // The stdout thread is (or will be) stuck in write(2) on the full pipe.
  auto closing = std::async(std::launch::async, [&] { return set->close(300ms); });
  ASSERT_EQ(closing.wait_for(kHangGuard), std::future_status::ready) << "close() waited for the stuck reader";
  Status st = closing.get();
  EXPECT_FALSE(st.ok());
  auto s = statsOf(*set, "stdout");
  // Nothing reached the reader, and every event is counted: refused by its
  // full queue, or lost at shutdown (whether its thread was stuck in a
  // flush and left behind, or reached close(), which gave up at the deadline).
  EXPECT_GT(s.accepted, 0u);
  EXPECT_EQ(s.accepted + s.dropped_queue_full, kEvents);
  EXPECT_EQ(s.dropped_shutdown_deadline, s.accepted);
  EXPECT_EQ(statsOf(*set, "other").written, kEvents);
  // Let the left-behind thread out (EPIPE), and wait for it before the pipe goes.
  ::close(pipe.r);
  pipe.r = -1;
  set.reset();
  ASSERT_TRUE(stdout_probe->waitUntil([&] { return stdout_probe->destroyed; }));
}

// --- file --------------------------------------------------------------------

class FileSinkTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "vigil-sinks-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // An event whose JSON line is about 150 bytes.
  static Event lineEvent(uint64_t seq) {
    Event e;
    e.set_seq(seq);
    e.set_node(std::string(100, 'n'));
    return e;
  }

  static std::vector<std::string> readLines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      out.push_back(line);
    }
    return out;
  }

  std::string dir_;
};

TEST_F(FileSinkTest, RotatesBySizeAndKeepsMaxFiles) {
  const std::string path = dir_ + "/events.json";
  auto sink = FileSink::open({path, 1000, 2});
  ASSERT_TRUE(sink.ok()) << sink.error().message();
  constexpr uint64_t kEvents = 60;
  for (uint64_t i = 0; i < kEvents; ++i) {
    ASSERT_TRUE((*sink)->write(lineEvent(i)).ok());
    if (i % 7 == 0) {
      ASSERT_TRUE((*sink)->flush().ok());
    }
  }
  ASSERT_TRUE((*sink)->close(std::chrono::steady_clock::now() + kHangGuard).ok());
  EXPECT_GT((*sink)->stats().rotations, 2u);

  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"events.json", "events.json.1", "events.json.2"}));

  // Oldest first: path.2, path.1, path. Each line parses back, the sequence
  // runs on without a gap to the last event, and the oldest are gone.
  std::vector<uint64_t> seqs;
  for (const std::string& f : {path + ".2", path + ".1", path}) {
    EXPECT_LE(std::filesystem::file_size(f), 1000u) << f;
    auto lines = readLines(f);
    EXPECT_FALSE(lines.empty()) << f;
    for (const auto& line : lines) {
      Event e;
      ASSERT_TRUE(parseJson(line, e).ok()) << f << ": " << line;
      EXPECT_EQ(e.node(), std::string(100, 'n'));
      seqs.push_back(e.seq());
    }
    struct stat st{};
    ASSERT_EQ(::stat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u) << f;
  }
  ASSERT_FALSE(seqs.empty());
  EXPECT_GT(seqs.front(), 0u);
  EXPECT_EQ(seqs, iota(seqs.front(), kEvents));
}

TEST_F(FileSinkTest, WritesOnlyWhenFlushed) {
  const std::string path = dir_ + "/events.json";
  auto sink = FileSink::open({path, 1 << 20, 2});
  ASSERT_TRUE(sink.ok()) << sink.error().message();
  ASSERT_TRUE((*sink)->write(lineEvent(1)).ok());
  EXPECT_EQ(std::filesystem::file_size(path), 0u); // buffered
  ASSERT_TRUE((*sink)->flush().ok());
  ASSERT_EQ(readLines(path).size(), 1u);
}

TEST_F(FileSinkTest, MissingDirectoryIsAClearErrorNamingTheSource) {
  OutputConfig c;
  c.type = "file";
  c.name = "audit";
  c.source = "agent.yaml:7:3";
  c.path = dir_ + "/missing/sub/events.json";
  auto sink = makeSink(c);
  ASSERT_FALSE(sink.ok());
  const std::string& msg = sink.error().message();
  EXPECT_NE(msg.find("agent.yaml:7:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("audit"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir_ + "/missing/sub"), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
}

// /dev/full fails every write with ENOSPC: counted and reported, not fatal.
TEST_F(FileSinkTest, WriteErrorsAreCountedNotFatal) {
  if (::access("/dev/full", W_OK) != 0) {
    GTEST_SKIP() << "no writable /dev/full";
  }
  auto sink = FileSink::open({"/dev/full", 1 << 20, 2});
  ASSERT_TRUE(sink.ok()) << sink.error().message();
  for (uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE((*sink)->write(lineEvent(i)).ok());
  }
  Status st = (*sink)->flush();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find(strerror(ENOSPC)), std::string::npos) << st.error().message();
  EXPECT_EQ((*sink)->discarded(), 3u);
  ASSERT_TRUE((*sink)->write(lineEvent(3)).ok()); // carries on
  EXPECT_FALSE((*sink)->close(std::chrono::steady_clock::now()).ok());
  EXPECT_EQ((*sink)->discarded(), 4u);
  EXPECT_EQ((*sink)->stats().write_errors, 2u);
}

// Through the set: the lines lost to a failed flush are drops (write_error).
TEST_F(FileSinkTest, LostLinesAreSinkDrops) {
  if (::access("/dev/full", W_OK) != 0) {
    GTEST_SKIP() << "no writable /dev/full";
  }
  OutputConfig c;
  c.type = "file";
  c.path = "/dev/full";
  c.source = "test";
  auto sink = makeSink(c);
  ASSERT_TRUE(sink.ok()) << sink.error().message();
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({c, std::move(*sink)});
  auto set = makeSet(std::move(sinks));
  CountingRecycler recycler;
  for (uint64_t i = 0; i < 4; ++i) {
    set->deliver(makeEvent(i, recycler));
  }
  set->publish();
  (void)set->close(kHangGuard); // fails if the last flush was close()'s own
  EXPECT_EQ(dropCount(*set, "file", "write_error") + dropCount(*set, "file", "shutdown_deadline"), 4u);
  EXPECT_GE(statsOf(*set, "file").write_errors, 1u);
  EXPECT_EQ(statsOf(*set, "file").written, 4u);
}

// --- factory -----------------------------------------------------------------

TEST(SinkFactory, BuildsTheBuiltinTypes) {
  OutputConfig c;
  c.type = "stdout";
  c.source = "--stdout";
  auto sink = makeSink(c);
  ASSERT_TRUE(sink.ok()) << sink.error().message();
  EXPECT_EQ((*sink)->name(), "stdout");
  auto types = SinkRegistry::global().types();
  EXPECT_EQ(types, (std::vector<std::string>{"file", "grpc", "stdout"}));
}

TEST(SinkFactory, ErrorsNameTheSource) {
  OutputConfig unknown;
  unknown.type = "kafka";
  unknown.source = "agent.yaml:12:5";
  auto a = makeSink(unknown);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message().find("agent.yaml:12:5"), std::string::npos) << a.error().message();
  EXPECT_NE(a.error().message().find("kafka"), std::string::npos) << a.error().message();
  EXPECT_NE(a.error().message().find("file, grpc, stdout"), std::string::npos) << a.error().message();

  OutputConfig no_path;
  no_path.type = "file";
  no_path.source = "agent.yaml:20:5";
  auto b = makeSink(no_path);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message().find("agent.yaml:20:5"), std::string::npos) << b.error().message();
  EXPECT_NE(b.error().message().find("path"), std::string::npos) << b.error().message();
}

TEST(SinkFactory, ANewTypeRegistersByName) {
  SinkRegistry registry;
  auto probe = std::make_shared<Probe>();
  ASSERT_TRUE(registry
                  .add("fake", [probe](const OutputConfig& c) -> Result<EventSinkPtr> {
                    return EventSinkPtr(std::make_unique<FakeSink>(c.name, probe));
                  })
                  .ok());
  EXPECT_FALSE(registry.add("fake", [](const OutputConfig&) -> Result<EventSinkPtr> { return makeError("no"); }).ok());
  auto c = fakeOutput("mine", 8, FullPolicy::kDrop);
  auto sink = registry.make(c);
  ASSERT_TRUE(sink.ok()) << sink.error().message();
  EXPECT_EQ((*sink)->name(), "mine");
  c.type = "stdout"; // not in this registry
  EXPECT_FALSE(registry.make(c).ok());
}

TEST(SinkFactory, MakeSinkSetBuildsEveryOutput) {
  std::string tmpl = ::testing::TempDir() + "vigil-sinkset-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  OutputConfig file;
  file.type = "file";
  file.name = "audit";
  file.path = tmpl + "/audit.json";
  OutputConfig missing = file;
  missing.name = "second";
  missing.source = "agent.yaml:30:5";
  missing.path = tmpl + "/nope/x.json";
  auto bad = makeSinkSet({file, missing});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("agent.yaml:30:5"), std::string::npos) << bad.error().message();

  auto set = makeSinkSet({file});
  ASSERT_TRUE(set.ok()) << set.error().message();
  ASSERT_TRUE((*set)->start().ok());
  CountingRecycler recycler;
  (*set)->deliver(makeEvent(1, recycler));
  (*set)->publish();
  ASSERT_TRUE((*set)->close(kHangGuard).ok());
  std::ifstream in(file.path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  Event e;
  ASSERT_TRUE(parseJson(line, e).ok()) << line;
  EXPECT_EQ(e.seq(), 1u);
  std::filesystem::remove_all(tmpl);
}

} // namespace
} // namespace vigil
