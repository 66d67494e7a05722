#include "agent/agent.h"

#include "collectors/runtime/bpf_env.h"

#include <spdlog/spdlog.h>

#include "collectors/syscall/syscall_table.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <optional>
#include <unistd.h>

namespace vigil {
namespace {

// config, then $NODE_NAME (the Downward API's spec.nodeName), then the host name.
std::string nodeName(const std::string& configured) {
  if (!configured.empty()) {
    return configured;
  }
  if (const char* env = std::getenv("NODE_NAME"); env && *env) {
    return env;
  }
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) {
    return "unknown";
  }
  return buf;
}

uint64_t bootNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

constexpr auto kFlushEvery = std::chrono::milliseconds(200);
// Upper bound on delivery latency when the kernel side does not wake us
// (fewer than process.wakeup_bytes unread).
constexpr int kPollTimeoutMs = 50;
constexpr auto kSweepEvery = std::chrono::seconds(5);
// A stage thread's longest sleep: bounds how late its periodic work runs.
constexpr int kStageWaitMs = 100;
// Events a stage takes from its queue at once.
constexpr size_t kBatch = 256;
// Events held for pod metadata beyond this many leave without it.
constexpr size_t kMaxHeld = 4096;

} // namespace

Agent::Agent(const AgentConfig& config)
    : config_(config), node_(nodeName(config.node_name)),
      pool_(config.pipeline.pooled_events, config.pipeline.event_block_bytes),
      enrich_q_(config.pipeline.enrich_queue.capacity, config.pipeline.enrich_queue.when_full),
      sink_q_(config.pipeline.sink_queue.capacity, config.pipeline.sink_queue.when_full),
      cache_(ProcessCacheOptions{config.cache.max_entries, uint64_t(config.cache.ended_ttl_seconds) * 1000000000ULL}),
      pods_(config.enrich.pods, runtime::cgroup2Mount(), [this] { enrich_q_.publish(); }),
      enrich_thread_on_(config.pipeline.mode == AgentConfig::Pipeline::Mode::kThreads),
      sink_thread_on_(config.pipeline.mode == AgentConfig::Pipeline::Mode::kThreads ||
                      config.pipeline.mode == AgentConfig::Pipeline::Mode::kSinkThread) {}

Agent::~Agent() { shutdown(); }

Result<std::unique_ptr<Agent>> Agent::create(const AgentConfig& config, std::vector<EventSinkPtr> sinks) {
  std::unique_ptr<Agent> agent(new Agent(config));
  agent->sinks_ = std::move(sinks);

  runtime::routeLibbpfLogToSpdlog(config.libbpf_debug);
  auto env = runtime::prepareBpfEnvironment();
  if (!env) {
    return env.error();
  }

  process::ProcessBpfOptions options = config.process;
  options.self_tgid = config.report_self ? 0 : uint32_t(getpid());
  auto collector = process::ProcessCollector::create(options, *agent);
  if (!collector) {
    return collector.error().wrap("process collector");
  }
  agent->process_ = std::move(*collector);

  const auto& pbpf = agent->process_->bpf();
  runtime::SharedMaps shared{pbpf.ringFd(), pbpf.countersFd(), pbpf.procsFd(), options.wakeup_bytes};
  if (config.syscalls.enabled) {
    syscall::SyscallOptions sys = config.syscalls;
    sys.self_tgid = options.self_tgid;
    auto sc = syscall::SyscallCollector::create(sys, shared, *agent);
    if (!sc) {
      return sc.error().wrap("syscall collector");
    }
    agent->syscall_ = std::move(*sc);
  }
  if (config.network.enabled) {
    network::NetworkOptions net = config.network;
    net.self_tgid = options.self_tgid;
    auto nc = network::NetworkCollector::create(net, shared, *agent);
    if (!nc) {
      return nc.error().wrap("network collector");
    }
    agent->network_ = std::move(*nc);
  }
  Agent* self = agent.get();
  agent->process_->setOtherRecordHandler(
      [self](uint16_t kind, std::span<const uint8_t> r) { self->routeRecord(kind, r); });
  return agent;
}

Status Agent::start() {
  last_stats_ = std::chrono::steady_clock::now();
  if (auto st = process_->start(); !st) {
    return st.error().wrap("process collector");
  }
  cache_.finishSnapshot(); // before the enrich thread exists: no lock needed
  pods_.start();
  last_sweep_ = last_flush_ = std::chrono::steady_clock::now();
  if (enrich_thread_on_) {
    enrich_thread_ = std::thread([this] { enrichLoop(); });
  }
  if (sink_thread_on_) {
    sink_thread_ = std::thread([this] { sinkLoop(); });
  }
  spdlog::info("agent on node '{}' capturing; {} processes known at start; pipeline: {}", node_,
               cache_.stats().entries,
               enrich_thread_on_ ? "capture, enrich and sink threads"
               : sink_thread_on_ ? "capture and enrichment on one thread, sinks on another"
                                 : "inline (one thread)");
  return okStatus();
}

void Agent::onExistingProcess(Process&& process) { cache_.addExisting(std::move(process)); }

void Agent::routeRecord(uint16_t kind, std::span<const uint8_t> record) {
  if (kind == VIGIL_EV_SUPPRESSED) {
    // A rate limit's summary goes to the collector of what it dropped.
    uint32_t dropped = 0;
    if (record.size() == sizeof(vigil_suppressed_event)) {
      std::memcpy(&dropped, record.data() + offsetof(vigil_suppressed_event, kind), sizeof(dropped));
    }
    if ((dropped == VIGIL_EV_NET || dropped == VIGIL_EV_DNS) && network_) {
      network_->handleSuppressed(record);
      return;
    }
    if (dropped == VIGIL_EV_SYSCALL && syscall_) {
      syscall_->handleRecord(kind, record);
      return;
    }
  } else if (kind == VIGIL_EV_SYSCALL && syscall_) {
    syscall_->handleRecord(kind, record);
    return;
  } else if ((kind == VIGIL_EV_NET || kind == VIGIL_EV_DNS) && network_) {
    network_->handleRecord(record);
    return;
  }
  unrouted_.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("dropped a record of kind {}: no collector for it", kind);
}

// Capture stage: stamps the event and hands it to enrichment. The sequence
// number is given here, so a loss at any later stage shows as a gap.
void Agent::onEvent(EventPtr event) {
  event->set_node(node_);
  event->set_seq(++seq_);
  captured_.fetch_add(1, std::memory_order_relaxed);
  if (enrich_thread_on_) {
    pushOwned(enrich_q_, event);
    return;
  }
  QueuedEvent one = toQueued(event);
  (void)event.release();
  enrichBatch(&one, 1);
}

void Agent::pushOwned(pipeline::StageQueue<QueuedEvent>& q, EventPtr& e) {
  if (q.push(toQueued(e))) {
    (void)e.release(); // the queue's now
  }
}

void Agent::addAncestors(Event& event) const {
  const Process* proc = bodyProcesses(event).process;
  if (proc == nullptr || proc->exec_id().empty()) {
    return;
  }
  auto chain = cache_.ancestors(proc->exec_id(), config_.enrich.ancestors + 1);
  for (size_t i = 1; i < chain.size(); ++i) { // [0] is the parent, already there
    *event.add_ancestors() = *chain[i];
  }
}

// Events wait here (in order) while a container's metadata is on its way.
void Agent::releaseHeld(bool all) {
  if (held_.empty()) {
    return; // nearly always: no clock read per batch
  }
  auto now = std::chrono::steady_clock::now();
  while (!held_.empty()) {
    Held& h = held_.front();
    bool final = all || now >= h.deadline || held_.size() > kMaxHeld;
    if (!pods_.fill(*h.event.event, final)) {
      return;
    }
    EventPtr event = fromQueued(h.event);
    held_.pop_front();
    toSinks(event);
  }
}

// The enrich stage for a batch of events (taken over from the caller).
void Agent::enrichBatch(QueuedEvent* batch, size_t n) {
  if (n > 0) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    for (size_t i = 0; i < n; ++i) {
      cache_.enrich(*batch[i].event);
      if (config_.enrich.ancestors > 0) {
        addAncestors(*batch[i].event);
      }
    }
  }
  releaseHeld(false);
  const auto wait = std::chrono::milliseconds(config_.enrich.pods.pod_wait_ms);
  std::optional<std::chrono::steady_clock::time_point> now; // read once, and only to hold an event
  for (size_t i = 0; i < n; ++i) {
    EventPtr event = fromQueued(batch[i]);
    // Behind a held event, every event waits its turn (order is kept).
    if (held_.empty() && pods_.fill(*event, wait.count() == 0)) {
      toSinks(event);
    } else {
      if (!now) {
        now = std::chrono::steady_clock::now();
      }
      held_.push_back({toQueued(event), *now + wait});
      (void)event.release();
    }
  }
}

// The enrich stage's timer: the process cache sweep.
void Agent::enrichPeriodic() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_sweep_ >= kSweepEvery) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    cache_.sweep(bootNowNs());
    last_sweep_ = now;
  }
}

void Agent::toSinks(EventPtr& event) {
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

void Agent::enrichLoop() {
  QueuedEvent batch[kBatch];
  for (;;) {
    size_t n = enrich_q_.popBatch(batch, kBatch);
    enrichBatch(batch, n);
    sink_q_.publish();
    enrichPeriodic();
    if (n == 0) {
      if (enrich_q_.drained()) {
        break;
      }
      // Holding events: look again soon (metadata arrival also wakes us).
      enrich_q_.waitForData(held_.empty() ? kStageWaitMs : 5);
    }
  }
  releaseHeld(true);
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
  auto now = std::chrono::steady_clock::now();
  const uint64_t boot_now = bootNowNs();
  if (network_) {
    network_->periodic(boot_now);
  }
  if (syscall_) {
    syscall_->periodic(boot_now);
  }
  if (config_.stats_interval_seconds > 0 &&
      now - last_stats_ >= std::chrono::seconds(config_.stats_interval_seconds)) {
    logStats();
    last_stats_ = now;
  }
}

Result<int> Agent::pollOnce(int timeout_ms) {
  auto n = process_->poll(timeout_ms);
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
  if (enrich_thread_on_) {
    enrich_q_.publish(); // one wakeup of the enrich thread per poll round
    return n;
  }
  releaseHeld(false);
  enrichPeriodic();
  if (sink_thread_on_) {
    sink_q_.publish(); // one wakeup of the sink thread per poll round
  } else {
    sinkPeriodic(*n == 0);
  }
  return n;
}

Status Agent::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    auto n = pollOnce(kPollTimeoutMs);
    if (!n) {
      shutdown();
      return n.error();
    }
  }
  shutdown();
  return okStatus();
}

void Agent::shutdown() {
  if (shut_down_ || !process_) {
    return;
  }
  shut_down_ = true;
  auto t0 = std::chrono::steady_clock::now();
  auto ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  };
  // Detached before the drain, so the drain is the end.
  if (syscall_) {
    syscall_->detach();
    spdlog::debug("syscall hooks detached after {} ms", ms());
  }
  if (network_) {
    network_->detach();
    spdlog::debug("network hooks detached after {} ms", ms());
  }
  process_->stop();
  spdlog::debug("process hooks detached and ring drained after {} ms", ms());
  pods_.stop(); // held events leave with what is known
  if (!enrich_thread_on_) {
    releaseHeld(true);
  }
  if (!sink_thread_on_) {
    flushSinks();
  }
  // Each stage drains its queue, then closes the next.
  enrich_q_.close();
  if (enrich_thread_.joinable()) {
    enrich_thread_.join();
  } else {
    sink_q_.close();
  }
  if (sink_thread_.joinable()) {
    sink_thread_.join();
  }
  spdlog::debug("pipeline drained after {} ms", ms());
  logStats();
}

std::vector<Process> Agent::ancestors(const std::string& exec_id) const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  std::vector<Process> out;
  for (const Process* p : cache_.ancestors(exec_id)) {
    out.push_back(*p);
  }
  return out;
}

ProcessCacheStats Agent::cacheStats() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return cache_.stats();
}

AgentStats Agent::stats() const {
  return {captured_.load(std::memory_order_relaxed), delivered_.load(std::memory_order_relaxed),
          sink_errors_.load(std::memory_order_relaxed), unrouted_.load(std::memory_order_relaxed)};
}

std::vector<DropCount> Agent::drops() const {
  std::vector<DropCount> out;
  // Kernel: ring buffer full per CPU and kind; the other losses summed.
  if (auto per_cpu = runtime::readKernelCountersPerCpu(process_->bpf().countersFd())) {
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
  uint64_t malformed = process_->stats().decode_errors;
  if (syscall_) {
    malformed += syscall_->stats().decode_errors;
  }
  if (network_) {
    malformed += network_->stats().decode_errors;
  }
  out.push_back({"decode", "malformed", malformed});
  out.push_back({"decode", "unrouted", unrouted_.load(std::memory_order_relaxed)});
  out.push_back({"enrich_queue", "queue_full", enrich_q_.stats().dropped_full});
  out.push_back({"sink_queue", "queue_full", sink_q_.stats().dropped_full});
  out.push_back({"sink", "write_error", sink_errors_.load(std::memory_order_relaxed)});
  return out;
}

void Agent::logStats() const {
  const auto& ps = process_->stats();
  auto cs = cacheStats();
  const auto st = stats();
  std::string kernel;
  if (auto counters = process_->kernelCounters()) {
    for (int i = 0; i < VIGIL_CNT_MAX; ++i) {
      kernel += fmt::format(" {}={}", runtime::kernelCounterName(i), (*counters)[size_t(i)]);
    }
  } else {
    kernel = " unreadable: " + counters.error().message();
  }
  std::string sys;
  if (syscall_) {
    const auto& ss = syscall_->stats();
    sys = fmt::format(" syscall={} syscall_decode_errors={} syscall_rate_limited={}", ss.records, ss.decode_errors,
                      ss.suppressed);
    if (auto counts = syscall_->counts()) {
      // The busiest (cgroup, syscall) pairs; all of them become metrics.
      std::vector<std::pair<uint64_t, std::pair<uint64_t, uint32_t>>> top;
      for (const auto& [key, n] : *counts) {
        top.push_back({n, key});
      }
      std::sort(top.begin(), top.end(), std::greater<>());
      sys += fmt::format(" syscall_counters={}", counts->size());
      for (size_t i = 0; i < top.size() && i < 5; ++i) {
        sys += fmt::format(" {}@cgroup{}={}", syscall::syscallName(top[i].second.second), top[i].second.first,
                           top[i].first);
      }
    }
  }
  std::string net;
  if (network_) {
    const auto& ns = network_->stats();
    auto ds = network_->dnsCacheStats();
    net = fmt::format(" flows={} dns={} net_decode_errors={} flows_named={} dns_cache_entries={} dns_cache_evicted={}",
                      ns.flows, ns.dns, ns.decode_errors, ns.named, ds.entries, ds.evictions);
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
  std::string pods;
  if (config_.enrich.pods.containers) {
    const auto es = pods_.stats();
    const auto cg = pods_.cgroupStats();
    pods = fmt::format(" container_events={} pod_metadata_missing={} cgroups_unresolved={} cgroup_rescans={}",
                       es.container_events, es.metadata_missing, es.unresolved_cgroups, cg.rescans);
    if (const auto* pc = pods_.podCache()) {
      const auto p = pc->stats();
      pods += fmt::format(" pod_cache_entries={} pod_cache_hits={} pod_cache_misses={} pod_cache_evictions={} "
                          "cri_fetches={} cri_errors={} cri_up={}",
                          p.entries, p.hits, p.misses, p.evictions, p.fetches, p.fetch_errors, p.runtime_up);
    }
  }
  spdlog::info("stats: captured={} events={} sink_errors={} unrouted={} exec={} fork={} exit={} snapshot={} "
               "decode_errors={}{}{}{} cache_entries={} cache_evicted={} parent_misses={} | pipeline: enrich_queue "
               "depth={}/{} max={} waits={} sink_queue depth={}/{} max={} waits={} pool_slots={} pool_reused={} "
               "heap_events={} | lost={}{} | kernel:{}",
               st.captured, st.events, st.sink_errors, st.unrouted, ps.records[0], ps.records[1], ps.records[2],
               ps.records[3], ps.decode_errors, sys, net, pods, cs.entries, cs.evicted, cs.parent_misses, eq.depth,
               eq.capacity, eq.max_depth, eq.producer_waits, sq.depth, sq.capacity, sq.max_depth, sq.producer_waits,
               pool.slots, pool.reused, pool.heap_events, lost_total, lost, kernel);
}

} // namespace vigil
