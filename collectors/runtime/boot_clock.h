#pragma once

// The node's one boot clock: every record's time is CLOCK_BOOTTIME in the
// kernel, turned into wall-clock time with one offset measured at start and
// shared by every capture domain (so two domains never disagree on an
// event's wall time).

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>

namespace vigil::runtime {

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

// CLOCK_BOOTTIME now, in nanoseconds (the kernel's record clock).
uint64_t bootNowNs();

} // namespace vigil::runtime
