#pragma once

// Process lifecycle collector: owns the BPF side (ProcessBpf), consumes its
// ring buffer, decodes records and hands events to the pipeline.

#include "collectors/runtime/counters.h"
#include "collectors/runtime/ring_buffer.h"
#include "collectors/process/decoder.h"
#include "collectors/process/process_bpf.h"
#include "vigil/collector.h"

#include <array>
#include <atomic>
#include <functional>
#include <memory>

namespace vigil::process {

struct ProcessCollectorStats {
  std::array<uint64_t, 4> records{}; // by RecordKind
  uint64_t decode_errors = 0; // malformed records (dropped, counted)
  uint64_t existing_processes = 0; // reported at start
};

class ProcessCollector : public Collector {
public:
  static Result<std::unique_ptr<ProcessCollector>> create(const ProcessBpfOptions& options,
                                                          CollectorOutput& output);

  std::string_view name() const override { return "process"; }
  // Starts consuming, then reports every process already running.
  Status start() override;
  Result<int> poll(int timeout_ms) override;
  // Detaches the hooks, then delivers everything still in the ring buffer.
  void stop() override;

  // The process object owns the node's ring buffer; records of other
  // capture domains that share it (kind >= VIGIL_EV_SYSCALL) go to handler,
  // with the kind read from their header.
  using OtherRecordHandler = std::function<void(uint16_t kind, std::span<const uint8_t>)>;
  void setOtherRecordHandler(OtherRecordHandler handler) {
    other_records_ = std::move(handler);
  }

  const ProcessCollectorStats& stats() const { return stats_; }
  Result<runtime::KernelCounters> kernelCounters() const;
  const ProcessBpf& bpf() const { return *bpf_; }

private:
  ProcessCollector(const ProcessBpfOptions& options, CollectorOutput& output);
  void onRecord(std::span<const uint8_t> record);
  Status reportExisting();

  ProcessBpfOptions options_;
  CollectorOutput& output_;
  Decoder decoder_;
  std::unique_ptr<ProcessBpf> bpf_;
  std::unique_ptr<runtime::RingBuffer> ring_;
  ProcessCollectorStats stats_;
  OtherRecordHandler other_records_;
  bool stopped_ = false;
};

} // namespace vigil::process
