// Container identity from cgroup paths: the layouts of containerd, CRI-O,
// Docker and Podman under the kubelet's systemd and cgroupfs drivers, kind,
// k3s and nested containers, host paths, malformed ids, and whole
// /proc/<pid>/cgroup files (v2, v1, hybrid).

#include "agent/enrich/container_id.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace vigil::enrich {
namespace {

// Container ids.
const std::string kC1 = "54226bf88af0d06b5708c4bf43575ab3623ee8606c55331412dadd9f8ffc8ef4";
const std::string kC2 = "a9920ae05ca958ed7a6736ef05b82ef270de01071bedefc8d97bc4b9ef476159";
const std::string kC3 = "b42b32433854de2cbdb04dde6ce7e4e2ec9bf53e8085fa71f4870297a7c226a8";
const std::string kC4 = "159e28eea93e9fb68b8a68f0cb8dc920e19375c78b1a4d2e763a86ef537be8d9";
// Pod uids, and as systemd slice names spell them.
const std::string kU1 = "4ec278d9-5319-47f3-b8dd-092c8cdcfdbd";
const std::string kU2 = "0e3eaa3d-cd49-419a-9d69-6329e0ef65ce";
const std::string kU3 = "6fbf36af-6cb5-4dc7-954c-1214599f4ce6";
const std::string kStaticUid = "0a4b3013d81e0c26267cb07a18a72731"; // static pods: a hash, no dashes

std::string underscored(std::string uid) {
  std::replace(uid.begin(), uid.end(), '-', '_');
  return uid;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// The systemd driver's pod slices.
std::string burstableSlice(const std::string& uid) {
  return "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscored(uid) + ".slice";
}
std::string besteffortSlice(const std::string& uid) {
  return "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + underscored(uid) + ".slice";
}
std::string guaranteedSlice(const std::string& uid) {
  return "/kubepods.slice/kubepods-pod" + underscored(uid) + ".slice";
}

struct Case {
  std::string name;
  std::string path;
  std::string runtime;
  std::string id;
  std::string pod_uid;
  std::string qos;
  bool monitor = false;
};

std::vector<Case> positiveCases() {
  const std::string kind_root = "/kubelet.slice/kubelet-kubepods.slice";
  const std::string rootless = "/user.slice/user-1000.slice/user@1000.service/user.slice";
  return {
      // Kubernetes, systemd driver (EKS AL2023, GKE on cgroup v2, kubeadm defaults).
      {"containerd_systemd_burstable", burstableSlice(kU1) + "/cri-containerd-" + kC1 + ".scope", "containerd", kC1,
       kU1, "burstable"},
      {"containerd_systemd_besteffort", besteffortSlice(kU2) + "/cri-containerd-" + kC2 + ".scope", "containerd", kC2,
       kU2, "besteffort"},
      {"containerd_systemd_guaranteed", guaranteedSlice(kU3) + "/cri-containerd-" + kC3 + ".scope", "containerd", kC3,
       kU3, "guaranteed"},
      {"containerd_systemd_static_pod", burstableSlice(kStaticUid) + "/cri-containerd-" + kC4 + ".scope",
       "containerd", kC4, kStaticUid, "burstable"},
      {"containerd_systemd_trailing_slash", burstableSlice(kU1) + "/cri-containerd-" + kC1 + ".scope/", "containerd",
       kC1, kU1, "burstable"},
      {"containerd_systemd_relative", burstableSlice(kU1).substr(1) + "/cri-containerd-" + kC1 + ".scope",
       "containerd", kC1, kU1, "burstable"},
      {"containerd_systemd_deleted", burstableSlice(kU1) + "/cri-containerd-" + kC1 + ".scope (deleted)", "containerd",
       kC1, kU1, "burstable"},
      {"containerd_systemd_seen_from_private_cgroupns",
       "/../.." + burstableSlice(kU1) + "/cri-containerd-" + kC1 + ".scope", "containerd", kC1, kU1, "burstable"},
      {"containerd_systemd_bad_pod_uid",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + upper(underscored(kU1)) +
           ".slice/cri-containerd-" + kC1 + ".scope",
       "containerd", kC1, "", ""},
      // OpenShift / CRI-O, systemd driver; conmon is the monitor, not the container.
      {"crio_systemd", burstableSlice(kU1) + "/crio-" + kC1 + ".scope", "cri-o", kC1, kU1, "burstable"},
      {"crio_systemd_guaranteed", guaranteedSlice(kU3) + "/crio-" + kC3 + ".scope", "cri-o", kC3, kU3, "guaranteed"},
      {"crio_systemd_conmon", burstableSlice(kU1) + "/crio-conmon-" + kC1 + ".scope", "cri-o", kC1, kU1, "burstable",
       true},
      {"crio_crun_container_subgroup", besteffortSlice(kU2) + "/crio-" + kC2 + ".scope/container", "cri-o", kC2, kU2,
       "besteffort"},
      // CRI-O, cgroupfs manager.
      {"crio_cgroupfs", "/kubepods/burstable/pod" + kU1 + "/crio-" + kC1, "cri-o", kC1, kU1, "burstable"},
      {"crio_cgroupfs_conmon", "/kubepods/burstable/pod" + kU1 + "/crio-conmon-" + kC1, "cri-o", kC1, kU1, "burstable",
       true},
      // dockershim / cri-dockerd, systemd driver.
      {"docker_systemd_pod", besteffortSlice(kU2) + "/docker-" + kC2 + ".scope", "docker", kC2, kU2, "besteffort"},
      // Kubernetes, cgroupfs driver (EKS AL2, GKE on cgroup v1, k3s, minikube): no runtime in the name.
      {"cgroupfs_burstable", "/kubepods/burstable/pod" + kU1 + "/" + kC1, "kubepods", kC1, kU1, "burstable"},
      {"cgroupfs_besteffort_k3s", "/kubepods/besteffort/pod" + kU2 + "/" + kC4, "kubepods", kC4, kU2, "besteffort"},
      {"cgroupfs_guaranteed", "/kubepods/pod" + kU3 + "/" + kC3, "kubepods", kC3, kU3, "guaranteed"},
      {"cgroupfs_init_scope_below", "/kubepods/burstable/pod" + kU1 + "/" + kC1 + "/init.scope", "kubepods", kC1, kU1,
       "burstable"},
      {"cgroupfs_custom_cgroup_root", "/k8s/kubepods/burstable/pod" + kU1 + "/" + kC1, "kubepods", kC1, kU1,
       "burstable"},
      {"cgroupfs_static_pod", "/kubepods/besteffort/pod" + kStaticUid + "/" + kC2, "kubepods", kC2, kStaticUid,
       "besteffort"},
      // containerd with SystemdCgroup = false under a systemd-driven kubelet.
      {"containerd_colon_form",
       "/system.slice/containerd.service/kubepods-burstable-pod" + underscored(kU1) + ".slice:cri-containerd:" + kC1,
       "containerd", kC1, kU1, "burstable"},
      {"containerd_colon_form_at_root", "/kubepods-besteffort-pod" + underscored(kU2) + ".slice:cri-containerd:" + kC2,
       "containerd", kC2, kU2, "besteffort"},
      {"containerd_colon_form_guaranteed",
       "/system.slice/containerd.service/kubepods-pod" + underscored(kU3) + ".slice:cri-containerd:" + kC3,
       "containerd", kC3, kU3, "guaranteed"},
      // kind: the node's own cgroup namespace, and the host's view of it.
      {"kind_besteffort",
       kind_root + "/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + underscored(kU2) +
           ".slice/cri-containerd-" + kC2 + ".scope",
       "containerd", kC2, kU2, "besteffort"},
      {"kind_guaranteed",
       kind_root + "/kubelet-kubepods-pod" + underscored(kU3) + ".slice/cri-containerd-" + kC3 + ".scope", "containerd",
       kC3, kU3, "guaranteed"},
      {"kind_host_view_v2",
       "/system.slice/docker-" + kC4 + ".scope" + kind_root +
           "/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod" + underscored(kU1) +
           ".slice/cri-containerd-" + kC1 + ".scope",
       "containerd", kC1, kU1, "burstable"},
      {"kind_host_view_v1", "/docker/" + kC4 + "/kubepods/besteffort/pod" + kU2 + "/" + kC2, "kubepods", kC2, kU2,
       "besteffort"},
      {"k3d_host_view", "/docker/" + kC4 + "/kubepods/burstable/pod" + kU1 + "/" + kC1, "kubepods", kC1, kU1,
       "burstable"},
      {"kind_node_itself", "/system.slice/docker-" + kC4 + ".scope/kubelet.slice", "docker", kC4, "", ""},
      // A container inside a pod's container is not one the node knows: the pod's wins.
      {"docker_in_pod", "/kubepods/burstable/pod" + kU1 + "/" + kC1 + "/docker/" + kC2, "kubepods", kC1, kU1,
       "burstable"},
      // Docker.
      {"docker_cgroupfs", "/docker/" + kC1, "docker", kC1, "", ""},
      {"docker_systemd", "/system.slice/docker-" + kC2 + ".scope", "docker", kC2, "", ""},
      {"docker_in_docker", "/docker/" + kC1 + "/docker/" + kC2, "docker", kC2, "", ""},
      {"docker_systemd_init_inside", "/system.slice/docker-" + kC3 + ".scope/init.scope", "docker", kC3, "", ""},
      {"docker_systemd_service_inside", "/system.slice/docker-" + kC3 + ".scope/system.slice/nginx.service", "docker",
       kC3, "", ""},
      {"docker_rootless", rootless + "/docker-" + kC4 + ".scope", "docker", kC4, "", ""},
      // Podman.
      {"podman_rootful", "/machine.slice/libpod-" + kC1 + ".scope", "podman", kC1, "", ""},
      {"podman_rootful_container_subgroup", "/machine.slice/libpod-" + kC1 + ".scope/container", "podman", kC1, "",
       ""},
      {"podman_conmon", "/machine.slice/libpod-conmon-" + kC1 + ".scope", "podman", kC1, "", "", true},
      {"podman_rootless", rootless + "/libpod-" + kC2 + ".scope", "podman", kC2, "", ""},
      {"podman_rootless_container_subgroup", rootless + "/libpod-" + kC2 + ".scope/container", "podman", kC2, "", ""},
      {"podman_rootless_conmon", rootless + "/libpod-conmon-" + kC2 + ".scope", "podman", kC2, "", "", true},
      {"podman_pod", "/machine.slice/machine-libpod_pod_" + kC3 + ".slice/libpod-" + kC4 + ".scope/container", "podman",
       kC4, "", ""},
      {"podman_cgroupfs", "/libpod_parent/libpod-" + kC1, "podman", kC1, "", ""},
      // containerd without Kubernetes.
      {"nerdctl_systemd", "/system.slice/nerdctl-" + kC2 + ".scope", "containerd", kC2, "", ""},
      {"containerd_default_namespace", "/default/" + kC3, "containerd", kC3, "", ""},
  };
}

class ParseContainerCgroupTest : public ::testing::TestWithParam<Case> {};

TEST_P(ParseContainerCgroupTest, Recognizes) {
  const Case& c = GetParam();
  auto ref = parseContainerCgroup(c.path);
  ASSERT_TRUE(ref.has_value()) << c.path;
  EXPECT_EQ(ref->runtime, c.runtime) << c.path;
  EXPECT_EQ(ref->id, c.id) << c.path;
  EXPECT_EQ(ref->pod_uid, c.pod_uid) << c.path;
  EXPECT_EQ(ref->qos, c.qos) << c.path;
  EXPECT_EQ(ref->monitor, c.monitor) << c.path;
}

INSTANTIATE_TEST_SUITE_P(Layouts, ParseContainerCgroupTest, ::testing::ValuesIn(positiveCases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

struct Negative {
  std::string name;
  std::string path;
};

std::vector<Negative> negativeCases() {
  const std::string c59 = kC1.substr(0, 59);
  const std::string c63 = kC1.substr(0, 63);
  return {
      {"empty", ""},
      {"root", "/"},
      {"init_scope", "/init.scope"},
      {"session", "/user.slice/user-0.slice/session-1.scope"},
      {"service", "/system.slice/ssh.service"},
      {"containerd_service", "/system.slice/containerd.service"},
      {"kubelet_service", "/system.slice/kubelet.service"},
      {"pod_slice_only", burstableSlice(kU1)},
      {"pod_directory_only", "/kubepods/burstable/pod" + kU1},
      {"qos_slice_only", "/kubepods.slice/kubepods-besteffort.slice"},
      {"id_59_hex", "/kubepods/burstable/pod" + kU1 + "/" + c59},
      {"id_63_hex_scope", "/system.slice/docker-" + c63 + ".scope"},
      {"id_65_hex", "/docker/" + kC1 + "a"},
      {"id_uppercase", "/docker/" + upper(kC1)},
      {"id_uppercase_scope", burstableSlice(kU1) + "/cri-containerd-" + upper(kC1) + ".scope"},
      {"id_not_hex", "/docker/" + kC1.substr(0, 63) + "g"},
      {"conmon_short_id_not_retried_as_crio", burstableSlice(kU1) + "/crio-conmon-" + c63 + ".scope"},
      {"docker_prefix_without_scope", "/system.slice/docker-" + kC1},
      {"containerd_prefix_without_scope", burstableSlice(kU1) + "/cri-containerd-" + kC1},
      {"bare_id_at_root", "/" + kC1},
      {"bare_id_in_unknown_parent", "/system.slice/" + kC1},
      {"bare_id_other_containerd_namespace", "/k8s.io/" + kC1},
      {"default_namespace_not_at_root", "/foo/default/" + kC1},
      {"default_namespace_named_container", "/default/my-container"},
      {"pod_directory_outside_kubepods", "/burstable/pod" + kU1 + "/" + kC1},
      {"docker_buildx", "/docker/buildx"},
      {"podman_pause_process", "/user.slice/user-1000.slice/user@1000.service/user.slice/podman-12345.scope"},
      {"colon_form_other_prefix", "/system.slice/crio.service/kubepods-pod" + underscored(kU3) + ".slice:crio:" + kC3},
      {"colon_form_not_slice", "/system.slice/containerd.service/foo:cri-containerd:" + kC1},
      {"process_api_cgroup", "/process_api/f4991c199db8fec66ce9761e96fcc403"},
  };
}

class ParseContainerCgroupNegativeTest : public ::testing::TestWithParam<Negative> {};

TEST_P(ParseContainerCgroupNegativeTest, Rejects) {
  auto ref = parseContainerCgroup(GetParam().path);
  EXPECT_FALSE(ref.has_value()) << GetParam().path << " -> " << (ref ? ref->runtime + " " + ref->id : "");
}

INSTANTIATE_TEST_SUITE_P(HostAndMalformed, ParseContainerCgroupNegativeTest, ::testing::ValuesIn(negativeCases()),
                         [](const ::testing::TestParamInfo<Negative>& info) { return info.param.name; });

TEST(ContainerIdTest, IsContainerId) {
  EXPECT_TRUE(isContainerId(kC1));
  EXPECT_FALSE(isContainerId(""));
  EXPECT_FALSE(isContainerId(kC1.substr(0, 59)));
  EXPECT_FALSE(isContainerId(upper(kC1)));
  EXPECT_FALSE(isContainerId(kC1 + "0"));
}

TEST(ProcCgroupFileTest, CgroupV2) {
  std::string content = "0::" + burstableSlice(kU1) + "/cri-containerd-" + kC1 + ".scope\n";
  auto ref = parseProcCgroupFile(content);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(*ref, (ContainerRef{"containerd", kC1, kU1, "burstable", false}));
}

TEST(ProcCgroupFileTest, CgroupV2Deleted) {
  // The kernel marks a cgroup removed while the file was being read.
  auto ref = parseProcCgroupFile("0::/docker/" + kC2 + " (deleted)\n");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->id, kC2);
}

TEST(ProcCgroupFileTest, CgroupV1MultiLine) {
  // A kind node on a cgroup v1 host with the systemd driver (host view),
  // holding a static pod's container.
  const std::string path = "/system.slice/docker-" + kC4 +
                           ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
                           "kubelet-kubepods-burstable-pod" +
                           kStaticUid + ".slice/cri-containerd-" + kC1 + ".scope";
  std::string content = "12:rdma:/\n"
                        "11:blkio:" + path + "\n"
                        "10:cpuset:" + path + "\n"
                        "9:memory:" + path + "\n"
                        "8:perf_event:" + path + "\n"
                        "7:hugetlb:" + path + "\n"
                        "6:net_cls,net_prio:" + path + "\n"
                        "5:freezer:" + path + "\n"
                        "4:devices:" + path + "\n"
                        "3:pids:" + path + "\n"
                        "2:cpu,cpuacct:" + path + "\n"
                        "1:name=systemd:" + path + "\n";
  auto ref = parseProcCgroupFile(content);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(*ref, (ContainerRef{"containerd", kC1, kStaticUid, "burstable", false}));
}

TEST(ProcCgroupFileTest, HybridTakesV1WhenV2NamesNoContainer) {
  // Hybrid host, kubelet and containerd on cgroupfs: the unified hierarchy
  // only shows the runtime's service.
  std::string content = "9:name=systemd:/system.slice/containerd.service\n"
                        "8:pids:/kubepods/besteffort/pod" + kU2 + "/" + kC2 + "\n"
                        "4:memory:/kubepods/besteffort/pod" + kU2 + "/" + kC2 + "\n"
                        "3:cpuset:/\n"
                        "0::/system.slice/containerd.service\n";
  auto ref = parseProcCgroupFile(content);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(*ref, (ContainerRef{"kubepods", kC2, kU2, "besteffort", false}));
}

TEST(ProcCgroupFileTest, HybridPrefersV2) {
  std::string content = "4:memory:/docker/" + kC2 + "\n" + "0::/system.slice/docker-" + kC1 + ".scope\n";
  auto ref = parseProcCgroupFile(content);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->id, kC1);
}

TEST(ProcCgroupFileTest, V1PathWithColons) {
  std::string content = "4:memory:/system.slice/containerd.service/kubepods-burstable-pod" + underscored(kU1) +
                        ".slice:cri-containerd:" + kC1 + "\n0::/\n";
  auto ref = parseProcCgroupFile(content);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(*ref, (ContainerRef{"containerd", kC1, kU1, "burstable", false}));
}

TEST(ProcCgroupFileTest, HostProcess) {
  // This machine's own shell: hybrid, no container anywhere.
  const char* content = "9:name=systemd:/\n"
                        "8:pids:/\n"
                        "7:blkio:/\n"
                        "6:freezer:/\n"
                        "5:devices:/\n"
                        "4:memory:/process_api/f4991c199db8fec66ce9761e96fcc403\n"
                        "3:cpuset:/\n"
                        "2:cpuacct:/\n"
                        "1:cpu:/\n"
                        "0::/\n";
  EXPECT_FALSE(parseProcCgroupFile(content).has_value());
  EXPECT_FALSE(parseProcCgroupFile("0::/user.slice/user-0.slice/session-1.scope\n").has_value());
}

TEST(ProcCgroupFileTest, GarbageAndEmpty) {
  EXPECT_FALSE(parseProcCgroupFile("").has_value());
  EXPECT_FALSE(parseProcCgroupFile("\n\n").has_value());
  EXPECT_FALSE(parseProcCgroupFile("no colons here\n" + kC1 + "\n").has_value());
  // A line without a trailing newline still counts.
  auto ref = parseProcCgroupFile("garbage\n0::/docker/" + kC3);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->id, kC3);
}

} // namespace
} // namespace vigil::enrich
