#pragma once

// The in-memory event model is the wire contract itself (proto/vigil/v1):
// events are defined once and rendered from there.

#include "vigil/v1/event.pb.h"

#include <memory>

namespace vigil {

using Event = v1::Event;
using EventPtr = std::unique_ptr<Event>;
using Process = v1::Process;

} // namespace vigil
