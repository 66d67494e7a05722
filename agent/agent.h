#pragma once

// The node daemon's pipeline (docs/pipeline.md), in capture order:
//   capture: the BPF runtime consumes the one ring buffer and hands each
//     record to the collector that registered its kind; the collector
//     decodes it into an event, which gets its node and sequence number here
//   stages: enrichment (process cache, ancestry, containers and pods), then
//     whatever stages follow it (policy), on the capture thread, or on a
//     thread of their own behind a bounded queue (pipeline.mode threads)
//   sinks: each sink on its own thread behind its own bounded queue, so a
//     slow or dead sink stalls neither capture nor the other sinks
// Every loss anywhere is counted by stage and reason (drops()).

#include "agent/config.h"
#include "agent/enrich/enrich_stage.h"
#include "agent/pipeline/event_pool.h"
#include "agent/pipeline/stage_queue.h"
#include "collectors/runtime/bpf_runtime.h"
#include "vigil/collector.h"
#include "vigil/sink.h"
#include "vigil/stage.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace vigil {

struct AgentStats {
  uint64_t captured = 0; // events decoded and given a sequence number
  uint64_t events = 0; // events delivered to the sinks
  uint64_t sink_errors = 0; // sink writes that failed (event lost for that sink)
  uint64_t unrouted = 0; // records of a kind no collector handles (dropped)
};

// One place where events are lost, and how many so far.
struct DropCount {
  std::string stage; // kernel, decode, enrich_queue, sink_queue, sink, shutdown
  std::string reason; // e.g. ringbuf_full_syscall, rate_limited, queue_full, malformed
  uint64_t count = 0;
  int cpu = -1; // the CPU, for the kernel's ring-buffer-full counters; -1: all
};

// Whether a part of the agent runs, and why not when it does not (health,
// metrics, the start log).
struct FeatureStatus {
  std::string name; // "process", "syscall", "network", "pods"
  bool running = false;
  std::string detail; // how it runs, or what is missing
};

class Agent : public CollectorOutput {
public:
  // Prepares the host and the BPF runtime, loads and attaches every enabled
  // capture domain. Fails fast with a clear message when it cannot.
  static Result<std::unique_ptr<Agent>> create(const AgentConfig& config, std::vector<EventSinkPtr> sinks);
  ~Agent() override;

  // Starts capture and reports the processes already running.
  Status start();
  // Delivers events until signals becomes non-zero, then detaches, drains
  // what the kernel already captured, and flushes the sinks; a second
  // signal (signals >= 2) during that drain ends it early, counting what it
  // left behind.
  Status run(const std::atomic<int>& signals);
  // One poll round (tests drive the agent with this): waits up to timeout_ms.
  Result<int> pollOnce(int timeout_ms);
  // Detach, drain, flush. Idempotent. signals: as for run() (may be null).
  void shutdown(const std::atomic<int>* signals = nullptr);

  EventPtr newEvent() override { return pool_.acquire(); }
  void onEvent(EventPtr event) override;
  void onExistingProcess(Process&& process) override;

  // The ancestors of an image (nearest first), copied under the cache lock.
  std::vector<Process> ancestors(const std::string& exec_id) const { return enrich_->ancestors(exec_id); }
  ProcessCacheStats cacheStats() const { return enrich_->cacheStats(); }
  AgentStats stats() const;
  // Every loss counter, by stage and reason (zero counts included).
  std::vector<DropCount> drops() const;
  pipeline::StageQueueStats enrichQueueStats() const { return enrich_q_.stats(); }
  pipeline::StageQueueStats sinkQueueStats() const { return sink_q_.stats(); }
  pipeline::EventPoolStats poolStats() const { return pool_.stats(); }
  const enrich::PodEnricher& podEnricher() const { return enrich_->pods(); }
  const runtime::BpfRuntime& runtime() const { return *runtime_; }
  // The running collector of a domain by name ("process", "syscall",
  // "network"), as its own type; nullptr when that domain is off.
  template <class T> T* collector(std::string_view name) const {
    for (const auto& c : collectors_) {
      if (c->name() == name) {
        return dynamic_cast<T*>(c.get());
      }
    }
    return nullptr;
  }
  const std::vector<FeatureStatus>& features() const { return features_; }
  void logStats() const;

private:
  // An event in a queue: EventPtr taken apart (queues hold trivial items).
  struct QueuedEvent {
    Event* event;
    EventRecycler* owner;
  };
  static QueuedEvent toQueued(EventPtr& e) { return {e.get(), e.get_deleter().owner}; }
  static EventPtr fromQueued(const QueuedEvent& q) { return EventPtr(q.event, EventDeleter(q.owner)); }
  // Hands e to q; on refusal e stays owned (and is freed by the caller).
  static void pushOwned(pipeline::StageQueue<QueuedEvent>& q, EventPtr& e);

  // Hands an event to stage i of the chain (i == stages_.size(): the sinks).
  class Link : public StageOutput {
  public:
    Link(Agent& agent, size_t next) : agent_(agent), next_(next) {}
    void emit(EventPtr event) override;

  private:
    Agent& agent_;
    size_t next_;
  };

  explicit Agent(const AgentConfig& config);
  void runStages(EventPtr* events, size_t n);
  void stagesPeriodic();
  void stagesFlush();
  bool stagesHolding() const;
  void stageLoop();
  void sinkLoop();
  void toSinks(EventPtr event);
  void writeSinks(const Event& event);
  void flushSinks();
  void sinkPeriodic(bool idle);
  void periodic();

  AgentConfig config_;
  std::string node_;
  // Declared first, destroyed last: events still in flight point into it.
  pipeline::EventPool pool_;
  bool pool_trim_due_ = false; // events were built since the pool was last trimmed (capture thread)
  std::unique_ptr<runtime::BpfRuntime> runtime_;
  std::vector<CollectorPtr> collectors_;
  std::vector<FeatureStatus> features_;
  std::vector<StagePtr> stages_;
  enrich::EnrichStage* enrich_ = nullptr; // stages_[0]
  std::vector<Link> links_; // links_[i] hands on to stage i + 1
  std::vector<EventSinkPtr> sinks_;

  pipeline::StageQueue<QueuedEvent> enrich_q_;
  pipeline::StageQueue<QueuedEvent> sink_q_;
  std::thread stage_thread_;
  std::thread sink_thread_;
  // Which parts have a thread of their own, joined to the one before by a
  // queue; the others run on the capture thread (pipeline.mode).
  const bool stage_thread_on_;
  const bool sink_thread_on_;
  std::chrono::steady_clock::time_point last_flush_; // sink stage
  bool sinks_dirty_ = false; // sink stage: written since the last flush

  // Each written by one thread, read by anyone.
  std::atomic<uint64_t> captured_{0}, delivered_{0}, sink_errors_{0}, abandoned_{0};
  uint64_t seq_ = 0; // capture thread
  bool shut_down_ = false;
  std::chrono::steady_clock::time_point last_stats_; // capture thread
};

} // namespace vigil
