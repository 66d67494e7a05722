// The vigil-agent command line as a user meets it: bad input of every kind
// gets one line "vigil-agent: ..." and exit status 2 without starting
// anything; --print-config shows the effective configuration; a second agent
// on the node refuses to start. None of this needs root, except the signal
// test at the end, which runs a real agent.

#include "support/agent_process.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/file.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace vigil::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Outcome {
  int status = -1; // exit status; -1: killed after the timeout
  std::string out;
  std::string err;
};

// A running vigil-agent with its stdout and stderr on pipes; env entries
// ("NAME=value", or "NAME" to unset) change its environment.
class Agent {
public:
  explicit Agent(std::vector<std::string> args, std::vector<std::string> env = {}) {
    int out[2], err[2];
    pid_ = spawnWithPipes(VIGIL_AGENT_BIN, std::move(args), env, out, err);
    close(out[1]);
    close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  ~Agent() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
    close(err_);
  }

  pid_t pid() const { return pid_; }
  const std::string& err() const { return run_.err; }

  // Reads what is there, waiting up to timeout_ms; false at the end of both.
  bool pump(int timeout_ms) {
    pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
    if (out_ < 0 && err_ < 0) {
      return false;
    }
    if (::poll(fds, 2, timeout_ms) <= 0) {
      return true;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? run_.out : run_.err).append(buf, size_t(n));
      } else {
        close(i == 0 ? out_ : err_);
        (i == 0 ? out_ : err_) = -1;
      }
    }
    return true;
  }

  // True once stderr holds any of texts.
  bool waitForStderr(std::vector<std::string> texts, std::chrono::seconds timeout) {
    auto seen = [&] {
      return std::any_of(texts.begin(), texts.end(),
                         [&](const std::string& t) { return run_.err.find(t) != std::string::npos; });
    };
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && !seen()) {
      if (!pump(100)) {
        break;
      }
    }
    return seen();
  }

  // The agent's start line.
  bool waitForStart() { return waitForStderr({"capturing", "agent on node '"}, std::chrono::seconds(30)); }

  // Waits for the end of output and the exit.
  Outcome finish(std::chrono::seconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && pump(100)) {
    }
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        run_.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return run_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return run_; // status -1: still running
  }

private:
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  bool exited_ = false;
  Outcome run_;
};

Outcome runAgent(std::vector<std::string> args, std::vector<std::string> env = {}) {
  return Agent(std::move(args), std::move(env)).finish();
}

// Bad input: status 2, nothing on stdout, one "vigil-agent: " line first.
void expectBadInput(const Outcome& run, const std::string& message) {
  EXPECT_EQ(run.status, 2) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, StartsWith("vigil-agent: "));
  EXPECT_THAT(run.err, HasSubstr(message));
}

TEST(AgentCli, UnknownFlagIsBadInput) {
  // CLI11's own errors used to exit 109 with no prefix.
  expectBadInput(runAgent({"--bogus-flag"}), "--bogus-flag");
}

TEST(AgentCli, FlagValueOutOfBoundsNamesTheFlag) {
  // Used to exit 104 (CLI11's conversion error) with no prefix.
  Outcome run = runAgent({"--argv-max", "-5"});
  expectBadInput(run, "--argv-max: must be between 1 and 32768 (got -5)");
  EXPECT_EQ(run.err, "vigil-agent: --argv-max: must be between 1 and 32768 (got -5)\n");
  expectBadInput(runAgent({"--argv-max", "lots"}), "--argv-max: must be a number of bytes (got 'lots')");
  expectBadInput(runAgent({"--ring-buffer-bytes", "5000"}),
                 "--ring-buffer-bytes: must be a power of two, at least 4096 (got 5000)");
  expectBadInput(runAgent({"--log-level", "loud"}), "--log-level: must be trace, debug, info, warn or error");
}

TEST(AgentCli, MissingValueIsNotTheNextFlag) {
  // "--print-config" used to become the node name, and the agent printed its
  // configuration.
  Outcome run = runAgent({"--node-name", "--print-config"});
  expectBadInput(run, "--node-name: needs a value (got the option --print-config)");
  expectBadInput(runAgent({"--config", "--stdout"}), "--config: needs a value");
  expectBadInput(runAgent({"--argv-max"}), "--argv-max");
}

TEST(AgentCli, SetAnyScalarKey) {
  Outcome run = runAgent({"--set", "pipeline.mode=threads", "--set", "ring.buffer_bytes=65536", "--print-config"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("\npipeline:\n  mode: threads\n"));
  EXPECT_THAT(run.out, HasSubstr("\nring:\n  buffer_bytes: 65536\n  wakeup_bytes: 16384\n"));

  expectBadInput(runAgent({"--set", "process.argv_max_bytes=0"}),
                 "--set process.argv_max_bytes: must be between 1 and 32768 (got 0)");
  expectBadInput(runAgent({"--set", "bogus=1"}), "--set bogus: unknown key");
  expectBadInput(runAgent({"--set", "process.ring_buffer_bytes=4096"}), "moved to ring.buffer_bytes");
  // Later settings win.
  run = runAgent({"--argv-max", "100", "--set", "process.argv_max_bytes=200", "--print-config"});
  EXPECT_THAT(run.out, HasSubstr("argv_max_bytes: 200\n"));
}

TEST(AgentCli, ConfigThatIsADirectoryOrMissing) {
  // A directory used to load as an empty file: the defaults.
  expectBadInput(runAgent({"--config", "/tmp"}), "cannot read config file /tmp: it is a directory");
  expectBadInput(runAgent({"--config", "/nonexistent/agent.yaml"}),
                 "cannot read config file /nonexistent/agent.yaml: No such file or directory");
}

TEST(AgentCli, ConfigErrorsNamePlaceAndKey) {
  TempFile dup("log_level: info\nprocess:\n  argv_max_bytes: 100\n  argv_max_bytes: 200\n");
  expectBadInput(runAgent({"--config", dup.path()}),
                 dup.path() + ":4:3: process.argv_max_bytes: duplicate key (first at line 3, column 3)");
  TempFile moved("process:\n  ring_buffer_bytes: 1048576\n");
  expectBadInput(runAgent({"--config", moved.path()}),
                 moved.path() + ":2:3: process.ring_buffer_bytes: moved to ring.buffer_bytes");
  TempFile old_output("output: {stdout: true}\n");
  expectBadInput(runAgent({"--config", old_output.path()}), "outputs: [{type: stdout}]");
}

TEST(AgentCli, PrintConfigShowsTheEffectiveNodeName) {
  Outcome run = runAgent({"--print-config"}, {"NODE_NAME=worker-from-env"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith("node_name: \"worker-from-env\"\n"));

  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  run = runAgent({"--print-config"}, {"NODE_NAME"});
  EXPECT_THAT(run.out, StartsWith(std::string("node_name: \"") + host + "\"\n"));

  run = runAgent({"--node-name", "flagged", "--print-config"}, {"NODE_NAME=worker-from-env"});
  EXPECT_THAT(run.out, StartsWith("node_name: \"flagged\"\n"));
}

TEST(AgentCli, StdoutFlagsEditTheOutputsList) {
  Outcome run = runAgent({"--stdout", "--print-config"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("\noutputs:\n  - type: stdout\n    name: \"stdout\"\n"));
  run = runAgent({"--stdout", "--no-stdout", "--print-config"});
  EXPECT_THAT(run.out, HasSubstr("\noutputs: []\n"));
  TempFile file("outputs:\n  - {type: file, path: /tmp/x.jsonl}\n");
  run = runAgent({"--config", file.path(), "--stdout", "--print-config"});
  EXPECT_THAT(run.out, AllOf(HasSubstr("  - type: file\n"), HasSubstr("  - type: stdout\n")));
}

TEST(AgentCli, HelpDescribesTheAgent) {
  Outcome run = runAgent({"--help"});
  EXPECT_EQ(run.status, 0);
  EXPECT_THAT(run.out, AllOf(HasSubstr("syscalls"), HasSubstr("file activity"), HasSubstr("network flows"),
                             HasSubstr("pod"), HasSubstr("--set"), HasSubstr("--ring-buffer-bytes")));
  EXPECT_THAT(run.out, Not(HasSubstr("--print-config-doc"))); // hidden
}

TEST(AgentCli, PrintConfigDocIsTheReference) {
  Outcome run = runAgent({"--print-config-doc"});
  EXPECT_EQ(run.status, 0);
  EXPECT_THAT(run.out, AllOf(StartsWith("# Configuration\n"), HasSubstr("#### `ring.buffer_bytes`")));
}

// A lock held by someone else: the agent names the holder and stops before
// it loads anything (no root needed: it never gets that far).
TEST(AgentCli, SecondInstanceIsRefused) {
  char dir[] = "/tmp/vigil-cli-lock-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/agent.pid";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  std::string pid = std::to_string(getpid()) + "\n";
  ASSERT_EQ(write(fd, pid.data(), pid.size()), ssize_t(pid.size()));

  Outcome run = runAgent({"--set", "instance_lock=" + path, "--stats-interval", "0"});
  EXPECT_EQ(run.status, 1) << run.err; // not bad input: the node is busy
  EXPECT_THAT(run.err, HasSubstr(fmt::format("another vigil-agent (pid {}) holds {}", getpid(), path)));
  EXPECT_THAT(run.err, Not(HasSubstr("capturing")));
  EXPECT_THAT(run.err, Not(HasSubstr("agent on node")));
  EXPECT_THAT(run.err, Not(HasSubstr("bpf")));

  // Held by flock(1), which writes no pid.
  close(fd);
  unlink(path.c_str());
  pid_t holder = fork();
  if (holder == 0) {
    execlp("flock", "flock", path.c_str(), "sleep", "30", nullptr);
    _exit(127);
  }
  for (int i = 0; i < 100 && access(path.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  run = runAgent({"--set", "instance_lock=" + path});
  EXPECT_EQ(run.status, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("another vigil-agent (pid not written yet) holds " + path));
  kill(holder, SIGTERM);
  waitpid(holder, nullptr, 0);
  unlink(path.c_str());
  rmdir(dir);
}

// A real agent: the first signal is announced and drains; a second one ends
// the drain early.
TEST(AgentCli, SignalsAreAnnounced) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: the agent loads BPF programs";
  }
  char dir[] = "/tmp/vigil-cli-signal-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string lock = std::string(dir) + "/agent.pid";
  {
    Agent agent({"--set", "instance_lock=" + lock, "--stats-interval", "0"});
    ASSERT_TRUE(agent.waitForStart()) << agent.err();
    ASSERT_EQ(kill(agent.pid(), SIGTERM), 0);
    Outcome run = agent.finish();
    EXPECT_EQ(run.status, 0) << run.err;
    EXPECT_THAT(run.err, HasSubstr("vigil-agent: SIGTERM received, draining (send again to stop now)\n"));
  }
  {
    Agent agent({"--set", "instance_lock=" + lock, "--stats-interval", "0"});
    ASSERT_TRUE(agent.waitForStart()) << agent.err();
    ASSERT_EQ(kill(agent.pid(), SIGINT), 0);
    ASSERT_TRUE(agent.waitForStderr({"SIGINT received, draining"}, std::chrono::seconds(10))) << agent.err();
    ASSERT_EQ(kill(agent.pid(), SIGINT), 0);
    Outcome run = agent.finish();
    EXPECT_NE(run.status, -1) << "still running after two signals";
    EXPECT_THAT(run.err, HasSubstr("vigil-agent: SIGINT received again, stopping now without draining\n"));
  }
  unlink(lock.c_str());
  rmdir(dir);
}

} // namespace
} // namespace vigil::test
