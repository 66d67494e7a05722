// The agent's pipeline (agent/pipeline/pipeline.h) without root: a fake
// collector feeds it, fake stages hold and release events, fake sinks
// record or get stuck, and the metrics registry is read back. Both stage
// placements (the capture thread, a thread of their own) run every test.
// No timing is asserted: waits are on conditions, with generous timeouts
// that only keep a broken build from hanging.

#include "agent/pipeline/pipeline.h"
#include "vigil/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace vigil::pipeline {
namespace {

using namespace std::chrono_literals;

constexpr auto kHangGuard = 60s;

// Records the sequence numbers it was given, in order.
class RecordingSink : public EventSink {
public:
  explicit RecordingSink(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  Status write(const Event& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    seqs_.push_back(event.seq());
    cv_.notify_all();
    return okStatus();
  }
  Status flush() override { return okStatus(); }

  std::vector<uint64_t> seqs() {
    std::lock_guard<std::mutex> lock(mu_);
    return seqs_;
  }
  bool waitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kHangGuard, [&] { return seqs_.size() >= n; });
  }

private:
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint64_t> seqs_;
};

// Its first write waits until the test releases it.
class StuckSink : public EventSink {
public:
  std::string_view name() const override { return "stuck"; }
  Status write(const Event&) override {
    std::unique_lock<std::mutex> lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    ++written_;
    return okStatus();
  }
  Status flush() override { return okStatus(); }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool waitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kHangGuard, [&] { return entered_; });
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
  uint64_t written_ = 0;
};

// Holds every event while hold is set (in order, as the enrich stage holds
// events waiting for pod metadata); periodic() releases them once it is
// cleared, flush() always.
class HoldingStage : public Stage {
public:
  explicit HoldingStage(std::atomic<bool>& hold) : hold_(hold) {}
  std::string_view name() const override { return "holding"; }
  void process(EventPtr* events, size_t n, StageOutput& next) override {
    periodic(next);
    for (size_t i = 0; i < n; ++i) {
      if (hold_.load() || !held_.empty()) {
        held_.push_back(std::move(events[i]));
      } else {
        next.emit(std::move(events[i]));
      }
    }
  }
  void periodic(StageOutput& next) override {
    if (!hold_.load()) {
      flush(next);
    }
  }
  void flush(StageOutput& next) override {
    while (!held_.empty()) {
      next.emit(std::move(held_.front()));
      held_.pop_front();
    }
  }
  bool holding() const override { return !held_.empty(); }

private:
  std::atomic<bool>& hold_;
  std::deque<EventPtr> held_;
};

// Tags each event it passes (a second stage behind the first).
class TaggingStage : public Stage {
public:
  std::string_view name() const override { return "tagging"; }
  void process(EventPtr* events, size_t n, StageOutput& next) override {
    for (size_t i = 0; i < n; ++i) {
      events[i]->set_node(events[i]->node() + "+tagged");
      next.emit(std::move(events[i]));
    }
  }
};

struct Built {
  std::unique_ptr<metrics::Registry> registry;
  std::unique_ptr<Pipeline> pipeline;
};

OutputConfig outputConfig(std::string name, FullPolicy when_full, uint32_t capacity = 8192) {
  OutputConfig oc;
  oc.type = "test";
  oc.name = std::move(name);
  oc.source = "test";
  oc.when_full = when_full;
  oc.queue_capacity = capacity;
  return oc;
}

Built build(bool stage_thread, std::vector<StagePtr> stages, std::vector<ConfiguredSink> sinks) {
  Built b;
  b.registry = std::make_unique<metrics::Registry>("vigil_agent_");
  auto set = SinkSet::create(std::move(sinks));
  EXPECT_TRUE(set.ok()) << (set.ok() ? "" : set.error().message());
  PipelineOptions o;
  o.node = "node-a";
  o.stage_thread = stage_thread;
  o.queue_capacity = 64;
  o.pooled_events = 32;
  b.pipeline = std::make_unique<Pipeline>(std::move(o), std::move(stages), std::move(*set), *b.registry);
  EXPECT_TRUE(b.pipeline->start().ok());
  return b;
}

// What a collector does: build an event, fill it, hand it on.
void capture(Pipeline& p, int n) {
  for (int i = 0; i < n; ++i) {
    auto e = p.newEvent();
    e->mutable_exec()->mutable_process()->set_pid(uint32_t(1000 + i));
    p.accept(std::move(e));
    if (i % 100 == 99) {
      p.tick(100);
    }
  }
  p.tick(0);
}

std::vector<uint64_t> oneTo(uint64_t n) {
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= n; ++i) {
    v.push_back(i);
  }
  return v;
}

double family(const metrics::Registry& r, std::string_view name, const metrics::Labels& match = {}) {
  return r.value(name, match).value_or(-1);
}

class PipelineTest : public ::testing::TestWithParam<bool> {};

TEST_P(PipelineTest, KeepsCaptureOrderThroughTwoStagesAndCountsWhatPassed) {
  auto sink = std::make_unique<RecordingSink>("rec");
  auto* rec = sink.get();
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({outputConfig("rec", FullPolicy::kBlock), std::move(sink)});
  std::vector<StagePtr> stages;
  std::atomic<bool> hold{false};
  stages.push_back(std::make_unique<HoldingStage>(hold));
  stages.push_back(std::make_unique<TaggingStage>());
  auto b = build(GetParam(), std::move(stages), std::move(sinks));

  capture(*b.pipeline, 5000);
  ASSERT_TRUE(rec->waitFor(5000));
  b.pipeline->shutdown();
  EXPECT_EQ(rec->seqs(), oneTo(5000));
  EXPECT_EQ(family(*b.registry, "events_captured_total"), 5000);
  EXPECT_EQ(family(*b.registry, "events_delivered_total"), 5000);
  EXPECT_EQ(family(*b.registry, "sink_events_written_total", {{"sink", "rec"}}), 5000);
  EXPECT_EQ(family(*b.registry, "drops_total"), 0);
}

TEST_P(PipelineTest, HeldEventsLeaveInOrderWithThoseBehindThem) {
  auto sink = std::make_unique<RecordingSink>("rec");
  auto* rec = sink.get();
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({outputConfig("rec", FullPolicy::kBlock), std::move(sink)});
  std::atomic<bool> hold{false};
  std::vector<StagePtr> stages;
  stages.push_back(std::make_unique<HoldingStage>(hold));
  auto b = build(GetParam(), std::move(stages), std::move(sinks));

  capture(*b.pipeline, 10); // 1..10 pass
  ASSERT_TRUE(rec->waitFor(10));
  hold = true;
  capture(*b.pipeline, 20); // 11..30 held
  hold = false;
  capture(*b.pipeline, 10); // 31..40 wait behind them, then all leave
  ASSERT_TRUE(rec->waitFor(40));
  b.pipeline->shutdown();
  EXPECT_EQ(rec->seqs(), oneTo(40));
}

TEST_P(PipelineTest, ShutdownDrainsWhatTheStagesStillHold) {
  auto sink = std::make_unique<RecordingSink>("rec");
  auto* rec = sink.get();
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({outputConfig("rec", FullPolicy::kBlock), std::move(sink)});
  std::atomic<bool> hold{true};
  std::vector<StagePtr> stages;
  stages.push_back(std::make_unique<HoldingStage>(hold));
  auto b = build(GetParam(), std::move(stages), std::move(sinks));

  capture(*b.pipeline, 300);
  EXPECT_TRUE(rec->seqs().empty()); // all held
  b.pipeline->shutdown();
  EXPECT_EQ(rec->seqs(), oneTo(300));
  EXPECT_EQ(family(*b.registry, "events_delivered_total"), 300);
}

TEST_P(PipelineTest, AStuckSinkStallsNeitherCaptureNorTheOtherSinkAndItsLossIsCounted) {
  auto good = std::make_unique<RecordingSink>("good");
  auto* rec = good.get();
  auto stuck_sink = std::make_unique<StuckSink>();
  auto* stuck = stuck_sink.get();
  std::vector<ConfiguredSink> sinks;
  sinks.push_back({outputConfig("good", FullPolicy::kBlock), std::move(good)});
  sinks.push_back({outputConfig("stuck", FullPolicy::kDrop, 16), std::move(stuck_sink)});
  auto b = build(GetParam(), {}, std::move(sinks));

  capture(*b.pipeline, 1);
  ASSERT_TRUE(stuck->waitEntered());
  // The stuck sink holds event 1 in its write; its queue takes 16 more, and
  // the rest is refused for it alone. Capture finishes regardless.
  capture(*b.pipeline, 2999);
  ASSERT_TRUE(rec->waitFor(3000));
  EXPECT_EQ(rec->seqs(), oneTo(3000));

  const double refused = family(*b.registry, "drops_total", {{"stage", "sink"}, {"sink", "stuck"}, {"reason", "queue_full"}});
  EXPECT_GT(refused, 0);
  stuck->release();
  b.pipeline->shutdown();
  const double written = family(*b.registry, "sink_events_written_total", {{"sink", "stuck"}});
  EXPECT_EQ(written + refused, 3000) << "every event is written or counted as dropped for the stuck sink";
  EXPECT_EQ(family(*b.registry, "sink_events_written_total", {{"sink", "good"}}), 3000);
  EXPECT_EQ(family(*b.registry, "drops_total", {{"sink", "good"}}), 0);
}

INSTANTIATE_TEST_SUITE_P(Placement, PipelineTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "stage_thread" : "capture_thread"; });

} // namespace
} // namespace vigil::pipeline
