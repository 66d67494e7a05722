// Process lifecycle capture against the real kernel: real BPF programs in an
// in-process agent, real programs started by the test, every field checked.
// Runs once per hook family (tp_btf and classic tracepoints).

#include "collectors/process/decoder.h"
#include "collectors/process/process_collector.h"
#include "support/agent_harness.h"
#include "support/spawn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <climits>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace vigil::test {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

uint64_t statusHex(const std::string& key) {
  std::string status = readFile("/proc/self/status");
  auto at = status.find(key);
  return at == std::string::npos ? 0 : std::stoull(status.substr(at + key.size()), nullptr, 16);
}

uint32_t nsInode(const char* name) {
  struct stat st {};
  stat((std::string("/proc/self/ns/") + name).c_str(), &st);
  return uint32_t(st.st_ino);
}

// The cgroup v2 id of this process: inode of its cgroup2 directory.
std::optional<uint64_t> selfCgroupId() {
  std::string mnt;
  std::istringstream mountinfo(readFile("/proc/self/mountinfo"));
  for (std::string line; std::getline(mountinfo, line);) {
    if (line.find(" - cgroup2 ") != std::string::npos) {
      std::istringstream f(line);
      std::string a, b, c, d;
      f >> a >> b >> c >> d >> mnt;
      break;
    }
  }
  if (mnt.empty()) {
    return std::nullopt;
  }
  std::istringstream cg(readFile("/proc/self/cgroup"));
  for (std::string line; std::getline(cg, line);) {
    if (line.rfind("0::", 0) == 0) {
      struct stat st {};
      if (stat((mnt + line.substr(3)).c_str(), &st) == 0) {
        return st.st_ino;
      }
    }
  }
  return std::nullopt;
}

std::function<bool(const Event&)> execOf(pid_t pid) {
  return [pid](const Event& e) { return e.has_exec() && e.exec().process().pid() == uint32_t(pid); };
}
std::function<bool(const Event&)> exitOf(pid_t pid) {
  return [pid](const Event& e) { return e.has_exit() && e.exit().process().pid() == uint32_t(pid); };
}
std::function<bool(const Event&)> forkOf(pid_t pid) {
  return [pid](const Event& e) { return e.has_fork() && e.fork().process().pid() == uint32_t(pid); };
}

std::vector<std::string> argsOf(const Process& p) { return {p.args().begin(), p.args().end()}; }

uint64_t bootNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

class ProcessTest : public ::testing::TestWithParam<process::HookMode> {
protected:
  void SetUp() override {
    if (!isRoot()) {
      GTEST_SKIP() << "needs root: loads BPF programs into the kernel";
    }
  }

  AgentConfig config() const {
    AgentConfig c;
    c.process.hooks = GetParam();
    c.stats_interval_seconds = 0;
    c.report_self = true; // the test process is the parent of what it runs
    // Process records only: the other domains share the ring and would
    // crowd out the small rings some tests use.
    c.syscalls.enabled = false;
    c.network.enabled = false;
    // Both pipeline modes, at no extra cost: the stage threads and queues
    // with one hook family, everything inline with the other.
    c.pipeline.mode = GetParam() == process::HookMode::Tracepoint ? AgentConfig::Pipeline::Mode::kThreads
                                                                  : AgentConfig::Pipeline::Mode::kInline;
    return c;
  }
};

TEST_P(ProcessTest, ExecCarriesEveryField) {
  AgentHarness h(config());
  const std::string dir = makeTempDir();
  pid_t pid = spawn({{"/bin/true", "two words", "", "last"}, dir});
  ASSERT_EQ(waitStatus(pid), 0);

  auto ev = h.sink().waitFor(execOf(pid));
  ASSERT_TRUE(ev) << "no exec event for pid " << pid;
  const Process& p = ev->exec().process();
  EXPECT_EQ(p.tid(), uint32_t(pid));
  EXPECT_EQ(p.ppid(), uint32_t(getpid()));
  EXPECT_THAT(argsOf(p), ElementsAre("/bin/true", "two words", "", "last"));
  EXPECT_FALSE(p.args_truncated());
  EXPECT_EQ(p.binary(), realPath("/bin/true"));
  EXPECT_FALSE(p.binary_truncated());
  EXPECT_EQ(p.filename(), "/bin/true");
  EXPECT_EQ(p.cwd(), realPath(dir));
  EXPECT_FALSE(p.cwd_truncated());
  EXPECT_EQ(p.comm(), "true");
  EXPECT_EQ(p.source(), v1::PROCESS_SOURCE_EXEC);
  EXPECT_FALSE(p.kernel_thread());

  EXPECT_EQ(p.creds().uid(), 0u);
  EXPECT_EQ(p.creds().gid(), 0u);
  EXPECT_EQ(p.creds().euid(), 0u);
  EXPECT_EQ(p.creds().egid(), 0u);
  std::string loginuid = readFile("/proc/self/loginuid");
  EXPECT_EQ(p.creds().auid(), loginuid.empty() ? 4294967295u : uint32_t(std::stoul(loginuid)));

  // A root exec gets the bounding set as effective and permitted.
  EXPECT_EQ(p.caps().effective_mask(), statusHex("CapBnd:"));
  EXPECT_EQ(p.caps().permitted_mask(), statusHex("CapBnd:"));
  EXPECT_EQ(size_t(p.caps().effective_size()), size_t(__builtin_popcountll(statusHex("CapBnd:"))));

  EXPECT_EQ(p.ns().pid(), nsInode("pid"));
  EXPECT_EQ(p.ns().mnt(), nsInode("mnt"));
  EXPECT_EQ(p.ns().net(), nsInode("net"));
  if (auto cg = selfCgroupId()) {
    EXPECT_EQ(p.cgroup_id(), *cg);
  }

  struct stat exe {};
  ASSERT_EQ(stat("/bin/true", &exe), 0);
  EXPECT_EQ(p.exe_inode(), exe.st_ino);
  EXPECT_EQ(p.exe_dev(), fmt::format("{}:{}", major(exe.st_dev), minor(exe.st_dev)));

  // Times: start <= exec <= now, and wall time consistent with boot time.
  uint64_t now = bootNowNs();
  EXPECT_LE(p.start_boot_ns(), ev->ktime_ns());
  EXPECT_LE(ev->ktime_ns(), now);
  EXPECT_GT(ev->ktime_ns() + 10'000'000'000ULL, now);
  int64_t wall_now = time(nullptr);
  EXPECT_NEAR(double(ev->time().seconds()), double(wall_now), 10.0);
  EXPECT_NEAR(double(p.start_time().seconds()), double(wall_now), 10.0);

  // exec_id: 16 hex digits of time, 8 of pid; the parent is this test process.
  EXPECT_EQ(p.exec_id().size(), 24u);
  EXPECT_EQ(p.exec_id().substr(16), fmt::format("{:08x}", pid));
  ASSERT_TRUE(ev->exec().has_parent());
  const Process& parent = ev->exec().parent();
  EXPECT_EQ(parent.pid(), uint32_t(getpid()));
  EXPECT_EQ(parent.exec_id(), p.parent_exec_id());
  EXPECT_EQ(parent.binary(), realPath("/proc/self/exe"));

  EXPECT_FALSE(ev->node().empty());
  EXPECT_GT(ev->seq(), 0u);

  auto exit = h.sink().waitFor(exitOf(pid));
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit().exit_code(), 0);
  EXPECT_EQ(exit->exit().signal(), 0u);
  EXPECT_EQ(exit->exit().process().exec_id(), p.exec_id());
  EXPECT_THAT(argsOf(exit->exit().process()), ElementsAre("/bin/true", "two words", "", "last"));
  EXPECT_GT(exit->seq(), ev->seq());

  h.stop();
  auto counters = h.agent().runtime().kernelCounters();
  ASSERT_TRUE(counters);
  EXPECT_EQ((*counters)[VIGIL_CNT_RB_FULL_EXEC], 0u);
  EXPECT_EQ((*counters)[VIGIL_CNT_SCRATCH_MISS], 0u);
  EXPECT_EQ(h.agent().collector<process::ProcessCollector>("process")->stats().decode_errors.load(), 0u);
}

TEST_P(ProcessTest, ArgvBoundIsExactAndFlagged) {
  AgentConfig c = config();
  c.process.argv_max = 256;
  AgentHarness h(c);

  // 256 bytes exactly: /bin/true\0 (10) + 245 'a' + \0 (246) = 256.
  std::vector<std::string> fits = {"/bin/true", std::string(245, 'a')};
  pid_t p1 = spawn({fits});
  ASSERT_EQ(waitStatus(p1), 0);
  auto e1 = h.sink().waitFor(execOf(p1));
  ASSERT_TRUE(e1);
  EXPECT_FALSE(e1->exec().process().args_truncated());
  EXPECT_THAT(argsOf(e1->exec().process()), ElementsAreArray(fits));

  // Far more than the bound: the first 256 bytes, exactly, cut mid-argument.
  std::vector<std::string> big = {"/bin/true"};
  std::string raw = "/bin/true";
  raw.push_back('\0');
  for (int i = 0; i < 40; ++i) {
    big.push_back(fmt::format("arg-{:02d}-with space", i));
    raw += big.back();
    raw.push_back('\0');
  }
  pid_t p2 = spawn({big});
  ASSERT_EQ(waitStatus(p2), 0);
  auto e2 = h.sink().waitFor(execOf(p2));
  ASSERT_TRUE(e2);
  EXPECT_TRUE(e2->exec().process().args_truncated());
  std::string prefix = raw.substr(0, 256);
  auto expected = process::splitArgv(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size()));
  EXPECT_THAT(argsOf(e2->exec().process()), ElementsAreArray(expected));
  std::string joined;
  for (const auto& a : e2->exec().process().args()) {
    joined += a;
    joined.push_back('\0');
  }
  EXPECT_EQ(joined.substr(0, 256), prefix); // the captured bytes are the real prefix
}

TEST_P(ProcessTest, DefaultArgvBoundCapturesAtLeast4KiB) {
  AgentHarness h(config());
  std::vector<std::string> argv = {"/bin/true", std::string(4000, 'x'), "tail"};
  pid_t pid = spawn({argv});
  ASSERT_EQ(waitStatus(pid), 0);
  auto ev = h.sink().waitFor(execOf(pid));
  ASSERT_TRUE(ev);
  EXPECT_FALSE(ev->exec().process().args_truncated());
  EXPECT_THAT(argsOf(ev->exec().process()), ElementsAreArray(argv));
}

TEST_P(ProcessTest, DeepCwdIsTruncatedToItsDeepestComponents) {
  AgentHarness h(config());
  std::string dir = realPath(makeTempDir());
  for (int i = 0; i < 80; ++i) {
    dir += fmt::format("/d{}", i);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  }
  pid_t pid = spawn({{"/bin/true"}, dir});
  ASSERT_EQ(waitStatus(pid), 0);
  auto ev = h.sink().waitFor(execOf(pid));
  ASSERT_TRUE(ev);
  const Process& p = ev->exec().process();
  EXPECT_TRUE(p.cwd_truncated());
  ASSERT_FALSE(p.cwd().empty());
  EXPECT_TRUE(dir.ends_with(p.cwd())) << p.cwd();
  EXPECT_TRUE(p.cwd().ends_with("/d78/d79"));
}

TEST_P(ProcessTest, ProcessRunAsNobody) {
  AgentHarness h(config());
  pid_t pid = spawn({{"/usr/bin/id"}, "/", uid_t(65534), gid_t(65534)});
  ASSERT_EQ(waitStatus(pid), 0);
  auto ev = h.sink().waitFor(execOf(pid));
  ASSERT_TRUE(ev);
  const Process& p = ev->exec().process();
  EXPECT_EQ(p.creds().uid(), 65534u);
  EXPECT_EQ(p.creds().euid(), 65534u);
  EXPECT_EQ(p.creds().gid(), 65534u);
  EXPECT_EQ(p.creds().egid(), 65534u);
  EXPECT_EQ(p.caps().effective_mask(), 0u);
  EXPECT_EQ(p.caps().permitted_mask(), 0u);
  EXPECT_EQ(p.cwd(), "/");
}

TEST_P(ProcessTest, ExitCodeThree) {
  AgentHarness h(config());
  pid_t pid = spawn({{"/bin/sh", "-c", "exit 3"}});
  int status = waitStatus(pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 3);
  auto ev = h.sink().waitFor(exitOf(pid));
  ASSERT_TRUE(ev);
  const auto& exit = ev->exit();
  EXPECT_EQ(exit.exit_code(), 3);
  EXPECT_EQ(exit.signal(), 0u);
  EXPECT_EQ(exit.signal_name(), "");
  EXPECT_FALSE(exit.core_dumped());
  EXPECT_EQ(exit.process().binary(), realPath("/bin/sh"));
  EXPECT_THAT(argsOf(exit.process()), ElementsAre("/bin/sh", "-c", "exit 3"));
  int64_t ran_ns = exit.duration().seconds() * 1000000000LL + exit.duration().nanos();
  EXPECT_GT(ran_ns, 0);
  EXPECT_LT(ran_ns, 10'000'000'000LL);
  ASSERT_TRUE(exit.has_parent());
  EXPECT_EQ(exit.parent().pid(), uint32_t(getpid()));
}

TEST_P(ProcessTest, DeathBySigkill) {
  AgentHarness h(config());
  pid_t pid = spawn({{"/bin/sleep", "30"}});
  ASSERT_TRUE(h.sink().waitFor(execOf(pid)));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = waitStatus(pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto ev = h.sink().waitFor(exitOf(pid));
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->exit().signal(), uint32_t(SIGKILL));
  EXPECT_EQ(ev->exit().signal_name(), "SIGKILL");
  EXPECT_EQ(ev->exit().exit_code(), 0);
  EXPECT_FALSE(ev->exit().core_dumped());
  EXPECT_EQ(ev->exit().process().binary(), realPath("/bin/sleep"));
}

TEST_P(ProcessTest, ForkExecChainLinksEveryImage) {
  AgentHarness h(config());
  // The shell forks once per command; each child then execs.
  pid_t sh = spawn({{"/bin/sh", "-c", "/bin/true chain-1; /bin/true chain-2"}});
  ASSERT_EQ(waitStatus(sh), 0);

  auto sh_fork = h.sink().waitFor(forkOf(sh));
  auto sh_exec = h.sink().waitFor(execOf(sh));
  ASSERT_TRUE(sh_fork && sh_exec);
  // fork: the child is the test process's image until it execs.
  EXPECT_EQ(sh_fork->fork().process().ppid(), uint32_t(getpid()));
  EXPECT_EQ(sh_fork->fork().process().source(), v1::PROCESS_SOURCE_FORK);
  EXPECT_EQ(sh_fork->fork().process().binary(), realPath("/proc/self/exe"));
  ASSERT_TRUE(sh_fork->fork().has_parent());
  EXPECT_EQ(sh_fork->fork().parent().pid(), uint32_t(getpid()));
  EXPECT_EQ(sh_fork->fork().process().parent_exec_id(), sh_fork->fork().parent().exec_id());
  // exec gives the same pid a new exec_id, with the same parent.
  const std::string sh_id = sh_exec->exec().process().exec_id();
  EXPECT_NE(sh_id, sh_fork->fork().process().exec_id());
  EXPECT_EQ(sh_exec->exec().process().parent_exec_id(), sh_fork->fork().process().parent_exec_id());

  auto marker = [](const std::string& m) {
    return [m](const Event& e) {
      return e.has_exec() && e.exec().process().args_size() == 2 && e.exec().process().args(1) == m;
    };
  };
  for (const char* m : {"chain-1", "chain-2"}) {
    auto child_exec = h.sink().waitFor(marker(m));
    ASSERT_TRUE(child_exec) << m;
    const Process& child = child_exec->exec().process();
    EXPECT_EQ(child.ppid(), uint32_t(sh));
    EXPECT_EQ(child.parent_exec_id(), sh_id);
    ASSERT_TRUE(child_exec->exec().has_parent());
    EXPECT_EQ(child_exec->exec().parent().binary(), realPath("/bin/sh"));
    auto child_fork = h.sink().waitFor(forkOf(pid_t(child.pid())));
    ASSERT_TRUE(child_fork) << m;
    EXPECT_EQ(child_fork->fork().process().parent_exec_id(), sh_id);
    EXPECT_EQ(child_fork->fork().process().binary(), realPath("/bin/sh")); // inherited image
    EXPECT_LT(child_fork->seq(), child_exec->seq());
  }
  ASSERT_TRUE(h.sink().waitFor(exitOf(sh)));
  h.stop();

  // Every image has its own id.
  std::set<std::string> ids;
  size_t images = 0;
  for (const auto& e : h.sink().snapshot()) {
    if (e.has_exec()) {
      ids.insert(e.exec().process().exec_id());
      ++images;
    } else if (e.has_fork()) {
      ids.insert(e.fork().process().exec_id());
      ++images;
    }
  }
  EXPECT_EQ(ids.size(), images);

  // The cache resolves the whole chain: true <- sh <- this test <- ...
  auto chain2 = h.sink().waitFor(marker("chain-2"), std::chrono::milliseconds(0));
  ASSERT_TRUE(chain2);
  auto ancestors = h.agent().ancestors(chain2->exec().process().exec_id());
  ASSERT_GE(ancestors.size(), 2u);
  EXPECT_EQ(ancestors[0].exec_id(), sh_id);
  EXPECT_EQ(ancestors[1].pid(), uint32_t(getpid()));
}

TEST_P(ProcessTest, OwnActivityIsNotReportedUnlessAsked) {
  AgentConfig c = config();
  c.report_self = false;
  AgentHarness h(c);
  pid_t pid = spawn({{"/bin/true", "self-marker"}});
  ASSERT_EQ(waitStatus(pid), 0);
  // The child's exec is its own activity; its creation is the agent's.
  ASSERT_TRUE(h.sink().waitFor(execOf(pid)));
  ASSERT_TRUE(h.sink().waitFor(exitOf(pid)));
  EXPECT_FALSE(h.sink().waitFor(forkOf(pid), std::chrono::milliseconds(0)));
  for (const auto& e : h.sink().snapshot()) {
    if (e.has_exit()) {
      EXPECT_NE(e.exit().process().pid(), uint32_t(getpid()));
    }
  }
}

TEST_P(ProcessTest, ThreadsAreNotProcessesAndTheLastThreadReportsTheExit) {
  AgentHarness h(config());
  pid_t pid = spawn({{VIGIL_TEST_THREADS_BIN}});
  int status = waitStatus(pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 7);
  auto exit = h.sink().waitFor(exitOf(pid));
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit().exit_code(), 7);
  EXPECT_NE(exit->exit().process().tid(), uint32_t(pid)) << "the leader left first; a worker thread ends it";
  EXPECT_EQ(exit->exit().process().binary(), realPath(VIGIL_TEST_THREADS_BIN));
  h.stop();
  int exits = 0, forks = 0;
  for (const auto& e : h.sink().snapshot()) {
    if (e.has_exit() && e.exit().process().pid() == uint32_t(pid)) {
      ++exits;
    }
    if (e.has_fork() && e.fork().process().ppid() == uint32_t(pid)) {
      ++forks; // a thread reported as a child process
    }
  }
  EXPECT_EQ(exits, 1);
  EXPECT_EQ(forks, 0);
}

// No silent loss: with a ring far too small and nobody reading, records are
// dropped in the kernel, and every drop is counted by kind.
TEST_P(ProcessTest, RingBufferOverflowIsCountedByKind) {
  AgentConfig c = config();
  c.ring.buffer_bytes = 4096;
  c.ring.wakeup_bytes = 1024;
  std::vector<EventSinkPtr> sinks;
  auto capture = std::make_unique<CaptureSink>();
  CaptureSink* sink = capture.get();
  sinks.push_back(std::move(capture));
  auto agent = Agent::create(c, std::move(sinks));
  ASSERT_TRUE(agent) << agent.error().message();
  ASSERT_TRUE((*agent)->start());

  constexpr int kRuns = 40; // each exec record is ~300 bytes: the ring holds a handful
  std::vector<pid_t> pids;
  for (int i = 0; i < kRuns; ++i) {
    pid_t pid = spawn({{"/bin/true", "overflow"}});
    ASSERT_EQ(waitStatus(pid), 0);
    pids.push_back(pid);
  }
  auto counters = (*agent)->runtime().kernelCounters();
  ASSERT_TRUE(counters);
  uint64_t lost_exec = (*counters)[VIGIL_CNT_RB_FULL_EXEC];
  EXPECT_GT(lost_exec, 0u);
  EXPECT_GT((*counters)[VIGIL_CNT_RB_FULL_EXIT], 0u);

  (*agent)->shutdown(); // delivers what the ring held
  uint64_t delivered_exec = 0;
  for (pid_t pid : pids) {
    if (sink->waitFor(execOf(pid), std::chrono::milliseconds(0))) {
      ++delivered_exec;
    }
  }
  EXPECT_GT(delivered_exec, 0u);
  // Every exec is either delivered or counted as lost (the count may also
  // include other processes' execs on this machine, never fewer).
  EXPECT_GE(delivered_exec + lost_exec, uint64_t(kRuns));
  EXPECT_LT(delivered_exec, uint64_t(kRuns));
}

// The ring consumer (collectors/runtime/ring_buffer.*) under both wakeup rules:
// a small ring wraps many times while the agent runs, and every record
// arrives whole (one that wrapped around the end reads as one piece), with
// none lost and none left waiting.
TEST_P(ProcessTest, SmallRingWrapsWithoutLossUnderEitherWakeupRule) {
  for (uint32_t wakeup : {0u, 4096u}) {
    SCOPED_TRACE("wakeup_bytes " + std::to_string(wakeup));
    AgentConfig c = config();
    c.ring.buffer_bytes = 64 << 10; // ~200 exec, fork and exit records: 150 execs wrap it ~5 times
    c.ring.wakeup_bytes = wakeup;
    AgentHarness h(c);

    constexpr int kRuns = 150;
    std::vector<pid_t> pids;
    for (int i = 0; i < kRuns; ++i) {
      pid_t pid = spawn({{"/bin/true", "wrap", std::to_string(i)}});
      ASSERT_EQ(waitStatus(pid), 0);
      pids.push_back(pid);
    }
    // Delivered while running: the tail comes with the poll timeout at the latest.
    for (size_t i = 0; i < pids.size(); ++i) {
      auto ev = h.sink().waitFor(execOf(pids[i]), std::chrono::seconds(5));
      ASSERT_TRUE(ev) << "exec " << i << " of " << kRuns << " not delivered";
      ASSERT_EQ(ev->exec().process().args_size(), 3);
      EXPECT_EQ(ev->exec().process().args(2), std::to_string(i));
    }
    EXPECT_EQ(h.agent().collector<process::ProcessCollector>("process")->stats().decode_errors.load(), 0u);
    auto counters = h.agent().runtime().kernelCounters();
    ASSERT_TRUE(counters);
    EXPECT_EQ((*counters)[VIGIL_CNT_RB_FULL_EXEC], 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Hooks, ProcessTest,
                         ::testing::Values(process::HookMode::Btf, process::HookMode::Tracepoint),
                         [](const auto& info) { return std::string(process::hookModeName(info.param)); });

// A process older than the agent is known (task iterator, or /proc) and
// resolves as the parent of what it starts after the agent is up; the ids the
// kernel derives for it match the snapshot's.
class ExistingProcessTest : public ::testing::TestWithParam<process::SnapshotMode> {
protected:
  void SetUp() override {
    if (!isRoot()) {
      GTEST_SKIP() << "needs root: loads BPF programs into the kernel";
    }
  }
};

TEST_P(ExistingProcessTest, ParentStartedBeforeAgentResolves) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string script = "read x; /bin/true pre-agent-marker";
  pid_t sh = spawn({{"/bin/sh", "-c", script}, "/", std::nullopt, std::nullopt, fds[0]});
  close(fds[0]);
  // Wait until the shell has exec'd, before the agent exists.
  for (int i = 0; i < 200 && readFile(fmt::format("/proc/{}/comm", sh)) != "sh\n"; ++i) {
    usleep(10000);
  }
  ASSERT_EQ(readFile(fmt::format("/proc/{}/comm", sh)), "sh\n");

  AgentConfig c;
  c.process.snapshot = GetParam();
  c.stats_interval_seconds = 0;
  AgentHarness h(c);
  ASSERT_EQ(write(fds[1], "go\n", 3), 3);
  close(fds[1]);
  ASSERT_EQ(waitStatus(sh), 0);

  auto ev = h.sink().waitFor([](const Event& e) {
    return e.has_exec() && e.exec().process().args_size() == 2 && e.exec().process().args(1) == "pre-agent-marker";
  });
  ASSERT_TRUE(ev);
  ASSERT_TRUE(ev->exec().has_parent()) << "parent older than the agent did not resolve";
  const Process& parent = ev->exec().parent();
  EXPECT_EQ(parent.pid(), uint32_t(sh));
  EXPECT_EQ(parent.exec_id(), ev->exec().process().parent_exec_id());
  EXPECT_EQ(parent.binary(), realPath("/bin/sh"));
  EXPECT_THAT(argsOf(parent), ElementsAre("/bin/sh", "-c", script));
  EXPECT_EQ(parent.cwd(), "/");
  EXPECT_EQ(parent.source(), GetParam() == process::SnapshotMode::Proc ? v1::PROCESS_SOURCE_SNAPSHOT_PROC
                                                                       : v1::PROCESS_SOURCE_SNAPSHOT_ITER);
  // The fork record's parent id (derived in the kernel) names the same image.
  auto fork = h.sink().waitFor(forkOf(pid_t(ev->exec().process().pid())));
  ASSERT_TRUE(fork);
  EXPECT_EQ(fork->fork().process().parent_exec_id(), parent.exec_id());
  auto exit = h.sink().waitFor(exitOf(sh));
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit().process().exec_id(), parent.exec_id());
  EXPECT_THAT(argsOf(exit->exit().process()), ElementsAre("/bin/sh", "-c", script));
}

INSTANTIATE_TEST_SUITE_P(Snapshot, ExistingProcessTest,
                         ::testing::Values(process::SnapshotMode::Iterator, process::SnapshotMode::Proc),
                         [](const auto& info) { return std::string(process::snapshotModeName(info.param)); });

} // namespace
} // namespace vigil::test
