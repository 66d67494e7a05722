#include "agent/enrich/pod_enricher.h"

#include <spdlog/spdlog.h>

#include <sys/stat.h>

namespace vigil::enrich {
namespace {

// Every process message an event carries.
template <class F>
void forEachProcess(Event& e, F&& f) {
  auto both = [&](auto* body) {
    if (body->has_process()) {
      f(*body->mutable_process());
    }
    if (body->has_parent()) {
      f(*body->mutable_parent());
    }
  };
  switch (e.body_case()) {
  case Event::kExec:
    both(e.mutable_exec());
    break;
  case Event::kFork:
    both(e.mutable_fork());
    break;
  case Event::kExit:
    both(e.mutable_exit());
    break;
  case Event::kSyscall:
    both(e.mutable_syscall());
    break;
  case Event::kFlow:
    both(e.mutable_flow());
    break;
  case Event::kDns:
    both(e.mutable_dns());
    break;
  default:
    break;
  }
  for (auto& a : *e.mutable_ancestors()) {
    f(a);
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
  resolver_.rescan();
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

bool PodEnricher::fillProcess(Process& p, bool final, bool& in_container, bool& missing) {
  if (p.cgroup_id() == 0) {
    return true;
  }
  auto ref = resolver_.container(p.cgroup_id());
  if (!ref) {
    if (!resolver_.mayAppear(p.cgroup_id())) {
      return true; // a host process, or a cgroup already gone
    }
    // A cgroup made since the last scan, which a throttled rescan has not
    // seen yet: try again.
    if (!final) {
      return false;
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
  cri::ContainerMetaPtr meta = pods_->lookup(ref->id);
  if (!meta) {
    if (!final) {
      return false;
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
