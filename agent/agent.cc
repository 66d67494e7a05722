#include "agent/agent.h"

#include "agent/collectors.h"
#include "agent/sinks/factory.h"
#include "collectors/runtime/capabilities.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

namespace vigil {
namespace {

// Upper bound on delivery latency when the kernel side does not wake us
// (fewer than ring.wakeup_bytes unread).
constexpr int kPollTimeoutMs = 50;

// The families of the stats log line, in its order.
const std::vector<std::string> kStatsFamilies = {
    "events_captured_total", "events_delivered_total", "records_total", "drops_total", "dns_cache_entries",
    "rate_limited_total",    "queue_depth_events",     "sink_events_written_total", "sink_errors_total",
    "process_cache_entries", "process_cache_evictions_total", "process_cache_parent_misses_total",
    "container_events_total", "pod_metadata_missing_total", "pod_cache", "kernel_counters_total"};

} // namespace

Agent::Agent(const AgentConfig& config) : config_(config) {}

Agent::~Agent() { shutdown(); }

Result<std::unique_ptr<Agent>> Agent::create(const AgentConfig& config, std::vector<EventSinkPtr> extra_sinks) {
  std::unique_ptr<Agent> agent(new Agent(config));
  Agent* self = agent.get();

  // Resolved once ($NODE_NAME or the host name when the config has none).
  const std::string node = effectiveNodeName(config);
  // The sinks first: a bad output fails before anything loads.
  std::vector<ConfiguredSink> sinks;
  for (OutputConfig output : config.outputs) {
    output.node = node;
    output.registry = agent->registry_.get();
    auto sink = makeSink(output);
    if (!sink) {
      return sink.error();
    }
    sinks.push_back({output, std::move(*sink)});
  }
  for (auto& sink : extra_sinks) {
    OutputConfig oc;
    oc.type = std::string(sink->name());
    oc.name = oc.type;
    oc.source = "built in";
    oc.when_full = pipeline::FullPolicy::kBlock;
    sinks.push_back({oc, std::move(sink)});
  }
  auto sink_set = SinkSet::create(std::move(sinks));
  if (!sink_set) {
    return sink_set.error();
  }

  pipeline::PipelineOptions po;
  po.node = node;
  po.stage_thread = config.pipeline.mode == AgentConfig::Pipeline::Mode::kThreads;
  po.queue_capacity = config.pipeline.enrich_queue.capacity;
  po.when_full = config.pipeline.enrich_queue.when_full;
  po.pooled_events = config.pipeline.pooled_events;
  po.event_block_bytes = config.pipeline.event_block_bytes;
  enrich::EnrichStageOptions eo;
  eo.ancestors = config.enrich.ancestors;
  eo.pods = config.enrich.pods;
  eo.cache = ProcessCacheOptions{config.cache.max_entries, uint64_t(config.cache.ended_ttl_seconds) * 1000000000ULL};
  // Metadata arriving wakes the stage thread (a no-op inline: the capture
  // thread looks at held events every poll round).
  auto enrich = std::make_unique<enrich::EnrichStage>(std::move(eo), runtime::cgroup2Mount(), [self] {
    if (self->pipeline_) {
      self->pipeline_->wake();
    }
  });
  agent->enrich_ = enrich.get();
  std::vector<StagePtr> stages;
  stages.push_back(std::move(enrich));
  // The policy stage (next issue) joins here.
  agent->pipeline_ =
      std::make_unique<pipeline::Pipeline>(std::move(po), std::move(stages), std::move(*sink_set), *agent->registry_);

  runtime::RuntimeOptions ro;
  ro.ring_bytes = config.ring.buffer_bytes;
  ro.wakeup_bytes = config.ring.wakeup_bytes;
  ro.proc_map_entries = config.process.proc_map_entries;
  ro.libbpf_debug = config.libbpf_debug;
  auto rt = runtime::BpfRuntime::create(ro);
  if (!rt) {
    return rt.error().wrap("BPF runtime");
  }
  agent->runtime_ = std::move(*rt);

  const uint32_t self_tgid = config.report_self ? 0 : uint32_t(getpid());
  for (const CaptureDomain& domain : captureDomains()) {
    FeatureStatus feature{std::string(domain.name), false, {}};
    if (!domain.enabled(config)) {
      feature.detail = "off in the configuration";
      spdlog::info("{} capture: off in the configuration", domain.name);
      agent->features_.push_back(std::move(feature));
      continue;
    }
    if (auto missing = runtime::missingCapabilities(domain.needs); !missing.empty()) {
      feature.detail = fmt::format("disabled: needs {} {}", fmt::join(missing, " and "), domain.needs_why);
      spdlog::warn("{} capture {}", domain.name, feature.detail);
      agent->features_.push_back(std::move(feature));
      continue;
    }
    auto collector = domain.create(config, self_tgid, *agent->runtime_, *agent);
    if (!collector) {
      return collector.error().wrap(fmt::format("{} collector", domain.name));
    }
    feature.running = true;
    feature.detail = (*collector)->detail();
    agent->features_.push_back(std::move(feature));
    agent->collectors_.push_back(std::move(*collector));
  }
  if (config.enrich.pods.containers) {
    const std::string& endpoint = agent->enrich_->pods().endpoint();
    agent->features_.push_back({"pods", !endpoint.empty(),
                                endpoint.empty() ? "no container runtime socket found: container ids only"
                                                 : fmt::format("container runtime at {}", endpoint)});
  } else {
    agent->features_.push_back({"pods", false, "off in the configuration"});
  }
  agent->registerMetrics();
  return agent;
}

void Agent::registerMetrics() {
  for (auto& c : collectors_) {
    c->registerMetrics(*registry_, callbacks_);
  }
  pipeline_->stage(0).registerMetrics(*registry_, callbacks_);
  for (const auto& f : features_) {
    registry_->gauge("feature_enabled", "1 when a part of the agent runs, 0 when it is off or lacks what it needs",
                    {{"feature", f.name}})
        .set(f.running ? 1 : 0);
  }
  // Kernel and decode losses join the pipeline's in one family.
  callbacks_.push_back(registry_->addCallback(
      "drops_total", "Events lost, by the stage that lost them and why", metrics::Type::kCounter, [this] {
        std::vector<metrics::Sample> out;
        if (auto per_cpu = runtime_->kernelCountersPerCpu()) {
          for (int c = 0; c < VIGIL_CNT_MAX; ++c) {
            if (!runtime::kernelCounterIsLoss(c)) {
              continue;
            }
            const std::string reason(runtime::kernelCounterName(c));
            if (runtime::kernelCounterIsRingFull(c)) {
              for (size_t cpu = 0; cpu < per_cpu->size(); ++cpu) {
                out.push_back({{{"stage", "kernel"}, {"reason", reason}, {"cpu", std::to_string(cpu)}, {"sink", ""}},
                               double((*per_cpu)[cpu][size_t(c)])});
              }
            } else {
              uint64_t sum = 0;
              for (const auto& row : *per_cpu) {
                sum += row[size_t(c)];
              }
              out.push_back({{{"stage", "kernel"}, {"reason", reason}, {"cpu", ""}, {"sink", ""}}, double(sum)});
            }
          }
        }
        uint64_t malformed = runtime_->malformed();
        for (const auto& c : collectors_) {
          malformed += c->decodeErrors();
        }
        out.push_back({{{"stage", "decode"}, {"reason", "malformed"}, {"cpu", ""}, {"sink", ""}}, double(malformed)});
        out.push_back(
            {{{"stage", "decode"}, {"reason", "unrouted"}, {"cpu", ""}, {"sink", ""}}, double(runtime_->unrouted())});
        return out;
      }));
  callbacks_.push_back(registry_->addCallback(
      "kernel_counters_total", "The kernel side's counters (bpf/shared/common.h), summed over CPUs",
      metrics::Type::kCounter, [this] {
        std::vector<metrics::Sample> out;
        if (auto counters = runtime_->kernelCounters()) {
          for (int i = 0; i < VIGIL_CNT_MAX; ++i) {
            out.push_back({{{"counter", std::string(runtime::kernelCounterName(i))}}, double((*counters)[size_t(i)])});
          }
        }
        return out;
      }));
}

Status Agent::start() {
  last_stats_ = std::chrono::steady_clock::now();
  if (auto st = pipeline_->start(); !st) {
    return st;
  }
  if (auto st = runtime_->start(); !st) {
    return st;
  }
  for (auto& c : collectors_) {
    if (auto st = c->start(); !st) {
      return st.error().wrap(fmt::format("{} collector", c->name()));
    }
  }
  enrich_->start();
  std::string parts;
  for (const auto& f : features_) {
    parts += fmt::format("{}{} ({}{})", parts.empty() ? "" : ", ", f.name, f.running ? "" : "not running: ", f.detail);
  }
  spdlog::info("agent on node '{}' capturing: {}; {} processes known at start; stages on {}", pipeline_->node(), parts,
               enrich_->cacheStats().entries,
               config_.pipeline.mode == AgentConfig::Pipeline::Mode::kThreads ? "their own thread"
                                                                              : "the capture thread");
  return okStatus();
}

// Capture-side periodic work: the collectors' timers and the stats line.
void Agent::periodic() {
  const uint64_t boot_now = runtime::bootNowNs();
  for (auto& c : collectors_) {
    c->periodic(boot_now);
  }
  auto now = std::chrono::steady_clock::now();
  if (config_.stats_interval_seconds > 0 &&
      now - last_stats_ >= std::chrono::seconds(config_.stats_interval_seconds)) {
    logStats();
    last_stats_ = now;
  }
}

Result<int> Agent::pollOnce(int timeout_ms) {
  auto n = runtime_->poll(timeout_ms);
  if (!n) {
    return n.error();
  }
  periodic();
  pipeline_->tick(*n);
  return n;
}

Status Agent::run(const std::atomic<int>& signals) {
  while (signals.load(std::memory_order_relaxed) == 0) {
    auto n = pollOnce(kPollTimeoutMs);
    if (!n) {
      shutdown(&signals);
      return n.error();
    }
  }
  shutdown(&signals);
  return okStatus();
}

void Agent::shutdown(const std::atomic<int>* signals) {
  if (shut_down_ || !runtime_) {
    return;
  }
  shut_down_ = true;
  auto t0 = std::chrono::steady_clock::now();
  auto ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  };
  auto abandon = [signals] { return signals != nullptr && signals->load(std::memory_order_relaxed) >= 2; };
  // Detached before the drain, so the drain is the end. Process last: the
  // others' records name images it reports.
  for (auto it = collectors_.rbegin(); it != collectors_.rend(); ++it) {
    (*it)->detach();
    spdlog::debug("{} hooks detached after {} ms", (*it)->name(), ms());
  }
  if (abandon()) {
    spdlog::warn("second signal: the drain is cut short after {} ms; what the kernel still held is not read", ms());
  } else {
    auto n = runtime_->drain();
    if (!n) {
      spdlog::warn("draining the ring at stop: {}", n.error().message());
    } else {
      spdlog::debug("ring drained after {} ms ({} records)", ms(), *n);
    }
  }
  enrich_->stop(); // held events leave with what is known
  pipeline_->shutdown(abandon);
  spdlog::info("capture stopped and the pipeline drained in {} ms", ms());
  logStats();
}

AgentStats Agent::stats() const {
  return {pipeline_->captured(), pipeline_->delivered(), runtime_ ? runtime_->unrouted() : 0};
}

std::vector<DropCount> Agent::drops() const {
  std::vector<DropCount> out;
  for (const auto& family : registry_->collectFamilies({"drops_total"})) {
    for (const auto& m : family.metric) {
      DropCount d;
      for (const auto& l : m.label) {
        if (l.name == "stage") {
          d.stage = l.value;
        } else if (l.name == "reason") {
          d.reason = l.value;
        } else if (l.name == "cpu" && !l.value.empty()) {
          d.cpu = std::stoi(l.value);
        } else if (l.name == "sink") {
          d.sink = l.value;
        }
      }
      d.count = uint64_t(m.counter.value);
      out.push_back(std::move(d));
    }
  }
  return out;
}

void Agent::logStats() const {
  spdlog::info("stats: {}", metrics::renderSummary(*registry_, kStatsFamilies, true));
}

} // namespace vigil
