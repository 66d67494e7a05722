#pragma once

// The in-memory event model is the wire contract itself (proto/vigil/v1):
// events are defined once and rendered from there.

#include "vigil/v1/event.pb.h"

#include <memory>

namespace vigil {

using Event = v1::Event;
using Process = v1::Process;

// Takes back an event built in its memory when the pipeline is done with it
// (agent/pipeline/event_pool.h).
class EventRecycler {
public:
  virtual void recycle(Event* event) = 0;

protected:
  ~EventRecycler() = default;
};

// Frees an event: returns it to the pool slot it came from, or deletes it
// when it came from the heap (a std::unique_ptr<Event> converts to this).
struct EventDeleter {
  EventRecycler* owner = nullptr;

  EventDeleter() = default;
  explicit EventDeleter(EventRecycler* o) : owner(o) {}
  EventDeleter(std::default_delete<Event>) {} // NOLINT: implicit on purpose
  void operator()(Event* event) const {
    if (owner != nullptr) {
      owner->recycle(event);
    } else {
      delete event;
    }
  }
};

using EventPtr = std::unique_ptr<Event, EventDeleter>;

} // namespace vigil
