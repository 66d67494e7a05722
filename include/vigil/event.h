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

// The process and the parent an event's body is about (exec, fork, exit,
// syscall, flow, dns); nullptr where the event has none (a body without
// processes, or a parent the agent does not know). Creates nothing.
struct BodyProcesses {
  Process* process = nullptr;
  Process* parent = nullptr;
};

inline BodyProcesses bodyProcesses(Event& e) {
  auto of = [](auto* body) {
    return BodyProcesses{body->has_process() ? body->mutable_process() : nullptr,
                         body->has_parent() ? body->mutable_parent() : nullptr};
  };
  switch (e.body_case()) {
  case Event::kExec:
    return of(e.mutable_exec());
  case Event::kFork:
    return of(e.mutable_fork());
  case Event::kExit:
    return of(e.mutable_exit());
  case Event::kSyscall:
    return of(e.mutable_syscall());
  case Event::kFlow:
    return of(e.mutable_flow());
  case Event::kDns:
    return of(e.mutable_dns());
  default:
    return {};
  }
}

} // namespace vigil
