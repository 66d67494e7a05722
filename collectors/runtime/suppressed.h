#pragma once

// What a per-cgroup rate limit dropped on purpose, as an event: any capture
// domain's VIGIL_EV_SUPPRESSED record, or the idle cgroups user space
// reports itself (rate_limit.h).

#include "collectors/runtime/boot_clock.h"
#include "collectors/runtime/rate_limit.h"
#include "vigil/collector.h"
#include "vigil/event.h"
#include "vigil/status.h"

#include <cstdint>
#include <span>
#include <vector>

namespace vigil::runtime {

// Fills event.suppressed (and its time) from what a rate limit dropped:
// count records of kind (enum vigil_event_kind) from cgroup_id.
void fillSuppressed(const BootClock& clock, uint32_t kind, uint64_t cgroup_id, uint64_t count, uint64_t first_ns,
                    uint64_t now_ns, Event& event);
// Hands output one suppressed event per idle cgroup in idle (what a rate
// limit on records of kind dropped); returns the records they count.
uint64_t emitIdleSuppressed(CollectorOutput& output, const BootClock& clock, uint32_t kind,
                            const std::vector<IdleSuppressed>& idle, uint64_t now_ns);
// Decodes one VIGIL_EV_SUPPRESSED record (any capture domain's) into event.
Status decodeSuppressed(const BootClock& clock, std::span<const uint8_t> record, Event& event);
// The kind of record a VIGIL_EV_SUPPRESSED record counts (its `kind` field),
// or 0 when the record is too short to say.
uint32_t suppressedKind(std::span<const uint8_t> record);

} // namespace vigil::runtime
