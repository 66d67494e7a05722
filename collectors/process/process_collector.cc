#include "collectors/process/process_collector.h"

#include "collectors/process/proc_scan.h"

#include "shared/common.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstring>

namespace vigil::process {

using runtime::bump;
using runtime::BootClock;
using runtime::capabilityNames;
using runtime::errnoName;
using runtime::sanitizeUtf8;
using runtime::signalName;

ProcessCollector::ProcessCollector(const ProcessBpfOptions& options, const BootClock& clock, CollectorOutput& output)
    : options_(options), output_(output), decoder_(clock) {}

Result<std::unique_ptr<ProcessCollector>> ProcessCollector::create(const ProcessBpfOptions& options,
                                                                   runtime::BpfRuntime& runtime,
                                                                   CollectorOutput& output) {
  std::unique_ptr<ProcessCollector> self(new ProcessCollector(options, runtime.clock(), output));
  if (auto st = runtime.registerKinds({VIGIL_EV_EXEC, VIGIL_EV_FORK, VIGIL_EV_EXIT, VIGIL_EV_SNAPSHOT}, *self);
      !st) {
    return st.error();
  }
  auto bpf = ProcessBpf::create(options, runtime.sharedMaps());
  if (!bpf) {
    return bpf.error();
  }
  self->bpf_ = std::move(*bpf);
  return self;
}

// Hooks are attached already, so nothing that starts from here on is
// missed; the snapshot covers what ran before.
Status ProcessCollector::start() { return reportExisting(); }

Status ProcessCollector::reportExisting() {
  if (bpf_->hasIterator()) {
    Event scratch;
    auto st = bpf_->iterateTasks([&](std::span<const uint8_t> record) {
      scratch.Clear();
      auto kind = decoder_.decode(record, scratch);
      if (!kind || *kind != RecordKind::Snapshot) {
        bump(stats_.decode_errors);
        spdlog::warn("process snapshot: dropped record: {}",
                     kind ? "unexpected live record" : kind.error().message());
        return;
      }
      Process* p = scratch.mutable_exec()->mutable_process();
      if (!p->kernel_thread()) {
        fillArgsFromProc(p->pid(), options_.argv_max, *p);
      }
      bump(stats_.records[size_t(RecordKind::Snapshot)]);
      bump(stats_.existing_processes);
      output_.onExistingProcess(std::move(*p));
    });
    if (st) {
      spdlog::info("process snapshot: {} processes from the task iterator", stats_.existing_processes.load());
      return okStatus();
    }
    spdlog::warn("process snapshot: task iterator failed ({}); scanning /proc", st.error().message());
  }
  auto processes = scanProc(decoder_.clock(), options_.argv_max);
  for (auto& p : processes) {
    bump(stats_.existing_processes);
    output_.onExistingProcess(std::move(p));
  }
  spdlog::info("process snapshot: {} processes from /proc", processes.size());
  return okStatus();
}

void ProcessCollector::onRecord(uint16_t, std::span<const uint8_t> record) {
  auto event = output_.newEvent();
  auto kind = decoder_.decode(record, *event);
  if (!kind) {
    bump(stats_.decode_errors);
    spdlog::warn("process collector: dropped malformed record: {}", kind.error().message());
    return;
  }
  bump(stats_.records[size_t(*kind)]);
  if (*kind == RecordKind::Snapshot) {
    return; // only the iterator produces these
  }
  output_.onEvent(std::move(event));
}

std::string ProcessCollector::detail() const {
  return fmt::format("hooks: {}; snapshot: {}", hookModeName(bpf_->activeHooks()),
                     bpf_->hasIterator() ? "task iterator" : "/proc");
}

void ProcessCollector::registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) {
  keep.push_back(registry.addCallback("records_total", "Records decoded, by capture domain and kind",
                                      metrics::Type::kCounter, [this] {
                                        std::vector<metrics::Sample> out;
                                        for (auto k : {RecordKind::Exec, RecordKind::Fork, RecordKind::Exit,
                                                       RecordKind::Snapshot}) {
                                          out.push_back({{{"domain", "process"}, {"kind", std::string(recordKindName(k))}},
                                                         double(stats_.records[size_t(k)].load())});
                                        }
                                        return out;
                                      }));
}

} // namespace vigil::process
