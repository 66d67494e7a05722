#pragma once

// Turns VIGIL_EV_SYSCALL ring buffer records (bpf/shared/syscall.h) into
// events. Pure: no kernel, no I/O, so every malformed input can be tested.

#include "collectors/process/decoder.h"
#include "collectors/syscall/syscall_bpf.h"
#include "vigil/event.h"
#include "vigil/status.h"

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace vigil::syscall {

using runtime::errnoName;

class Decoder {
public:
  // prefixes: the watched prefixes in kernel order, to name the one that matched.
  Decoder(runtime::BootClock clock, std::vector<WatchPrefix> prefixes)
      : clock_(clock), prefixes_(std::move(prefixes)) {}

  // Decodes one complete VIGIL_EV_SYSCALL record into event: time,
  // ktime_ns, and syscall (process identity from the record: pid, tid,
  // exec_id, uid/gid, cgroup_id, comm; name, nr, ret, error, args, duration,
  // file). A malformed record returns an error saying what is wrong, at which
  // byte, and leaves event unspecified.
  Status decode(std::span<const uint8_t> record, Event& event) const;
  // Decodes one VIGIL_EV_SUPPRESSED record into event.suppressed.
  Status decodeSuppressed(std::span<const uint8_t> record, Event& event) const;

  const runtime::BootClock& clock() const { return clock_; }

  // The argument names of syscall nr, which has no decoded spec (from its
  // tracepoint format, parseEnterFormat): its records carry these arguments
  // only, so named, instead of six raw registers arg0..arg5.
  void setArgNames(uint32_t nr, std::vector<std::string> names) { arg_names_[nr] = std::move(names); }

private:
  runtime::BootClock clock_;
  std::vector<WatchPrefix> prefixes_;
  std::unordered_map<uint32_t, std::vector<std::string>> arg_names_;
};

} // namespace vigil::syscall
