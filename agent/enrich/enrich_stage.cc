#include "agent/enrich/enrich_stage.h"

#include "collectors/runtime/boot_clock.h"

#include <optional>

namespace vigil::enrich {

EnrichStage::EnrichStage(EnrichStageOptions options, std::string cgroup2_mount, std::function<void()> wake)
    : options_(std::move(options)), cache_(options_.cache),
      pods_(options_.pods, std::move(cgroup2_mount), std::move(wake)),
      last_sweep_(std::chrono::steady_clock::now()) {}

void EnrichStage::addExisting(Process&& process) {
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_.addExisting(std::move(process));
}

void EnrichStage::start() {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    cache_.finishSnapshot();
  }
  pods_.start();
  last_sweep_ = std::chrono::steady_clock::now();
}

void EnrichStage::stop() { pods_.stop(); }

void EnrichStage::addAncestors(Event& event) const {
  const Process* proc = bodyProcesses(event).process;
  if (proc == nullptr || proc->exec_id().empty()) {
    return;
  }
  auto chain = cache_.ancestors(proc->exec_id(), options_.ancestors + 1);
  for (size_t i = 1; i < chain.size(); ++i) { // [0] is the parent, already there
    *event.add_ancestors() = *chain[i];
  }
}

void EnrichStage::process(EventPtr* events, size_t n, StageOutput& next) {
  if (n > 0) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    for (size_t i = 0; i < n; ++i) {
      cache_.enrich(*events[i]);
      if (options_.ancestors > 0) {
        addAncestors(*events[i]);
      }
    }
  }
  releaseHeld(false, next);
  const auto wait = std::chrono::milliseconds(options_.pods.pod_wait_ms);
  std::optional<std::chrono::steady_clock::time_point> now; // read once, and only to hold an event
  for (size_t i = 0; i < n; ++i) {
    // Behind a held event, every event waits its turn (order is kept).
    if (held_.empty() && pods_.fill(*events[i], wait.count() == 0)) {
      next.emit(std::move(events[i]));
    } else {
      if (!now) {
        now = std::chrono::steady_clock::now();
      }
      held_.push_back({std::move(events[i]), *now + wait});
    }
  }
}

// Events wait here (in order) while a container's metadata is on its way.
void EnrichStage::releaseHeld(bool all, StageOutput& next) {
  if (held_.empty()) {
    return; // nearly always: no clock read per batch
  }
  auto now = std::chrono::steady_clock::now();
  while (!held_.empty()) {
    Held& h = held_.front();
    bool final = all || now >= h.deadline || held_.size() > options_.max_held;
    if (!pods_.fill(*h.event, final)) {
      return;
    }
    EventPtr event = std::move(h.event);
    held_.pop_front();
    next.emit(std::move(event));
  }
}

void EnrichStage::periodic(StageOutput& next) {
  releaseHeld(false, next);
  auto now = std::chrono::steady_clock::now();
  if (now - last_sweep_ >= options_.sweep_every) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    cache_.sweep(runtime::bootNowNs());
    last_sweep_ = now;
  }
}

void EnrichStage::flush(StageOutput& next) { releaseHeld(true, next); }

std::vector<Process> EnrichStage::ancestors(const std::string& exec_id) const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  std::vector<Process> out;
  for (const Process* p : cache_.ancestors(exec_id)) {
    out.push_back(*p);
  }
  return out;
}

ProcessCacheStats EnrichStage::cacheStats() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return cache_.stats();
}

void EnrichStage::registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) {
  keep.push_back(registry.addCallback("process_cache_entries", "Process images in the cache (live and recently ended)",
                                      metrics::Type::kGauge, [this] {
                                        return std::vector<metrics::Sample>{{{}, double(cacheStats().entries)}};
                                      }));
  keep.push_back(registry.addCallback("process_cache_evictions_total",
                                      "Process images evicted from the full cache before their time",
                                      metrics::Type::kCounter, [this] {
                                        return std::vector<metrics::Sample>{{{}, double(cacheStats().evicted)}};
                                      }));
  keep.push_back(registry.addCallback("process_cache_parent_misses_total",
                                      "Events whose parent image the cache did not know", metrics::Type::kCounter,
                                      [this] {
                                        return std::vector<metrics::Sample>{
                                            {{}, double(cacheStats().parent_misses)}};
                                      }));
  if (!options_.pods.containers) {
    return;
  }
  keep.push_back(registry.addCallback(
      "container_events_total", "Events with at least one containerized process", metrics::Type::kCounter,
      [this] { return std::vector<metrics::Sample>{{{}, double(pods_.stats().container_events)}}; }));
  keep.push_back(registry.addCallback(
      "pod_metadata_missing_total", "Events that left without their container's pod metadata",
      metrics::Type::kCounter,
      [this] { return std::vector<metrics::Sample>{{{}, double(pods_.stats().metadata_missing)}}; }));
  keep.push_back(registry.addCallback(
      "cgroups_unresolved_total", "Processes whose cgroup id was unknown", metrics::Type::kCounter,
      [this] { return std::vector<metrics::Sample>{{{}, double(pods_.stats().unresolved_cgroups)}}; }));
  keep.push_back(registry.addCallback("pod_cache", "The pod cache's entries and the container runtime's state",
                                      metrics::Type::kGauge, [this] {
                                        std::vector<metrics::Sample> out;
                                        if (const auto* pc = pods_.podCache()) {
                                          const auto p = pc->stats();
                                          out.push_back({{{"value", "entries"}}, double(p.entries)});
                                          out.push_back({{{"value", "runtime_up"}}, p.runtime_up ? 1.0 : 0.0});
                                        }
                                        return out;
                                      }));
  keep.push_back(registry.addCallback("pod_cache_lookups_total", "Pod cache lookups, fetches and their errors",
                                      metrics::Type::kCounter, [this] {
                                        std::vector<metrics::Sample> out;
                                        if (const auto* pc = pods_.podCache()) {
                                          const auto p = pc->stats();
                                          out.push_back({{{"result", "hit"}}, double(p.hits)});
                                          out.push_back({{{"result", "miss"}}, double(p.misses)});
                                          out.push_back({{{"result", "eviction"}}, double(p.evictions)});
                                          out.push_back({{{"result", "fetch"}}, double(p.fetches)});
                                          out.push_back({{{"result", "fetch_error"}}, double(p.fetch_errors)});
                                        }
                                        return out;
                                      }));
}

} // namespace vigil::enrich
