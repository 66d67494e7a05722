#pragma once

// One vigil-agent per node: the agent holds an exclusive flock(2) on a pid
// file for as long as it runs (config key instance_lock). A second agent
// finds the lock taken and refuses to start, naming the pid that holds it.
// The kernel drops the lock when the holder exits, however it exits, so a
// stale file never blocks a restart.

#include "vigil/status.h"

#include <string>

namespace vigil {

class InstanceLock {
public:
  // Creates path's directories (0755) and the file (0644) when missing, takes
  // the lock without waiting, and writes this process's pid into the file.
  // Taken already: "another vigil-agent (pid 1234) holds /run/vigil/agent.pid".
  static Result<InstanceLock> acquire(const std::string& path);

  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  // Empties the file and releases the lock.
  ~InstanceLock();

  const std::string& path() const { return path_; }

private:
  InstanceLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void release();

  int fd_ = -1;
  std::string path_;
};

} // namespace vigil
