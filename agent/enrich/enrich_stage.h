#pragma once

// The enrichment stage (docs/enrichment.md): every event's processes get
// their cached image (ancestry from the process cache), the ancestors the
// configuration asks for, and their container and pod. Events whose pod
// metadata is on its way wait here, in order, for at most
// enrich.pod_wait_ms; then they leave with what is known.

#include "agent/enrich/pod_enricher.h"
#include "agent/enrich/process_cache.h"
#include "vigil/stage.h"

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace vigil::enrich {

struct EnrichStageOptions {
  uint32_t ancestors = 0; // ancestors beyond the parent added to every event (0: none)
  PodEnricherOptions pods;
  ProcessCacheOptions cache;
  size_t max_held = 4096; // events held for pod metadata beyond this many leave without it
  std::chrono::milliseconds sweep_every{5000}; // process cache sweep period
};

class EnrichStage : public Stage {
public:
  // wake: called from the pod cache's thread when metadata arrives (wakes
  // the thread running this stage).
  EnrichStage(EnrichStageOptions options, std::string cgroup2_mount, std::function<void()> wake);

  std::string_view name() const override { return "enrich"; }
  void process(EventPtr* events, size_t n, StageOutput& next) override;
  void periodic(StageOutput& next) override;
  void flush(StageOutput& next) override;
  bool holding() const override { return !held_.empty(); }
  void registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) override;

  // Before start(): a process that was running when capture began.
  void addExisting(Process&& process);
  // After the snapshot, before events flow.
  void start();
  // Stops the pod cache's worker: held events leave with what is known.
  void stop();

  // Any thread.
  std::vector<Process> ancestors(const std::string& exec_id) const;
  ProcessCacheStats cacheStats() const;
  const PodEnricher& pods() const { return pods_; }

private:
  void addAncestors(Event& event) const;
  void releaseHeld(bool all, StageOutput& next);

  const EnrichStageOptions options_;
  mutable std::mutex cache_mu_; // held per batch, and by readers on other threads
  ProcessCache cache_;
  PodEnricher pods_;
  struct Held {
    EventPtr event;
    std::chrono::steady_clock::time_point deadline;
  };
  std::deque<Held> held_; // events waiting for pod metadata, in order
  std::chrono::steady_clock::time_point last_sweep_;
};

} // namespace vigil::enrich
