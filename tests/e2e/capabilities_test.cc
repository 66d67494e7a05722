// The agent with the least privileges docs/agent.md claims: an unprivileged
// user (nobody) holding only CAP_BPF and CAP_PERFMON, through setpriv. Exec
// capture must work, syscall capture must run (on the dispatcher: tracefs
// is not readable to nobody), and network capture must be off with one line
// naming CAP_NET_ADMIN; the agent must not fail. Needs root to hand out the
// capabilities.

#include "support/agent_process.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;

bool haveSetpriv() { return access("/usr/bin/setpriv", X_OK) == 0; }

std::vector<std::string> leastPrivilege(const std::string& lock, std::vector<std::string> agent_args) {
  std::vector<std::string> args = {"--reuid=65534",
                                   "--regid=65534",
                                   "--clear-groups",
                                   "--inh-caps=-all,+bpf,+perfmon",
                                   "--ambient-caps=-all,+bpf,+perfmon",
                                   "--bounding-set=-all,+bpf,+perfmon",
                                   "--no-new-privs",
                                   VIGIL_AGENT_BIN,
                                   "--set",
                                   "instance_lock=" + lock};
  args.insert(args.end(), agent_args.begin(), agent_args.end());
  return args;
}

TEST(LeastPrivilege, BpfAndPerfmonCaptureExecsAndSayWhatIsOff) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: hands CAP_BPF and CAP_PERFMON to an unprivileged user";
  }
  if (!haveSetpriv()) {
    GTEST_SKIP() << "setpriv (util-linux) is not installed";
  }
  const std::string lock = "/tmp/vigil-caps-test-" + std::to_string(getpid()) + ".pid";
  AgentProcess agent("/usr/bin/setpriv",
                     leastPrivilege(lock, {"--stdout", "--stats-interval", "0", "--node-name", "caps-node"}));
  ASSERT_TRUE(agent.waitForStderr("capturing", 60s)) << agent.err();

  // What runs, and what does not, is said once at start.
  EXPECT_NE(agent.err().find("network capture disabled: needs CAP_NET_ADMIN"), std::string::npos) << agent.err();
  EXPECT_NE(agent.err().find("syscall (hooks: dispatcher)"), std::string::npos) << agent.err();
  EXPECT_NE(agent.err().find("not readable by this process"), std::string::npos)
      << "the fallback must say why: " << agent.err();

  const std::string marker = "caps-marker-" + std::to_string(getpid());
  pid_t child = fork();
  if (child == 0) {
    // A shell whose builtin kill makes one kill(2), a traced syscall.
    execl("/bin/sh", "sh", "-c", "kill -0 $$", marker.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);

  bool exec_seen = false;
  bool syscall_seen = false;
  for (int i = 0; i < 100 && !(exec_seen && syscall_seen); ++i) {
    agent.pump(100);
    for (const auto& e : agent.events()) {
      const auto& args = e.exec().process().args();
      if (e.has_exec() && !args.empty() && args[args.size() - 1] == marker) {
        exec_seen = true;
        EXPECT_EQ(e.node(), "caps-node");
        EXPECT_EQ(e.exec().process().pid(), uint32_t(child));
      }
      if (e.has_syscall() && e.syscall().process().pid() == uint32_t(child) && e.syscall().name() == "kill") {
        syscall_seen = true;
      }
      EXPECT_FALSE(e.has_flow()) << "network capture is off";
    }
  }
  EXPECT_TRUE(exec_seen) << "no exec event with " << marker << "; stderr:\n" << agent.err();
  EXPECT_TRUE(syscall_seen) << "no syscall of the child; stderr:\n" << agent.err();

  ASSERT_EQ(kill(agent.pid(), SIGTERM), 0);
  int agent_status = agent.waitExit(30s);
  ASSERT_NE(agent_status, -1) << "agent did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(agent_status) && WEXITSTATUS(agent_status) == 0) << agent.err();
  unlink(lock.c_str());
}

} // namespace
} // namespace vigil::test
