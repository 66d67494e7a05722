#pragma once

// Agent configuration: embedded defaults, optionally a YAML file, then
// command-line flags, in that order of precedence (docs/configuration.md).

#include "agent/enrich/pod_enricher.h"
#include "agent/pipeline/stage_queue.h"
#include "collectors/network/network_bpf.h"
#include "collectors/process/process_bpf.h"
#include "collectors/syscall/syscall_bpf.h"
#include "vigil/status.h"

#include <cstdint>
#include <string>

namespace vigil {

struct AgentConfig {
  std::string node_name; // empty: $NODE_NAME (Downward API), else the host name
  std::string log_level = "info"; // trace, debug, info, warn, error
  bool libbpf_debug = false; // libbpf's debug log (verifier output) into ours
  bool report_self = false; // report the agent's own processes
  uint32_t stats_interval_seconds = 60; // log counters this often; 0 disables

  struct Output {
    bool stdout_json = false; // one JSON object per event per line on stdout
  } output;

  process::ProcessBpfOptions process;

  // syscalls.* and files.watch (the watched path prefixes).
  syscall::SyscallOptions syscalls = syscall::defaultOptions();

  network::NetworkOptions network;

  // Enrichment beyond the process and its parent (docs/enrichment.md).
  struct Enrich {
    uint32_t ancestors = 0; // ancestors beyond the parent added to every event (0: none; max 64)
    enrich::PodEnricherOptions pods; // containers, cri_endpoint, pod_wait_ms
  } enrich;

  // The queues between the stages and the event memory (docs/pipeline.md).
  struct Pipeline {
    // threads: capture, enrichment and sinks each on a thread, joined by the
    // queues; sink_thread: capture and enrichment on one thread, sinks on
    // another; inline: all on the capture thread (no queues); auto: inline,
    // which measured cheapest (bench/results/pipeline.md).
    enum class Mode { kAuto, kThreads, kSinkThread, kInline } mode = Mode::kAuto;
    struct Queue {
      uint32_t capacity = 1024; // events
      pipeline::FullPolicy when_full = pipeline::FullPolicy::kBlock;
    };
    Queue enrich_queue; // decode -> enrichment
    Queue sink_queue; // enrichment -> sinks
    uint32_t pooled_events = 2560; // events built in reused memory; beyond, from the heap
    uint32_t event_block_bytes = 2048; // memory kept per pooled event
  } pipeline;

  struct Cache {
    uint64_t max_entries = 65536;
    uint32_t ended_ttl_seconds = 30;
  } cache;
};

// Parses YAML text; source names it in errors ("agent.yaml:12:3: ...").
// Unknown keys and wrongly typed values are errors.
Result<AgentConfig> parseAgentConfig(const std::string& yaml, const std::string& source,
                                     AgentConfig base = {});
Result<AgentConfig> loadAgentConfig(const std::string& path, AgentConfig base = {});

// text as a double-quoted YAML scalar (escapes quotes, backslashes, controls).
std::string yamlQuote(std::string_view text);

std::string_view pipelineModeName(AgentConfig::Pipeline::Mode mode);

// The configuration as YAML, every key present (for --print-config).
std::string renderAgentConfig(const AgentConfig& config);

} // namespace vigil
