#pragma once

// The user side of the kernel's per-cgroup rate limits (bpf/lib/rate.bpf.h):
// what a limit dropped in cgroups that have gone quiet, which the kernel
// cannot report itself (it reports a cgroup's drops before its next record).

#include <cstdint>
#include <vector>

namespace vigil::runtime {

// The kernel's token-bucket settings (rodata of bpf/lib/rate.bpf.h users) for
// per_second records per second and a burst of burst: a record's cost and the
// bucket's depth in ns. Both 0 (no limit) when per_second is 0.
struct RateCost {
  uint64_t cost_ns = 0;
  uint64_t burst_ns = 0;
};
RateCost rateCost(uint32_t per_second, uint32_t burst);

struct IdleSuppressed {
  uint64_t cgroup_id = 0;
  uint64_t count = 0;
  uint64_t first_ns = 0; // CLOCK_BOOTTIME of the first drop
};

// A cgroup quiet this long will not send its summary itself soon: the agent
// takes it.
constexpr uint64_t kRateIdleNs = 1000000000ULL;

// Takes (removes) from the rate-state map at fd every cgroup with drops and
// no record for at least idle_ns, so each drop is reported once. now_ns:
// CLOCK_BOOTTIME.
std::vector<IdleSuppressed> takeIdleSuppressed(int fd, uint64_t now_ns, uint64_t idle_ns);

} // namespace vigil::runtime
