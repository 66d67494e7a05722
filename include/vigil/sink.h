#pragma once

#include "vigil/event.h"
#include "vigil/status.h"

#include <memory>
#include <string_view>

namespace vigil {

// The end of the pipeline: where finished events go (stdout, file, spool, ...).
class EventSink {
public:
  virtual ~EventSink() = default;

  virtual std::string_view name() const = 0;
  // Takes one finished event. Must not block for long: the pipeline calls it
  // on its only thread.
  virtual Status write(const Event& event) = 0;
  // Pushes buffered output out; called when the pipeline is idle and at exit.
  virtual Status flush() = 0;
};

using EventSinkPtr = std::unique_ptr<EventSink>;

} // namespace vigil
