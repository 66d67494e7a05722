#pragma once

// One entry of the agent's `outputs:` list: a sink type and its own keys,
// plus the queue that keeps it from stalling capture (docs/sinks.md). The
// keys are declared in agent/config.cc with the others; the factory
// (agent/sinks/factory.h) builds a sink from an entry.

#include "agent/pipeline/stage_queue.h"
#include "vigil/metrics.h"

#include <cstdint>
#include <string>
#include <vector>

namespace vigil {

struct OutputConfig {
  std::string type; // stdout, file, grpc (the next issues add syslog)
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

  // grpc: the audit log to the central collector, through the durable spool
  // (docs/export.md).
  std::vector<std::string> endpoints; // host:port, tried in order (failover)
  std::string tls_ca; // CA bundle the collector's certificate must chain to; empty: plaintext (loopback only)
  std::string tls_cert; // this node's client certificate (mutual TLS)
  std::string tls_key;
  std::string tls_server_name; // the name the collector's certificate must carry; empty: the endpoint's host
  std::string spool_dir = "/var/lib/vigil/spool";
  uint64_t spool_max_bytes = 1ull << 30; // oldest segments dropped (and counted) beyond this
  uint32_t batch_max_events = 1000; // events per batch
  uint32_t batch_interval_ms = 200; // the longest a written event waits to be sent
  uint32_t max_in_flight = 8; // batches sent and not yet acknowledged
  std::string compression = "gzip"; // gzip or none

  // Set by the agent, not configuration keys: the node's name (stamped in
  // batches and spool segments) and the metrics registry (never null when
  // the agent builds sinks).
  std::string node;
  metrics::Registry* registry = nullptr;
};

} // namespace vigil
