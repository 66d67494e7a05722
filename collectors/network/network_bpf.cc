#include "collectors/network/network_bpf.h"

#include "collectors/runtime/iterator.h"
#include "network.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace vigil::network {

using runtime::errnoText;

Result<std::unique_ptr<NetworkBpf>> NetworkBpf::create(const NetworkOptions& options,
                                                       const runtime::SharedMaps& shared) {
  std::string root = runtime::cgroup2Mount();
  if (root.empty()) {
    return makeError("no cgroup2 filesystem is mounted: socket hooks attach to the cgroup v2 root");
  }
  std::unique_ptr<NetworkBpf> self(new NetworkBpf());
  self->cgroup_fd_ = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self->cgroup_fd_ < 0) {
    return makeError("open cgroup v2 root {}: {}", root, errnoText(errno));
  }

  auto* skel = network_bpf__open();
  if (!skel) {
    return makeError("open: {}", errnoText(errno));
  }
  self->skel_ = skel;
  skel->rodata->self_tgid = options.self_tgid;
  skel->rodata->dns_enabled = options.dns ? 1 : 0;
  const auto rate = runtime::rateCost(options.rate_limit_per_second, options.rate_limit_burst);
  skel->rodata->net_rate_cost_ns = rate.cost_ns;
  skel->rodata->net_rate_burst_ns = rate.burst_ns;
  skel->rodata->vigil_wakeup_bytes = shared.wakeup_bytes;
  bpf_program__set_autoattach(skel->progs.vigil_tcp_iter, false);
  bpf_program__set_autoattach(skel->progs.vigil_udp_iter, false);
  if (auto st = runtime::reuseSharedMaps(shared, skel->maps.vigil_events, skel->maps.vigil_counters,
                                         skel->maps.vigil_procs);
      !st) {
    return st.error();
  }
  if (int err = network_bpf__load(skel); err != 0) {
    return makeError("load: {}{}", errnoText(err),
                     err == -EPERM ? " (needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, or root)" : "");
  }
  // Tracepoints first, then the socket hooks: a socket created from here on
  // is owned before its first state change is seen.
  for (bpf_program* prog : {skel->progs.vigil_tcp_state, skel->progs.vigil_tcp_retransmit}) {
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      return makeError("attach {}: {}", bpf_program__name(prog), errnoText(errno));
    }
    self->links_.push_back(link);
  }
  for (bpf_program* prog : {skel->progs.vigil_sock_create, skel->progs.vigil_connect4, skel->progs.vigil_connect6,
                            skel->progs.vigil_skb_egress, skel->progs.vigil_skb_ingress,
                            skel->progs.vigil_sock_release}) {
    bpf_link* link = bpf_program__attach_cgroup(prog, self->cgroup_fd_);
    if (!link) {
      return makeError("attach {} to {}: {}", bpf_program__name(prog), root, errnoText(errno));
    }
    self->links_.push_back(link);
  }
  spdlog::info("network hooks: TCP state and retransmit tracepoints; socket, connect and packet hooks on {}; "
               "DNS {}; interim flow updates {}",
               root, options.dns ? "on" : "off",
               options.flow_update_seconds ? fmt::format("every {} s", options.flow_update_seconds) : "off");
  return self;
}

NetworkBpf::~NetworkBpf() {
  detach();
  if (skel_) {
    network_bpf__destroy(skel_);
  }
  if (cgroup_fd_ >= 0) {
    close(cgroup_fd_);
  }
}

void NetworkBpf::detach() { runtime::destroyLinks(links_); }

Status NetworkBpf::iterateFlows(const std::function<void(std::span<const uint8_t>)>& callback) {
  for (bpf_program* prog : {skel_->progs.vigil_tcp_iter, skel_->progs.vigil_udp_iter}) {
    bpf_link* link = bpf_program__attach_iter(prog, nullptr);
    if (!link) {
      return makeError("attach {}: {}", bpf_program__name(prog), errnoText(errno));
    }
    auto st = runtime::readIterator(bpf_link__fd(link), callback);
    bpf_link__destroy(link);
    if (!st) {
      return st;
    }
  }
  return okStatus();
}

std::vector<runtime::IdleSuppressed> NetworkBpf::takeIdleFlowSuppressed(uint64_t now_ns, uint64_t idle_ns) {
  return runtime::takeIdleSuppressed(bpf_map__fd(skel_->maps.vigil_net_rate), now_ns, idle_ns);
}

std::vector<runtime::IdleSuppressed> NetworkBpf::takeIdleDnsSuppressed(uint64_t now_ns, uint64_t idle_ns) {
  return runtime::takeIdleSuppressed(bpf_map__fd(skel_->maps.vigil_dns_rate), now_ns, idle_ns);
}

} // namespace vigil::network
