#pragma once

// Agent configuration: embedded defaults, optionally a YAML file, then
// command-line flags, in that order of precedence (docs/configuration.md).
//
// Every key is declared once, in the key table of agent/config.cc: its dotted
// name, type, default (the member's initializer below), bounds, help text and
// flag. Parsing, --set and the flags, --print-config and docs/configuration.md
// all come from that table.

#include "agent/enrich/pod_enricher.h"
#include "agent/pipeline/stage_queue.h"
#include "agent/sinks/output_config.h"
#include "collectors/network/network_bpf.h"
#include "collectors/process/process_bpf.h"
#include "collectors/syscall/syscall_bpf.h"
#include "vigil/status.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

struct AgentConfig {
  std::string node_name; // empty: $NODE_NAME (Downward API), else the host name
  std::string log_level = "info"; // trace, debug, info, warn, error
  bool libbpf_debug = false; // libbpf's debug log (verifier output) into ours
  bool report_self = false; // report the agent's own processes
  uint32_t stats_interval_seconds = 60; // log counters this often; 0 disables
  // The pid file locked while the agent runs, so that two agents never run
  // side by side on one node; empty: no lock.
  std::string instance_lock = "/run/vigil/agent.pid";

  // Where events go, each with its own queue (agent/sinks/output_config.h).
  // Empty: events are counted, not written.
  std::vector<OutputConfig> outputs;

  // The one kernel ring buffer every collector writes to.
  struct Ring {
    uint32_t buffer_bytes = 8u << 20; // power of two, at least 4096
    uint32_t wakeup_bytes = 128u << 10; // wake user space when unread data crosses this; 0: every record
  } ring;

  // hooks, snapshot, argv_max, proc_map_entries. Its ring_bytes and
  // wakeup_bytes are not configuration keys: they come from ring.
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
    // Where the stages run. threads: on a thread of their own behind the
    // stage queue; inline: on the capture thread (no queue); auto: inline,
    // which measured cheapest (bench/results/pipeline.md). Sinks always run
    // on threads of their own (outputs).
    enum class Mode { kAuto, kThreads, kInline } mode = Mode::kAuto;
    struct Queue {
      uint32_t capacity = 1024; // events
      pipeline::FullPolicy when_full = pipeline::FullPolicy::kBlock;
    };
    Queue enrich_queue; // capture -> stages (threads mode)
    uint32_t pooled_events = 2560; // events built in reused memory; beyond, from the heap
    uint32_t event_block_bytes = 2048; // memory kept per pooled event
  } pipeline;

  struct Cache {
    uint64_t max_entries = 65536;
    uint32_t ended_ttl_seconds = 30;
  } cache;
};

// Parses YAML text over base; source names it in errors, which read
// "source:line:col: key: what is wrong". Unknown, duplicate and moved keys and
// wrongly typed or out-of-bounds values are errors. Never throws.
Result<AgentConfig> parseAgentConfig(const std::string& yaml, const std::string& source,
                                     AgentConfig base = {});
// Reads and parses a file; a missing, unreadable or directory path is an
// error that says why.
Result<AgentConfig> loadAgentConfig(const std::string& path, AgentConfig base = {});

// Settings over a configuration, one key at a time (the command line): each
// goes through the key table, with the file's parsing and bounds. Checks
// across keys run in finish(), over what this layer set.
class ConfigLayer {
public:
  explicit ConfigLayer(AgentConfig base) : config_(std::move(base)) {}

  // A scalar key from text, as a file would write it. origin names the
  // setting in errors: "--argv-max: must be between 1 and 32768 (got -5)".
  Status set(std::string_view key, std::string_view value, std::string_view origin);
  // "KEY=VALUE" (--set); errors read "--set KEY: ...".
  Status assign(std::string_view assignment, std::string_view origin);
  // A stdout output (source: origin) unless the configuration has one.
  void addStdoutOutput(std::string_view origin);
  void removeStdoutOutputs();

  Result<AgentConfig> finish() &&;

private:
  friend class ConfigParser;

  AgentConfig config_;
  std::map<std::string, std::string, std::less<>> origins_; // key -> where this layer set it
};

// One key of the table, as the command line and the docs see it.
struct ConfigKeyInfo {
  std::string name; // dotted, "process.argv_max_bytes"; items of a list: "outputs[].path"
  std::string type; // "integer (bytes)", "true or false", "list of syscall names", ...
  std::string bounds; // "1 to 32768", "auto, tp_btf or tracepoint"; empty: any value of the type
  std::string default_value; // as YAML (multi-line for block lists), or words when default_is_text
  bool default_is_text = false; // "required", "the type; then type-2, ..."
  std::string flag; // "--argv-max"; empty: only in a file or with --set
  std::string value_name; // the flag's value in --help: "N", "auto|tp_btf|tracepoint"
  std::string help;
  bool is_bool = false; // a flag without a value
  bool scalar = true; // settable with --set (lists are not)
};

// Every key, in table order (outputs' item keys after outputs).
const std::vector<ConfigKeyInfo>& configKeys();

// text as a double-quoted YAML scalar (escapes quotes, backslashes, controls).
std::string yamlQuote(std::string_view text);

std::string_view pipelineModeName(AgentConfig::Pipeline::Mode mode);

// The configuration as YAML, every key present (for --print-config); it
// parses back to the same configuration.
std::string renderAgentConfig(const AgentConfig& config);

// docs/configuration.md: an introduction and every key of the table
// (vigil-agent --print-config-doc).
std::string renderConfigDoc();

// The node name stamped on events: config.node_name, else $NODE_NAME (the
// Downward API's spec.nodeName), else the host name.
std::string effectiveNodeName(const AgentConfig& config);

} // namespace vigil
