#pragma once

#include "vigil/event.h"
#include "vigil/status.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

namespace vigil {

// The end of the pipeline: where finished events go (stdout, file, spool, ...).
//
// In the agent every sink runs on a thread of its own behind its own bounded
// queue (agent/sinks/sink_set.h, docs/sinks.md): its methods are called on
// that thread only, one at a time, so a sink needs no locking, and a sink
// that blocks (a full pipe, a slow disk) holds up itself and nothing else.
class EventSink {
public:
  virtual ~EventSink() = default;

  virtual std::string_view name() const = 0;
  // Takes one finished event: renders it, usually into a buffer. An error
  // means this event is lost for this sink (counted: reason write_error).
  virtual Status write(const Event& event) = 0;
  // Pushes buffered output out; called when the sink's queue goes idle, at
  // least every 200 ms under load, and by close().
  virtual Status flush() = 0;
  // Flushes and releases what the sink holds (descriptors, connections).
  // Returns by the deadline: what it could not write by then is discarded
  // and the error says how much. The default flushes, which suits sinks
  // whose flush cannot block for long.
  virtual Status close(std::chrono::steady_clock::time_point deadline) {
    (void)deadline;
    return flush();
  }
  // Events write() accepted and the sink lost later (a failed flush, a close
  // past its deadline), so far. Counted as drops with reason write_error.
  virtual uint64_t discarded() const { return 0; }
  // Events write() accepted that are still in the sink's buffer. Unlike the
  // rest, any thread may call it (the set reads it when it gives up on a
  // sink stuck in a write or a flush, to count what that sink held): keep
  // it in an atomic.
  virtual uint64_t buffered() const { return 0; }
};

using EventSinkPtr = std::unique_ptr<EventSink>;

} // namespace vigil
