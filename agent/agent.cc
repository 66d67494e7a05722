#include "agent/agent.h"

#include "agent/collectors.h"
#include "collectors/runtime/capabilities.h"

#include <fmt/ranges.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <unistd.h>

namespace vigil {
namespace {

constexpr auto kFlushEvery = std::chrono::milliseconds(200);
// Upper bound on delivery latency when the kernel side does not wake us
// (fewer than ring.wakeup_bytes unread).
constexpr int kPollTimeoutMs = 50;
// A stage thread's longest sleep: bounds how late its periodic work runs.
constexpr int kStageWaitMs = 100;
// Events a stage takes from its queue at once.
constexpr size_t kBatch = 256;

} // namespace

Agent::Agent(const AgentConfig& config)
    : config_(config), node_(effectiveNodeName(config)),
      pool_(config.pipeline.pooled_events, config.pipeline.event_block_bytes),
      enrich_q_(config.pipeline.enrich_queue.capacity, config.pipeline.enrich_queue.when_full),
      sink_q_(config.pipeline.sink_queue.capacity, config.pipeline.sink_queue.when_full),
      stage_thread_on_(config.pipeline.mode == AgentConfig::Pipeline::Mode::kThreads),
      sink_thread_on_(config.pipeline.mode == AgentConfig::Pipeline::Mode::kThreads ||
                      config.pipeline.mode == AgentConfig::Pipeline::Mode::kSinkThread) {
  enrich::EnrichStageOptions eo;
  eo.ancestors = config.enrich.ancestors;
  eo.pods = config.enrich.pods;
  eo.cache = ProcessCacheOptions{config.cache.max_entries, uint64_t(config.cache.ended_ttl_seconds) * 1000000000ULL};
  auto enrich = std::make_unique<enrich::EnrichStage>(std::move(eo), runtime::cgroup2Mount(),
                                                       [this] { enrich_q_.publish(); });
  enrich_ = enrich.get();
  stages_.push_back(std::move(enrich));
  // The policy stage (next issue) goes here.
  for (size_t i = 0; i < stages_.size(); ++i) {
    links_.emplace_back(*this, i + 1);
  }
}

Agent::~Agent() { shutdown(); }

Result<std::unique_ptr<Agent>> Agent::create(const AgentConfig& config, std::vector<EventSinkPtr> sinks) {
  std::unique_ptr<Agent> agent(new Agent(config));
  agent->sinks_ = std::move(sinks);

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
  return agent;
}

Status Agent::start() {
  last_stats_ = std::chrono::steady_clock::now();
  if (auto st = runtime_->start(); !st) {
    return st;
  }
  for (auto& c : collectors_) {
    if (auto st = c->start(); !st) {
      return st.error().wrap(fmt::format("{} collector", c->name()));
    }
  }
  enrich_->start(); // before the stage thread exists
  last_flush_ = std::chrono::steady_clock::now();
  if (stage_thread_on_) {
    stage_thread_ = std::thread([this] { stageLoop(); });
  }
  if (sink_thread_on_) {
    sink_thread_ = std::thread([this] { sinkLoop(); });
  }
  std::string domains;
  for (const auto& f : features_) {
    domains += fmt::format("{}{} ({}{})", domains.empty() ? "" : ", ", f.name, f.running ? "" : "not running: ",
                           f.detail);
  }
  spdlog::info("agent on node '{}': {}; {} processes known at start; pipeline: {}", node_, domains,
               enrich_->cacheStats().entries,
               stage_thread_on_  ? "capture, stage and sink threads"
               : sink_thread_on_ ? "capture and stages on one thread, sinks on another"
                                 : "inline (one thread)");
  return okStatus();
}

void Agent::onExistingProcess(Process&& process) { enrich_->addExisting(std::move(process)); }

// Capture: stamps the event and hands it to the stages. The sequence number
// is given here, so a loss at any later stage shows as a gap.
void Agent::onEvent(EventPtr event) {
  event->set_node(node_);
  event->set_seq(++seq_);
  captured_.fetch_add(1, std::memory_order_relaxed);
  if (stage_thread_on_) {
    pushOwned(enrich_q_, event);
    return;
  }
  runStages(&event, 1);
}

void Agent::pushOwned(pipeline::StageQueue<QueuedEvent>& q, EventPtr& e) {
  if (q.push(toQueued(e))) {
    (void)e.release(); // the queue's now
  }
}

void Agent::Link::emit(EventPtr event) {
  if (next_ < agent_.stages_.size()) {
    agent_.stages_[next_]->process(&event, 1, agent_.links_[next_]);
  } else {
    agent_.toSinks(std::move(event));
  }
}

void Agent::runStages(EventPtr* events, size_t n) { stages_[0]->process(events, n, links_[0]); }

void Agent::stagesPeriodic() {
  for (size_t i = 0; i < stages_.size(); ++i) {
    stages_[i]->periodic(links_[i]);
  }
}

void Agent::stagesFlush() {
  for (size_t i = 0; i < stages_.size(); ++i) {
    stages_[i]->flush(links_[i]);
  }
}

bool Agent::stagesHolding() const {
  return std::any_of(stages_.begin(), stages_.end(), [](const StagePtr& s) { return s->holding(); });
}

void Agent::toSinks(EventPtr event) {
  if (sink_thread_on_) {
    pushOwned(sink_q_, event);
    return;
  }
  writeSinks(*event);
  delivered_.fetch_add(1, std::memory_order_relaxed);
  sinks_dirty_ = true;
}

void Agent::writeSinks(const Event& event) {
  for (auto& sink : sinks_) {
    if (auto st = sink->write(event); !st) {
      sink_errors_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("sink {}: {}", sink->name(), st.error().message());
    }
  }
}

// The sink stage's timer: flush when the stream pauses (idle), and at least
// every kFlushEvery under load.
void Agent::sinkPeriodic(bool idle) {
  auto now = std::chrono::steady_clock::now();
  if (sinks_dirty_ && (idle || now - last_flush_ >= kFlushEvery)) {
    flushSinks();
    last_flush_ = now;
    sinks_dirty_ = false;
  }
}

void Agent::stageLoop() {
  QueuedEvent batch[kBatch];
  EventPtr events[kBatch];
  for (;;) {
    size_t n = enrich_q_.popBatch(batch, kBatch);
    for (size_t i = 0; i < n; ++i) {
      events[i] = fromQueued(batch[i]);
    }
    runStages(events, n);
    stagesPeriodic();
    sink_q_.publish();
    if (n == 0) {
      if (enrich_q_.drained()) {
        break;
      }
      // Holding events: look again soon (metadata arrival also wakes us).
      enrich_q_.waitForData(stagesHolding() ? 5 : kStageWaitMs);
    }
  }
  stagesFlush();
  sink_q_.close();
}

void Agent::sinkLoop() {
  QueuedEvent batch[kBatch];
  for (;;) {
    size_t n = sink_q_.popBatch(batch, kBatch);
    for (size_t i = 0; i < n; ++i) {
      EventPtr event = fromQueued(batch[i]);
      writeSinks(*event);
    }
    delivered_.fetch_add(n, std::memory_order_relaxed);
    sinks_dirty_ = sinks_dirty_ || n > 0;
    sinkPeriodic(n == 0);
    if (n == 0) {
      if (sink_q_.drained()) {
        break;
      }
      sink_q_.waitForData(kStageWaitMs);
    }
  }
  flushSinks();
}

void Agent::flushSinks() {
  for (auto& sink : sinks_) {
    if (auto st = sink->flush(); !st) {
      sink_errors_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("sink {}: {}", sink->name(), st.error().message());
    }
  }
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
  // The pool's idle arenas are reset here, on the thread that builds events,
  // once the stream pauses after a burst.
  if (*n > 0) {
    pool_trim_due_ = true;
  } else if (pool_trim_due_) {
    pool_.trim();
    pool_trim_due_ = false;
  }
  periodic();
  if (stage_thread_on_) {
    enrich_q_.publish(); // one wakeup of the stage thread per poll round
    return n;
  }
  stagesPeriodic();
  if (sink_thread_on_) {
    sink_q_.publish(); // one wakeup of the sink thread per poll round
  } else {
    sinkPeriodic(*n == 0);
  }
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
  auto abandon = [&] { return signals != nullptr && signals->load(std::memory_order_relaxed) >= 2; };
  // Detached before the drain, so the drain is the end. Process last: the
  // others' records name images it reports.
  for (auto it = collectors_.rbegin(); it != collectors_.rend(); ++it) {
    if (abandon()) {
      break;
    }
    (*it)->detach();
    spdlog::debug("{} hooks detached after {} ms", (*it)->name(), ms());
  }
  if (abandon()) {
    // What the kernel captured and nobody read is not counted per record:
    // the drops line says the drain was cut short.
    abandoned_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("second signal: drain abandoned after {} ms; records still in the ring are lost", ms());
  } else {
    auto n = runtime_->drain();
    if (!n) {
      spdlog::warn("draining the ring at stop: {}", n.error().message());
    } else {
      spdlog::debug("ring drained after {} ms ({} records)", ms(), *n);
    }
  }
  enrich_->stop(); // held events leave with what is known
  if (!stage_thread_on_) {
    stagesFlush();
  }
  if (!sink_thread_on_) {
    flushSinks();
  }
  // Each stage drains its queue, then closes the next.
  enrich_q_.close();
  if (stage_thread_.joinable()) {
    stage_thread_.join();
  } else {
    sink_q_.close();
  }
  if (sink_thread_.joinable()) {
    sink_thread_.join();
  }
  spdlog::info("stopped capture and drained the pipeline in {} ms", ms());
  logStats();
}

AgentStats Agent::stats() const {
  return {captured_.load(std::memory_order_relaxed), delivered_.load(std::memory_order_relaxed),
          sink_errors_.load(std::memory_order_relaxed), runtime_ ? runtime_->unrouted() : 0};
}

std::vector<DropCount> Agent::drops() const {
  std::vector<DropCount> out;
  // Kernel: ring buffer full per CPU and kind; the other losses summed.
  if (auto per_cpu = runtime_->kernelCountersPerCpu()) {
    for (int c = 0; c < VIGIL_CNT_MAX; ++c) {
      if (!runtime::kernelCounterIsLoss(c)) {
        continue;
      }
      const std::string reason(runtime::kernelCounterName(c));
      if (runtime::kernelCounterIsRingFull(c)) {
        for (size_t cpu = 0; cpu < per_cpu->size(); ++cpu) {
          out.push_back({"kernel", reason, (*per_cpu)[cpu][size_t(c)], int(cpu)});
        }
      } else {
        uint64_t sum = 0;
        for (const auto& row : *per_cpu) {
          sum += row[size_t(c)];
        }
        out.push_back({"kernel", reason, sum});
      }
    }
  } else {
    spdlog::warn("kernel counters unreadable: {}", per_cpu.error().message());
  }
  uint64_t malformed = runtime_->malformed();
  for (const auto& c : collectors_) {
    malformed += c->decodeErrors();
  }
  out.push_back({"decode", "malformed", malformed});
  out.push_back({"decode", "unrouted", runtime_->unrouted()});
  out.push_back({"enrich_queue", "queue_full", enrich_q_.stats().dropped_full});
  out.push_back({"sink_queue", "queue_full", sink_q_.stats().dropped_full});
  out.push_back({"sink", "write_error", sink_errors_.load(std::memory_order_relaxed)});
  out.push_back({"shutdown", "drain_abandoned", abandoned_.load(std::memory_order_relaxed)});
  return out;
}

void Agent::logStats() const {
  const auto st = stats();
  std::string kernel;
  if (auto counters = runtime_->kernelCounters()) {
    for (int i = 0; i < VIGIL_CNT_MAX; ++i) {
      kernel += fmt::format(" {}={}", runtime::kernelCounterName(i), (*counters)[size_t(i)]);
    }
  } else {
    kernel = " unreadable: " + counters.error().message();
  }
  std::string parts;
  for (const auto& c : collectors_) {
    parts += " " + c->statsLine();
  }
  for (const auto& s : stages_) {
    parts += " " + s->statsLine();
  }
  const auto eq = enrich_q_.stats();
  const auto sq = sink_q_.stats();
  const auto pool = pool_.stats();
  std::string lost;
  uint64_t lost_total = 0;
  for (const auto& d : drops()) {
    if (d.count > 0) {
      lost += fmt::format(" {}/{}{}={}", d.stage, d.reason, d.cpu >= 0 ? fmt::format("/cpu{}", d.cpu) : "", d.count);
      lost_total += d.count;
    }
  }
  spdlog::info("stats: captured={} events={} sink_errors={} unrouted={}{} | pipeline: enrich_queue depth={}/{} max={} "
               "waits={} sink_queue depth={}/{} max={} waits={} pool_slots={} pool_reused={} heap_events={} | "
               "lost={}{} | kernel:{}",
               st.captured, st.events, st.sink_errors, st.unrouted, parts, eq.depth, eq.capacity, eq.max_depth,
               eq.producer_waits, sq.depth, sq.capacity, sq.max_depth, sq.producer_waits, pool.slots, pool.reused,
               pool.heap_events, lost_total, lost, kernel);
}

} // namespace vigil
