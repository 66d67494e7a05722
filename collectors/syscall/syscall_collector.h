#pragma once

// Syscall and file activity collector: loads its programs into the node's
// BPF runtime, decodes the VIGIL_EV_SYSCALL records (and the summaries of
// its rate limit) the runtime dispatches to it, and hands events on.

#include "collectors/syscall/decoder.h"
#include "collectors/runtime/bpf_runtime.h"
#include "collectors/syscall/syscall_bpf.h"
#include "vigil/collector.h"

#include <fmt/format.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <span>

namespace vigil::syscall {

// Written by the capture thread, read by any (relaxed atomics).
struct SyscallCollectorStats {
  std::atomic<uint64_t> records{0}; // decoded and delivered
  std::atomic<uint64_t> decode_errors{0}; // malformed records (dropped, counted)
  std::atomic<uint64_t> suppressed{0}; // records the rate limit dropped, reported in summaries
};

class SyscallCollector : public Collector, public runtime::RecordHandler {
public:
  static Result<std::unique_ptr<SyscallCollector>> create(const SyscallOptions& options,
                                                          runtime::BpfRuntime& runtime, CollectorOutput& output);

  std::string_view name() const override { return "syscall"; }
  Status start() override { return okStatus(); } // attached at load
  // One VIGIL_EV_SYSCALL or VIGIL_EV_SUPPRESSED record (kind, from its
  // header) from the shared ring buffer.
  void onRecord(uint16_t kind, std::span<const uint8_t> record) override;
  // Reports what the rate limit dropped in cgroups that have gone quiet
  // (their next record would have carried it). now_ns: CLOCK_BOOTTIME.
  void periodic(uint64_t now_ns) override;
  // Stops capturing; records already in the ring are still delivered.
  void detach() override { bpf_->detach(); }
  uint64_t decodeErrors() const override { return stats_.decode_errors.load(std::memory_order_relaxed); }
  void registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) override;
  std::string detail() const override { return fmt::format("hooks: {}", hookModeName(bpf_->activeHooks())); }

  const SyscallCollectorStats& stats() const { return stats_; }
  // Calls per (cgroup id, syscall number) since start: the kernel's counts,
  // summed over CPUs, plus the records it left to this reader to count
  // (VIGIL_SYS_F_EXIT_ONLY). Safe from any thread.
  Result<std::map<std::pair<uint64_t, uint32_t>, uint64_t>> counts() const;
  const SyscallBpf& bpf() const { return *bpf_; }

private:
  SyscallCollector(CollectorOutput& output, const runtime::BootClock& clock, std::unique_ptr<SyscallBpf> bpf);

  CollectorOutput& output_;
  std::unique_ptr<SyscallBpf> bpf_;
  // Counts one delivered record the kernel did not count.
  void countRecord(std::span<const uint8_t> record);

  Decoder decoder_;
  SyscallCollectorStats stats_;
  // Records of one (cgroup, syscall) tend to come in runs: a run is
  // counted in run_count_ (atomic, so counts() can read it from another
  // thread) and moved into counted_ when the key changes.
  mutable std::mutex counted_mu_;
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> counted_; // guarded by counted_mu_
  std::pair<uint64_t, uint32_t> run_key_{}; // written under counted_mu_
  std::atomic<uint64_t> run_count_{0};
};

} // namespace vigil::syscall
