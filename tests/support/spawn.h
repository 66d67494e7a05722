#pragma once

// Starting real programs for the privileged tests.

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace vigil::test {

struct SpawnOptions {
  std::vector<std::string> argv; // argv[0] is the path executed
  std::string cwd; // empty: inherit
  std::optional<uid_t> uid; // drop to this uid (and gid) before exec
  std::optional<gid_t> gid;
  int stdin_fd = -1; // dup2'ed to 0 when >= 0
};

// fork + exec; the child exits 127 when the exec fails.
pid_t spawn(const SpawnOptions& options);
// Waits for pid; returns its raw wait status.
int waitStatus(pid_t pid);
// Creates a fresh directory under /tmp and returns its path.
std::string makeTempDir();
// path with symlinks resolved; path itself when it cannot be resolved.
std::string realPath(const std::string& path);
// A whole file as text; empty when unreadable.
std::string readFile(const std::string& path);

} // namespace vigil::test
