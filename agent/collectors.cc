#include "agent/collectors.h"

#include "collectors/network/network_collector.h"
#include "collectors/process/process_collector.h"
#include "collectors/syscall/syscall_collector.h"

#include <linux/capability.h>

namespace vigil {
namespace {

template <class T> Result<CollectorPtr> upcast(Result<std::unique_ptr<T>> made) {
  if (!made) {
    return made.error();
  }
  return CollectorPtr(std::move(*made));
}

constexpr CaptureDomain kDomains[] = {
    {"process", [](const AgentConfig&) { return true; }, 0, "",
     [](const AgentConfig& config, uint32_t self_tgid, runtime::BpfRuntime& rt, CollectorOutput& out) {
       process::ProcessBpfOptions options = config.process;
       options.self_tgid = self_tgid;
       return upcast(process::ProcessCollector::create(options, rt, out));
     }},
    {"syscall", [](const AgentConfig& config) { return config.syscalls.enabled; }, 0, "",
     [](const AgentConfig& config, uint32_t self_tgid, runtime::BpfRuntime& rt, CollectorOutput& out) {
       syscall::SyscallOptions options = config.syscalls;
       options.self_tgid = self_tgid;
       return upcast(syscall::SyscallCollector::create(options, rt, out));
     }},
    {"network", [](const AgentConfig& config) { return config.network.enabled; }, 1ull << CAP_NET_ADMIN,
     "to load and attach its socket programs to the cgroup v2 root",
     [](const AgentConfig& config, uint32_t self_tgid, runtime::BpfRuntime& rt, CollectorOutput& out) {
       network::NetworkOptions options = config.network;
       options.self_tgid = self_tgid;
       return upcast(network::NetworkCollector::create(options, rt, out));
     }},
};

} // namespace

std::span<const CaptureDomain> captureDomains() { return kDomains; }

} // namespace vigil
