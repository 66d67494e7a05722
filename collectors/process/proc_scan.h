#pragma once

// /proc readers: argv of running processes (the task iterator cannot read
// another process's memory), and the whole-process snapshot used when the
// BPF task iterator is unavailable.

#include "collectors/process/decoder.h"
#include "vigil/event.h"

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::process {

// Fills args (and args_truncated) from <proc_root>/<pid>/cmdline, reading at
// most argv_max bytes. Returns false when the file could not be read (the
// process is gone, or is a kernel thread with no argv).
bool fillArgsFromProc(uint32_t pid, uint32_t argv_max, Process& process,
                      const std::string& proc_root = "/proc");

// exec_id of a process whose exec was not seen, from /proc starttime in clock
// ticks: the same value the kernel side derives (see bpf/shared/process.h).
uint64_t execIdFromStartTicks(uint64_t start_ticks);

// Every process under proc_root, as complete as /proc allows, with source
// PROCESS_SOURCE_SNAPSHOT_PROC. Processes that vanish mid-scan are skipped.
std::vector<Process> scanProc(const runtime::BootClock& clock, uint32_t argv_max,
                              const std::string& proc_root = "/proc");

} // namespace vigil::process
