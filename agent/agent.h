#pragma once

// The node daemon (docs/agent.md): the BPF runtime and the capture domains
// it runs, feeding the pipeline (agent/pipeline/pipeline.h):
//   capture: the BPF runtime consumes the one ring buffer and hands each
//     record to the collector that registered its kind; the collector
//     decodes it into an event
//   stages: enrichment (process cache, ancestry, containers and pods), then
//     whatever stages follow it (policy), on the capture thread or on a
//     thread of their own behind a bounded queue (pipeline.mode threads)
//   sinks: each sink on its own thread behind its own bounded queue, so a
//     slow or dead sink stalls neither capture nor the other sinks
// Every counter lives in one metrics registry (metrics()); every loss
// anywhere is counted by stage and reason (drops()).

#include "agent/config.h"
#include "agent/enrich/enrich_stage.h"
#include "agent/pipeline/pipeline.h"
#include "collectors/runtime/bpf_runtime.h"
#include "vigil/collector.h"
#include "vigil/metrics.h"
#include "vigil/sink.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace vigil {

struct AgentStats {
  uint64_t captured = 0; // events decoded and given a sequence number
  uint64_t events = 0; // events that left the stages for the sinks
  uint64_t unrouted = 0; // records of a kind no collector handles (dropped)
};

// One place where events are lost, and how many so far.
struct DropCount {
  std::string stage; // kernel, decode, stage_queue, sink
  std::string reason; // e.g. ringbuf_full_syscall, rate_limited, queue_full, malformed
  uint64_t count = 0;
  int cpu = -1; // the CPU, for the kernel's ring-buffer-full counters; -1: all
  std::string sink; // the sink, for stage "sink"
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
  // capture domain, and builds the sinks of config.outputs. extra_sinks
  // (tests, tools) join them with a blocking queue each: lossless. Fails
  // fast with a clear message when it cannot.
  static Result<std::unique_ptr<Agent>> create(const AgentConfig& config, std::vector<EventSinkPtr> extra_sinks = {});
  ~Agent() override;

  // Starts capture and reports the processes already running.
  Status start();
  // Delivers events until signals becomes non-zero, then detaches, drains
  // what the kernel already captured, and closes the sinks; a second
  // signal (signals >= 2) during that drain ends it early, counting it.
  Status run(const std::atomic<int>& signals);
  // One poll round (tests drive the agent with this): waits up to timeout_ms.
  Result<int> pollOnce(int timeout_ms);
  // Detach, drain, close. Idempotent. signals: as for run() (may be null).
  void shutdown(const std::atomic<int>* signals = nullptr);

  EventPtr newEvent() override { return pipeline_->newEvent(); }
  void onEvent(EventPtr event) override { pipeline_->accept(std::move(event)); }
  void onExistingProcess(Process&& process) override { enrich_->addExisting(std::move(process)); }

  // The ancestors of an image (nearest first), copied under the cache lock.
  std::vector<Process> ancestors(const std::string& exec_id) const { return enrich_->ancestors(exec_id); }
  ProcessCacheStats cacheStats() const { return enrich_->cacheStats(); }
  AgentStats stats() const;
  // Every loss counter, by stage and reason (zero counts included), read
  // from the registry.
  std::vector<DropCount> drops() const;
  pipeline::StageQueueStats stageQueueStats() const { return pipeline_->queueStats(); }
  pipeline::EventPoolStats poolStats() const { return pipeline_->poolStats(); }
  const enrich::PodEnricher& podEnricher() const { return enrich_->pods(); }
  const runtime::BpfRuntime& runtime() const { return *runtime_; }
  const metrics::Registry& metrics() const { return *registry_; }
  // For the metrics endpoint (prometheus-cpp's Exposer holds it weakly).
  std::shared_ptr<metrics::Registry> registry() const { return registry_; }
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
  explicit Agent(const AgentConfig& config);
  void periodic();
  void registerMetrics();

  AgentConfig config_;
  // Declared first, destroyed last: every part registers into it.
  std::shared_ptr<metrics::Registry> registry_ = std::make_shared<metrics::Registry>("vigil_agent_");
  std::unique_ptr<runtime::BpfRuntime> runtime_;
  std::vector<CollectorPtr> collectors_;
  std::vector<FeatureStatus> features_;
  enrich::EnrichStage* enrich_ = nullptr; // the pipeline's first stage
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::vector<metrics::CallbackHandle> callbacks_;
  bool shut_down_ = false;
  std::chrono::steady_clock::time_point last_stats_; // capture thread
};

} // namespace vigil
