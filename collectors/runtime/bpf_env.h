#pragma once

// What every BPF-loading part of the agent needs from the host before the
// first program loads: tracefs and bpffs mounted, the memlock limit raised
// where the kernel still charges it, and libbpf's log routed through spdlog.

#include "vigil/status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct bpf_link;
struct bpf_map;

namespace vigil::runtime {

struct BpfEnvReport {
  bool tracefs_mounted_by_us = false;
  bool bpffs_mounted_by_us = false;
  bool memlock_raised = false;
  std::string memlock_warning; // why the raise failed, when it did
};

// Sends libbpf's messages to spdlog: warnings and info always, debug only
// when verbose.
void routeLibbpfLogToSpdlog(bool verbose);

// Mounts tracefs at /sys/kernel/tracing and bpffs at /sys/fs/bpf when they
// are missing (needs CAP_SYS_ADMIN), and tries to lift RLIMIT_MEMLOCK. Only a
// failed mount that is needed is an error; a failed memlock raise is a
// warning (kernels >= 5.11 charge BPF memory to the cgroup instead).
Result<BpfEnvReport> prepareBpfEnvironment();

// strerror text of an errno value or of a libbpf-style negative one.
std::string errnoText(int err);

// Where the cgroup v2 hierarchy is mounted ("/sys/fs/cgroup" on a unified
// host, "/sys/fs/cgroup/unified" on a hybrid one); empty when it is not.
std::string cgroup2Mount();
// The same from the text of /proc/self/mountinfo: the mount point of the
// first cgroup2 file system (escapes undone), nullopt when there is none.
std::optional<std::string> cgroup2MountPoint(std::string_view mountinfo);

// Destroys every link and clears links. Each syscall tracepoint link waits
// for an RCU grace period as it goes, under a kernel mutex: about 25 ms each
// here, so ~100 of them take ~2.5 s (threads do not overlap the waits).
void destroyLinks(std::vector<bpf_link*>& links);

// Maps of the process object that other capture domains reuse (one ring
// buffer, one counter array, one pid -> exec_id map), and the ring's wakeup
// threshold their programs must apply too.
struct SharedMaps {
  int events_fd = -1;
  int counters_fd = -1;
  int procs_fd = -1;
  uint32_t wakeup_bytes = 0;
};

// Makes an opened (not yet loaded) object use the shared maps in place of
// its own "vigil_events", "vigil_counters" and "vigil_procs". An fd of -1
// keeps the object's own map.
Status reuseSharedMaps(const SharedMaps& shared, bpf_map* events, bpf_map* counters, bpf_map* procs);

} // namespace vigil::runtime
