#pragma once

// Network flow collector: owns the BPF side (NetworkBpf), decodes its
// records (which arrive in the ring buffer shared with the process
// collector), names remote addresses from the DNS answers it saw, and runs
// the flow iterator for interim updates.

#include "collectors/network/decoder.h"
#include "collectors/network/dns.h"
#include "collectors/network/network_bpf.h"
#include "vigil/collector.h"

#include <memory>
#include <span>

namespace vigil::network {

struct NetworkCollectorStats {
  uint64_t flows = 0; // flow events delivered
  uint64_t dns = 0; // DNS events delivered
  uint64_t decode_errors = 0; // malformed records or DNS payloads (dropped, counted)
  uint64_t named = 0; // flows whose remote address was named from DNS
  uint64_t iterations = 0; // flow iterator runs
  uint64_t iterator_errors = 0;
  uint64_t suppressed = 0; // flow and DNS records dropped by the rate limit (reported in summaries)
};

class NetworkCollector {
public:
  static Result<std::unique_ptr<NetworkCollector>> create(const NetworkOptions& options,
                                                          const runtime::SharedMaps& shared, CollectorOutput& output);

  std::string_view name() const { return "network"; }
  // One VIGIL_EV_NET or VIGIL_EV_DNS record from the shared ring buffer.
  void handleRecord(std::span<const uint8_t> record);
  // A VIGIL_EV_SUPPRESSED record of a flow or DNS rate limit.
  void handleSuppressed(std::span<const uint8_t> record);
  // Runs the flow iterator when the update interval has passed. now_ns:
  // CLOCK_BOOTTIME.
  void periodic(uint64_t now_ns);
  // Reports every live flow's counters now.
  void reportLiveFlows();
  void detach() { bpf_->detach(); }

  const NetworkCollectorStats& stats() const { return stats_; }
  DnsCache::Stats dnsCacheStats() const { return dns_cache_.stats(); }

private:
  NetworkCollector(const NetworkOptions& options, CollectorOutput& output, std::unique_ptr<NetworkBpf> bpf);
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
