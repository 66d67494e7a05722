#pragma once

// The node daemon's pipeline: collectors -> enrichment (process cache) ->
// sinks, on one thread, in capture order.

#include "agent/config.h"
#include "agent/process_cache.h"
#include "collectors/network/network_collector.h"
#include "collectors/process/process_collector.h"
#include "collectors/syscall/syscall_collector.h"
#include "vigil/collector.h"
#include "vigil/sink.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

namespace vigil {

struct AgentStats {
  uint64_t events = 0; // events emitted to sinks
  uint64_t sink_errors = 0; // sink writes that failed (event lost for that sink)
  uint64_t unrouted = 0; // records of a kind no collector handles (dropped)
};

class Agent : public CollectorOutput {
public:
  // Prepares the host (mounts, memlock), loads and attaches the BPF side.
  // Fails fast with a clear message when it cannot.
  static Result<std::unique_ptr<Agent>> create(const AgentConfig& config, std::vector<EventSinkPtr> sinks);
  ~Agent() override;

  // Starts capture and reports the processes already running.
  Status start();
  // Delivers events until stop becomes true, then detaches, drains what the
  // kernel already captured, and flushes the sinks.
  Status run(const std::atomic<bool>& stop);
  // One poll round (tests drive the agent with this): waits up to timeout_ms.
  Result<int> pollOnce(int timeout_ms);
  // Detach, drain, flush. Idempotent.
  void shutdown();

  void onEvent(EventPtr event) override;
  void onExistingProcess(Process&& process) override;

  const ProcessCache& cache() const { return cache_; }
  const AgentStats& stats() const { return stats_; }
  const process::ProcessCollector& processCollector() const { return *process_; }
  // nullptr when syscall capture is disabled.
  const syscall::SyscallCollector* syscallCollector() const { return syscall_.get(); }
  // nullptr when network capture is disabled.
  network::NetworkCollector* networkCollector() { return network_.get(); }
  void logStats() const;

private:
  explicit Agent(const AgentConfig& config);
  void flushSinks();
  void periodic();
  // A record of another capture domain from the shared ring buffer.
  void routeRecord(uint16_t kind, std::span<const uint8_t> record);

  AgentConfig config_;
  std::string node_;
  std::vector<EventSinkPtr> sinks_;
  std::unique_ptr<process::ProcessCollector> process_;
  std::unique_ptr<syscall::SyscallCollector> syscall_;
  std::unique_ptr<network::NetworkCollector> network_;
  ProcessCache cache_;
  AgentStats stats_;
  uint64_t seq_ = 0;
  bool shut_down_ = false;
  std::chrono::steady_clock::time_point last_flush_;
  std::chrono::steady_clock::time_point last_stats_;
  std::chrono::steady_clock::time_point last_sweep_;
};

} // namespace vigil
