#pragma once

#include "vigil/event.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

// Receives what a collector decoded, in capture order, on the collector's
// polling thread.
class CollectorOutput {
public:
  virtual ~CollectorOutput() = default;

  // An empty event for the collector to fill (pooled memory in the agent).
  virtual EventPtr newEvent() { return EventPtr(new Event()); }
  // A live event from the kernel.
  virtual void onEvent(EventPtr event) = 0;
  // A process that was already running when the collector started.
  virtual void onExistingProcess(Process&& process) = 0;
};

// The user side of one capture domain (process, syscall, network, ...).
// Lifecycle: the domain's create() loads its programs into the node's BPF
// runtime and registers the record kinds it decodes; start() attaches and
// reports what already exists; records then arrive through the runtime's
// dispatch on the capture thread and leave as events through the
// CollectorOutput; detach() stops capture (what is in the ring is still
// delivered when the runtime drains it). Adding a domain adds a collector
// and its registration (agent/collectors.cc), never a branch in the agent.
class Collector {
public:
  virtual ~Collector() = default;

  virtual std::string_view name() const = 0;
  virtual Status start() = 0;
  // The domain's timers, on the capture thread. now_ns: CLOCK_BOOTTIME.
  virtual void periodic(uint64_t now_ns) {}
  virtual void detach() = 0;
  // Records of this domain dropped as malformed so far. Any thread.
  virtual uint64_t decodeErrors() const = 0;
  // How it runs, for health and the start log ("hooks: tp_btf").
  virtual std::string detail() const { return {}; }
  // Puts this domain's counters in the agent's registry (callbacks over
  // its own atomics are kept alive in keep).
  virtual void registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) {}
};

using CollectorPtr = std::unique_ptr<Collector>;

} // namespace vigil
