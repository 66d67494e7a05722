// Syscall ring buffer records (bpf/shared/syscall.h) into events:
// syscall::Decoder::decode on any bytes.

#include "collectors/syscall/decoder.h"
#include "collectors/syscall/syscall_table.h"
#include "tests/fuzz/fuzz_check.h"

#include "shared/syscall.h"

#include <cstring>

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const syscall::Decoder decoder(runtime::BootClock(1'700'000'000'000'000'000),
                                        {{"/etc", 3}, {"/home", 2}, {"/var/run/secrets", 1}});
  Event event;
  auto status = decoder.decode({data, size}, event);
  if (!status.ok()) {
    fuzz::checkError(status.error());
    return 0;
  }
  vigil_sys_event ev;
  fuzz::check(size >= sizeof(ev), "a decoded record holds the fixed part");
  std::memcpy(&ev, data, sizeof(ev));
  fuzz::check(ev.hdr.kind == VIGIL_EV_SYSCALL && ev.hdr.size == size, "a decoded record is a whole syscall record");
  fuzz::check(event.has_syscall(), "a syscall record fills syscall");
  const auto& sc = event.syscall();
  fuzz::check(sc.nr() == ev.nr && sc.nr() < VIGIL_SYS_NR_MAX, "the number is the record's");
  fuzz::check(sc.name() == syscall::syscallName(ev.nr), "the name is the number's");
  fuzz::check(sc.ret() == ev.ret, "the return value is the record's");
  fuzz::check(sc.error().empty() == !(ev.ret < 0 && ev.ret >= -4095), "an error name exactly for -errno returns");
  fuzz::check(sc.args_size() <= VIGIL_SYS_ARGS, "at most six arguments");
  for (const auto& arg : sc.args()) {
    fuzz::check(!arg.name().empty(), "every argument is named");
  }
  fuzz::check(sc.duration().nanos() >= 0 && sc.duration().nanos() < 1'000'000'000, "duration nanos in range");
  fuzz::checkShippable(event);
  return 0;
}
