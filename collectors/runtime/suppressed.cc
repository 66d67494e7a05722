#include "collectors/runtime/suppressed.h"

#include "shared/common.h"

#include <fmt/format.h>

#include <cstddef>
#include <cstring>

namespace vigil::runtime {

void fillSuppressed(const BootClock& clock, uint32_t kind, uint64_t cgroup_id, uint64_t count, uint64_t first_ns,
                    uint64_t now_ns, Event& event) {
  event.set_ktime_ns(now_ns);
  clock.toTimestamp(now_ns, *event.mutable_time());
  auto* s = event.mutable_suppressed();
  switch (kind) {
  case VIGIL_EV_SYSCALL:
    s->set_kind("syscall");
    break;
  case VIGIL_EV_NET:
    s->set_kind("flow");
    break;
  case VIGIL_EV_DNS:
    s->set_kind("dns");
    break;
  default:
    s->set_kind(fmt::format("kind_{}", kind));
  }
  s->set_cgroup_id(cgroup_id);
  s->set_count(count);
  if (first_ns != 0) {
    clock.toTimestamp(first_ns, *s->mutable_first_time());
  }
  s->set_reason("rate_limit");
}

uint64_t emitIdleSuppressed(CollectorOutput& output, const BootClock& clock, uint32_t kind,
                            const std::vector<IdleSuppressed>& idle, uint64_t now_ns) {
  uint64_t dropped = 0;
  for (const auto& s : idle) {
    auto event = output.newEvent();
    fillSuppressed(clock, kind, s.cgroup_id, s.count, s.first_ns, now_ns, *event);
    dropped += s.count;
    output.onEvent(std::move(event));
  }
  return dropped;
}

Status decodeSuppressed(const BootClock& clock, std::span<const uint8_t> record, Event& event) {
  vigil_suppressed_event ev;
  if (record.size() != sizeof(ev)) {
    return makeError("suppressed record of {} bytes, expected {}", record.size(), sizeof(ev));
  }
  std::memcpy(&ev, record.data(), sizeof(ev));
  if (ev.hdr.kind != VIGIL_EV_SUPPRESSED || ev.hdr.version != VIGIL_SUPPRESSED_VERSION || ev.hdr.size != sizeof(ev)) {
    return makeError("suppressed record: kind {} version {} size {} (expected {} {} {})", ev.hdr.kind, ev.hdr.version,
                     ev.hdr.size, int(VIGIL_EV_SUPPRESSED), VIGIL_SUPPRESSED_VERSION, sizeof(ev));
  }
  if (ev.count == 0) {
    return makeError("suppressed record at byte {}: a count of 0", offsetof(vigil_suppressed_event, count));
  }
  fillSuppressed(clock, ev.kind, ev.cgroup_id, ev.count, ev.first_ns, ev.hdr.ktime_ns, event);
  return okStatus();
}

} // namespace vigil::runtime

namespace vigil::runtime {

uint32_t suppressedKind(std::span<const uint8_t> record) {
  uint32_t kind = 0;
  if (record.size() >= offsetof(vigil_suppressed_event, kind) + sizeof(kind)) {
    std::memcpy(&kind, record.data() + offsetof(vigil_suppressed_event, kind), sizeof(kind));
  }
  return kind;
}

} // namespace vigil::runtime
