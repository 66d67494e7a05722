// The vigil-agent binary as a user runs it: flags, config file, JSON lines on
// stdout, clean shutdown on SIGTERM.

#include "proto/json.h"
#include "support/agent_process.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace vigil::test {
namespace {

TEST(AgentBinary, StreamsJsonEventsAndStopsCleanly) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: the agent loads BPF programs";
  }
  AgentProcess agent({"--stdout", "--stats-interval", "0", "--node-name", "e2e-node"});
  ASSERT_TRUE(agent.waitForStderr("capturing", std::chrono::seconds(30))) << agent.err();

  const std::string marker = "e2e-marker-" + std::to_string(getpid());
  pid_t child = fork();
  if (child == 0) {
    execl("/bin/true", "/bin/true", marker.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);

  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    agent.pump(100);
    for (const auto& e : agent.events()) {
      if (e.has_exec() && e.exec().process().args_size() == 2 && e.exec().process().args(1) == marker) {
        seen = true;
        EXPECT_EQ(e.node(), "e2e-node");
        EXPECT_EQ(e.exec().process().pid(), uint32_t(child));
        EXPECT_EQ(e.exec().process().binary(), "/usr/bin/true");
      }
    }
  }
  ASSERT_TRUE(seen) << "no exec event with " << marker << " on stdout; stderr:\n" << agent.err();

  ASSERT_EQ(kill(agent.pid(), SIGTERM), 0);
  int agent_status = agent.waitExit(std::chrono::seconds(20));
  ASSERT_NE(agent_status, -1) << "agent did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(agent_status) && WEXITSTATUS(agent_status) == 0) << agent.err();
  EXPECT_NE(agent.err().find("stopped cleanly"), std::string::npos);

  // Everything before the stop was drained; sequence numbers have no gaps;
  // the agent never reported itself.
  bool exit_seen = false;
  uint64_t expect_seq = 0;
  for (const auto& e : agent.events()) {
    if (expect_seq == 0) {
      expect_seq = e.seq();
    }
    EXPECT_EQ(e.seq(), expect_seq++);
    if (e.has_exit() && e.exit().process().pid() == uint32_t(child)) {
      exit_seen = true;
      EXPECT_EQ(e.exit().exit_code(), 0);
    }
    for (const Process* p : {&e.exec().process(), &e.fork().process(), &e.exit().process()}) {
      EXPECT_NE(p->pid(), uint32_t(agent.pid()));
    }
  }
  EXPECT_TRUE(exit_seen);
}

TEST(AgentBinary, NodeNameComesFromTheDownwardApiVariable) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: the agent loads BPF programs";
  }
  // No node_name in config or flags: $NODE_NAME (spec.nodeName in a pod) wins
  // over the host name.
  setenv("NODE_NAME", "worker-from-env", 1);
  AgentProcess agent({"--stdout", "--stats-interval", "0"});
  unsetenv("NODE_NAME");
  ASSERT_TRUE(agent.waitForStderr("capturing", std::chrono::seconds(30))) << agent.err();
  EXPECT_NE(agent.err().find("on node 'worker-from-env'"), std::string::npos) << agent.err();
  pid_t child = fork();
  if (child == 0) {
    execl("/bin/true", "/bin/true", "node-name-marker", nullptr);
    _exit(127);
  }
  waitpid(child, nullptr, 0);
  ASSERT_EQ(kill(agent.pid(), SIGTERM), 0);
  ASSERT_NE(agent.waitExit(std::chrono::seconds(20)), -1);
  bool seen = false;
  for (const auto& e : agent.events()) {
    if (e.has_exec() && e.exec().process().pid() == uint32_t(child)) {
      seen = true;
      EXPECT_EQ(e.node(), "worker-from-env");
    }
  }
  EXPECT_TRUE(seen) << agent.err();
}

// A config file under /tmp, removed when the test ends.
using TempConfig = TempFile;

TEST(AgentBinary, BadConfigFailsWithFileAndLine) {
  TempConfig config("log_level: info\nprocess:\n  argv_max_bytes: 4096\n  argvmax: 12\n");
  const std::string& path = config.path();
  AgentProcess agent({"--config", path, "--stdout"});
  int status = agent.waitExit(std::chrono::seconds(20));
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(agent.err().find(path + ":4:"), std::string::npos) << agent.err();
  EXPECT_NE(agent.err().find("argvmax"), std::string::npos) << agent.err();
}

TEST(AgentBinary, FlagsOverrideFileInEffectiveConfig) {
  TempConfig config("process:\n  argv_max_bytes: 1000\n  hooks: tracepoint\n");
  AgentProcess agent({"--config", config.path(), "--argv-max", "2048", "--print-config"});
  int status = agent.waitExit(std::chrono::seconds(20));
  ASSERT_NE(status, -1);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(agent.out().find("argv_max_bytes: 2048"), std::string::npos) << agent.out();
  EXPECT_NE(agent.out().find("hooks: tracepoint"), std::string::npos) << agent.out();
  EXPECT_NE(agent.out().find("outputs: []"), std::string::npos) << agent.out();
}

// scripts/run.sh | jq must work: setup and build say nothing on stdout.
TEST(RunScript, StdoutCarriesOnlyWhatTheAgentPrints) {
  const std::string bin = VIGIL_AGENT_BIN;
  const std::string build = bin.substr(0, bin.rfind('/'));
  AgentProcess run("/usr/bin/env", {"VIGIL_BUILD_DIR=" + build, std::string(VIGIL_SOURCE_DIR) + "/scripts/run.sh",
                                    "--print-config"});
  int status = run.waitExit(std::chrono::seconds(120));
  ASSERT_NE(status, -1);
  ASSERT_EQ(WEXITSTATUS(status), 0) << run.err();
  EXPECT_EQ(run.out().rfind("node_name:", 0), 0u) << "stdout must start with the agent's own output:\n" << run.out();
  EXPECT_EQ(run.out().find("setup.sh:"), std::string::npos) << run.out();
  EXPECT_EQ(run.out().find("ninja:"), std::string::npos) << run.out();
}

// File activity through the binary: a config file that watches one directory;
// a shell writes and removes a file there and reads one outside it.
TEST(AgentBinary, ReportsFileActivityOnWatchedPathsOnly) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: the agent loads BPF programs";
  }
  char tmpl[] = "/tmp/vigil-e2e-files-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  TempConfig config("syscalls:\n  trace: [openat, unlinkat, unlink]\nfiles:\n  watch:\n    - {path: " + dir +
                    ", access: write}\n");
  AgentProcess agent({"--config", config.path(), "--stdout", "--stats-interval", "0"});
  ASSERT_TRUE(agent.waitForStderr("capturing", std::chrono::seconds(30))) << agent.err();

  const std::string file = dir + "/written";
  pid_t child = fork();
  if (child == 0) {
    std::string script = "echo hi > " + file + "; cat " + file + " /etc/hostname > /dev/null; rm " + file;
    execl("/bin/sh", "sh", "-c", script.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  std::vector<Event> calls;
  for (int i = 0; i < 100 && calls.size() < 2; ++i) {
    agent.pump(100);
    calls.clear();
    for (const auto& e : agent.events()) {
      if (e.has_syscall() && e.syscall().file().path() == file) {
        calls.push_back(e);
      }
    }
  }
  kill(agent.pid(), SIGTERM);
  ASSERT_NE(agent.waitExit(std::chrono::seconds(20)), -1);
  rmdir(dir.c_str());

  // The write (the shell's redirection) and the removal; not cat's read,
  // since only writes are watched; nothing outside the directory.
  ASSERT_EQ(calls.size(), 2u) << agent.out();
  EXPECT_EQ(calls[0].syscall().name(), "openat");
  EXPECT_EQ(calls[0].syscall().file().access(), v1::FILE_ACCESS_WRITE);
  EXPECT_EQ(calls[0].syscall().file().watched_prefix(), dir);
  EXPECT_GE(calls[0].syscall().ret(), 0);
  EXPECT_EQ(calls[0].syscall().process().binary(), "/usr/bin/dash");
  EXPECT_EQ(calls[1].syscall().name(), "unlinkat");
  EXPECT_EQ(calls[1].syscall().process().binary(), "/usr/bin/rm");
  EXPECT_EQ(calls[1].syscall().ret(), 0);
  for (const auto& e : agent.events()) {
    if (e.has_syscall() && e.syscall().name() != "unlinkat" && e.syscall().name() != "openat") {
      ADD_FAILURE() << "untraced syscall reported: " << e.syscall().name();
    }
    if (e.has_syscall()) {
      EXPECT_EQ(e.syscall().file().path().rfind(dir, 0), 0u) << e.syscall().file().path();
    }
  }
}

} // namespace
} // namespace vigil::test
