#include "collectors/runtime/names.h"

#include <fmt/format.h>

#include <array>
#include <cstring>

namespace vigil::runtime {
namespace {

constexpr std::array<std::string_view, 41> kCapNames = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

} // namespace

std::vector<std::string> capabilityNames(uint64_t mask) {
  std::vector<std::string> names;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (mask & (uint64_t(1) << bit)) {
      names.emplace_back(bit < kCapNames.size() ? std::string(kCapNames[bit]) : fmt::format("CAP_{}", bit));
    }
  }
  return names;
}

std::string errnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) {
    return name;
  }
#endif
  // Kernel-internal codes a syscall exit tracepoint can still see (the
  // restart is handled after it), from include/linux/errno.h.
  switch (err) {
  case 512:
    return "ERESTARTSYS";
  case 513:
    return "ERESTARTNOINTR";
  case 514:
    return "ERESTARTNOHAND";
  case 515:
    return "ENOIOCTLCMD";
  case 516:
    return "ERESTART_RESTARTBLOCK";
  case 524:
    return "ENOTSUPP";
  default:
    return fmt::format("E{}", err);
  }
}

std::string signalName(uint32_t signal) {
  const char* abbrev = signal < 256 ? sigabbrev_np(int(signal)) : nullptr;
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("SIG{}", signal);
}

} // namespace vigil::runtime
