#pragma once

// Names of the kernel's numbers, as every capture domain prints them.

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::runtime {

// "CAP_CHOWN", ... for each bit set in mask; unknown bits as "CAP_<n>".
std::vector<std::string> capabilityNames(uint64_t mask);

// "ENOENT" for 2, kernel-internal codes by their kernel names; "E<n>" for
// numbers without a name.
std::string errnoName(int err);

// "SIGKILL" for 9; "SIG<n>" for numbers without a name.
std::string signalName(uint32_t signal);

} // namespace vigil::runtime
