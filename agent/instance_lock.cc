#include "agent/instance_lock.h"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace vigil {
namespace {

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// mkdir -p of path's parent directories.
Status createParents(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return makeError("cannot create directory {} for the instance lock: {}", dir, errnoText(errno));
    }
  }
  return okStatus();
}

// The pid written by the holder; 0 when there is none (yet).
long readPid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) {
    return 0;
  }
  char* end = nullptr;
  long pid = std::strtol(buf, &end, 10);
  return end != buf && pid > 0 ? pid : 0;
}

} // namespace

Result<InstanceLock> InstanceLock::acquire(const std::string& path) {
  if (path.empty()) {
    return makeError("no instance lock path");
  }
  if (auto st = createParents(path); !st) {
    return st.error();
  }
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return makeError("cannot open the instance lock {}: {}", path, errnoText(errno));
  }
  // flock locks belong to the open file description: a second open of the
  // same file conflicts even within one process.
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EINTR) {
      continue;
    }
    if (err == EWOULDBLOCK) {
      long pid = readPid(fd);
      close(fd);
      if (pid == 0) {
        return makeError("another vigil-agent (pid not written yet) holds {}", path);
      }
      return makeError("another vigil-agent (pid {}) holds {}", pid, path);
    }
    close(fd);
    return makeError("cannot lock {}: {}", path, errnoText(err));
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    int err = errno;
    close(fd);
    return makeError("cannot write the pid into {}: {}", path, errnoText(err));
  }
  return InstanceLock(fd, path);
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

InstanceLock& InstanceLock::operator=(InstanceLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

InstanceLock::~InstanceLock() { release(); }

void InstanceLock::release() {
  if (fd_ < 0) {
    return;
  }
  // The file stays (removing it would let a process still holding the old
  // file's descriptor and a newcomer each own "the" lock); only the pid goes.
  // A failure changes nothing: the lock goes with the descriptor either way.
  [[maybe_unused]] int truncated = ftruncate(fd_, 0);
  close(fd_);
  fd_ = -1;
}

} // namespace vigil
