#include "collectors/runtime/capabilities.h"

#include "collectors/runtime/names.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace vigil::runtime {

bool hasCapability(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    return false;
  }
  if (cap < 0 || cap >= 32 * _LINUX_CAPABILITY_U32S_3) {
    return false;
  }
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

std::vector<std::string> missingCapabilities(uint64_t needed) {
  std::vector<std::string> out;
  for (int cap = 0; cap < 64; ++cap) {
    if ((needed & (uint64_t(1) << cap)) != 0 && !hasCapability(cap)) {
      auto names = capabilityNames(uint64_t(1) << cap);
      out.push_back(names.empty() ? "CAP_" + std::to_string(cap) : names.front());
    }
  }
  return out;
}

} // namespace vigil::runtime
