#pragma once

// Process lifecycle collector: loads the process programs into the node's
// BPF runtime, decodes exec, fork and exit records, and reports the
// processes already running at start (task iterator, else /proc).

#include "collectors/process/decoder.h"
#include "collectors/process/process_bpf.h"
#include "collectors/runtime/bpf_runtime.h"
#include "vigil/collector.h"

#include <array>
#include <atomic>
#include <memory>

namespace vigil::process {

// Written by the capture thread, read by any (relaxed atomics).
struct ProcessCollectorStats {
  std::array<std::atomic<uint64_t>, 4> records{}; // by RecordKind
  std::atomic<uint64_t> decode_errors{0}; // malformed records (dropped, counted)
  std::atomic<uint64_t> existing_processes{0}; // reported at start
};

class ProcessCollector : public Collector, public runtime::RecordHandler {
public:
  static Result<std::unique_ptr<ProcessCollector>> create(const ProcessBpfOptions& options,
                                                          runtime::BpfRuntime& runtime, CollectorOutput& output);

  std::string_view name() const override { return "process"; }
  // Hooks are attached at load; reports every process already running.
  Status start() override;
  void detach() override { bpf_->detach(); }
  uint64_t decodeErrors() const override { return stats_.decode_errors.load(std::memory_order_relaxed); }
  void registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) override;
  std::string detail() const override;
  void onRecord(uint16_t kind, std::span<const uint8_t> record) override;

  const ProcessCollectorStats& stats() const { return stats_; }
  const ProcessBpf& bpf() const { return *bpf_; }

private:
  ProcessCollector(const ProcessBpfOptions& options, const runtime::BootClock& clock, CollectorOutput& output);
  Status reportExisting();

  ProcessBpfOptions options_;
  CollectorOutput& output_;
  Decoder decoder_;
  std::unique_ptr<ProcessBpf> bpf_;
  ProcessCollectorStats stats_;
};

} // namespace vigil::process
