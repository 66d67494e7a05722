#pragma once

// One entry of the agent's `outputs:` list: a sink type and its own keys,
// plus the queue that keeps it from stalling capture (docs/sinks.md). The
// keys are declared in agent/config.cc with the others; the factory
// (agent/sinks/factory.h) builds a sink from an entry.

#include "agent/pipeline/stage_queue.h"

#include <cstdint>
#include <string>

namespace vigil {

struct OutputConfig {
  std::string type; // stdout, file (the next issues add grpc, syslog)
  std::string name; // unique; defaults to the type (then type-2, ...)
  std::string source; // where it was declared ("agent.yaml:12:5", "--stdout"), for errors

  // Every sink: its own bounded queue and thread.
  uint32_t queue_capacity = 8192; // events
  // block: capture waits for this sink (lossless, a stuck sink stalls capture);
  // drop: a full queue refuses the event for this sink only, counted.
  pipeline::FullPolicy when_full = pipeline::FullPolicy::kDrop;

  // file: JSON lines, rotated by size.
  std::string path; // required for file
  uint64_t max_bytes = 100ull << 20; // rotate when the file would grow past this
  uint32_t max_files = 5; // rotated files kept (path.1 .. path.N); older ones deleted
};

} // namespace vigil
