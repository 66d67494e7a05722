#pragma once

// The enrichment stage's container and pod identity: every process in an
// event (process, parent, ancestors) gets its container (from its cgroup
// id, agent/enrich/cgroup_resolver.h) and, when a container runtime
// answers, its container name, image and pod (agent/enrich/pod_cache.h).
//
// fill() never waits. When a container's metadata is still being fetched it
// says so, and the agent holds the event (and, to keep order, those after
// it) for at most enrich.pod_wait_ms; then the event leaves with what is
// known and the miss is counted (container.metadata_missing).
//
// Used on the enrich thread only (the pod cache's worker is its own thread).

#include "agent/enrich/cgroup_resolver.h"
#include "agent/enrich/pod_cache.h"
#include "vigil/event.h"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace vigil::enrich {

struct PodEnricherOptions {
  bool containers = true; // container id from the cgroup
  // The runtime's CRI socket; "auto": the first that exists of containerd's
  // and CRI-O's default sockets; "": no runtime (ids only).
  std::string cri_endpoint = "auto";
  uint32_t pod_wait_ms = 100; // the longest an event waits for its pod's metadata
  // Find containers from /proc/<pid>/cgroup as on a cgroup v1 host, even
  // with a cgroup2 tree (tests; not a configuration key).
  bool proc_cgroups = false;
};

struct PodEnricherStats {
  uint64_t container_events = 0; // events with at least one containerized process
  uint64_t metadata_missing = 0; // events that left without their container's metadata
  uint64_t unresolved_cgroups = 0; // processes whose cgroup id was unknown (no container decided)
};

class PodEnricher {
public:
  // cgroup2_mount: where cgroup2 is mounted; wake: called (from the pod
  // cache's thread) when metadata arrives, to wake the enrich thread.
  PodEnricher(PodEnricherOptions options, std::string cgroup2_mount, std::function<void()> wake);
  ~PodEnricher();

  // Starts the runtime client (never fails: an absent runtime is retried).
  void start();
  void stop();

  // Fills every process of event. False when a container's metadata (or a
  // cgroup just created) may still arrive and final is false: call again
  // later with the same event; with final true it always completes.
  bool fill(Event& event, bool final);

  const PodEnricherOptions& options() const { return options_; }
  PodEnricherStats stats() const;
  CgroupResolverStats cgroupStats() const { return resolver_.stats(); }
  // Null when no runtime endpoint is configured or found.
  const cri::PodCache* podCache() const { return pods_.get(); }
  const std::string& endpoint() const { return endpoint_; }

private:
  // One process: false when it should wait.
  bool fillProcess(Process& p, bool final, bool& in_container, bool& missing);
  // The container of p by its cgroup id (cgroup v2), or by /proc/<pid>/cgroup
  // on hosts without a usable cgroup2 tree; decided=false: not yet known.
  std::optional<ContainerRef> containerOf(const Process& p, bool& decided);

  PodEnricherOptions options_;
  CgroupResolver resolver_;
  std::string endpoint_;
  std::unique_ptr<cri::PodCache> pods_;
  bool v2_ = true; // the cgroup2 tree could be read at start
  // Without cgroup2: exec_id -> container, read once per process image.
  std::unordered_map<std::string, std::optional<ContainerRef>> by_image_;
  std::function<void()> wake_;
  std::atomic<uint64_t> container_events_{0}, metadata_missing_{0}, unresolved_{0};
};

// The socket of options.cri_endpoint: itself, or for "auto" the first
// default runtime socket that exists; "" when none.
std::string resolveCriEndpoint(const std::string& configured);

} // namespace vigil::enrich
