#pragma once

// Network flow collector: loads its programs into the node's BPF runtime,
// decodes the flow and DNS records (and their rate limits' summaries) the
// runtime dispatches to it, names remote addresses from the DNS answers it
// saw, and runs the flow iterator for interim updates.

#include "collectors/network/decoder.h"
#include "collectors/network/dns.h"
#include "collectors/network/network_bpf.h"
#include "collectors/runtime/bpf_runtime.h"
#include "vigil/collector.h"

#include <memory>
#include <span>

namespace vigil::network {

// Written by the capture thread, read by any (relaxed atomics).
struct NetworkCollectorStats {
  std::atomic<uint64_t> flows{0}; // flow events delivered
  std::atomic<uint64_t> dns{0}; // DNS events delivered
  std::atomic<uint64_t> decode_errors{0}; // malformed records or DNS payloads (dropped, counted)
  std::atomic<uint64_t> named{0}; // flows whose remote address was named from DNS
  std::atomic<uint64_t> iterations{0}; // flow iterator runs
  std::atomic<uint64_t> iterator_errors{0};
  std::atomic<uint64_t> suppressed{0}; // flow and DNS records dropped by the rate limit (reported in summaries)
  // The DNS cache's, copied on the capture thread every poll round.
  std::atomic<uint64_t> dns_cache_entries{0}, dns_cache_hits{0}, dns_cache_misses{0}, dns_cache_evictions{0},
      dns_cache_expired{0};
};

class NetworkCollector : public Collector, public runtime::RecordHandler {
public:
  static Result<std::unique_ptr<NetworkCollector>> create(const NetworkOptions& options,
                                                          runtime::BpfRuntime& runtime, CollectorOutput& output);

  std::string_view name() const override { return "network"; }
  Status start() override { return okStatus(); } // attached at load
  // A VIGIL_EV_NET or VIGIL_EV_DNS record, or a VIGIL_EV_SUPPRESSED record
  // of a flow or DNS rate limit, from the shared ring buffer.
  void onRecord(uint16_t kind, std::span<const uint8_t> record) override;
  // Runs the flow iterator when the update interval has passed. now_ns:
  // CLOCK_BOOTTIME.
  void periodic(uint64_t now_ns) override;
  // Reports every live flow's counters now.
  void reportLiveFlows();
  void detach() override { bpf_->detach(); }
  uint64_t decodeErrors() const override { return stats_.decode_errors.load(std::memory_order_relaxed); }
  void registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) override;

  const NetworkCollectorStats& stats() const { return stats_; }
  DnsCache::Stats dnsCacheStats() const { return dns_cache_.stats(); }

private:
  NetworkCollector(const NetworkOptions& options, const runtime::BootClock& clock, CollectorOutput& output,
                   std::unique_ptr<NetworkBpf> bpf);
  void onSuppressed(std::span<const uint8_t> record);
  void deliver(std::span<const uint8_t> record, bool from_iterator);

  NetworkOptions options_;
  CollectorOutput& output_;
  std::unique_ptr<NetworkBpf> bpf_;
  Decoder decoder_;
  DnsCache dns_cache_;
  NetworkCollectorStats stats_;
  uint64_t last_update_ns_ = 0;
};

} // namespace vigil::network
