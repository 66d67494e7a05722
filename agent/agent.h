#pragma once

// The node daemon's pipeline, three stages in capture order
// (docs/pipeline.md):
//   capture (the thread calling run/pollOnce): kernel ring buffer -> decode
//     -> [enrich queue]
//   enrich: process cache (ancestry), containers and pods -> [sink queue]
//   sink:   every sink; flushes when idle
// pipeline.mode runs them all on the capture thread (inline, the default),
// or gives the sinks, or each stage, a thread of its own; queues join a
// stage to the thread before it. Queues are bounded and lock-free, each with
// a when-full policy (block or drop), and every drop anywhere is counted by
// stage and reason (drops()).

#include "agent/config.h"
#include "agent/enrich/pod_enricher.h"
#include "agent/pipeline/event_pool.h"
#include "agent/pipeline/stage_queue.h"
#include "agent/enrich/process_cache.h"
#include "collectors/network/network_collector.h"
#include "collectors/process/process_collector.h"
#include "collectors/syscall/syscall_collector.h"
#include "vigil/collector.h"
#include "vigil/sink.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
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
  std::string stage; // kernel, decode, enrich_queue, sink_queue, sink
  std::string reason; // e.g. ringbuf_full_syscall, rate_limited, queue_full, malformed
  uint64_t count = 0;
  int cpu = -1; // the CPU, for the kernel's ring-buffer-full counters; -1: all
};

class Agent : public CollectorOutput {
public:
  // Prepares the host (mounts, memlock), loads and attaches the BPF side.
  // Fails fast with a clear message when it cannot.
  static Result<std::unique_ptr<Agent>> create(const AgentConfig& config, std::vector<EventSinkPtr> sinks);
  ~Agent() override;

  // Starts capture and reports the processes already running.
  Status start();
  // Delivers events until stop becomes true, then detaches, drains what the
  // kernel already captured, and flushes the sinks.
  Status run(const std::atomic<bool>& stop);
  // One poll round (tests drive the agent with this): waits up to timeout_ms.
  Result<int> pollOnce(int timeout_ms);
  // Detach, drain, flush. Idempotent.
  void shutdown();

  EventPtr newEvent() override { return pool_.acquire(); }
  void onEvent(EventPtr event) override;
  void onExistingProcess(Process&& process) override;

  // The ancestors of an image (nearest first), copied under the cache lock.
  std::vector<Process> ancestors(const std::string& exec_id) const;
  ProcessCacheStats cacheStats() const;
  AgentStats stats() const;
  // Every loss counter, by stage and reason (zero counts included).
  std::vector<DropCount> drops() const;
  pipeline::StageQueueStats enrichQueueStats() const { return enrich_q_.stats(); }
  pipeline::StageQueueStats sinkQueueStats() const { return sink_q_.stats(); }
  pipeline::EventPoolStats poolStats() const { return pool_.stats(); }
  const enrich::PodEnricher& podEnricher() const { return pods_; }
  const process::ProcessCollector& processCollector() const { return *process_; }
  // nullptr when syscall capture is disabled.
  const syscall::SyscallCollector* syscallCollector() const { return syscall_.get(); }
  // nullptr when network capture is disabled.
  network::NetworkCollector* networkCollector() { return network_.get(); }
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

  explicit Agent(const AgentConfig& config);
  void flushSinks();
  void periodic();
  void enrichLoop();
  void sinkLoop();
  void enrichBatch(QueuedEvent* batch, size_t n);
  void enrichPeriodic();
  void toSinks(EventPtr& event);
  void writeSinks(const Event& event);
  void sinkPeriodic(bool idle);
  void addAncestors(Event& event) const;
  void releaseHeld(bool all);
  // A record of another capture domain from the shared ring buffer.
  void routeRecord(uint16_t kind, std::span<const uint8_t> record);

  AgentConfig config_;
  std::string node_;
  // Declared first, destroyed last: events still in flight point into it.
  pipeline::EventPool pool_;
  bool pool_trim_due_ = false; // events were built since the pool was last trimmed (capture thread)
  std::vector<EventSinkPtr> sinks_;
  std::unique_ptr<process::ProcessCollector> process_;
  std::unique_ptr<syscall::SyscallCollector> syscall_;
  std::unique_ptr<network::NetworkCollector> network_;

  pipeline::StageQueue<QueuedEvent> enrich_q_;
  pipeline::StageQueue<QueuedEvent> sink_q_;
  std::thread enrich_thread_;
  std::thread sink_thread_;

  mutable std::mutex cache_mu_; // the enrich stage holds it per batch
  ProcessCache cache_;
  enrich::PodEnricher pods_; // enrich stage
  struct Held {
    QueuedEvent event;
    std::chrono::steady_clock::time_point deadline;
  };
  std::deque<Held> held_; // enrich stage: events waiting for pod metadata, in order
  // Which stages have a thread of their own, joined to the one before by a
  // queue; the others run on the capture thread (pipeline.mode).
  const bool enrich_thread_on_;
  const bool sink_thread_on_;
  std::chrono::steady_clock::time_point last_sweep_; // enrich stage
  std::chrono::steady_clock::time_point last_flush_; // sink stage
  bool sinks_dirty_ = false; // sink stage: written since the last flush

  // Each written by one stage's thread, read by anyone.
  std::atomic<uint64_t> captured_{0}, delivered_{0}, sink_errors_{0}, unrouted_{0};
  uint64_t seq_ = 0; // capture thread
  bool shut_down_ = false;
  std::chrono::steady_clock::time_point last_stats_; // capture thread
};

} // namespace vigil
