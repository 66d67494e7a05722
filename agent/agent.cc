#include "agent/agent.h"

#include "agent/loader/bpf_env.h"

#include <spdlog/spdlog.h>

#include "collectors/syscall/syscall_table.h"

#include <algorithm>
#include <ctime>
#include <unistd.h>

namespace vigil {
namespace {

std::string hostName() {
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

} // namespace

Agent::Agent(const AgentConfig& config)
    : config_(config), node_(config.node_name.empty() ? hostName() : config.node_name),
      cache_(ProcessCacheOptions{config.cache.max_entries, uint64_t(config.cache.ended_ttl_seconds) * 1000000000ULL}) {
}

Agent::~Agent() { shutdown(); }

Result<std::unique_ptr<Agent>> Agent::create(const AgentConfig& config, std::vector<EventSinkPtr> sinks) {
  std::unique_ptr<Agent> agent(new Agent(config));
  agent->sinks_ = std::move(sinks);

  loader::routeLibbpfLogToSpdlog(config.libbpf_debug);
  auto env = loader::prepareBpfEnvironment();
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
  loader::SharedMaps shared{pbpf.ringFd(), pbpf.countersFd(), pbpf.procsFd(), options.wakeup_bytes};
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
  auto now = std::chrono::steady_clock::now();
  last_flush_ = last_stats_ = last_sweep_ = now;
  if (auto st = process_->start(); !st) {
    return st.error().wrap("process collector");
  }
  cache_.finishSnapshot();
  spdlog::info("agent on node '{}' capturing; {} processes known at start", node_, cache_.stats().entries);
  return okStatus();
}

void Agent::onExistingProcess(Process&& process) { cache_.addExisting(std::move(process)); }

void Agent::routeRecord(uint16_t kind, std::span<const uint8_t> record) {
  if ((kind == VIGIL_EV_SYSCALL || kind == VIGIL_EV_SUPPRESSED) && syscall_) {
    syscall_->handleRecord(kind, record);
  } else if ((kind == VIGIL_EV_NET || kind == VIGIL_EV_DNS) && network_) {
    network_->handleRecord(record);
  } else {
    ++stats_.unrouted;
    spdlog::warn("dropped a record of kind {}: no collector for it", kind);
  }
}

void Agent::onEvent(EventPtr event) {
  event->set_node(node_);
  event->set_seq(++seq_);
  cache_.enrich(*event);
  ++stats_.events;
  for (auto& sink : sinks_) {
    if (auto st = sink->write(*event); !st) {
      ++stats_.sink_errors;
      spdlog::warn("sink {}: {}", sink->name(), st.error().message());
    }
  }
}

void Agent::flushSinks() {
  for (auto& sink : sinks_) {
    if (auto st = sink->flush(); !st) {
      ++stats_.sink_errors;
      spdlog::warn("sink {}: {}", sink->name(), st.error().message());
    }
  }
  last_flush_ = std::chrono::steady_clock::now();
}

void Agent::periodic() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_flush_ >= kFlushEvery) {
    flushSinks();
  }
  const uint64_t boot_now = bootNowNs();
  if (network_) {
    network_->periodic(boot_now);
  }
  if (syscall_) {
    syscall_->periodic(boot_now);
  }
  if (now - last_sweep_ >= kSweepEvery) {
    cache_.sweep(boot_now);
    last_sweep_ = now;
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
  if (*n == 0) {
    flushSinks();
  }
  periodic();
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
  flushSinks();
  logStats();
}

void Agent::logStats() const {
  const auto& ps = process_->stats();
  auto cs = cache_.stats();
  std::string kernel;
  if (auto counters = process_->kernelCounters()) {
    for (int i = 0; i < VIGIL_CNT_MAX; ++i) {
      kernel += fmt::format(" {}={}", loader::kernelCounterName(i), (*counters)[size_t(i)]);
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
  spdlog::info("stats: events={} sink_errors={} unrouted={} exec={} fork={} exit={} snapshot={} decode_errors={}{}{} "
               "cache_entries={} cache_evicted={} parent_misses={} | kernel:{}",
               stats_.events, stats_.sink_errors, stats_.unrouted, ps.records[0], ps.records[1], ps.records[2],
               ps.records[3], ps.decode_errors, sys, net, cs.entries, cs.evicted, cs.parent_misses, kernel);
}

} // namespace vigil
