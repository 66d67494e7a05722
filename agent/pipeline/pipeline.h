#pragma once

// The agent's middle, between the collectors and the sinks (docs/pipeline.md):
//
//   accept() ─► [enrich queue]? ─► stage chain (enrich, policy, ...) ─► SinkSet
//   capture thread                 capture thread, or the stage thread   one thread per sink
//
// accept() stamps each event with the node and a sequence number (a loss at
// any later stage shows as a gap) and runs the stage chain on the capture
// thread (pipeline.mode inline) or hands the event to the stage thread
// through a bounded queue (threads). The sinks each run on their own
// thread behind their own queue (agent/sinks/sink_set.h), so no sink can
// stall capture unless its policy says block.
//
// Knows nothing of BPF: the unit tests drive it with fake collectors,
// stages and sinks.

#include "agent/pipeline/event_pool.h"
#include "agent/pipeline/stage_queue.h"
#include "agent/sinks/sink_set.h"
#include "vigil/metrics.h"
#include "vigil/stage.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace vigil::pipeline {

struct PipelineOptions {
  std::string node; // stamped on every event
  bool stage_thread = false; // the stages on a thread of their own (pipeline.mode threads)
  uint32_t queue_capacity = 1024; // capture -> stage thread
  FullPolicy when_full = FullPolicy::kBlock;
  uint32_t pooled_events = 2560; // events built in reused memory; beyond, from the heap
  uint32_t event_block_bytes = 2048; // memory kept per pooled event
  std::chrono::milliseconds close_deadline{5000}; // the longest the sinks get to finish at shutdown
};

class Pipeline {
public:
  // Registers its metrics in registry (which must outlive it).
  Pipeline(PipelineOptions options, std::vector<StagePtr> stages, std::unique_ptr<SinkSet> sinks,
           metrics::Registry& registry);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  Status start();

  // Capture thread.
  EventPtr newEvent() { return pool_.acquire(); }
  void accept(EventPtr event);
  // After each poll round (capture thread): the stages' timers, the pool's
  // trim when the stream pauses, one wakeup per consumer. got: events the
  // round delivered.
  void tick(int got);
  // Any thread: wakes the stage thread (news for a stage that holds events).
  void wake() { queue_.publish(); }
  // After the last accept(): the stages give back what they hold, every
  // queue drains, the sinks close by the deadline. abandon() true (checked
  // between steps) cuts the sinks' deadline to zero: what they still hold
  // is counted as dropped. Idempotent.
  void shutdown(const std::function<bool()>& abandon = {});

  Stage& stage(size_t i) { return *stages_[i]; }
  const std::string& node() const { return options_.node; }
  const SinkSet& sinks() const { return *sinks_; }
  StageQueueStats queueStats() const { return queue_.stats(); }
  EventPoolStats poolStats() const { return pool_.stats(); }
  uint64_t captured() const { return captured_.value(); }
  uint64_t delivered() const { return delivered_.value(); }
  std::string statsLine() const;

private:
  // An event in the queue: EventPtr taken apart (queues hold trivial items).
  struct QueuedEvent {
    Event* event;
    EventRecycler* owner;
  };
  // Hands an event to stage i of the chain (i == stages_.size(): the sinks).
  class Link : public StageOutput {
  public:
    Link(Pipeline& pipeline, size_t next) : pipeline_(pipeline), next_(next) {}
    void emit(EventPtr event) override;

  private:
    Pipeline& pipeline_;
    size_t next_;
  };

  void runStages(EventPtr* events, size_t n);
  void stagesPeriodic();
  void stagesFlush();
  bool stagesHolding() const;
  void stageLoop();
  void toSinks(EventPtr event);

  const PipelineOptions options_;
  // Declared first, destroyed last: events still in flight point into it.
  EventPool pool_;
  bool pool_trim_due_ = false; // capture thread
  std::vector<StagePtr> stages_;
  std::vector<Link> links_; // links_[i] hands on to stage i + 1
  std::unique_ptr<SinkSet> sinks_;
  StageQueue<QueuedEvent> queue_;
  std::thread stage_thread_;
  bool started_ = false;
  bool shut_down_ = false;
  uint64_t seq_ = 0; // capture thread
  metrics::Counter& captured_; // capture thread
  metrics::Counter& delivered_; // the stages' thread
  metrics::Counter& abandoned_; // shutdown
  std::vector<metrics::CallbackHandle> callbacks_;
};

} // namespace vigil::pipeline
