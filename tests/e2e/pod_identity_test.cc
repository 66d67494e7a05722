// Pod identity end to end: the real agent (real BPF programs) and a real
// containerd started by the test (tests/support/containerd_harness.h). A
// command run in a pod's container produces events that carry the pod's
// name, namespace, uid and labels and the container's name and image; a host
// process carries none; a container process older than the agent keeps its
// ancestry.

#include "support/agent_harness.h"
#include "support/containerd_harness.h"
#include "support/spawn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::Pair;

bool execHasArg(const Event& e, const std::string& arg) {
  if (!e.has_exec()) {
    return false;
  }
  const auto& args = e.exec().process().args();
  return std::find(args.begin(), args.end(), arg) != args.end();
}

AgentConfig podConfig(const std::string& endpoint, bool proc_cgroups) {
  AgentConfig c;
  c.enrich.pods.proc_cgroups = proc_cgroups;
  // Both pipeline modes: stage threads in one run, inline in the other.
  c.pipeline.mode = proc_cgroups ? AgentConfig::Pipeline::Mode::kInline : AgentConfig::Pipeline::Mode::kThreads;
  c.stats_interval_seconds = 0;
  c.syscalls.enabled = false;
  c.network.enabled = false;
  c.enrich.pods.cri_endpoint = endpoint;
  // Long enough that a container's first events always wait for its
  // metadata here: the test checks that they get it.
  c.enrich.pods.pod_wait_ms = 5000;
  c.enrich.ancestors = 8;
  return c;
}

// Containers found by cgroup id (cgroup v2), or from /proc/<pid>/cgroup as on
// a cgroup v1 host.
class PodIdentityTest : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override {
    if (!isRoot()) {
      GTEST_SKIP() << "needs root (starts containerd, loads BPF programs)";
    }
    containerd_ = std::make_unique<ContainerdHarness>();
  }
  void TearDown() override { containerd_.reset(); }

  std::unique_ptr<ContainerdHarness> containerd_;
};

void expectPod(const Process& p, const std::string& container_id, const std::string& container_name,
               const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(p.has_container()) << p.ShortDebugString();
  EXPECT_EQ(p.container().id(), container_id);
  EXPECT_EQ(p.container().name(), container_name);
  EXPECT_EQ(p.container().image(), ContainerdHarness::kBusyboxImage);
  EXPECT_FALSE(p.container().image_id().empty());
  EXPECT_FALSE(p.container().metadata_missing());
  ASSERT_TRUE(p.has_pod());
  EXPECT_EQ(p.pod().name(), "frontend-7d9");
  EXPECT_EQ(p.pod().namespace_(), "shop");
  EXPECT_EQ(p.pod().uid(), "8d3c55a4-0c1e-4f7b-9a43-5f0d2b7e1c21");
  EXPECT_THAT(p.pod().labels(), Contains(Pair("app", "frontend")));
  EXPECT_THAT(p.pod().labels(), Contains(Pair("tier", "web")));
}

TEST_P(PodIdentityTest, EventsInAPodCarryItsIdentityAndHostEventsDoNot) {
  auto pod = containerd_->startPod("frontend-7d9", "shop", "8d3c55a4-0c1e-4f7b-9a43-5f0d2b7e1c21",
                                   {{"app", "frontend"}, {"tier", "web"}});
  // Running before the agent: its shell is found by the start-up snapshot.
  std::string old_id = containerd_->startContainer(
      pod, "sidecar", {"/bin/sh", "-c", "while true; do /bin/true old-marker; sleep 0.2; done"});
  containerd_->containerPid(old_id);

  AgentHarness agent(podConfig(containerd_->endpoint(), GetParam()));
  // Started after the agent: its first events come before the runtime has
  // told the agent anything about it, so they wait for the metadata.
  std::string web_id = containerd_->startContainer(
      pod, "web", {"/bin/sh", "-c", "sleep 0.5; /bin/true new-marker; exec sleep 3600"});

  auto fresh = agent.sink().waitFor([](const Event& e) { return execHasArg(e, "new-marker"); }, 30s);
  ASSERT_TRUE(fresh) << containerd_->logTail();
  expectPod(fresh->exec().process(), web_id, "web", "exec in the new container");
  expectPod(fresh->exec().parent(), web_id, "web", "its parent, the container's shell");

  // The container's very first exec (its shell), captured as it started.
  auto first = agent.sink().waitFor(
      [&](const Event& e) {
        return e.has_exec() && e.exec().process().container().id() == web_id &&
               e.exec().process().args_size() > 0 && e.exec().process().args(0) == "/bin/sh";
      },
      1s);
  ASSERT_TRUE(first);
  expectPod(first->exec().process(), web_id, "web", "the container's first exec");

  auto old = agent.sink().waitFor([](const Event& e) { return execHasArg(e, "old-marker"); }, 30s);
  ASSERT_TRUE(old);
  expectPod(old->exec().process(), old_id, "sidecar", "exec in the container older than the agent");
  // The loop's shell started before the agent: its image and ancestry come
  // from the snapshot.
  const Process& shell = old->exec().parent();
  expectPod(shell, old_id, "sidecar", "the pre-agent shell");
  EXPECT_EQ(shell.binary(), "/bin/busybox");
  ASSERT_GE(shell.args_size(), 3);
  EXPECT_EQ(shell.args(2), "while true; do /bin/true old-marker; sleep 0.2; done");
  EXPECT_TRUE(shell.source() == v1::PROCESS_SOURCE_SNAPSHOT_ITER || shell.source() == v1::PROCESS_SOURCE_SNAPSHOT_PROC)
      << shell.ShortDebugString();
  // Beyond the parent: the runtime's shim, which is on the host.
  ASSERT_GE(old->ancestors_size(), 1);
  EXPECT_FALSE(old->ancestors(0).has_container()) << old->ancestors(0).ShortDebugString();

  // A host process: no container, no pod.
  pid_t host = spawn({{"/bin/true", "host-marker"}});
  ASSERT_EQ(waitStatus(host), 0);
  auto on_host = agent.sink().waitFor([](const Event& e) { return execHasArg(e, "host-marker"); });
  ASSERT_TRUE(on_host);
  EXPECT_FALSE(on_host->exec().process().has_container());
  EXPECT_FALSE(on_host->exec().process().has_pod());

  agent.stop();
  auto es = agent.agent().podEnricher().stats();
  EXPECT_GE(es.container_events, 3u);
  EXPECT_EQ(es.metadata_missing, 0u);
}

INSTANTIATE_TEST_SUITE_P(Cgroups, PodIdentityTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ProcCgroupFile" : "CgroupId"; });

} // namespace
} // namespace vigil::test
