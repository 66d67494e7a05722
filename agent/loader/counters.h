#pragma once

// Reads the per-CPU "vigil_counters" array every BPF object carries
// (bpf/shared/common.h, enum vigil_counter) and sums it over CPUs.

#include "vigil/status.h"

#include <array>
#include <cstdint>
#include <string_view>

#include "shared/common.h"

namespace vigil::loader {

using KernelCounters = std::array<uint64_t, VIGIL_CNT_MAX>;

// Stable metric-friendly names: "ringbuf_full_exec", ...
std::string_view kernelCounterName(int counter);

Result<KernelCounters> readKernelCounters(int map_fd);

} // namespace vigil::loader
