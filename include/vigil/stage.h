#pragma once

// A step of the agent's pipeline between capture and the sinks: enrichment
// today, policy next. Stages run in a chain on one thread (the capture
// thread, or the enrich thread with pipeline.mode threads). A stage takes
// events in capture order and hands on the ones it finished, in that same
// order; it may hold events for a while (and then every event after them),
// and must give everything back at flush().

#include "vigil/event.h"
#include "vigil/metrics.h"

#include <cstdint>
#include <string>
#include <memory>
#include <string_view>
#include <vector>

namespace vigil {

// Where a stage hands finished events: the next stage, or the sinks.
class StageOutput {
public:
  virtual ~StageOutput() = default;
  virtual void emit(EventPtr event) = 0;
};

class Stage {
public:
  virtual ~Stage() = default;

  virtual std::string_view name() const = 0;
  // Takes events[0..n) (in capture order; the stage owns them now) and
  // emits each to next when it is done with it.
  virtual void process(EventPtr* events, size_t n, StageOutput& next) = 0;
  // Timers, called at least every ~100 ms and after every batch: held
  // events whose wait is over leave here.
  virtual void periodic(StageOutput& next) {}
  // Emits everything still held (shutdown).
  virtual void flush(StageOutput& next) {}
  // True while the stage holds events (its thread should look again soon).
  virtual bool holding() const { return false; }
  // Puts this stage's counters in the agent's registry (callbacks kept
  // alive in keep).
  virtual void registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) {}
};

using StagePtr = std::unique_ptr<Stage>;

} // namespace vigil
