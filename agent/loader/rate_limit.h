#pragma once

// The user side of the kernel's per-cgroup rate limits (bpf/lib/rate.bpf.h):
// what a limit dropped in cgroups that have gone quiet, which the kernel
// cannot report itself (it reports a cgroup's drops before its next record).

#include <cstdint>
#include <vector>

namespace vigil::loader {

struct IdleSuppressed {
  uint64_t cgroup_id = 0;
  uint64_t count = 0;
  uint64_t first_ns = 0; // CLOCK_BOOTTIME of the first drop
};

// Takes (removes) from the rate-state map at fd every cgroup with drops and
// no record for at least idle_ns, so each drop is reported once. now_ns:
// CLOCK_BOOTTIME.
std::vector<IdleSuppressed> takeIdleSuppressed(int fd, uint64_t now_ns, uint64_t idle_ns);

} // namespace vigil::loader
