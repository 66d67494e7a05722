#pragma once

// The one owner of the network BPF skeleton: open, share the process
// object's maps, load, attach the socket hooks to the cgroup v2 root and
// the TCP tracepoints; and the flow iterator for interim updates.

#include "collectors/runtime/bpf_env.h"
#include "collectors/runtime/rate_limit.h"
#include "vigil/status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

struct network_bpf;
struct bpf_link;

namespace vigil::network {

struct NetworkOptions {
  bool enabled = true;
  bool dns = true; // capture DNS messages on port 53
  uint32_t flow_update_seconds = 60; // interim counters of live flows; 0: only at close
  uint32_t self_tgid = 0; // never report this process's sockets; 0 reports everything
  // Load shedding per cgroup, in the kernel, separately for flow records and
  // DNS messages (0: no limit); what is dropped is reported as "suppressed".
  uint32_t rate_limit_per_second = 0;
  uint32_t rate_limit_burst = 100;
};

class NetworkBpf {
public:
  static Result<std::unique_ptr<NetworkBpf>> create(const NetworkOptions& options,
                                                    const runtime::SharedMaps& shared);
  ~NetworkBpf();
  NetworkBpf(const NetworkBpf&) = delete;
  NetworkBpf& operator=(const NetworkBpf&) = delete;

  void detach();
  // Runs the flow iterator over every tracked socket, handing each record to
  // callback (VIGIL_EV_NET records of type UPDATE or UDP).
  Status iterateFlows(const std::function<void(std::span<const uint8_t>)>& callback);
  // What the rate limits dropped in cgroups quiet for idle_ns (each once).
  std::vector<runtime::IdleSuppressed> takeIdleFlowSuppressed(uint64_t now_ns, uint64_t idle_ns);
  std::vector<runtime::IdleSuppressed> takeIdleDnsSuppressed(uint64_t now_ns, uint64_t idle_ns);

private:
  NetworkBpf() = default;

  network_bpf* skel_ = nullptr;
  std::vector<bpf_link*> links_;
  int cgroup_fd_ = -1;
};

} // namespace vigil::network
