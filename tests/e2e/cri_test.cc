// The CRI client and the pod cache against a real containerd that the test
// starts (tests/support/containerd_harness.h): a pod with labels and a busybox
// container, asked about the way the agent asks, and a cache with no runtime
// behind its socket.

#include "agent/enrich/cri_client.h"
#include "agent/enrich/pod_cache.h"
#include "support/containerd_harness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

// Waits for pred, polling; a generous timeout, never a timing assertion.
bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Records the cache's ready notifications.
class ReadyLog {
public:
  cri::PodCache::ReadyCallback callback() {
    return [this](const std::string& id, const cri::ContainerMetaPtr& meta) {
      std::lock_guard lk(mu_);
      ready_[id] = meta;
      cv_.notify_all();
    };
  }
  // Waits for the notification about id; the metadata it carried, or
  // std::nullopt when none came in time.
  std::optional<cri::ContainerMetaPtr> waitFor(const std::string& id, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return ready_.contains(id); })) {
      return std::nullopt;
    }
    return ready_[id];
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, cri::ContainerMetaPtr> ready_;
};

class CriTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      return;
    }
    try {
      harness_ = new ContainerdHarness();
    } catch (const std::exception& e) {
      start_error_ = new std::string(e.what());
    }
  }
  static void TearDownTestSuite() {
    delete harness_;
    harness_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: starts containerd and runs containers";
    }
    ASSERT_NE(harness_, nullptr) << "containerd harness: " << (start_error_ ? *start_error_ : "not started");
  }

  ContainerdHarness& harness() { return *harness_; }
  cri::CriClient& client() { return harness_->client(); }

  std::unique_ptr<cri::CriClient> newClient() {
    auto c = cri::CriClient::create({.endpoint = harness_->endpoint()});
    EXPECT_TRUE(c) << c.error().message();
    return std::move(*c);
  }

  static ContainerdHarness* harness_;
  static std::string* start_error_;
};

ContainerdHarness* CriTest::harness_ = nullptr;
std::string* CriTest::start_error_ = nullptr;

const cri::Labels kPodLabels = {{"app", "web"}, {"tier", "frontend"}, {"app.kubernetes.io/version", "1.2.3"}};
const cri::Labels kContainerLabels = {{"role", "worker"}};

TEST_F(CriTest, VersionNamesTheRuntime) {
  auto v = client().version();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->runtime_name, "containerd");
  EXPECT_FALSE(v->runtime_version.empty());
  EXPECT_EQ(v->runtime_api_version, "v1");
}

TEST_F(CriTest, ContainerInfoNamesPodContainerAndImage) {
  auto pod = harness().startPod("web-0", "shop", "0c6f1a3e-5b8d-4d8e-9a51-7d3c2a1b0f01", kPodLabels);
  std::string id = harness().startContainer(pod, "app", {"sleep", "3600"}, kContainerLabels);
  ASSERT_EQ(id.size(), 64u) << id;

  auto info = client().containerInfo(id);
  ASSERT_TRUE(info) << info.error().message();
  ASSERT_TRUE(info->has_value()) << "containerd does not know " << id;
  const cri::ContainerMeta& meta = **info;
  EXPECT_EQ(meta.id, id);
  EXPECT_EQ(meta.name, "app");
  EXPECT_EQ(meta.image, ContainerdHarness::kBusyboxImage);
  EXPECT_THAT(meta.image_id, StartsWith("sha256:"));
  EXPECT_EQ(meta.pod_sandbox_id, pod.sandbox_id);
  EXPECT_EQ(meta.pod_name, "web-0");
  EXPECT_EQ(meta.pod_namespace, "shop");
  EXPECT_EQ(meta.pod_uid, "0c6f1a3e-5b8d-4d8e-9a51-7d3c2a1b0f01");
  for (const auto& [k, v] : kPodLabels) {
    EXPECT_THAT(meta.pod_labels, Contains(Pair(k, v)));
  }
  EXPECT_THAT(meta.labels, Contains(Pair("role", "worker")));
  EXPECT_EQ(meta.state, cri::ContainerState::Running);
  EXPECT_FALSE(meta.sandbox);

  // A short prefix, as `crictl ps` shows ids, finds the same container.
  auto by_prefix = client().containerInfo(id.substr(0, 12));
  ASSERT_TRUE(by_prefix) << by_prefix.error().message();
  ASSERT_TRUE(by_prefix->has_value());
  EXPECT_EQ((*by_prefix)->id, id);

  // The pause process's cgroup is named after the sandbox: that id resolves
  // to the pod.
  auto sandbox = client().containerInfo(pod.sandbox_id);
  ASSERT_TRUE(sandbox) << sandbox.error().message();
  ASSERT_TRUE(sandbox->has_value());
  EXPECT_TRUE((*sandbox)->sandbox);
  EXPECT_EQ((*sandbox)->pod_name, "web-0");
  EXPECT_EQ((*sandbox)->pod_namespace, "shop");
  EXPECT_EQ((*sandbox)->pod_labels.at("app"), "web");

  // An id nobody has: not found, which is not an error.
  auto unknown = client().containerInfo(std::string(64, 'f'));
  ASSERT_TRUE(unknown) << unknown.error().message();
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(CriTest, ListContainersHasContainersAndSandboxesWithTheirPods) {
  auto pod = harness().startPod("db-0", "store", "6a1f2b3c-0000-4000-8000-000000000002", {{"app", "db"}});
  std::string id = harness().startContainer(pod, "postgres", {"sleep", "3600"}, {{"role", "primary"}});

  auto list = client().listContainers();
  ASSERT_TRUE(list) << list.error().message();
  const cri::ContainerMeta* container = nullptr;
  const cri::ContainerMeta* sandbox = nullptr;
  for (const auto& m : *list) {
    if (m.id == id) {
      container = &m;
    }
    if (m.id == pod.sandbox_id) {
      sandbox = &m;
    }
  }
  ASSERT_NE(container, nullptr) << "ListContainers lacks " << id;
  EXPECT_EQ(container->name, "postgres");
  EXPECT_EQ(container->image, ContainerdHarness::kBusyboxImage);
  EXPECT_THAT(container->image_id, StartsWith("sha256:"));
  EXPECT_EQ(container->pod_sandbox_id, pod.sandbox_id);
  EXPECT_EQ(container->pod_name, "db-0");
  EXPECT_EQ(container->pod_namespace, "store");
  EXPECT_EQ(container->pod_uid, "6a1f2b3c-0000-4000-8000-000000000002");
  EXPECT_THAT(container->pod_labels, Contains(Pair("app", "db")));
  EXPECT_THAT(container->labels, Contains(Pair("role", "primary")));
  EXPECT_FALSE(container->sandbox);
  ASSERT_NE(sandbox, nullptr) << "ListContainers lacks the sandbox " << pod.sandbox_id;
  EXPECT_TRUE(sandbox->sandbox);
  EXPECT_EQ(sandbox->pod_name, "db-0");
}

TEST_F(CriTest, ContainerProcessRunsInACgroupNamedAfterTheContainer) {
  auto pod = harness().startPod("batch-0", "jobs", "8e2d4c6a-0000-4000-8000-000000000003");
  std::string id = harness().startContainer(pod, "job", {"sleep", "3600"});

  pid_t pid = harness().containerPid(id);
  ASSERT_GT(pid, 0);
  // StartContainer returns once runc has let its init go; the exec of the
  // container's command may come a moment later (comm "runc:[2:INIT]").
  std::string comm_path = "/proc/" + std::to_string(pid) + "/comm";
  EXPECT_TRUE(waitFor([&] { return readFile(comm_path) == "sleep\n"; })) << readFile(comm_path);
  std::string cgroup = readFile("/proc/" + std::to_string(pid) + "/cgroup");
  // cgroupfs driver: <parent>/pod<uid>/<container id> in every hierarchy.
  EXPECT_THAT(cgroup, HasSubstr(harness().cgroupParent() + "/pod" + pod.spec.uid + "/" + id)) << cgroup;
}

TEST_F(CriTest, RemovedPodIsNotFound) {
  auto pod = harness().startPod("gone-0", "tmp", "9f3e5d7b-0000-4000-8000-000000000004");
  std::string id = harness().startContainer(pod, "short", {"sleep", "3600"});
  ASSERT_TRUE(client().stopPodSandbox(pod.sandbox_id));
  ASSERT_TRUE(client().removePodSandbox(pod.sandbox_id));

  auto info = client().containerInfo(id);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_FALSE(info->has_value());
  auto sandbox = client().containerInfo(pod.sandbox_id);
  ASSERT_TRUE(sandbox) << sandbox.error().message();
  EXPECT_FALSE(sandbox->has_value());
}

TEST_F(CriTest, PodCacheWarmsFromTheListAndResolvesNewContainersAsynchronously) {
  auto pod = harness().startPod("api-0", "shop", "2b4d6f8a-0000-4000-8000-000000000005", {{"app", "api"}});
  std::string before = harness().startContainer(pod, "early", {"sleep", "3600"});

  ReadyLog ready;
  cri::PodCacheOptions options;
  options.not_found_retry_for = 500ms;
  options.retry_initial = 20ms;
  options.retry_max = 100ms;
  cri::PodCache cache(newClient(), options, ready.callback());
  cache.start();
  ASSERT_TRUE(waitFor([&] { return cache.stats().resyncs >= 1; })) << "the cache never listed the runtime";
  EXPECT_TRUE(cache.stats().runtime_up);

  // Known from the start-up list: a hit, no fetch.
  auto early = cache.lookup(before);
  ASSERT_NE(early, nullptr);
  EXPECT_EQ(early->name, "early");
  EXPECT_EQ(early->pod_name, "api-0");
  EXPECT_EQ(cache.stats().fetches, 0u);

  // Started after the list: the first lookup queues a fetch.
  std::string after = harness().startContainer(pod, "late", {"sleep", "3600"}, {{"role", "late"}});
  EXPECT_EQ(cache.lookup(after), nullptr);
  auto notified = ready.waitFor(after);
  ASSERT_TRUE(notified.has_value()) << "no ready notification for " << after;
  ASSERT_NE(*notified, nullptr);
  auto late = cache.lookup(after);
  ASSERT_NE(late, nullptr);
  EXPECT_EQ(late, *notified);
  EXPECT_EQ(late->name, "late");
  EXPECT_EQ(late->image, ContainerdHarness::kBusyboxImage);
  EXPECT_EQ(late->pod_name, "api-0");
  EXPECT_EQ(late->pod_namespace, "shop");
  EXPECT_EQ(late->pod_uid, "2b4d6f8a-0000-4000-8000-000000000005");
  EXPECT_THAT(late->pod_labels, Contains(Pair("app", "api")));
  EXPECT_THAT(late->labels, Contains(Pair("role", "late")));

  // A cgroup that looks like a container but is not one: retried, then
  // negative, announced with no metadata and not asked again.
  std::string ghost(64, 'e');
  EXPECT_EQ(cache.lookup(ghost), nullptr);
  auto given_up = ready.waitFor(ghost);
  ASSERT_TRUE(given_up.has_value());
  EXPECT_EQ(*given_up, nullptr);
  uint64_t fetches = cache.stats().fetches;
  EXPECT_EQ(cache.lookup(ghost), nullptr);

  auto s = cache.stats();
  EXPECT_EQ(s.fetches, fetches);
  EXPECT_GE(s.not_found, 2u);
  EXPECT_EQ(s.negatives, 1u);
  EXPECT_EQ(s.negative_hits, 1u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.fetch_errors, 0u);
  cache.stop();
}

// Needs no root: nothing listens on the socket.
TEST(CriNoRuntime, ClientErrorNamesCallSocketAndCode) {
  std::string socket = "/tmp/vigil-cri-nobody-" + std::to_string(getpid()) + ".sock";
  auto client = cri::CriClient::create({.endpoint = socket, .timeout = 1000ms});
  ASSERT_TRUE(client) << client.error().message();
  EXPECT_EQ((*client)->endpoint(), "unix://" + socket);
  auto v = (*client)->version();
  ASSERT_FALSE(v);
  EXPECT_THAT(v.error().message(), HasSubstr("Version"));
  EXPECT_THAT(v.error().message(), HasSubstr(socket));
  EXPECT_THAT(v.error().message(), HasSubstr("UNAVAILABLE"));

  EXPECT_FALSE(cri::CriClient::create({.endpoint = "tcp://127.0.0.1:1234"}));
  EXPECT_FALSE(cri::CriClient::create({.endpoint = "relative.sock"}));
}

TEST(CriNoRuntime, PodCacheReportsRuntimeDownWithoutBlockingLookups) {
  std::string socket = "/tmp/vigil-cri-nobody-" + std::to_string(getpid()) + ".sock";
  auto client = cri::CriClient::create({.endpoint = socket, .timeout = 1000ms});
  ASSERT_TRUE(client) << client.error().message();
  ReadyLog ready;
  cri::PodCacheOptions options;
  options.not_found_retry_for = 300ms;
  cri::PodCache cache(std::move(*client), options, ready.callback());
  cache.start();

  std::string id(64, 'a');
  EXPECT_EQ(cache.lookup(id), nullptr); // returns at once: only queues
  ASSERT_TRUE(waitFor([&] { return cache.stats().fetch_errors > 0; }));
  auto s = cache.stats();
  EXPECT_FALSE(s.runtime_up);
  EXPECT_EQ(cache.lookup(id), nullptr);

  // The held id is released (no metadata) rather than waited on forever.
  auto released = ready.waitFor(id);
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(*released, nullptr);
  EXPECT_FALSE(cache.stats().runtime_up);
  EXPECT_EQ(cache.stats().resyncs, 0u);
  cache.stop();
}

} // namespace
} // namespace vigil::test
