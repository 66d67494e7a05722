#include "support/spawn.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <grp.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace vigil::test {

pid_t spawn(const SpawnOptions& options) {
  std::vector<char*> argv;
  for (const auto& a : options.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    if (options.stdin_fd >= 0) {
      dup2(options.stdin_fd, 0);
    }
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) {
      _exit(126);
    }
    if (options.gid) {
      if (setgroups(0, nullptr) != 0 || setgid(*options.gid) != 0) {
        _exit(125);
      }
    }
    if (options.uid && setuid(*options.uid) != 0) {
      _exit(124);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int waitStatus(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw std::runtime_error(std::string("waitpid: ") + strerror(errno));
    }
  }
  return status;
}

std::string makeTempDir() {
  char tmpl[] = "/tmp/vigil-test-XXXXXX";
  if (!mkdtemp(tmpl)) {
    throw std::runtime_error(std::string("mkdtemp: ") + strerror(errno));
  }
  return tmpl;
}

std::string realPath(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace vigil::test
