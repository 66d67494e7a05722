#include "agent/enrich/container_id.h"

#include <array>

namespace vigil::enrich {
namespace {

constexpr size_t kContainerIdLength = 64;

bool isLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool allLowerHex(std::string_view s) {
  for (char c : s) {
    if (!isLowerHex(c)) {
      return false;
    }
  }
  return true;
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// A pod uid as a cgroup name spells it, with sep between the groups ('-' in
// cgroupfs names, '_' in systemd slice names, where '-' means nesting). API
// pods have a UUID; static pods (manifest files) have a 32-hex-digit hash.
bool isPodUid(std::string_view s, char sep) {
  if (s.size() == 32) {
    return allLowerHex(s);
  }
  if (s.size() != 36) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    bool separator = i == 8 || i == 13 || i == 18 || i == 23;
    if (separator ? s[i] != sep : !isLowerHex(s[i])) {
      return false;
    }
  }
  return true;
}

// A pod cgroup: its uid as spelled in the name, and the QoS class.
struct Pod {
  std::string_view uid;
  std::string_view qos;
};

// A systemd pod slice: "kubepods-burstable-pod<uid>.slice",
// "kubepods-pod<uid>.slice" (guaranteed), and the same under another root
// ("kubelet-kubepods-besteffort-pod<uid>.slice" in kind). A slice's name
// repeats its parents' joined by '-', so the last token before "pod" is the
// QoS class, or "kubepods" itself for guaranteed pods.
std::optional<Pod> podSlice(std::string_view name) {
  if (!endsWith(name, ".slice")) {
    return std::nullopt;
  }
  std::string_view stem = name.substr(0, name.size() - 6);
  size_t pos = stem.rfind("-pod");
  if (pos == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view uid = stem.substr(pos + 4);
  std::string_view parents = stem.substr(0, pos);
  if (!isPodUid(uid, '_')) {
    return std::nullopt;
  }
  size_t dash = parents.rfind('-');
  std::string_view last = dash == std::string_view::npos ? parents : parents.substr(dash + 1);
  std::string_view above = dash == std::string_view::npos ? std::string_view() : parents.substr(0, dash);
  if (last == "kubepods") {
    return Pod{uid, kQosGuaranteed};
  }
  if ((last == kQosBurstable || last == kQosBestEffort) && (above == "kubepods" || endsWith(above, "-kubepods"))) {
    return Pod{uid, last};
  }
  return std::nullopt;
}

// A cgroupfs pod directory: "pod<uid>" right under "kubepods" (guaranteed)
// or under "kubepods/burstable" or "kubepods/besteffort".
std::optional<Pod> podDirectory(std::string_view name, std::string_view parent, std::string_view grandparent) {
  if (!startsWith(name, "pod") || !isPodUid(name.substr(3), '-')) {
    return std::nullopt;
  }
  if (parent == "kubepods") {
    return Pod{name.substr(3), kQosGuaranteed};
  }
  if ((parent == kQosBurstable || parent == kQosBestEffort) && grandparent == "kubepods") {
    return Pod{name.substr(3), parent};
  }
  return std::nullopt;
}

// A container cgroup named "<prefix><id>" (with ".scope" under the systemd
// driver, bare under the cgroupfs managers of CRI-O and Podman).
struct NamePrefix {
  std::string_view prefix;
  std::string_view runtime;
  bool monitor;
  bool unscoped; // also recognized without ".scope"
};

// Where one prefix starts another, the longer comes first.
constexpr std::array<NamePrefix, 7> kNamePrefixes = {{
    {"cri-containerd-", kRuntimeContainerd, false, false},
    {"crio-conmon-", kRuntimeCrio, true, true},
    {"crio-", kRuntimeCrio, false, true},
    {"docker-", kRuntimeDocker, false, false},
    {"libpod-conmon-", kRuntimePodman, true, false},
    {"libpod-", kRuntimePodman, false, true},
    {"nerdctl-", kRuntimeContainerd, false, false},
}};

// runc's systemd path "<slice>:<prefix>:<name>" taken literally as a
// cgroupfs path: the kubelet uses the systemd driver and containerd
// (SystemdCgroup = false) does not, so the container lands in one cgroup
// named "kubepods-burstable-pod<uid>.slice:cri-containerd:<id>" under
// containerd's own. CRI-O and Docker configure runc's driver themselves and
// cannot end up there.
constexpr std::string_view kColonPrefix = "cri-containerd";

// A container found in one path component.
struct Found {
  std::string_view runtime;
  std::string_view id;
  std::optional<Pod> pod;
  bool monitor = false;
};

std::optional<Found> prefixedName(std::string_view name) {
  bool scoped = endsWith(name, ".scope");
  std::string_view stem = scoped ? name.substr(0, name.size() - 6) : name;
  for (const NamePrefix& p : kNamePrefixes) {
    if (startsWith(stem, p.prefix)) {
      std::string_view id = stem.substr(p.prefix.size());
      if ((scoped || p.unscoped) && isContainerId(id)) {
        return Found{p.runtime, id, std::nullopt, p.monitor};
      }
      return std::nullopt; // "crio-conmon-x" must not be retried as "crio-"
    }
  }
  return std::nullopt;
}

std::optional<Found> colonName(std::string_view name) {
  size_t first = name.find(':');
  if (first == std::string_view::npos) {
    return std::nullopt;
  }
  size_t second = name.find(':', first + 1);
  if (second == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view slice = name.substr(0, first);
  std::string_view prefix = name.substr(first + 1, second - first - 1);
  std::string_view id = name.substr(second + 1);
  if (!endsWith(slice, ".slice") || prefix != kColonPrefix || !isContainerId(id)) {
    return std::nullopt;
  }
  return Found{kRuntimeContainerd, id, podSlice(slice), false};
}

// The state of the walk over a path's components.
struct Walk {
  std::string_view parent; // the previous component
  std::string_view grandparent;
  std::optional<Pod> parent_pod; // the previous component as a pod cgroup
  size_t index = 0; // of the current component
};

// The container component name names, given what lies above it.
std::optional<Found> containerComponent(std::string_view name, const Walk& walk) {
  if (isContainerId(name)) {
    // A bare id means a container only where a layout puts one.
    if (walk.parent_pod) {
      return Found{kRuntimeKubepods, name, walk.parent_pod, false};
    }
    if (walk.parent == "docker") {
      return Found{kRuntimeDocker, name, std::nullopt, false};
    }
    if (walk.parent == "default" && walk.index == 1) {
      return Found{kRuntimeContainerd, name, std::nullopt, false};
    }
    return std::nullopt;
  }
  if (auto found = prefixedName(name)) {
    found->pod = walk.parent_pod;
    return found;
  }
  return colonName(name);
}

ContainerRef toRef(const Found& found) {
  ContainerRef ref;
  ref.runtime = found.runtime;
  ref.id = found.id;
  ref.monitor = found.monitor;
  if (found.pod) {
    ref.pod_uid = found.pod->uid;
    for (char& c : ref.pod_uid) {
      if (c == '_') {
        c = '-';
      }
    }
    ref.qos = found.pod->qos;
  }
  return ref;
}

// One line of /proc/<pid>/cgroup: "<hierarchy>:<controllers>:<path>"; the
// path may hold ':' itself.
struct CgroupLine {
  bool v2 = false;
  std::string_view path;
};

std::optional<CgroupLine> splitLine(std::string_view line) {
  size_t first = line.find(':');
  if (first == std::string_view::npos) {
    return std::nullopt;
  }
  size_t second = line.find(':', first + 1);
  if (second == std::string_view::npos) {
    return std::nullopt;
  }
  CgroupLine out;
  out.v2 = line.substr(0, first) == "0" && second == first + 1;
  out.path = line.substr(second + 1);
  return out;
}

// Calls f(line) for each line of content until f returns a value.
template <class F> std::optional<ContainerRef> firstLine(std::string_view content, F f) {
  while (!content.empty()) {
    size_t end = content.find('\n');
    std::string_view line = content.substr(0, end);
    content = end == std::string_view::npos ? std::string_view() : content.substr(end + 1);
    if (auto parsed = splitLine(line)) {
      if (auto ref = f(*parsed)) {
        return ref;
      }
    }
  }
  return std::nullopt;
}

} // namespace

bool isContainerId(std::string_view s) { return s.size() == kContainerIdLength && allLowerHex(s); }

std::optional<ContainerRef> parseContainerCgroup(std::string_view path) {
  constexpr std::string_view kDeleted = " (deleted)";
  if (endsWith(path, kDeleted)) {
    path.remove_suffix(kDeleted.size());
  }

  std::optional<Found> innermost; // the deepest container
  std::optional<Found> innermost_in_pod; // the deepest container that belongs to a pod
  Walk walk;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view name = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (name.empty()) {
      continue; // leading, trailing or doubled '/'
    }

    if (auto found = containerComponent(name, walk)) {
      if (found->pod) {
        innermost_in_pod = found;
      }
      innermost = found;
    }

    std::optional<Pod> pod = podSlice(name);
    if (!pod) {
      pod = podDirectory(name, walk.parent, walk.grandparent);
    }
    walk.grandparent = walk.parent;
    walk.parent = name;
    walk.parent_pod = pod;
    ++walk.index;
  }

  // A container inside a pod is one the node's runtime knows; one nested
  // in it (docker-in-docker in a pod) is not, while a kind node's pods nest
  // inside the node's container.
  if (innermost_in_pod) {
    return toRef(*innermost_in_pod);
  }
  if (innermost) {
    return toRef(*innermost);
  }
  return std::nullopt;
}

std::optional<ContainerRef> parseProcCgroupFile(std::string_view content) {
  // Two passes rather than one so that only the winner builds a result.
  if (auto ref = firstLine(content, [](const CgroupLine& line) {
        return line.v2 ? parseContainerCgroup(line.path) : std::nullopt;
      })) {
    return ref;
  }
  return firstLine(content, [](const CgroupLine& line) {
    return line.v2 ? std::nullopt : parseContainerCgroup(line.path);
  });
}

} // namespace vigil::enrich
