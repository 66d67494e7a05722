#include "collectors/runtime/rate_limit.h"

#include "shared/common.h"

#include <bpf/bpf.h>

#include <algorithm>

namespace vigil::runtime {

RateCost rateCost(uint32_t per_second, uint32_t burst) {
  if (per_second == 0) {
    return {};
  }
  const uint64_t cost = 1000000000ULL / per_second;
  return {cost, cost * std::max<uint32_t>(burst, 1)};
}

std::vector<IdleSuppressed> takeIdleSuppressed(int fd, uint64_t now_ns, uint64_t idle_ns) {
  std::vector<IdleSuppressed> out;
  std::vector<uint64_t> idle;
  uint64_t key = 0, next = 0;
  uint64_t* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    vigil_rate_state st{};
    if (bpf_map_lookup_elem(fd, &key, &st) == 0 && st.suppressed > 0 && now_ns >= st.last_ns + idle_ns) {
      idle.push_back(key);
    }
  }
  for (uint64_t cgroup : idle) {
    // Atomic for hash maps: whatever the kernel counted up to here is in st.
    vigil_rate_state st{};
    if (bpf_map_lookup_and_delete_elem(fd, &cgroup, &st) == 0 && st.suppressed > 0) {
      out.push_back({cgroup, st.suppressed, st.first_suppressed_ns});
    }
  }
  return out;
}

} // namespace vigil::runtime
