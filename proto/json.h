#pragma once

// JSON rendering of events, straight from the proto contract: proto field
// names, every field present (a 0 uid is printed, not omitted), 64-bit
// integers as strings per the proto3 JSON mapping, one line per event.

#include "vigil/event.h"
#include "vigil/status.h"

#include <string>

namespace vigil {

// Replaces out with the event's JSON line. Written by the generated writer
// (gen/vigil/v1/event.json.h, from proto/protoc-gen-vigil-json.cc), with the
// generated accessors. Map entries are in key order.
Status renderJson(const Event& event, std::string& out);

// The same line, written with protobuf reflection: the reference the
// generated writer is tested against (tests/unit/json_test.cc), byte for
// byte, errors included. Slower (bench/decode_bench.cc).
Status renderJsonReflection(const Event& event, std::string& out);

// Parses one JSON line back into an event (tests, tools).
Status parseJson(const std::string& line, Event& event);

} // namespace vigil
