#pragma once

// Turns process-lifecycle ring buffer records (bpf/shared/process.h) into
// events. Pure: no kernel, no I/O, so every malformed input can be tested.

#include "agent/loader/rate_limit.h"
#include "vigil/collector.h"
#include "vigil/event.h"
#include "vigil/status.h"

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::process {

enum class RecordKind { Exec, Fork, Exit, Snapshot };

std::string_view recordKindName(RecordKind kind);

// Converts CLOCK_BOOTTIME nanoseconds to wall-clock time with an offset
// measured once (realtime - boottime).
class BootClock {
public:
  explicit BootClock(int64_t offset_ns) : offset_ns_(offset_ns) {}
  static BootClock measure();

  int64_t offsetNs() const { return offset_ns_; }
  void toTimestamp(uint64_t boot_ns, google::protobuf::Timestamp& out) const;

private:
  int64_t offset_ns_;
};

// The printable exec_id of (pid, exec_id ns): 16 hex digits of the id, then 8
// of the pid. Fixed width, so ids of one pid sort by time.
std::string formatExecId(uint32_t pid, uint64_t id_ns);

// Path components written leaf first, each NUL-terminated, to "/a/b/c".
// Zero components make "/" unless truncated (then "").
std::string joinLeafFirstPath(std::span<const uint8_t> bytes, bool truncated);

// NUL-separated argv. A missing final NUL (a truncated argv) keeps the cut
// last argument.
std::vector<std::string> splitArgv(std::span<const uint8_t> bytes);

// Makes bytes valid UTF-8 for the string fields of the contract: every byte
// that is not part of a valid UTF-8 sequence becomes the text "\xNN".
std::string sanitizeUtf8(std::string_view bytes);

// "CAP_CHOWN", ... for each bit set in mask; unknown bits as "CAP_<n>".
std::vector<std::string> capabilityNames(uint64_t mask);

// "ENOENT" for 2, kernel-internal codes by their kernel names; "E<n>" for
// numbers without a name.
std::string errnoName(int err);

// "SIGKILL" for 9; "SIG<n>" for numbers without a name.
std::string signalName(uint32_t signal);

// Fills event.suppressed (and its time) from what a rate limit dropped:
// count records of kind (enum vigil_event_kind) from cgroup_id.
void fillSuppressed(const BootClock& clock, uint32_t kind, uint64_t cgroup_id, uint64_t count, uint64_t first_ns,
                    uint64_t now_ns, Event& event);
// Hands output one suppressed event per idle cgroup in idle (what a rate
// limit on records of kind dropped); returns the records they count.
uint64_t emitIdleSuppressed(CollectorOutput& output, const BootClock& clock, uint32_t kind,
                            const std::vector<loader::IdleSuppressed>& idle, uint64_t now_ns);
// Decodes one VIGIL_EV_SUPPRESSED record (any capture domain's) into event.
Status decodeSuppressed(const BootClock& clock, std::span<const uint8_t> record, Event& event);

class Decoder {
public:
  explicit Decoder(BootClock clock) : clock_(clock) {}

  // Decodes one complete record. Live records fill event's body (exec, fork
  // or exit) and its time; a snapshot record fills event.exec().process().
  // A malformed record returns an error that says what is wrong with it and
  // leaves event unspecified.
  Result<RecordKind> decode(std::span<const uint8_t> record, Event& event) const;

  const BootClock& clock() const { return clock_; }

private:
  BootClock clock_;
};

} // namespace vigil::process
