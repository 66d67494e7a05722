#pragma once

// Pod identity from the node's container runtime, over the Kubernetes CRI
// gRPC API (runtime.v1) on the runtime's unix socket: for a container id,
// the container's name, image and labels and its pod's name, namespace, uid
// and labels.
//
// Runtime is the small interface the pod cache needs; CriClient implements
// it over gRPC (and adds the pod lifecycle calls tests and tools use), and
// unit tests substitute a fake. gRPC stays out of this header.

#include "vigil/status.h"

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vigil::cri {

using Labels = std::map<std::string, std::string>;

enum class ContainerState { Created, Running, Exited, Unknown };
std::string_view containerStateName(ContainerState state);

struct RuntimeVersion {
  std::string runtime_name; // "containerd"
  std::string runtime_version; // "1.6.20~ds1"
  std::string runtime_api_version; // "v1"
};

// What an event from a container is labelled with.
struct ContainerMeta {
  std::string id; // the runtime's full id (a lookup may use a prefix)
  std::string name; // the container's name in its pod spec; empty for a sandbox
  std::string image; // the image reference as the user gave it (e.g. "nginx:1.25")
  std::string image_id; // the image the runtime resolved it to (image id or repo digest)
  std::string pod_sandbox_id;
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  Labels pod_labels;
  Labels labels; // the container's own labels
  ContainerState state = ContainerState::Unknown;
  // The id is a pod sandbox's (its pause process's cgroup is named after
  // it), not an application container's: only the pod fields are set.
  bool sandbox = false;
};

// The part of the runtime the pod cache uses.
class Runtime {
public:
  virtual ~Runtime() = default;

  virtual Result<RuntimeVersion> version() = 0;
  // The container (or pod sandbox) with this id or unique id prefix;
  // std::nullopt when the runtime knows none. An error means the runtime
  // could not answer (unreachable, deadline, ...), not that the id is unknown.
  virtual Result<std::optional<ContainerMeta>> containerInfo(const std::string& id) = 0;
  // Every container and pod sandbox the runtime has now.
  virtual Result<std::vector<ContainerMeta>> listContainers() = 0;
};
using RuntimePtr = std::unique_ptr<Runtime>;

struct CriClientOptions {
  // "unix:///run/containerd/containerd.sock" or a bare absolute path.
  std::string endpoint = "unix:///run/containerd/containerd.sock";
  std::chrono::milliseconds timeout{2000}; // deadline of each call
};

// A pod sandbox as RunPodSandbox wants it (the subset Vigil's tests use).
struct PodSandboxSpec {
  std::string name;
  std::string namespace_name;
  std::string uid;
  uint32_t attempt = 0;
  Labels labels;
  Labels annotations;
  std::string hostname; // may stay empty with host_network
  std::string log_directory;
  std::string cgroup_parent; // cgroupfs syntax ("/kubepods/pod<uid>"); empty: the runtime's default
  bool host_network = true; // NamespaceMode NODE: needs no CNI
  bool host_pid = false;
  std::string runtime_handler; // empty: the runtime's default
};

struct ContainerSpec {
  std::string name;
  std::string image; // a reference the runtime has (it is not pulled)
  std::vector<std::string> command; // entrypoint; empty: the image's
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;
  Labels labels;
  Labels annotations;
  bool privileged = false;
};

class CriClient : public Runtime {
public:
  // Checks the endpoint and prepares a channel; does not connect (the first
  // call does), so a runtime that is not up yet is not an error here.
  static Result<std::unique_ptr<CriClient>> create(CriClientOptions options);
  ~CriClient() override;

  // "unix:///path", the form gRPC dials.
  const std::string& endpoint() const;

  // Runtime: Version; ContainerStatus, then ListContainers filtered by id
  // (for the sandbox id, which ContainerStatus lacks) and PodSandboxStatus;
  // or, for a sandbox id, PodSandboxStatus alone. listContainers:
  // ListContainers + ListPodSandbox, plus ContainerStatus for a container
  // whose image the list names only by id.
  Result<RuntimeVersion> version() override;
  Result<std::optional<ContainerMeta>> containerInfo(const std::string& id) override;
  Result<std::vector<ContainerMeta>> listContainers() override;

  // Pod lifecycle, as the kubelet drives it. Return ids; images must be
  // present already.
  Result<std::string> runPodSandbox(const PodSandboxSpec& pod);
  Result<std::string> createContainer(const std::string& pod_sandbox_id, const ContainerSpec& container,
                                      const PodSandboxSpec& pod);
  Status startContainer(const std::string& container_id);
  Status stopContainer(const std::string& container_id, std::chrono::seconds grace = std::chrono::seconds(0));
  Status removeContainer(const std::string& container_id);
  Status stopPodSandbox(const std::string& pod_sandbox_id);
  Status removePodSandbox(const std::string& pod_sandbox_id);
  Result<std::vector<std::string>> listPodSandboxIds();
  // ImageService.ImageStatus: the image's id when the runtime has image
  // (a reference), nullopt when it does not.
  Result<std::optional<std::string>> imageId(const std::string& image);
  // ContainerStatus(verbose=true)'s runtime-specific info map; containerd's
  // "info" entry is JSON holding the init process's "pid".
  Result<std::map<std::string, std::string>> containerVerboseInfo(const std::string& container_id);

private:
  struct Impl;
  explicit CriClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "unix:///run/x.sock" from "unix:///run/x.sock", "unix:/run/x.sock" or
// "/run/x.sock"; an error for anything else (CRI runtimes listen on unix
// sockets).
Result<std::string> normalizeEndpoint(const std::string& endpoint);

} // namespace vigil::cri
