#pragma once

// A cgroup v2 directory made by a test, removed when it ends.

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace vigil::test {

// A child of the cgroup2 directory root; root must be a cgroup v2 directory.
class TestCgroup {
public:
  explicit TestCgroup(const std::string& root) {
    static int serial = 0;
    path_ = fmt::format("{}/vigil-test-{}-{}", root, getpid(), ++serial);
    if (mkdir(path_.c_str(), 0755) != 0) {
      throw std::runtime_error("mkdir " + path_ + ": " + strerror(errno));
    }
    struct stat st {};
    stat(path_.c_str(), &st);
    id_ = st.st_ino;
  }
  ~TestCgroup() {
    for (int i = 0; i < 100 && rmdir(path_.c_str()) != 0 && errno == EBUSY; ++i) {
      usleep(10000);
    }
  }
  const std::string& path() const { return path_; }
  // The cgroup v2 id: the directory's inode number.
  uint64_t id() const { return id_; }
  bool add(pid_t pid) const {
    std::ofstream procs(path_ + "/cgroup.procs");
    procs << pid << std::flush;
    return bool(procs);
  }

private:
  std::string path_;
  uint64_t id_ = 0;
};

} // namespace vigil::test
