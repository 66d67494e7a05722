#include "agent/enrich/pod_enricher.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

namespace vigil::enrich {
namespace {

// Every process message an event carries; ancestors and the parent before
// the process (a process gone before /proc was read inherits its parent's).
template <class F>
void forEachProcess(Event& e, F&& f) {
  for (auto& a : *e.mutable_ancestors()) {
    f(a);
  }
  auto [process, parent] = bodyProcesses(e);
  if (parent != nullptr) {
    f(*parent);
  }
  if (process != nullptr) {
    f(*process);
  }
}

bool isSocket(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

} // namespace

std::string resolveCriEndpoint(const std::string& configured) {
  if (configured != "auto") {
    return configured;
  }
  for (const char* path : {"/run/containerd/containerd.sock", "/var/run/crio/crio.sock", "/run/crio/crio.sock"}) {
    if (isSocket(path)) {
      return std::string("unix://") + path;
    }
  }
  return "";
}

PodEnricher::PodEnricher(PodEnricherOptions options, std::string cgroup2_mount, std::function<void()> wake)
    : options_(std::move(options)), resolver_(std::move(cgroup2_mount), [] {
        CgroupResolverOptions o;
        // A new container's first exec comes moments after its cgroup was
        // made: rescan soon. Ids the last scan passed are known gone, so
        // only new ids trigger scans.
        o.rescan_interval_ns = 50'000'000;
        return o;
      }()),
      wake_(std::move(wake)) {}

PodEnricher::~PodEnricher() { stop(); }

void PodEnricher::start() {
  if (!options_.containers) {
    return;
  }
  v2_ = resolver_.rescan() && !options_.proc_cgroups;
  if (!v2_) {
    spdlog::info("enrichment: no readable cgroup2 tree at '{}': containers from /proc/<pid>/cgroup (cgroup v1)",
                 resolver_.mount());
  }
  endpoint_ = resolveCriEndpoint(options_.cri_endpoint);
  if (endpoint_.empty()) {
    spdlog::info("enrichment: no container runtime socket found ({}); containers get ids from cgroups, no pod "
                 "metadata",
                 options_.cri_endpoint.empty() ? "none configured" : "auto");
    return;
  }
  cri::CriClientOptions co;
  co.endpoint = endpoint_;
  auto client = cri::CriClient::create(co);
  if (!client) {
    spdlog::warn("enrichment: CRI client for {}: {}; no pod metadata", endpoint_, client.error().message());
    return;
  }
  pods_ = std::make_unique<cri::PodCache>(std::move(*client), cri::PodCacheOptions{},
                                          [this](const std::string&, const cri::ContainerMetaPtr&) {
                                            if (wake_) {
                                              wake_();
                                            }
                                          });
  pods_->start();
  spdlog::info("enrichment: pod metadata from the container runtime at {}", endpoint_);
}

void PodEnricher::stop() {
  if (pods_) {
    pods_->stop();
  }
}

std::optional<ContainerRef> PodEnricher::containerOf(const Process& p, bool& decided) {
  decided = true;
  if (!v2_) {
    if (p.exec_id().empty() || p.pid() == 0) {
      return std::nullopt;
    }
    auto it = by_image_.find(p.exec_id());
    if (it != by_image_.end()) {
      return it->second;
    }
    if (by_image_.size() >= 65536) {
      by_image_.clear(); // bounded; images are read again as they show up
    }
    auto ref = resolver_.containerOfPid(p.pid());
    if (!ref && access(fmt::format("/proc/{}", p.pid()).c_str(), F_OK) != 0) {
      // Gone before we looked (a short-lived command): it ran where its
      // parent runs, which was read when the parent was seen.
      auto parent = by_image_.find(p.parent_exec_id());
      if (parent != by_image_.end()) {
        ref = parent->second;
      }
    }
    return by_image_[p.exec_id()] = ref;
  }
  if (p.cgroup_id() == 0) {
    return std::nullopt;
  }
  auto ref = resolver_.container(p.cgroup_id());
  // Not found and not known gone: a cgroup made since the last scan, which
  // a throttled rescan has not seen yet.
  decided = ref.has_value() || !resolver_.mayAppear(p.cgroup_id());
  return ref;
}

bool PodEnricher::fillProcess(Process& p, bool final, bool& in_container, bool& missing) {
  bool decided = true;
  auto ref = containerOf(p, decided);
  if (!ref) {
    if (decided) {
      return true; // a host process, or a cgroup already gone
    }
    if (!final) {
      return false; // try again
    }
    unresolved_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  in_container = true;
  auto* c = p.mutable_container();
  c->set_id(ref->id);
  c->set_runtime(ref->runtime);
  c->set_monitor(ref->monitor);
  auto* pod = p.mutable_pod();
  if (!ref->pod_uid.empty()) {
    pod->set_uid(ref->pod_uid);
  }
  if (!ref->qos.empty()) {
    pod->set_qos(ref->qos);
  }
  if (!pods_) {
    return true;
  }
  bool pending = false;
  cri::ContainerMetaPtr meta = pods_->lookup(ref->id, &pending);
  if (!meta) {
    if (!final && pending) {
      return false; // on its way: worth waiting for
    }
    c->set_metadata_missing(true);
    missing = true;
    return true;
  }
  c->set_name(meta->name);
  c->set_image(meta->image);
  c->set_image_id(meta->image_id);
  c->set_metadata_missing(false);
  pod->set_name(meta->pod_name);
  pod->set_namespace_(meta->pod_namespace);
  if (!meta->pod_uid.empty()) {
    pod->set_uid(meta->pod_uid);
  }
  auto* labels = pod->mutable_labels();
  labels->clear();
  for (const auto& [k, v] : meta->pod_labels) {
    (*labels)[k] = v;
  }
  return true;
}

bool PodEnricher::fill(Event& event, bool final) {
  if (!options_.containers) {
    return true;
  }
  bool done = true, in_container = false, missing = false;
  forEachProcess(event, [&](Process& p) { done = fillProcess(p, final, in_container, missing) && done; });
  if (!done) {
    return false;
  }
  if (in_container) {
    container_events_.fetch_add(1, std::memory_order_relaxed);
  }
  if (missing) {
    metadata_missing_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

PodEnricherStats PodEnricher::stats() const {
  return {container_events_.load(std::memory_order_relaxed), metadata_missing_.load(std::memory_order_relaxed),
          unresolved_.load(std::memory_order_relaxed)};
}

} // namespace vigil::enrich
