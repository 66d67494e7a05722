#include "collectors/syscall/syscall_collector.h"

#include "shared/common.h"

#include <spdlog/spdlog.h>

namespace vigil::syscall {

SyscallCollector::SyscallCollector(CollectorOutput& output, std::unique_ptr<SyscallBpf> bpf)
    : output_(output), bpf_(std::move(bpf)), decoder_(process::BootClock::measure(), bpf_->prefixes()) {}

Result<std::unique_ptr<SyscallCollector>> SyscallCollector::create(const SyscallOptions& options,
                                                                   const SharedMaps& shared,
                                                                   CollectorOutput& output) {
  auto bpf = SyscallBpf::create(options, shared);
  if (!bpf) {
    return bpf.error();
  }
  return std::unique_ptr<SyscallCollector>(new SyscallCollector(output, std::move(*bpf)));
}

void SyscallCollector::handleRecord(uint16_t kind, std::span<const uint8_t> record) {
  auto event = output_.newEvent();
  if (kind == VIGIL_EV_SUPPRESSED) {
    if (auto st = decoder_.decodeSuppressed(record, *event); !st) {
      ++stats_.decode_errors;
      spdlog::warn("syscall collector: dropped malformed record: {}", st.error().message());
      return;
    }
    stats_.suppressed += event->suppressed().count();
    output_.onEvent(std::move(event));
    return;
  }
  if (auto st = decoder_.decode(record, *event); !st) {
    ++stats_.decode_errors;
    spdlog::warn("syscall collector: dropped malformed record: {}", st.error().message());
    return;
  }
  ++stats_.records;
  output_.onEvent(std::move(event));
}

void SyscallCollector::periodic(uint64_t now_ns) {
  stats_.suppressed += process::emitIdleSuppressed(output_, decoder_.clock(), VIGIL_EV_SYSCALL,
                                                   bpf_->takeIdleSuppressed(now_ns, loader::kRateIdleNs), now_ns);
}

} // namespace vigil::syscall
