#pragma once

// The one owner of the syscall BPF skeleton: open, configure rodata (watched
// prefixes, cgroup filters), share the process object's maps, load, write the
// per-syscall specs, attach only what the configuration needs.

#include "collectors/runtime/bpf_env.h"
#include "collectors/runtime/rate_limit.h"
#include "vigil/status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct syscall_bpf;
struct bpf_link;

namespace vigil::syscall {

enum class HookMode {
  Auto, // the faster family on this kernel (bench/results/syscall_overhead.md): per-syscall tracepoints
  Tracepoint, // one syscalls:sys_enter_<name>/sys_exit_<name> pair per watched syscall
  Dispatcher, // one tp_btf sys_enter/sys_exit pair for all syscalls, filtered by a spec map
};

Result<HookMode> parseHookMode(std::string_view text);
std::string_view hookModeName(HookMode mode);

// A watched path prefix. "/etc" watches /etc itself and everything under it
// (not "/etcx"); access selects which file syscalls count (VIGIL_ACCESS_*).
struct WatchPrefix {
  std::string path;
  uint16_t access = 3; // VIGIL_ACCESS_READ | VIGIL_ACCESS_WRITE

  bool operator==(const WatchPrefix&) const = default;
};

// "read", "write" or "any" to VIGIL_ACCESS_* bits.
Result<uint16_t> parseAccess(std::string_view text);
std::string_view accessName(uint16_t access);

struct SyscallOptions {
  bool enabled = true;
  HookMode hooks = HookMode::Auto;
  std::vector<std::string> trace; // captured with arguments; see defaultOptions()
  std::vector<std::string> count; // only counted per (cgroup, syscall)
  std::vector<WatchPrefix> watch; // empty: file syscalls are reported wherever they happen
  std::vector<std::string> include_cgroups; // cgroup v2 paths; empty: every cgroup
  std::vector<std::string> exclude_cgroups;
  uint32_t pending_entries = 16384; // syscalls in flight (enter seen, exit not yet)
  uint32_t count_entries = 16384; // (cgroup, syscall) counter slots
  uint32_t rate_limit_per_second = 0; // syscall records per cgroup per second; 0: no limit
  uint32_t rate_limit_burst = 100; // records a cgroup may send at once before the limit applies
  uint32_t self_tgid = 0; // never report this process; 0 reports everything
};

// Whether this process can read the syscall tracepoints in tracefs (the
// per-syscall tracepoint family needs their ids); the error names why not.
Status syscallEventsReadable();

// The embedded defaults: every decoded syscall traced, and the watched
// prefixes of docs/syscall.md.
SyscallOptions defaultOptions();

using SharedMaps = runtime::SharedMaps;

class SyscallBpf {
public:
  // Validates options (names, prefixes, cgroups) and loads and attaches.
  static Result<std::unique_ptr<SyscallBpf>> create(const SyscallOptions& options, const SharedMaps& shared);
  ~SyscallBpf();
  SyscallBpf(const SyscallBpf&) = delete;
  SyscallBpf& operator=(const SyscallBpf&) = delete;

  // The argument names of syscall nr from its enter tracepoint's format in
  // tracefs (parseEnterFormat); nullopt when tracefs or the file is missing.
  static std::optional<std::vector<std::string>> argNames(uint32_t nr);

  HookMode activeHooks() const { return hooks_; }
  // Watched prefixes in kernel order (record field prefix = index + 1).
  const std::vector<WatchPrefix>& prefixes() const { return prefixes_; }

  void detach();
  // What the rate limit dropped for cgroups quiet for at least idle_ns: each
  // entry is taken (removed) from the kernel, so it is reported once.
  std::vector<runtime::IdleSuppressed> takeIdleSuppressed(uint64_t now_ns, uint64_t idle_ns);
  // Per (cgroup id, syscall number) counts, summed over CPUs.
  Result<std::map<std::pair<uint64_t, uint32_t>, uint64_t>> readCounts() const;

private:
  SyscallBpf() = default;
  // (syscall number, whether its enter tracepoint is needed: only calls with
  // memory arguments read them at enter).
  Status attachTracepoints(const std::vector<std::pair<uint32_t, bool>>& numbers);

  syscall_bpf* skel_ = nullptr;
  HookMode hooks_ = HookMode::Tracepoint;
  std::vector<WatchPrefix> prefixes_;
  std::vector<bpf_link*> links_;
  std::vector<int> cgroup_fds_;
};

} // namespace vigil::syscall
