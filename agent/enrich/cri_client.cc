#include "agent/enrich/cri_client.h"

#include "cri/runtime/v1/api.grpc.pb.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <unordered_map>

namespace vigil::cri {
namespace {

namespace pb = ::runtime::v1;

// The kubelet allows 16 MiB replies; a busy node's ListContainers needs it.
constexpr int kMaxMessageBytes = 16 * 1024 * 1024;

std::string_view codeName(grpc::StatusCode code) {
  switch (code) {
  case grpc::StatusCode::OK: return "OK";
  case grpc::StatusCode::CANCELLED: return "CANCELLED";
  case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
  case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
  case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
  case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
  case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
  case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
  case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
  case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
  case grpc::StatusCode::ABORTED: return "ABORTED";
  case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
  case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
  case grpc::StatusCode::INTERNAL: return "INTERNAL";
  case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
  case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
  case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
  default: return "CODE_?";
  }
}

ContainerState fromProto(pb::ContainerState state) {
  switch (state) {
  case pb::CONTAINER_CREATED: return ContainerState::Created;
  case pb::CONTAINER_RUNNING: return ContainerState::Running;
  case pb::CONTAINER_EXITED: return ContainerState::Exited;
  default: return ContainerState::Unknown;
  }
}

ContainerState fromProto(pb::PodSandboxState state) {
  return state == pb::SANDBOX_READY ? ContainerState::Running : ContainerState::Exited;
}

Labels toLabels(const google::protobuf::Map<std::string, std::string>& map) { return Labels(map.begin(), map.end()); }

void fromLabels(const Labels& labels, google::protobuf::Map<std::string, std::string>* map) {
  for (const auto& [k, v] : labels) {
    (*map)[k] = v;
  }
}

// "sha256:<hex>" or a bare 64-hex id: an image id, not a name a user wrote.
// The kubelet creates containers from the resolved image id, so a list may
// name images only this way.
bool isImageId(const std::string& image) {
  std::string_view hex = image;
  if (hex.starts_with("sha256:")) {
    return true;
  }
  return hex.size() == 64 &&
         std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

// The image as the user gave it: the runtime's record of what the user
// specified when it has one, else the spec's image (containerd reports the
// image's first tag here in ContainerStatus).
std::string userImage(const pb::ImageSpec& spec) {
  return spec.user_specified_image().empty() ? spec.image() : spec.user_specified_image();
}

void fillPod(const pb::PodSandboxMetadata& md, const Labels& labels, ContainerMeta& meta) {
  meta.pod_name = md.name();
  meta.pod_namespace = md.namespace_();
  meta.pod_uid = md.uid();
  meta.pod_labels = labels;
}

pb::NamespaceOption namespaces(const PodSandboxSpec& pod) {
  pb::NamespaceOption ns;
  ns.set_network(pod.host_network ? pb::NODE : pb::POD);
  ns.set_pid(pod.host_pid ? pb::NODE : pb::CONTAINER);
  ns.set_ipc(pb::POD);
  return ns;
}

pb::PodSandboxConfig sandboxConfig(const PodSandboxSpec& pod) {
  pb::PodSandboxConfig config;
  auto* md = config.mutable_metadata();
  md->set_name(pod.name);
  md->set_namespace_(pod.namespace_name);
  md->set_uid(pod.uid);
  md->set_attempt(pod.attempt);
  config.set_hostname(pod.hostname);
  config.set_log_directory(pod.log_directory);
  fromLabels(pod.labels, config.mutable_labels());
  fromLabels(pod.annotations, config.mutable_annotations());
  auto* linux = config.mutable_linux();
  linux->set_cgroup_parent(pod.cgroup_parent);
  *linux->mutable_security_context()->mutable_namespace_options() = namespaces(pod);
  return config;
}

} // namespace

std::string_view containerStateName(ContainerState state) {
  switch (state) {
  case ContainerState::Created: return "created";
  case ContainerState::Running: return "running";
  case ContainerState::Exited: return "exited";
  case ContainerState::Unknown: break;
  }
  return "unknown";
}

Result<std::string> normalizeEndpoint(const std::string& endpoint) {
  std::string path;
  if (endpoint.starts_with("unix://")) {
    path = endpoint.substr(7);
  } else if (endpoint.starts_with("unix:")) {
    path = endpoint.substr(5);
  } else if (endpoint.find("://") == std::string::npos) {
    path = endpoint;
  } else {
    return makeError("CRI endpoint '{}': only unix sockets are supported (unix:///path or /path)", endpoint);
  }
  if (path.empty() || path.front() != '/') {
    return makeError("CRI endpoint '{}': the socket path must be absolute", endpoint);
  }
  return "unix://" + path;
}

namespace {

// The channel and its stubs, replaced together.
struct Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::shared_ptr<pb::RuntimeService::Stub> runtime;
  std::shared_ptr<pb::ImageService::Stub> images;
};

} // namespace

struct CriClient::Impl {
  CriClientOptions options;
  std::string target;
  std::mutex stubs_mu;
  Stubs stubs; // guarded by stubs_mu; empty: dial at the next call
  // Image id -> the name ContainerStatus gave for it, so a relist does not
  // ask again for every container the kubelet created from an image id.
  std::mutex image_names_mu;
  std::unordered_map<std::string, std::string> image_names;

  Stubs dial() {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    Stubs s;
    s.channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    s.runtime = pb::RuntimeService::NewStub(s.channel);
    s.images = pb::ImageService::NewStub(s.channel);
    return s;
  }

  // One unary call with the deadline; the gRPC status as it came.
  template <class Fn> grpc::Status call(Fn&& fn) {
    Stubs s;
    {
      std::lock_guard lk(stubs_mu);
      if (!stubs.channel) {
        stubs = dial();
      }
      s = stubs;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options.timeout);
    grpc::Status st = fn(ctx, s);
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE) {
      // A channel that failed to connect keeps failing for seconds after
      // the runtime is back (gRPC's reconnect backoff, whatever its
      // arguments say); a new one connects at once. Unix sockets make
      // dialing cheap, and a runtime that is down is asked rarely.
      std::lock_guard lk(stubs_mu);
      if (stubs.channel == s.channel) {
        stubs = Stubs();
      }
    }
    return st;
  }

  Error callError(std::string_view rpc, std::string_view subject, const grpc::Status& st) const {
    if (subject.empty()) {
      return makeError("CRI {} on {}: {}: {}", rpc, target, codeName(st.error_code()), st.error_message());
    }
    return makeError("CRI {} {} on {}: {}: {}", rpc, subject, target, codeName(st.error_code()),
                     st.error_message());
  }

  // The name of the image a listed container names only by id (listed):
  // what ContainerStatus says, remembered per image id.
  std::string imageName(const std::string& container_id, const std::string& listed) {
    if (!listed.empty()) {
      std::lock_guard lk(image_names_mu);
      if (auto it = image_names.find(listed); it != image_names.end()) {
        return it->second;
      }
    }
    pb::ContainerStatusRequest req;
    req.set_container_id(container_id);
    pb::ContainerStatusResponse resp;
    grpc::Status st = call(
        [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->ContainerStatus(&ctx, req, &resp); });
    std::string name = st.ok() ? userImage(resp.status().image()) : std::string();
    if (name.empty()) {
      return listed;
    }
    if (!listed.empty()) {
      std::lock_guard lk(image_names_mu);
      if (image_names.size() >= 4096) {
        image_names.clear();
      }
      image_names[listed] = name;
    }
    return name;
  }

  // The pod sandbox with this id (or prefix), as a ContainerMeta; nullopt
  // when there is none.
  Result<std::optional<ContainerMeta>> sandboxInfo(const std::string& id) {
    pb::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(id);
    pb::PodSandboxStatusResponse resp;
    grpc::Status st = call(
        [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->PodSandboxStatus(&ctx, req, &resp); });
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
      return std::optional<ContainerMeta>();
    }
    if (!st.ok()) {
      return callError("PodSandboxStatus", id, st);
    }
    const pb::PodSandboxStatus& status = resp.status();
    ContainerMeta meta;
    meta.id = status.id();
    meta.pod_sandbox_id = status.id();
    meta.state = fromProto(status.state());
    meta.sandbox = true;
    fillPod(status.metadata(), toLabels(status.labels()), meta);
    return std::optional<ContainerMeta>(std::move(meta));
  }
};

CriClient::CriClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CriClient::~CriClient() = default;

Result<std::unique_ptr<CriClient>> CriClient::create(CriClientOptions options) {
  auto target = normalizeEndpoint(options.endpoint);
  if (!target) {
    return target.error();
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->target = *target;
  impl->stubs = impl->dial(); // connects lazily, at the first call
  return std::unique_ptr<CriClient>(new CriClient(std::move(impl)));
}

const std::string& CriClient::endpoint() const { return impl_->target; }

Result<RuntimeVersion> CriClient::version() {
  pb::VersionRequest req;
  req.set_version("v1");
  pb::VersionResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->Version(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("Version", "", st);
  }
  return RuntimeVersion{resp.runtime_name(), resp.runtime_version(), resp.runtime_api_version()};
}

Result<std::optional<ContainerMeta>> CriClient::containerInfo(const std::string& id) {
  if (id.empty()) {
    return makeError("CRI ContainerStatus: empty container id");
  }
  pb::ContainerStatusRequest status_req;
  status_req.set_container_id(id);
  status_req.set_verbose(false);
  pb::ContainerStatusResponse status_resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->ContainerStatus(&ctx, status_req, &status_resp); });
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
    // Not a container: a pause process's cgroup is named after its sandbox.
    return impl_->sandboxInfo(id);
  }
  if (!st.ok()) {
    return impl_->callError("ContainerStatus", id, st);
  }
  const pb::ContainerStatus& status = status_resp.status();
  ContainerMeta meta;
  meta.id = status.id();
  meta.name = status.metadata().name();
  meta.state = fromProto(status.state());
  meta.labels = toLabels(status.labels());
  meta.image = userImage(status.image());
  meta.image_id = status.image_id().empty() ? status.image_ref() : status.image_id();

  // ContainerStatus does not name the sandbox; the list entry does.
  pb::ListContainersRequest list_req;
  list_req.mutable_filter()->set_id(meta.id);
  pb::ListContainersResponse list_resp;
  st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->ListContainers(&ctx, list_req, &list_resp); });
  if (!st.ok()) {
    return impl_->callError("ListContainers", "id=" + meta.id, st);
  }
  for (const auto& c : list_resp.containers()) {
    if (c.id() == meta.id) {
      meta.pod_sandbox_id = c.pod_sandbox_id();
      if (meta.image.empty() || isImageId(meta.image)) {
        std::string listed = userImage(c.image());
        if (!listed.empty() && !isImageId(listed)) {
          meta.image = listed;
        }
      }
    }
  }
  if (meta.pod_sandbox_id.empty()) {
    // Removed between the two calls.
    return std::optional<ContainerMeta>();
  }

  auto pod = impl_->sandboxInfo(meta.pod_sandbox_id);
  if (!pod) {
    return pod.error();
  }
  if (*pod) {
    meta.pod_name = (*pod)->pod_name;
    meta.pod_namespace = (*pod)->pod_namespace;
    meta.pod_uid = (*pod)->pod_uid;
    meta.pod_labels = std::move((*pod)->pod_labels);
  } else {
    spdlog::debug("CRI: container {} names sandbox {}, which is gone", meta.id, meta.pod_sandbox_id);
  }
  return std::optional<ContainerMeta>(std::move(meta));
}

Result<std::vector<ContainerMeta>> CriClient::listContainers() {
  pb::ListPodSandboxRequest pods_req;
  pb::ListPodSandboxResponse pods_resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->ListPodSandbox(&ctx, pods_req, &pods_resp); });
  if (!st.ok()) {
    return impl_->callError("ListPodSandbox", "", st);
  }
  pb::ListContainersRequest req;
  pb::ListContainersResponse resp;
  st = impl_->call([&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->ListContainers(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("ListContainers", "", st);
  }

  std::vector<ContainerMeta> out;
  out.reserve(pods_resp.items_size() + resp.containers_size());
  std::unordered_map<std::string, size_t> pod_index; // sandbox id -> its entry in out
  for (const auto& p : pods_resp.items()) {
    ContainerMeta meta;
    meta.id = p.id();
    meta.pod_sandbox_id = p.id();
    meta.state = fromProto(p.state());
    meta.sandbox = true;
    fillPod(p.metadata(), toLabels(p.labels()), meta);
    pod_index[p.id()] = out.size();
    out.push_back(std::move(meta));
  }
  for (const auto& c : resp.containers()) {
    ContainerMeta meta;
    meta.id = c.id();
    meta.name = c.metadata().name();
    meta.state = fromProto(c.state());
    meta.labels = toLabels(c.labels());
    meta.image = userImage(c.image());
    meta.image_id = c.image_id().empty() ? c.image_ref() : c.image_id();
    meta.pod_sandbox_id = c.pod_sandbox_id();
    if (meta.image.empty() || isImageId(meta.image)) {
      meta.image = impl_->imageName(c.id(), meta.image);
    }
    if (auto it = pod_index.find(c.pod_sandbox_id()); it != pod_index.end()) {
      const ContainerMeta& pod = out[it->second];
      meta.pod_name = pod.pod_name;
      meta.pod_namespace = pod.pod_namespace;
      meta.pod_uid = pod.pod_uid;
      meta.pod_labels = pod.pod_labels;
    }
    out.push_back(std::move(meta));
  }
  return out;
}

Result<std::string> CriClient::runPodSandbox(const PodSandboxSpec& pod) {
  pb::RunPodSandboxRequest req;
  *req.mutable_config() = sandboxConfig(pod);
  req.set_runtime_handler(pod.runtime_handler);
  pb::RunPodSandboxResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->RunPodSandbox(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("RunPodSandbox", pod.namespace_name + "/" + pod.name, st);
  }
  return resp.pod_sandbox_id();
}

Result<std::string> CriClient::createContainer(const std::string& pod_sandbox_id, const ContainerSpec& container,
                                               const PodSandboxSpec& pod) {
  pb::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_sandbox_id);
  *req.mutable_sandbox_config() = sandboxConfig(pod);
  auto* config = req.mutable_config();
  config->mutable_metadata()->set_name(container.name);
  config->mutable_image()->set_image(container.image);
  for (const auto& c : container.command) {
    config->add_command(c);
  }
  for (const auto& a : container.args) {
    config->add_args(a);
  }
  for (const auto& [k, v] : container.env) {
    auto* kv = config->add_envs();
    kv->set_key(k);
    kv->set_value(v);
  }
  config->set_working_dir(container.working_dir);
  fromLabels(container.labels, config->mutable_labels());
  fromLabels(container.annotations, config->mutable_annotations());
  auto* sc = config->mutable_linux()->mutable_security_context();
  sc->set_privileged(container.privileged);
  *sc->mutable_namespace_options() = namespaces(pod);
  pb::CreateContainerResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->CreateContainer(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("CreateContainer", container.name + " in " + pod_sandbox_id, st);
  }
  return resp.container_id();
}

Status CriClient::startContainer(const std::string& container_id) {
  pb::StartContainerRequest req;
  req.set_container_id(container_id);
  pb::StartContainerResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->StartContainer(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("StartContainer", container_id, st);
  }
  return okStatus();
}

Status CriClient::stopContainer(const std::string& container_id, std::chrono::seconds grace) {
  pb::StopContainerRequest req;
  req.set_container_id(container_id);
  req.set_timeout(grace.count());
  pb::StopContainerResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->StopContainer(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("StopContainer", container_id, st);
  }
  return okStatus();
}

Status CriClient::removeContainer(const std::string& container_id) {
  pb::RemoveContainerRequest req;
  req.set_container_id(container_id);
  pb::RemoveContainerResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->RemoveContainer(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("RemoveContainer", container_id, st);
  }
  return okStatus();
}

Status CriClient::stopPodSandbox(const std::string& pod_sandbox_id) {
  pb::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(pod_sandbox_id);
  pb::StopPodSandboxResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->StopPodSandbox(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("StopPodSandbox", pod_sandbox_id, st);
  }
  return okStatus();
}

Status CriClient::removePodSandbox(const std::string& pod_sandbox_id) {
  pb::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(pod_sandbox_id);
  pb::RemovePodSandboxResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->RemovePodSandbox(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("RemovePodSandbox", pod_sandbox_id, st);
  }
  return okStatus();
}

Result<std::vector<std::string>> CriClient::listPodSandboxIds() {
  pb::ListPodSandboxRequest req;
  pb::ListPodSandboxResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->ListPodSandbox(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("ListPodSandbox", "", st);
  }
  std::vector<std::string> ids;
  for (const auto& p : resp.items()) {
    ids.push_back(p.id());
  }
  return ids;
}

Result<std::optional<std::string>> CriClient::imageId(const std::string& image) {
  pb::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  pb::ImageStatusResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.images->ImageStatus(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("ImageStatus", image, st);
  }
  if (!resp.has_image() || resp.image().id().empty()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(resp.image().id());
}

Result<std::map<std::string, std::string>> CriClient::containerVerboseInfo(const std::string& container_id) {
  pb::ContainerStatusRequest req;
  req.set_container_id(container_id);
  req.set_verbose(true);
  pb::ContainerStatusResponse resp;
  grpc::Status st = impl_->call(
      [&](grpc::ClientContext& ctx, Stubs& s) { return s.runtime->ContainerStatus(&ctx, req, &resp); });
  if (!st.ok()) {
    return impl_->callError("ContainerStatus(verbose)", container_id, st);
  }
  return std::map<std::string, std::string>(resp.info().begin(), resp.info().end());
}

} // namespace vigil::cri
