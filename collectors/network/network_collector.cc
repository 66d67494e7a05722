#include "collectors/network/network_collector.h"

#include "shared/common.h"

#include <spdlog/spdlog.h>

namespace vigil::network {

NetworkCollector::NetworkCollector(const NetworkOptions& options, CollectorOutput& output,
                                   std::unique_ptr<NetworkBpf> bpf)
    : options_(options), output_(output), bpf_(std::move(bpf)), decoder_(runtime::BootClock::measure()),
      dns_cache_(DnsCache::Options{}) {}

Result<std::unique_ptr<NetworkCollector>> NetworkCollector::create(const NetworkOptions& options,
                                                                   const runtime::SharedMaps& shared,
                                                                   CollectorOutput& output) {
  auto bpf = NetworkBpf::create(options, shared);
  if (!bpf) {
    return bpf.error();
  }
  return std::unique_ptr<NetworkCollector>(new NetworkCollector(options, output, std::move(*bpf)));
}

void NetworkCollector::handleRecord(std::span<const uint8_t> record) { deliver(record, false); }

void NetworkCollector::deliver(std::span<const uint8_t> record, bool from_iterator) {
  auto event = output_.newEvent();
  auto decoded = decoder_.decode(record, *event);
  if (!decoded) {
    ++stats_.decode_errors;
    spdlog::warn("network collector: dropped record: {}", decoded.error().message());
    return;
  }
  if (decoded->dns) {
    if (decoded->dns->response) {
      dns_cache_.addResponse(decoded->netns, *decoded->dns, event->ktime_ns());
    }
    ++stats_.dns;
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
      ++stats_.named;
    }
    ++stats_.flows;
  }
  output_.onEvent(std::move(event));
}

void NetworkCollector::handleSuppressed(std::span<const uint8_t> record) {
  auto event = output_.newEvent();
  if (auto st = runtime::decodeSuppressed(decoder_.clock(), record, *event); !st) {
    ++stats_.decode_errors;
    spdlog::warn("network collector: dropped malformed record: {}", st.error().message());
    return;
  }
  stats_.suppressed += event->suppressed().count();
  output_.onEvent(std::move(event));
}

void NetworkCollector::periodic(uint64_t now_ns) {
  if (options_.rate_limit_per_second > 0) {
    stats_.suppressed += runtime::emitIdleSuppressed(
        output_, decoder_.clock(), VIGIL_EV_NET, bpf_->takeIdleFlowSuppressed(now_ns, runtime::kRateIdleNs), now_ns);
    stats_.suppressed += runtime::emitIdleSuppressed(
        output_, decoder_.clock(), VIGIL_EV_DNS, bpf_->takeIdleDnsSuppressed(now_ns, runtime::kRateIdleNs), now_ns);
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
  ++stats_.iterations;
  auto st = bpf_->iterateFlows([&](std::span<const uint8_t> record) { deliver(record, true); });
  if (!st) {
    ++stats_.iterator_errors;
    spdlog::warn("network collector: flow iterator: {}", st.error().message());
  }
}

} // namespace vigil::network
