#include "collectors/process/process_collector.h"

#include "collectors/process/proc_scan.h"

#include "shared/common.h"

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstring>

namespace vigil::process {

using runtime::BootClock;
using runtime::capabilityNames;
using runtime::errnoName;
using runtime::sanitizeUtf8;
using runtime::signalName;

ProcessCollector::ProcessCollector(const ProcessBpfOptions& options, CollectorOutput& output)
    : options_(options), output_(output), decoder_(BootClock::measure()) {}

Result<std::unique_ptr<ProcessCollector>> ProcessCollector::create(const ProcessBpfOptions& options,
                                                                   CollectorOutput& output) {
  std::unique_ptr<ProcessCollector> self(new ProcessCollector(options, output));
  auto bpf = ProcessBpf::create(options);
  if (!bpf) {
    return bpf.error();
  }
  self->bpf_ = std::move(*bpf);
  return self;
}

Status ProcessCollector::start() {
  auto ring = runtime::RingBuffer::create(
      bpf_->ringFd(), [this](std::span<const uint8_t> r) { onRecord(r); }, options_.wakeup_bytes > 0);
  if (!ring) {
    return ring.error();
  }
  ring_ = std::move(*ring);
  // Hooks are attached already, so nothing that starts from here on is
  // missed; the snapshot covers what ran before.
  return reportExisting();
}

Status ProcessCollector::reportExisting() {
  if (bpf_->hasIterator()) {
    Event scratch;
    auto st = bpf_->iterateTasks([&](std::span<const uint8_t> record) {
      scratch.Clear();
      auto kind = decoder_.decode(record, scratch);
      if (!kind || *kind != RecordKind::Snapshot) {
        ++stats_.decode_errors;
        spdlog::warn("process snapshot: dropped record: {}",
                     kind ? "unexpected live record" : kind.error().message());
        return;
      }
      Process* p = scratch.mutable_exec()->mutable_process();
      if (!p->kernel_thread()) {
        fillArgsFromProc(p->pid(), options_.argv_max, *p);
      }
      ++stats_.records[size_t(RecordKind::Snapshot)];
      ++stats_.existing_processes;
      output_.onExistingProcess(std::move(*p));
    });
    if (st) {
      spdlog::info("process snapshot: {} processes from the task iterator", stats_.existing_processes);
      return okStatus();
    }
    spdlog::warn("process snapshot: task iterator failed ({}); scanning /proc", st.error().message());
  }
  auto processes = scanProc(decoder_.clock(), options_.argv_max);
  for (auto& p : processes) {
    ++stats_.existing_processes;
    output_.onExistingProcess(std::move(p));
  }
  spdlog::info("process snapshot: {} processes from /proc", processes.size());
  return okStatus();
}

void ProcessCollector::onRecord(std::span<const uint8_t> record) {
  if (record.size() >= sizeof(vigil_event_header)) {
    uint16_t kind = 0;
    std::memcpy(&kind, record.data() + offsetof(vigil_event_header, kind), sizeof(kind));
    if (kind >= VIGIL_EV_SYSCALL && kind < VIGIL_EV_KIND_MAX && other_records_) {
      other_records_(kind, record);
      return;
    }
  }
  auto event = output_.newEvent();
  auto kind = decoder_.decode(record, *event);
  if (!kind) {
    ++stats_.decode_errors;
    spdlog::warn("process collector: dropped malformed record: {}", kind.error().message());
    return;
  }
  ++stats_.records[size_t(*kind)];
  if (*kind == RecordKind::Snapshot) {
    return; // only the iterator produces these
  }
  output_.onEvent(std::move(event));
}

Result<int> ProcessCollector::poll(int timeout_ms) {
  if (!ring_) {
    return makeError("process collector polled before start()");
  }
  return ring_->poll(timeout_ms);
}

void ProcessCollector::stop() {
  if (stopped_ || !ring_) {
    return;
  }
  stopped_ = true;
  bpf_->detach();
  auto n = ring_->drain();
  if (!n) {
    spdlog::warn("process collector: draining at stop: {}", n.error().message());
  } else {
    spdlog::debug("process collector: drained {} records at stop", *n);
  }
}

Result<runtime::KernelCounters> ProcessCollector::kernelCounters() const {
  return runtime::readKernelCounters(bpf_->countersFd());
}

} // namespace vigil::process
