#pragma once

// JSON rendering of events, straight from the proto contract: proto field
// names, every field present (a 0 uid is printed, not omitted), 64-bit
// integers as strings per the proto3 JSON mapping, one line per event.

#include "vigil/event.h"
#include "vigil/status.h"

#include <string>

namespace vigil {

Status renderJson(const Event& event, std::string& out);

// Parses one JSON line back into an event (tests, tools).
Status parseJson(const std::string& line, Event& event);

} // namespace vigil
