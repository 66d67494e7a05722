#include "collectors/runtime/counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vigil::runtime {

std::string_view kernelCounterName(int counter) {
  switch (counter) {
  case VIGIL_CNT_RB_FULL_EXEC:
    return "ringbuf_full_exec";
  case VIGIL_CNT_RB_FULL_FORK:
    return "ringbuf_full_fork";
  case VIGIL_CNT_RB_FULL_EXIT:
    return "ringbuf_full_exit";
  case VIGIL_CNT_SCRATCH_MISS:
    return "scratch_miss";
  case VIGIL_CNT_ARGV_READ_FAIL:
    return "argv_read_fail";
  case VIGIL_CNT_PROC_MAP_MISS:
    return "proc_map_miss";
  case VIGIL_CNT_PROC_MAP_UPDATE_FAIL:
    return "proc_map_update_fail";
  case VIGIL_CNT_ITER_WRITE_FAIL:
    return "iter_write_fail";
  case VIGIL_CNT_RB_FULL_SYSCALL:
    return "ringbuf_full_syscall";
  case VIGIL_CNT_RB_FULL_FILE:
    return "ringbuf_full_file";
  case VIGIL_CNT_SYS_PENDING_FULL:
    return "syscall_pending_full";
  case VIGIL_CNT_SYS_READ_AT_EXIT:
    return "syscall_arg_read_at_exit";
  case VIGIL_CNT_SYS_READ_FAIL:
    return "syscall_arg_read_fail";
  case VIGIL_CNT_SYS_COUNT_FULL:
    return "syscall_count_map_full";
  case VIGIL_CNT_SYS_NO_ENTER:
    return "syscall_exit_without_enter";
  case VIGIL_CNT_SYS_PATH_FILTERED:
    return "syscall_path_filtered";
  case VIGIL_CNT_SYS_CGROUP_FILTERED:
    return "syscall_cgroup_filtered";
  case VIGIL_CNT_RB_FULL_NET:
    return "ringbuf_full_net";
  case VIGIL_CNT_RB_FULL_DNS:
    return "ringbuf_full_dns";
  case VIGIL_CNT_NET_NO_OWNER:
    return "net_flow_without_owner";
  case VIGIL_CNT_NET_STORAGE_FAIL:
    return "net_socket_storage_fail";
  case VIGIL_CNT_NET_ITER_WRITE_FAIL:
    return "net_iter_write_fail";
  case VIGIL_CNT_RATE_LIMITED:
    return "rate_limited";
  default:
    return "unknown";
  }
}

bool kernelCounterIsRingFull(int counter) {
  switch (counter) {
  case VIGIL_CNT_RB_FULL_EXEC:
  case VIGIL_CNT_RB_FULL_FORK:
  case VIGIL_CNT_RB_FULL_EXIT:
  case VIGIL_CNT_RB_FULL_SYSCALL:
  case VIGIL_CNT_RB_FULL_FILE:
  case VIGIL_CNT_RB_FULL_NET:
  case VIGIL_CNT_RB_FULL_DNS:
    return true;
  default:
    return false;
  }
}

bool kernelCounterIsLoss(int counter) {
  switch (counter) {
  case VIGIL_CNT_SCRATCH_MISS:
  case VIGIL_CNT_ITER_WRITE_FAIL:
  case VIGIL_CNT_SYS_PENDING_FULL:
  case VIGIL_CNT_SYS_COUNT_FULL:
  case VIGIL_CNT_NET_STORAGE_FAIL:
  case VIGIL_CNT_NET_ITER_WRITE_FAIL:
  case VIGIL_CNT_RATE_LIMITED:
    return true;
  default:
    return kernelCounterIsRingFull(counter);
  }
}

Result<std::vector<KernelCounters>> readKernelCountersPerCpu(int map_fd) {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    return makeError("cannot count possible CPUs: {}", strerror(-ncpu));
  }
  std::vector<KernelCounters> out(static_cast<size_t>(ncpu), KernelCounters{});
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
  for (uint32_t key = 0; key < VIGIL_CNT_MAX; ++key) {
    if (bpf_map_lookup_elem(map_fd, &key, per_cpu.data()) != 0) {
      return makeError("reading kernel counter {}: {}", kernelCounterName(int(key)), strerror(errno));
    }
    for (size_t cpu = 0; cpu < per_cpu.size(); ++cpu) {
      out[cpu][key] = per_cpu[cpu];
    }
  }
  return out;
}

Result<KernelCounters> readKernelCounters(int map_fd) {
  auto per_cpu = readKernelCountersPerCpu(map_fd);
  if (!per_cpu) {
    return per_cpu.error();
  }
  KernelCounters out{};
  for (const auto& row : *per_cpu) {
    for (size_t key = 0; key < out.size(); ++key) {
      out[key] += row[key];
    }
  }
  return out;
}

} // namespace vigil::runtime
