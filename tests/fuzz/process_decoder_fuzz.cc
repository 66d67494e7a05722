// Process-lifecycle ring buffer records (bpf/shared/process.h) into events:
// process::Decoder::decode on any bytes.

#include "collectors/process/decoder.h"
#include "tests/fuzz/fuzz_check.h"

#include "shared/process.h"

#include <cstring>

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const process::Decoder decoder(runtime::BootClock(1'700'000'000'000'000'000));
  Event event;
  auto result = decoder.decode({data, size}, event);
  if (!result.ok()) {
    fuzz::checkError(result.error());
    return 0;
  }
  vigil_event_header hdr;
  fuzz::check(size >= sizeof(hdr), "a decoded record holds a header");
  std::memcpy(&hdr, data, sizeof(hdr));
  fuzz::check(hdr.size == size, "a decoded record is the size its header says");
  switch (*result) {
  case process::RecordKind::Exec:
  case process::RecordKind::Snapshot: {
    const bool snapshot = *result == process::RecordKind::Snapshot;
    fuzz::check(hdr.kind == (snapshot ? VIGIL_EV_SNAPSHOT : VIGIL_EV_EXEC), "exec and snapshot come from their kinds");
    fuzz::check(event.has_exec(), "an exec or snapshot record fills exec");
    fuzz::check(event.has_time() != snapshot, "an exec has a time, a snapshot none");
    const Process& p = event.exec().process();
    fuzz::check(p.source() == (snapshot ? v1::PROCESS_SOURCE_SNAPSHOT_ITER : v1::PROCESS_SOURCE_EXEC),
                "the process source names the record kind");
    fuzz::check(p.exec_id().size() == 24, "exec_id is 24 hex digits");
    break;
  }
  case process::RecordKind::Fork:
    fuzz::check(hdr.kind == VIGIL_EV_FORK && event.has_fork(), "a fork record fills fork");
    fuzz::check(event.fork().process().source() == v1::PROCESS_SOURCE_FORK, "a fork's source is fork");
    break;
  case process::RecordKind::Exit: {
    fuzz::check(hdr.kind == VIGIL_EV_EXIT && event.has_exit(), "an exit record fills exit");
    const auto& exit = event.exit();
    fuzz::check(exit.signal() < 128, "the signal is the status's low 7 bits");
    fuzz::check(exit.signal() == 0 || exit.exit_code() == 0, "a signalled exit has no exit code");
    fuzz::check(exit.duration().nanos() >= 0 && exit.duration().nanos() < 1'000'000'000, "duration nanos in range");
    break;
  }
  }
  fuzz::checkShippable(event);
  return 0;
}
