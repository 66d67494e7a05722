#include "collectors/network/network_collector.h"

#include "shared/common.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace vigil::network {

using runtime::bump;

NetworkCollector::NetworkCollector(const NetworkOptions& options, const runtime::BootClock& clock,
                                   CollectorOutput& output, std::unique_ptr<NetworkBpf> bpf)
    : options_(options), output_(output), bpf_(std::move(bpf)), decoder_(clock), dns_cache_(DnsCache::Options{}) {}

Result<std::unique_ptr<NetworkCollector>> NetworkCollector::create(const NetworkOptions& options,
                                                                   runtime::BpfRuntime& runtime,
                                                                   CollectorOutput& output) {
  auto bpf = NetworkBpf::create(options, runtime.sharedMaps());
  if (!bpf) {
    return bpf.error();
  }
  std::unique_ptr<NetworkCollector> self(new NetworkCollector(options, runtime.clock(), output, std::move(*bpf)));
  if (auto st = runtime.registerKinds({VIGIL_EV_NET, VIGIL_EV_DNS}, *self); !st) {
    return st.error();
  }
  return self;
}

void NetworkCollector::onRecord(uint16_t kind, std::span<const uint8_t> record) {
  if (kind == VIGIL_EV_SUPPRESSED) {
    onSuppressed(record);
  } else {
    deliver(record, false);
  }
}

void NetworkCollector::deliver(std::span<const uint8_t> record, bool from_iterator) {
  auto event = output_.newEvent();
  auto decoded = decoder_.decode(record, *event);
  if (!decoded) {
    bump(stats_.decode_errors);
    spdlog::warn("network collector: dropped record: {}", decoded.error().message());
    return;
  }
  if (decoded->dns) {
    if (decoded->dns->response) {
      dns_cache_.addResponse(decoded->netns, *decoded->dns, event->ktime_ns());
    }
    bump(stats_.dns);
  } else {
    auto* flow = event->mutable_flow();
    // A live flow younger than the update interval waits for the next run
    // (or its close); UDP counters were reset by the iterator and must go.
    if (from_iterator && flow->kind() == v1::FLOW_UPDATE &&
        flow->duration().seconds() < int64_t(options_.flow_update_seconds)) {
      return;
    }
    std::string name = dns_cache_.lookup(decoded->netns, flow->remote().address(), event->ktime_ns());
    if (!name.empty()) {
      flow->set_remote_name(std::move(name));
      bump(stats_.named);
    }
    bump(stats_.flows);
  }
  output_.onEvent(std::move(event));
}

void NetworkCollector::onSuppressed(std::span<const uint8_t> record) {
  auto event = output_.newEvent();
  if (auto st = runtime::decodeSuppressed(decoder_.clock(), record, *event); !st) {
    bump(stats_.decode_errors);
    spdlog::warn("network collector: dropped malformed record: {}", st.error().message());
    return;
  }
  bump(stats_.suppressed, event->suppressed().count());
  output_.onEvent(std::move(event));
}

void NetworkCollector::periodic(uint64_t now_ns) {
  const auto ds = dns_cache_.stats();
  stats_.dns_cache_entries.store(ds.entries, std::memory_order_relaxed);
  stats_.dns_cache_hits.store(ds.hits, std::memory_order_relaxed);
  stats_.dns_cache_misses.store(ds.misses, std::memory_order_relaxed);
  stats_.dns_cache_evictions.store(ds.evictions, std::memory_order_relaxed);
  stats_.dns_cache_expired.store(ds.expired, std::memory_order_relaxed);
  if (options_.rate_limit_per_second > 0) {
    bump(stats_.suppressed,
         runtime::emitIdleSuppressed(output_, decoder_.clock(), VIGIL_EV_NET,
                                     bpf_->takeIdleFlowSuppressed(now_ns, runtime::kRateIdleNs), now_ns));
    bump(stats_.suppressed,
         runtime::emitIdleSuppressed(output_, decoder_.clock(), VIGIL_EV_DNS,
                                     bpf_->takeIdleDnsSuppressed(now_ns, runtime::kRateIdleNs), now_ns));
  }
  if (options_.flow_update_seconds == 0) {
    return;
  }
  if (last_update_ns_ == 0) {
    last_update_ns_ = now_ns;
    return;
  }
  if (now_ns - last_update_ns_ < uint64_t(options_.flow_update_seconds) * 1000000000ULL) {
    return;
  }
  last_update_ns_ = now_ns;
  reportLiveFlows();
}

void NetworkCollector::reportLiveFlows() {
  bump(stats_.iterations);
  auto st = bpf_->iterateFlows([&](std::span<const uint8_t> record) { deliver(record, true); });
  if (!st) {
    bump(stats_.iterator_errors);
    spdlog::warn("network collector: flow iterator: {}", st.error().message());
  }
}

void NetworkCollector::registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) {
  auto v = [](const std::atomic<uint64_t>& a) { return double(a.load(std::memory_order_relaxed)); };
  keep.push_back(registry.addCallback("records_total", "Records decoded, by capture domain and kind",
                                      metrics::Type::kCounter, [this, v] {
                                        return std::vector<metrics::Sample>{
                                            {{{"domain", "network"}, {"kind", "flow"}}, v(stats_.flows)},
                                            {{{"domain", "network"}, {"kind", "dns"}}, v(stats_.dns)}};
                                      }));
  keep.push_back(registry.addCallback(
      "rate_limited_total", "Records a per-cgroup rate limit dropped on purpose (reported in summaries)",
      metrics::Type::kCounter,
      [this, v] { return std::vector<metrics::Sample>{{{{"domain", "network"}}, v(stats_.suppressed)}}; }));
  keep.push_back(registry.addCallback("flows_named_total", "Flows whose remote address was named from DNS",
                                      metrics::Type::kCounter, [this, v] {
                                        return std::vector<metrics::Sample>{{{}, v(stats_.named)}};
                                      }));
  keep.push_back(registry.addCallback("dns_cache_entries", "Addresses the DNS cache can name", metrics::Type::kGauge,
                                      [this, v] {
                                        return std::vector<metrics::Sample>{{{}, v(stats_.dns_cache_entries)}};
                                      }));
  keep.push_back(registry.addCallback("dns_cache_lookups_total", "DNS cache lookups and removals, by result",
                                      metrics::Type::kCounter, [this, v] {
                                        return std::vector<metrics::Sample>{
                                            {{{"result", "hit"}}, v(stats_.dns_cache_hits)},
                                            {{{"result", "miss"}}, v(stats_.dns_cache_misses)},
                                            {{{"result", "eviction"}}, v(stats_.dns_cache_evictions)},
                                            {{{"result", "expired"}}, v(stats_.dns_cache_expired)}};
                                      }));
  keep.push_back(registry.addCallback("flow_iterator_errors_total", "Failed runs of the live flow iterator",
                                      metrics::Type::kCounter, [this, v] {
                                        return std::vector<metrics::Sample>{{{}, v(stats_.iterator_errors)}};
                                      }));
}

} // namespace vigil::network
