#include "collectors/runtime/boot_clock.h"

#include <ctime>

namespace vigil::runtime {

BootClock BootClock::measure() {
  // Bracket the boottime read with two realtime reads and take the midpoint.
  timespec r1{}, b{}, r2{};
  clock_gettime(CLOCK_REALTIME, &r1);
  clock_gettime(CLOCK_BOOTTIME, &b);
  clock_gettime(CLOCK_REALTIME, &r2);
  auto ns = [](const timespec& t) { return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec; };
  int64_t real_mid = ns(r1) + (ns(r2) - ns(r1)) / 2;
  return BootClock(real_mid - ns(b));
}

void BootClock::toTimestamp(uint64_t boot_ns, google::protobuf::Timestamp& out) const {
  int64_t wall = int64_t(boot_ns) + offset_ns_;
  int64_t secs = wall / 1000000000;
  int64_t nanos = wall % 1000000000;
  if (nanos < 0) { // floor, so nanos stays in [0, 1e9) as Timestamp requires
    nanos += 1000000000;
    --secs;
  }
  out.set_seconds(secs);
  out.set_nanos(int32_t(nanos));
}

} // namespace vigil::runtime

namespace vigil::runtime {

uint64_t bootNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

} // namespace vigil::runtime
