#pragma once

// Turns process-lifecycle ring buffer records (bpf/shared/process.h) into
// events. Pure: no kernel, no I/O, so every malformed input can be tested.

#include "collectors/runtime/boot_clock.h"
#include "collectors/runtime/names.h"
#include "collectors/runtime/suppressed.h"
#include "collectors/runtime/utf8.h"
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

// The printable exec_id of (pid, exec_id ns): 16 hex digits of the id, then 8
// of the pid. Fixed width, so ids of one pid sort by time.
std::string formatExecId(uint32_t pid, uint64_t id_ns);

// Path components written leaf first, each NUL-terminated, to "/a/b/c".
// Zero components make "/" unless truncated (then "").
std::string joinLeafFirstPath(std::span<const uint8_t> bytes, bool truncated);

// NUL-separated argv. A missing final NUL (a truncated argv) keeps the cut
// last argument.
std::vector<std::string> splitArgv(std::span<const uint8_t> bytes);

class Decoder {
public:
  explicit Decoder(runtime::BootClock clock) : clock_(clock) {}

  // Decodes one complete record. Live records fill event's body (exec, fork
  // or exit) and its time; a snapshot record fills event.exec().process().
  // A malformed record returns an error that says what is wrong with it and
  // leaves event unspecified.
  Result<RecordKind> decode(std::span<const uint8_t> record, Event& event) const;

  const runtime::BootClock& clock() const { return clock_; }

private:
  runtime::BootClock clock_;
};

} // namespace vigil::process
