#pragma once

// A real containerd, with the CRI plugin, for the tests that need a
// container runtime: its own root, state, runc root, cgroup parent and
// socket under a fresh temp dir (never /run/containerd), started as a child
// of the test and stopped by it.
//
// Images are built offline (tests/support/images/build-images.sh: a busybox
// image from Debian's busybox-static and a pause image from a static C
// binary, in one OCI layout tarball) and imported with `ctr images import`;
// pods use the host network, so no CNI is needed. Needs root.
//
// Everything it started is stopped on teardown or destruction, also after a
// failed test: pods are stopped and removed through CRI, containerd is
// terminated, leftover shims and container processes are killed, cgroups
// removed, mounts under the temp dir unmounted, the temp dir deleted. A
// test killed before its teardown leaves shims and containers behind; the
// next harness to start cleans up after it.

#include "agent/enrich/cri_client.h"

#include <chrono>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace vigil::test {

struct ContainerdHarnessOptions {
  // "overlayfs", "native", or empty: $VIGIL_CRI_SNAPSHOTTER if set, else
  // overlayfs when an overlay mount works in the temp dir, else native.
  std::string snapshotter;
  // build-images.sh; empty: the one next to this file in the source tree.
  std::string images_script;
  // Where the image tarballs are built, and reused while fresh; empty: the
  // build tree's (VIGIL_CRI_IMAGES_DIR), else the harness's temp dir.
  std::string images_dir;
  std::chrono::seconds start_timeout{30};
};

class ContainerdHarness {
public:
  static constexpr const char* kBusyboxImage = "vigil.test/busybox:1";
  static constexpr const char* kPauseImage = "vigil.test/pause:1";

  struct Pod {
    std::string sandbox_id;
    cri::PodSandboxSpec spec;
  };

  // Builds and imports the images and starts containerd; throws
  // std::runtime_error (with containerd's log tail) when it cannot.
  explicit ContainerdHarness(ContainerdHarnessOptions options = {});
  ~ContainerdHarness();
  ContainerdHarness(const ContainerdHarness&) = delete;
  ContainerdHarness& operator=(const ContainerdHarness&) = delete;

  // Stops everything and deletes the temp dir; idempotent.
  void teardown();

  const std::string& dir() const { return dir_; }
  const std::string& socketPath() const { return socket_; }
  std::string endpoint() const { return "unix://" + socket_; }
  const std::string& snapshotter() const { return snapshotter_; }
  // Every pod's cgroup is <cgroupParent()>/pod<uid>/<container id>, where
  // cgroupParent() is /<this harness's dir name>/kubepods/besteffort.
  const std::string& cgroupParent() const { return cgroup_parent_; }
  pid_t containerdPid() const { return containerd_pid_; }
  cri::CriClient& client() { return *client_; }

  // A ready pod sandbox on the host network; throws on failure.
  Pod startPod(const std::string& name, const std::string& namespace_name, const std::string& uid,
               const cri::Labels& labels = {});
  // A created and started container in pod; returns its id; throws on failure.
  std::string startContainer(const Pod& pod, const std::string& name, const std::vector<std::string>& command,
                             const cri::Labels& labels = {}, const std::string& image = kBusyboxImage);
  // The host pid of the container's init process (from ContainerStatus
  // verbose info); throws when the runtime does not say.
  pid_t containerPid(const std::string& container_id);

  // The end of containerd's log, for failure messages.
  std::string logTail(size_t bytes = 4000) const;

private:
  void start();
  std::string chooseSnapshotter();
  void writeConfig();
  void buildAndImportImages();
  void waitForCri();
  void stopContainerd();

  ContainerdHarnessOptions options_;
  std::string dir_;
  std::string socket_;
  std::string config_;
  std::string log_;
  std::string snapshotter_;
  std::string cgroup_parent_;
  pid_t containerd_pid_ = -1;
  std::unique_ptr<cri::CriClient> client_;
  bool torn_down_ = false;
};

} // namespace vigil::test
