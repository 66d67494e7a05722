#pragma once

// The capture domains this agent can run, as data: a name, whether the
// configuration turns it on, and how to build its collector on the node's
// BPF runtime. Adding a domain adds a row here (and its config section),
// never a branch in the Agent.

#include "agent/config.h"
#include "collectors/runtime/bpf_runtime.h"
#include "vigil/collector.h"

#include <cstdint>
#include <span>
#include <string_view>

namespace vigil {

struct CaptureDomain {
  std::string_view name;
  bool (*enabled)(const AgentConfig& config);
  // The capabilities it cannot run without (beyond CAP_BPF and
  // CAP_PERFMON, which every domain needs), and why, for the line that
  // turns it off when one is missing.
  uint64_t needs; // bit n: capability n (1ull << CAP_NET_ADMIN)
  std::string_view needs_why;
  // self_tgid: the process capture must not report (0: report everything).
  Result<CollectorPtr> (*create)(const AgentConfig& config, uint32_t self_tgid, runtime::BpfRuntime& runtime,
                                 CollectorOutput& output);
};

// In load order: process first (it gives every image its exec_id, which the
// others' records carry).
std::span<const CaptureDomain> captureDomains();

} // namespace vigil
