#include "collectors/runtime/boot_clock.h"

#include <algorithm>
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
  // A kernel time is a u64 from outside this process: a corrupt or absurd
  // one must still give a valid Timestamp (years 1 to 9999), so the sum is
  // taken in 128 bits and clamped to that range.
  constexpr __int128 kMinNs = __int128(-62'135'596'800) * 1'000'000'000;
  constexpr __int128 kMaxNs = __int128(253'402'300'799) * 1'000'000'000 + 999'999'999;
  const __int128 wall = std::clamp(__int128(boot_ns) + offset_ns_, kMinNs, kMaxNs);
  int64_t secs = int64_t(wall / 1'000'000'000);
  int64_t nanos = int64_t(wall % 1'000'000'000);
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
