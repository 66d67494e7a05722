#pragma once

// The one owner of the process-lifecycle BPF skeleton: open, configure
// rodata, choose the hook family, load, attach; and the task iterator.

#include "collectors/runtime/bpf_env.h"
#include "vigil/status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

struct process_bpf;

namespace vigil::process {

enum class HookMode {
  Auto, // tp_btf when it loads and attaches, else classic tracepoints
  Btf, // tp_btf only
  Tracepoint, // classic tracepoints only
};

enum class SnapshotMode {
  Auto, // BPF task iterator when it loads, else /proc
  Iterator,
  Proc,
};

Result<HookMode> parseHookMode(std::string_view text);
Result<SnapshotMode> parseSnapshotMode(std::string_view text);
std::string_view hookModeName(HookMode mode);
std::string_view snapshotModeName(SnapshotMode mode);

struct ProcessBpfOptions {
  HookMode hooks = HookMode::Auto;
  SnapshotMode snapshot = SnapshotMode::Auto;
  uint32_t argv_max = 4096; // bytes of argv captured per exec
  uint32_t self_tgid = 0; // never report this process; 0 reports everything
  uint32_t proc_map_entries = 65536; // pid -> exec_id LRU size (the runtime creates that map)
};

class ProcessBpf {
public:
  // Loads the programs into the runtime's shared maps (the ring, the
  // counters, the pid -> exec_id map).
  static Result<std::unique_ptr<ProcessBpf>> create(const ProcessBpfOptions& options,
                                                    const runtime::SharedMaps& shared);
  ~ProcessBpf();
  ProcessBpf(const ProcessBpf&) = delete;
  ProcessBpf& operator=(const ProcessBpf&) = delete;

  // The hook family that loaded and attached: Btf or Tracepoint.
  HookMode activeHooks() const { return hooks_; }
  bool hasIterator() const { return has_iterator_; }

  // Detaches every hook; maps stay readable (the ring can still be drained).
  void detach();

  // Runs the task iterator to its end, handing each record to callback.
  Status iterateTasks(const std::function<void(std::span<const uint8_t>)>& callback);

private:
  ProcessBpf() = default;
  // One attempt; sets permission_denied when the kernel refused with EPERM.
  static Result<std::unique_ptr<ProcessBpf>> tryLoad(const ProcessBpfOptions& options,
                                                     const runtime::SharedMaps& shared, HookMode hooks,
                                                     bool with_iterator, bool& permission_denied);

  process_bpf* skel_ = nullptr;
  HookMode hooks_ = HookMode::Btf;
  bool has_iterator_ = false;
};

} // namespace vigil::process
