#pragma once

// Which Linux capabilities this process holds (effective set), so a part
// that needs one it lacks is turned off with a line naming it instead of
// failing deep inside the kernel with EPERM.

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::runtime {

// True when the calling thread's effective set has cap (CAP_* number from
// <linux/capability.h>).
bool hasCapability(int cap);

// The names ("CAP_NET_ADMIN") of the caps in needed (bit n: capability n)
// that this process lacks.
std::vector<std::string> missingCapabilities(uint64_t needed);

} // namespace vigil::runtime
