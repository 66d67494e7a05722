#pragma once

// Reads the per-CPU "vigil_counters" array every BPF object carries
// (bpf/shared/common.h, enum vigil_counter) and sums it over CPUs.

#include "vigil/status.h"

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "shared/common.h"

namespace vigil::runtime {

using KernelCounters = std::array<uint64_t, VIGIL_CNT_MAX>;

// Stable metric-friendly names: "ringbuf_full_exec", ...
std::string_view kernelCounterName(int counter);

// True for counters of records (or parts of the kernel's state) that were
// lost; the others count filtering, retries and other non-losses.
bool kernelCounterIsLoss(int counter);
// True for the "ring buffer full" counters, which are also reported per CPU.
bool kernelCounterIsRingFull(int counter);

// Summed over CPUs.
Result<KernelCounters> readKernelCounters(int map_fd);
// One row per possible CPU.
Result<std::vector<KernelCounters>> readKernelCountersPerCpu(int map_fd);

} // namespace vigil::runtime
