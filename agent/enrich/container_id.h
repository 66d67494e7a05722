#pragma once

// Container identity from a cgroup path.
//
// A process's cgroup path names the container it runs in: container runtimes
// and the kubelet place every container in a cgroup of their own, with the
// container id in the name, under a cgroup per pod whose name carries the
// pod uid and QoS class. The layouts recognized, and the ones deliberately
// not, are listed in docs/enrichment-cgroups.md.
//
// Everything here is pure: no I/O, no allocation beyond the result.

#include <optional>
#include <string>
#include <string_view>

namespace vigil::enrich {

// ContainerRef::runtime values.
// cri-containerd-<id>.scope, nerdctl-<id>.scope, /default/<id>
inline constexpr std::string_view kRuntimeContainerd = "containerd";
inline constexpr std::string_view kRuntimeCrio = "cri-o"; // crio-<id>[.scope]
inline constexpr std::string_view kRuntimeDocker = "docker"; // docker-<id>.scope, /docker/<id>
inline constexpr std::string_view kRuntimePodman = "podman"; // libpod-<id>[.scope]
// The kubelet's cgroupfs layout (/kubepods/<qos>/pod<uid>/<id>) names the
// container but not the runtime that made it: containerd or cri-dockerd
// (CRI-O's cgroupfs manager writes crio-<id>, which says cri-o).
inline constexpr std::string_view kRuntimeKubepods = "kubepods";

// ContainerRef::qos values: the kubelet's QoS class as its cgroups spell it.
inline constexpr std::string_view kQosGuaranteed = "guaranteed";
inline constexpr std::string_view kQosBurstable = "burstable";
inline constexpr std::string_view kQosBestEffort = "besteffort";

struct ContainerRef {
  std::string runtime; // one of kRuntime*
  std::string id; // 64 lowercase hex digits
  std::string pod_uid; // the Kubernetes pod uid with dashes, when the path names the pod; else empty
  std::string qos; // one of kQos*, when the path names the pod's QoS class; else empty
  // True for the cgroup of the runtime's monitor process (crio-conmon-<id>,
  // libpod-conmon-<id>): conmon runs on the host, outside the container's
  // namespaces, and is NOT the container. `id` is the container it
  // watches. Do not attribute such a process to the container.
  bool monitor = false;

  bool operator==(const ContainerRef&) const = default;
};

// True when s is a container id as runtimes write it: exactly 64 lowercase
// hex digits.
bool isContainerId(std::string_view s);

// The container a cgroup path names (cgroup v2, or the path of one v1
// hierarchy), or nullopt for host cgroups and paths in no known layout.
// The path is as /proc/<pid>/cgroup prints it or relative to the cgroup
// mount; a leading '/' is optional, a trailing " (deleted)" is ignored.
// When containers nest (kind nodes, docker-in-docker), the innermost
// container that belongs to a pod wins, else the innermost container.
std::optional<ContainerRef> parseContainerCgroup(std::string_view path);

// The container named by the contents of a /proc/<pid>/cgroup file: the
// cgroup v2 line ("0::<path>") when it names one, else the first cgroup v1
// line ("<id>:<controllers>:<path>") that does. Hybrid hosts need the
// fallback: runtimes with the cgroupfs driver create no v2 cgroups there.
std::optional<ContainerRef> parseProcCgroupFile(std::string_view content);

} // namespace vigil::enrich
