#include "collectors/syscall/syscall_collector.h"

#include "collectors/syscall/syscall_table.h"
#include "shared/common.h"
#include "shared/syscall.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include <spdlog/spdlog.h>

namespace vigil::syscall {

using runtime::bump;

SyscallCollector::SyscallCollector(CollectorOutput& output, const runtime::BootClock& clock,
                                   std::unique_ptr<SyscallBpf> bpf)
    : output_(output), bpf_(std::move(bpf)), decoder_(clock, bpf_->prefixes()) {}

Result<std::unique_ptr<SyscallCollector>> SyscallCollector::create(const SyscallOptions& options,
                                                                   runtime::BpfRuntime& runtime,
                                                                   CollectorOutput& output) {
  auto bpf = SyscallBpf::create(options, runtime.sharedMaps());
  if (!bpf) {
    return bpf.error();
  }
  std::unique_ptr<SyscallCollector> collector(new SyscallCollector(output, runtime.clock(), std::move(*bpf)));
  if (auto st = runtime.registerKinds({VIGIL_EV_SYSCALL}, *collector); !st) {
    return st.error();
  }
  // Syscalls without a decoded spec: their arguments as the kernel names them.
  for (const auto& name : options.trace) {
    auto nr = syscallNumber(name);
    if (!nr || findSpec(*nr)) {
      continue;
    }
    if (auto names = SyscallBpf::argNames(*nr)) {
      collector->decoder_.setArgNames(*nr, std::move(*names));
    }
  }
  return collector;
}

void SyscallCollector::onRecord(uint16_t kind, std::span<const uint8_t> record) {
  auto event = output_.newEvent();
  if (kind == VIGIL_EV_SUPPRESSED) {
    if (auto st = decoder_.decodeSuppressed(record, *event); !st) {
      bump(stats_.decode_errors);
      spdlog::warn("syscall collector: dropped malformed record: {}", st.error().message());
      return;
    }
    bump(stats_.suppressed, event->suppressed().count());
    output_.onEvent(std::move(event));
    return;
  }
  if (auto st = decoder_.decode(record, *event); !st) {
    bump(stats_.decode_errors);
    spdlog::warn("syscall collector: dropped malformed record: {}", st.error().message());
    return;
  }
  bump(stats_.records);
  countRecord(record);
  output_.onEvent(std::move(event));
}

void SyscallCollector::countRecord(std::span<const uint8_t> record) {
  vigil_sys_event ev;
  std::memcpy(&ev, record.data(), sizeof(ev)); // decode() checked the size
  if (!(ev.flags & VIGIL_SYS_F_EXIT_ONLY)) {
    return;
  }
  std::pair<uint64_t, uint32_t> key{ev.cgroup_id, ev.nr};
  if (key == run_key_) {
    run_count_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(counted_mu_);
  if (uint64_t n = run_count_.exchange(1, std::memory_order_relaxed)) {
    counted_[run_key_] += n;
  }
  run_key_ = key;
}

Result<std::map<std::pair<uint64_t, uint32_t>, uint64_t>> SyscallCollector::counts() const {
  auto out = bpf_->readCounts();
  if (!out) {
    return out;
  }
  std::lock_guard lock(counted_mu_);
  for (const auto& [key, n] : counted_) {
    (*out)[key] += n;
  }
  if (uint64_t n = run_count_.load(std::memory_order_relaxed)) {
    (*out)[run_key_] += n;
  }
  return out;
}

void SyscallCollector::periodic(uint64_t now_ns) {
  bump(stats_.suppressed, runtime::emitIdleSuppressed(output_, decoder_.clock(), VIGIL_EV_SYSCALL,
                                                      bpf_->takeIdleSuppressed(now_ns, runtime::kRateIdleNs), now_ns));
}

void SyscallCollector::registerMetrics(metrics::Registry& registry, std::vector<metrics::CallbackHandle>& keep) {
  keep.push_back(registry.addCallback("records_total", "Records decoded, by capture domain and kind",
                                      metrics::Type::kCounter, [this] {
                                        return std::vector<metrics::Sample>{
                                            {{{"domain", "syscall"}, {"kind", "syscall"}},
                                             double(stats_.records.load(std::memory_order_relaxed))}};
                                      }));
  keep.push_back(registry.addCallback(
      "rate_limited_total", "Records a per-cgroup rate limit dropped on purpose (reported in summaries)",
      metrics::Type::kCounter, [this] {
        return std::vector<metrics::Sample>{
            {{{"domain", "syscall"}}, double(stats_.suppressed.load(std::memory_order_relaxed))}};
      }));
  // Calls per syscall on this node (summed over cgroups: per-pod labels are
  // the metrics issue's, with their cardinality bound).
  keep.push_back(registry.addCallback("syscalls_total", "Calls of each watched syscall, counted in the kernel",
                                      metrics::Type::kCounter, [this] {
                                        std::vector<metrics::Sample> out;
                                        auto c = counts();
                                        if (!c) {
                                          return out;
                                        }
                                        std::map<uint32_t, uint64_t> by_nr;
                                        for (const auto& [key, n] : *c) {
                                          by_nr[key.second] += n;
                                        }
                                        for (const auto& [nr, n] : by_nr) {
                                          out.push_back({{{"syscall", syscallName(nr)}}, double(n)});
                                        }
                                        return out;
                                      }));
}

} // namespace vigil::syscall
