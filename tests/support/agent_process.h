#pragma once

// A vigil binary (or a wrapper such as setpriv around it) run as a child
// process, with its stdout and stderr read through pipes, for the e2e tests.
// VIGIL_AGENT_BIN names the agent binary (a compile definition).

#include "proto/json.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace vigil::test {

// Forks and execs program with args (and env changes: "NAME=value", or
// "NAME" to unset); its stdout and stderr go to the pipes out and err, whose
// write ends stay open in the caller (close them). Returns the child's pid.
inline pid_t spawnWithPipes(const std::string& program, std::vector<std::string> args,
                            const std::vector<std::string>& env, int out[2], int err[2]) {
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe");
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (const auto& e : env) {
      auto eq = e.find('=');
      eq == std::string::npos ? unsetenv(e.c_str()) : setenv(e.substr(0, eq).c_str(), e.c_str() + eq + 1, 1);
    }
    std::string bin = program;
    std::vector<char*> argv{bin.data()};
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// A file under /tmp with the given text, removed when it goes.
class TempFile {
public:
  explicit TempFile(const std::string& text, const std::string& suffix = ".yaml") {
    std::string tmpl = "/tmp/vigil-test-XXXXXX" + suffix;
    int fd = mkstemps(tmpl.data(), int(suffix.size()));
    if (fd < 0 || write(fd, text.data(), text.size()) != ssize_t(text.size())) {
      throw std::runtime_error("cannot write a temporary file");
    }
    close(fd);
    path_ = tmpl;
  }
  ~TempFile() { unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

// A child process with its stdout and stderr on pipes.
class AgentProcess {
public:
  // The agent binary with args.
  explicit AgentProcess(std::vector<std::string> args) : AgentProcess(VIGIL_AGENT_BIN, std::move(args)) {}
  // program (a path) with args; args[0] is not the program name. env
  // entries ("NAME=value", or "NAME" to unset) change its environment.
  AgentProcess(std::string program, std::vector<std::string> args, std::vector<std::string> env = {}) {
    int out[2], err[2];
    pid_ = spawnWithPipes(program, args, env, out, err);
    close(out[1]);
    close(err[1]);
    out_ = out[0];
    err_ = err[0];
    fcntl(out_, F_SETFL, O_NONBLOCK);
    fcntl(err_, F_SETFL, O_NONBLOCK);
  }

  ~AgentProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
    close(err_);
  }

  pid_t pid() const { return pid_; }

  // Reads whatever is available into the buffers, waiting up to timeout_ms.
  void pump(int timeout_ms) {
    pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) <= 0) {
      return;
    }
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      ssize_t n;
      while ((n = read(fds[i].fd, buf, sizeof(buf))) > 0) {
        (i == 0 ? stdout_ : stderr_).append(buf, size_t(n));
      }
    }
  }

  bool waitForStderr(const std::string& text, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (stderr_.find(text) != std::string::npos) {
        return true;
      }
      if (exitedNow()) {
        pump(0);
        return stderr_.find(text) != std::string::npos;
      }
      pump(100);
    }
    return false;
  }

  // Complete stdout lines parsed as events (every line must parse).
  std::vector<Event> events() {
    std::vector<Event> out;
    size_t start = 0;
    for (size_t nl; (nl = stdout_.find('\n', start)) != std::string::npos; start = nl + 1) {
      Event e;
      auto st = parseJson(stdout_.substr(start, nl - start), e);
      EXPECT_TRUE(st) << st.error().message();
      out.push_back(std::move(e));
    }
    return out;
  }

  // Waits for exit; returns the raw status, or -1 on timeout.
  int waitExit(std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pump(50);
      if (exitedNow()) {
        pump(0);
        return status_;
      }
    }
    return -1;
  }

  const std::string& err() const { return stderr_; }
  const std::string& out() const { return stdout_; }

private:
  bool exitedNow() {
    if (!exited_ && waitpid(pid_, &status_, WNOHANG) == pid_) {
      exited_ = true;
    }
    return exited_;
  }

  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  std::string stdout_, stderr_;
  bool exited_ = false;
  int status_ = 0;
};

} // namespace vigil::test
