// Rate-limit summaries (VIGIL_EV_SUPPRESSED, bpf/shared/common.h) of any
// capture domain: runtime::decodeSuppressed on any bytes.

#include "collectors/runtime/suppressed.h"
#include "tests/fuzz/fuzz_check.h"

#include "shared/common.h"

#include <cstring>

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const runtime::BootClock clock(1'700'000'000'000'000'000);
  const uint32_t kind = runtime::suppressedKind({data, size});
  Event event;
  auto status = runtime::decodeSuppressed(clock, {data, size}, event);
  if (!status.ok()) {
    fuzz::checkError(status.error());
    return 0;
  }
  vigil_suppressed_event ev;
  fuzz::check(size == sizeof(ev), "a decoded summary has the summary size");
  std::memcpy(&ev, data, sizeof(ev));
  fuzz::check(ev.kind == kind, "suppressedKind reads the kind field");
  fuzz::check(event.has_suppressed(), "a summary fills suppressed");
  const auto& s = event.suppressed();
  fuzz::check(s.count() == ev.count && s.count() > 0, "the count is the record's, never 0");
  fuzz::check(s.cgroup_id() == ev.cgroup_id, "the cgroup is the record's");
  fuzz::check(!s.kind().empty() && s.reason() == "rate_limit", "kind and reason named");
  fuzz::check(event.ktime_ns() == ev.hdr.ktime_ns, "the time is the record's");
  fuzz::checkShippable(event);
  return 0;
}
