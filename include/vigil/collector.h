#pragma once

#include "vigil/event.h"
#include "vigil/status.h"

#include <memory>
#include <string_view>

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

// The user side of one capture domain. Lifecycle: a static create() builds
// and loads it (failing fast on misconfiguration), start() attaches and
// reports what already exists, poll() delivers events, stop() drains what the
// kernel already captured and detaches.
class Collector {
public:
  virtual ~Collector() = default;

  virtual std::string_view name() const = 0;
  virtual Status start() = 0;
  // Waits up to timeout_ms for events and delivers them. Returns the number
  // delivered, or an error when polling itself failed.
  virtual Result<int> poll(int timeout_ms) = 0;
  virtual void stop() = 0;
};

using CollectorPtr = std::unique_ptr<Collector>;

} // namespace vigil
