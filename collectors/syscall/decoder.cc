#include "collectors/syscall/decoder.h"

#include "collectors/syscall/syscall_table.h"
#include "shared/syscall.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/memfd.h>
#include <linux/module.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>

// Constants newer than the build host's headers (Debian 12: glibc 2.36,
// linux-libc-dev 6.1). Values from the kernel's uapi headers.
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U // Linux 6.3
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U // Linux 6.3
#endif

namespace vigil::syscall {
namespace {

using v1::SyscallArg;

// One bit set (all of mask) and its name.
struct BitName {
  uint64_t mask;
  std::string_view name;
};

// One enum value and its name.
struct ValueName {
  int64_t value;
  std::string_view name;
};

// Table rows from the header constants themselves, so the name is the spelling
// of the constant. Flag sets are 32-bit in the kernel; the uint32_t cast keeps
// glibc's `1 << 31` enum members (MS_NOUSER) from sign-extending.
#define VIGIL_BIT(x) BitName{uint32_t(x), #x}
#define VIGIL_BIT64(x) BitName{uint64_t(x), #x}
#define VIGIL_VALUE(x) ValueName{int64_t(x), #x}

// glibc defines O_LARGEFILE as 0 on 64-bit targets; this is the kernel's bit,
// which raw open calls may pass.
constexpr uint64_t kKernelOLargefile = 0100000;

// After the access mode. Combined values (O_SYNC = __O_SYNC|O_DSYNC,
// O_TMPFILE = __O_TMPFILE|O_DIRECTORY) come before their parts.
constexpr BitName kOpenFlags[] = {
    VIGIL_BIT(O_CREAT),     VIGIL_BIT(O_EXCL),      VIGIL_BIT(O_NOCTTY),   VIGIL_BIT(O_TRUNC),
    VIGIL_BIT(O_APPEND),    VIGIL_BIT(O_NONBLOCK),  VIGIL_BIT(O_SYNC),     VIGIL_BIT(O_DSYNC),
    VIGIL_BIT(O_ASYNC),     VIGIL_BIT(O_DIRECT),    {kKernelOLargefile, "O_LARGEFILE"},
    VIGIL_BIT(O_TMPFILE),   VIGIL_BIT(O_DIRECTORY), VIGIL_BIT(O_NOFOLLOW), VIGIL_BIT(O_NOATIME),
    VIGIL_BIT(O_CLOEXEC),   VIGIL_BIT(O_PATH),
};

// The flags of the *at syscalls in the table (AT_EACCESS shares AT_REMOVEDIR's
// bit but only faccessat takes it).
constexpr BitName kAtFlags[] = {
    VIGIL_BIT(AT_SYMLINK_NOFOLLOW), VIGIL_BIT(AT_REMOVEDIR),  VIGIL_BIT(AT_SYMLINK_FOLLOW),
    VIGIL_BIT(AT_NO_AUTOMOUNT),     VIGIL_BIT(AT_EMPTY_PATH), VIGIL_BIT(AT_RECURSIVE),
};

constexpr BitName kRenameFlags[] = {
    VIGIL_BIT(RENAME_NOREPLACE),
    VIGIL_BIT(RENAME_EXCHANGE),
    VIGIL_BIT(RENAME_WHITEOUT),
};

constexpr BitName kMountFlags[] = {
    VIGIL_BIT(MS_RDONLY),      VIGIL_BIT(MS_NOSUID),      VIGIL_BIT(MS_NODEV),       VIGIL_BIT(MS_NOEXEC),
    VIGIL_BIT(MS_SYNCHRONOUS), VIGIL_BIT(MS_REMOUNT),     VIGIL_BIT(MS_MANDLOCK),    VIGIL_BIT(MS_DIRSYNC),
    VIGIL_BIT(MS_NOSYMFOLLOW), VIGIL_BIT(MS_NOATIME),     VIGIL_BIT(MS_NODIRATIME),  VIGIL_BIT(MS_BIND),
    VIGIL_BIT(MS_MOVE),        VIGIL_BIT(MS_REC),         VIGIL_BIT(MS_SILENT),      VIGIL_BIT(MS_POSIXACL),
    VIGIL_BIT(MS_UNBINDABLE),  VIGIL_BIT(MS_PRIVATE),     VIGIL_BIT(MS_SLAVE),       VIGIL_BIT(MS_SHARED),
    VIGIL_BIT(MS_RELATIME),    VIGIL_BIT(MS_KERNMOUNT),   VIGIL_BIT(MS_I_VERSION),   VIGIL_BIT(MS_STRICTATIME),
    VIGIL_BIT(MS_LAZYTIME),    VIGIL_BIT(MS_ACTIVE),      VIGIL_BIT(MS_NOUSER),
};

constexpr BitName kUmountFlags[] = {
    VIGIL_BIT(MNT_FORCE),
    VIGIL_BIT(MNT_DETACH),
    VIGIL_BIT(MNT_EXPIRE),
    VIGIL_BIT(UMOUNT_NOFOLLOW),
};

constexpr BitName kCloneFlags[] = {
    VIGIL_BIT(CLONE_NEWTIME),         VIGIL_BIT(CLONE_VM),
    VIGIL_BIT(CLONE_FS),              VIGIL_BIT(CLONE_FILES),
    VIGIL_BIT(CLONE_SIGHAND),         VIGIL_BIT(CLONE_PIDFD),
    VIGIL_BIT(CLONE_PTRACE),          VIGIL_BIT(CLONE_VFORK),
    VIGIL_BIT(CLONE_PARENT),          VIGIL_BIT(CLONE_THREAD),
    VIGIL_BIT(CLONE_NEWNS),           VIGIL_BIT(CLONE_SYSVSEM),
    VIGIL_BIT(CLONE_SETTLS),          VIGIL_BIT(CLONE_PARENT_SETTID),
    VIGIL_BIT(CLONE_CHILD_CLEARTID),  VIGIL_BIT(CLONE_DETACHED),
    VIGIL_BIT(CLONE_UNTRACED),        VIGIL_BIT(CLONE_CHILD_SETTID),
    VIGIL_BIT(CLONE_NEWCGROUP),       VIGIL_BIT(CLONE_NEWUTS),
    VIGIL_BIT(CLONE_NEWIPC),          VIGIL_BIT(CLONE_NEWUSER),
    VIGIL_BIT(CLONE_NEWPID),          VIGIL_BIT(CLONE_NEWNET),
    VIGIL_BIT(CLONE_IO),              VIGIL_BIT64(CLONE_CLEAR_SIGHAND),
    VIGIL_BIT64(CLONE_INTO_CGROUP),
};

constexpr BitName kMemfdFlags[] = {
    VIGIL_BIT(MFD_CLOEXEC), VIGIL_BIT(MFD_ALLOW_SEALING), VIGIL_BIT(MFD_HUGETLB),
    VIGIL_BIT(MFD_NOEXEC_SEAL), VIGIL_BIT(MFD_EXEC),
};

constexpr BitName kSocketFlags[] = {
    VIGIL_BIT(SOCK_NONBLOCK),
    VIGIL_BIT(SOCK_CLOEXEC),
};

constexpr BitName kModuleInitFlags[] = {
    VIGIL_BIT(MODULE_INIT_IGNORE_MODVERSIONS),
    VIGIL_BIT(MODULE_INIT_IGNORE_VERMAGIC),
    VIGIL_BIT(MODULE_INIT_COMPRESSED_FILE),
};

// delete_module: O_NONBLOCK (do not wait), O_TRUNC (force).
constexpr BitName kDeleteModuleFlags[] = {
    VIGIL_BIT(O_NONBLOCK),
    VIGIL_BIT(O_TRUNC),
};

constexpr BitName kResolveFlags[] = {
    VIGIL_BIT(RESOLVE_NO_XDEV),  VIGIL_BIT(RESOLVE_NO_MAGICLINKS), VIGIL_BIT(RESOLVE_NO_SYMLINKS),
    VIGIL_BIT(RESOLVE_BENEATH),  VIGIL_BIT(RESOLVE_IN_ROOT),       VIGIL_BIT(RESOLVE_CACHED),
};

constexpr ValueName kSocketTypes[] = {
    VIGIL_VALUE(SOCK_STREAM), VIGIL_VALUE(SOCK_DGRAM), VIGIL_VALUE(SOCK_RAW),    VIGIL_VALUE(SOCK_RDM),
    VIGIL_VALUE(SOCK_SEQPACKET), VIGIL_VALUE(SOCK_DCCP), VIGIL_VALUE(SOCK_PACKET),
};

constexpr ValueName kFamilies[] = {
    VIGIL_VALUE(AF_UNSPEC),    VIGIL_VALUE(AF_UNIX),      VIGIL_VALUE(AF_INET),      VIGIL_VALUE(AF_AX25),
    VIGIL_VALUE(AF_IPX),       VIGIL_VALUE(AF_APPLETALK), VIGIL_VALUE(AF_NETROM),    VIGIL_VALUE(AF_BRIDGE),
    VIGIL_VALUE(AF_ATMPVC),    VIGIL_VALUE(AF_X25),       VIGIL_VALUE(AF_INET6),     VIGIL_VALUE(AF_ROSE),
    VIGIL_VALUE(AF_DECnet),    VIGIL_VALUE(AF_NETBEUI),   VIGIL_VALUE(AF_SECURITY),  VIGIL_VALUE(AF_KEY),
    VIGIL_VALUE(AF_NETLINK),   VIGIL_VALUE(AF_PACKET),    VIGIL_VALUE(AF_ASH),       VIGIL_VALUE(AF_ECONET),
    VIGIL_VALUE(AF_ATMSVC),    VIGIL_VALUE(AF_RDS),       VIGIL_VALUE(AF_SNA),       VIGIL_VALUE(AF_IRDA),
    VIGIL_VALUE(AF_PPPOX),     VIGIL_VALUE(AF_WANPIPE),   VIGIL_VALUE(AF_LLC),       VIGIL_VALUE(AF_IB),
    VIGIL_VALUE(AF_MPLS),      VIGIL_VALUE(AF_CAN),       VIGIL_VALUE(AF_TIPC),      VIGIL_VALUE(AF_BLUETOOTH),
    VIGIL_VALUE(AF_IUCV),      VIGIL_VALUE(AF_RXRPC),     VIGIL_VALUE(AF_ISDN),      VIGIL_VALUE(AF_PHONET),
    VIGIL_VALUE(AF_IEEE802154), VIGIL_VALUE(AF_CAIF),     VIGIL_VALUE(AF_ALG),       VIGIL_VALUE(AF_NFC),
    VIGIL_VALUE(AF_VSOCK),     VIGIL_VALUE(AF_KCM),       VIGIL_VALUE(AF_QIPCRTR),   VIGIL_VALUE(AF_SMC),
    VIGIL_VALUE(AF_XDP),       VIGIL_VALUE(AF_MCTP),
};

// glibc's enum __ptrace_request (x86_64), then requests newer than it.
constexpr ValueName kPtraceRequests[] = {
    VIGIL_VALUE(PTRACE_TRACEME),
    VIGIL_VALUE(PTRACE_PEEKTEXT),
    VIGIL_VALUE(PTRACE_PEEKDATA),
    VIGIL_VALUE(PTRACE_PEEKUSER),
    VIGIL_VALUE(PTRACE_POKETEXT),
    VIGIL_VALUE(PTRACE_POKEDATA),
    VIGIL_VALUE(PTRACE_POKEUSER),
    VIGIL_VALUE(PTRACE_CONT),
    VIGIL_VALUE(PTRACE_KILL),
    VIGIL_VALUE(PTRACE_SINGLESTEP),
    VIGIL_VALUE(PTRACE_GETREGS),
    VIGIL_VALUE(PTRACE_SETREGS),
    VIGIL_VALUE(PTRACE_GETFPREGS),
    VIGIL_VALUE(PTRACE_SETFPREGS),
    VIGIL_VALUE(PTRACE_ATTACH),
    VIGIL_VALUE(PTRACE_DETACH),
    VIGIL_VALUE(PTRACE_GETFPXREGS),
    VIGIL_VALUE(PTRACE_SETFPXREGS),
    VIGIL_VALUE(PTRACE_SYSCALL),
    VIGIL_VALUE(PTRACE_GET_THREAD_AREA),
    VIGIL_VALUE(PTRACE_SET_THREAD_AREA),
    VIGIL_VALUE(PTRACE_ARCH_PRCTL),
    VIGIL_VALUE(PTRACE_SYSEMU),
    VIGIL_VALUE(PTRACE_SYSEMU_SINGLESTEP),
    VIGIL_VALUE(PTRACE_SINGLEBLOCK),
    VIGIL_VALUE(PTRACE_SETOPTIONS),
    VIGIL_VALUE(PTRACE_GETEVENTMSG),
    VIGIL_VALUE(PTRACE_GETSIGINFO),
    VIGIL_VALUE(PTRACE_SETSIGINFO),
    VIGIL_VALUE(PTRACE_GETREGSET),
    VIGIL_VALUE(PTRACE_SETREGSET),
    VIGIL_VALUE(PTRACE_SEIZE),
    VIGIL_VALUE(PTRACE_INTERRUPT),
    VIGIL_VALUE(PTRACE_LISTEN),
    VIGIL_VALUE(PTRACE_PEEKSIGINFO),
    VIGIL_VALUE(PTRACE_GETSIGMASK),
    VIGIL_VALUE(PTRACE_SETSIGMASK),
    VIGIL_VALUE(PTRACE_SECCOMP_GET_FILTER),
    VIGIL_VALUE(PTRACE_SECCOMP_GET_METADATA),
    VIGIL_VALUE(PTRACE_GET_SYSCALL_INFO),
    VIGIL_VALUE(PTRACE_GET_RSEQ_CONFIGURATION),
    {0x4210, "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG"}, // Linux 6.11
    {0x4211, "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG"}, // Linux 6.11
    {0x4212, "PTRACE_SET_SYSCALL_INFO"},                 // Linux 6.16
};

// enum bpf_cmd, then commands newer than linux-libc-dev 6.1.
constexpr ValueName kBpfCmds[] = {
    VIGIL_VALUE(BPF_MAP_CREATE),
    VIGIL_VALUE(BPF_MAP_LOOKUP_ELEM),
    VIGIL_VALUE(BPF_MAP_UPDATE_ELEM),
    VIGIL_VALUE(BPF_MAP_DELETE_ELEM),
    VIGIL_VALUE(BPF_MAP_GET_NEXT_KEY),
    VIGIL_VALUE(BPF_PROG_LOAD),
    VIGIL_VALUE(BPF_OBJ_PIN),
    VIGIL_VALUE(BPF_OBJ_GET),
    VIGIL_VALUE(BPF_PROG_ATTACH),
    VIGIL_VALUE(BPF_PROG_DETACH),
    VIGIL_VALUE(BPF_PROG_TEST_RUN),
    VIGIL_VALUE(BPF_PROG_GET_NEXT_ID),
    VIGIL_VALUE(BPF_MAP_GET_NEXT_ID),
    VIGIL_VALUE(BPF_PROG_GET_FD_BY_ID),
    VIGIL_VALUE(BPF_MAP_GET_FD_BY_ID),
    VIGIL_VALUE(BPF_OBJ_GET_INFO_BY_FD),
    VIGIL_VALUE(BPF_PROG_QUERY),
    VIGIL_VALUE(BPF_RAW_TRACEPOINT_OPEN),
    VIGIL_VALUE(BPF_BTF_LOAD),
    VIGIL_VALUE(BPF_BTF_GET_FD_BY_ID),
    VIGIL_VALUE(BPF_TASK_FD_QUERY),
    VIGIL_VALUE(BPF_MAP_LOOKUP_AND_DELETE_ELEM),
    VIGIL_VALUE(BPF_MAP_FREEZE),
    VIGIL_VALUE(BPF_BTF_GET_NEXT_ID),
    VIGIL_VALUE(BPF_MAP_LOOKUP_BATCH),
    VIGIL_VALUE(BPF_MAP_LOOKUP_AND_DELETE_BATCH),
    VIGIL_VALUE(BPF_MAP_UPDATE_BATCH),
    VIGIL_VALUE(BPF_MAP_DELETE_BATCH),
    VIGIL_VALUE(BPF_LINK_CREATE),
    VIGIL_VALUE(BPF_LINK_UPDATE),
    VIGIL_VALUE(BPF_LINK_GET_FD_BY_ID),
    VIGIL_VALUE(BPF_LINK_GET_NEXT_ID),
    VIGIL_VALUE(BPF_ENABLE_STATS),
    VIGIL_VALUE(BPF_ITER_CREATE),
    VIGIL_VALUE(BPF_LINK_DETACH),
    VIGIL_VALUE(BPF_PROG_BIND_MAP),
    {BPF_PROG_BIND_MAP + 1, "BPF_TOKEN_CREATE"},           // Linux 6.9
    {BPF_PROG_BIND_MAP + 2, "BPF_PROG_STREAM_READ_BY_FD"}, // Linux 6.17
};

// <linux/prctl.h> of 6.1, then options added since.
constexpr ValueName kPrctlOptions[] = {
    VIGIL_VALUE(PR_SET_PDEATHSIG),
    VIGIL_VALUE(PR_GET_PDEATHSIG),
    VIGIL_VALUE(PR_GET_DUMPABLE),
    VIGIL_VALUE(PR_SET_DUMPABLE),
    VIGIL_VALUE(PR_GET_UNALIGN),
    VIGIL_VALUE(PR_SET_UNALIGN),
    VIGIL_VALUE(PR_GET_KEEPCAPS),
    VIGIL_VALUE(PR_SET_KEEPCAPS),
    VIGIL_VALUE(PR_GET_FPEMU),
    VIGIL_VALUE(PR_SET_FPEMU),
    VIGIL_VALUE(PR_GET_FPEXC),
    VIGIL_VALUE(PR_SET_FPEXC),
    VIGIL_VALUE(PR_GET_TIMING),
    VIGIL_VALUE(PR_SET_TIMING),
    VIGIL_VALUE(PR_SET_NAME),
    VIGIL_VALUE(PR_GET_NAME),
    VIGIL_VALUE(PR_GET_ENDIAN),
    VIGIL_VALUE(PR_SET_ENDIAN),
    VIGIL_VALUE(PR_GET_SECCOMP),
    VIGIL_VALUE(PR_SET_SECCOMP),
    VIGIL_VALUE(PR_CAPBSET_READ),
    VIGIL_VALUE(PR_CAPBSET_DROP),
    VIGIL_VALUE(PR_GET_TSC),
    VIGIL_VALUE(PR_SET_TSC),
    VIGIL_VALUE(PR_GET_SECUREBITS),
    VIGIL_VALUE(PR_SET_SECUREBITS),
    VIGIL_VALUE(PR_SET_TIMERSLACK),
    VIGIL_VALUE(PR_GET_TIMERSLACK),
    VIGIL_VALUE(PR_TASK_PERF_EVENTS_DISABLE),
    VIGIL_VALUE(PR_TASK_PERF_EVENTS_ENABLE),
    VIGIL_VALUE(PR_MCE_KILL),
    VIGIL_VALUE(PR_MCE_KILL_GET),
    VIGIL_VALUE(PR_SET_MM),
    VIGIL_VALUE(PR_SET_PTRACER),
    VIGIL_VALUE(PR_SET_CHILD_SUBREAPER),
    VIGIL_VALUE(PR_GET_CHILD_SUBREAPER),
    VIGIL_VALUE(PR_SET_NO_NEW_PRIVS),
    VIGIL_VALUE(PR_GET_NO_NEW_PRIVS),
    VIGIL_VALUE(PR_GET_TID_ADDRESS),
    VIGIL_VALUE(PR_SET_THP_DISABLE),
    VIGIL_VALUE(PR_GET_THP_DISABLE),
    VIGIL_VALUE(PR_MPX_ENABLE_MANAGEMENT),
    VIGIL_VALUE(PR_MPX_DISABLE_MANAGEMENT),
    VIGIL_VALUE(PR_SET_FP_MODE),
    VIGIL_VALUE(PR_GET_FP_MODE),
    VIGIL_VALUE(PR_CAP_AMBIENT),
    VIGIL_VALUE(PR_SVE_SET_VL),
    VIGIL_VALUE(PR_SVE_GET_VL),
    VIGIL_VALUE(PR_GET_SPECULATION_CTRL),
    VIGIL_VALUE(PR_SET_SPECULATION_CTRL),
    VIGIL_VALUE(PR_PAC_RESET_KEYS),
    VIGIL_VALUE(PR_SET_TAGGED_ADDR_CTRL),
    VIGIL_VALUE(PR_GET_TAGGED_ADDR_CTRL),
    VIGIL_VALUE(PR_SET_IO_FLUSHER),
    VIGIL_VALUE(PR_GET_IO_FLUSHER),
    VIGIL_VALUE(PR_SET_SYSCALL_USER_DISPATCH),
    VIGIL_VALUE(PR_PAC_SET_ENABLED_KEYS),
    VIGIL_VALUE(PR_PAC_GET_ENABLED_KEYS),
    VIGIL_VALUE(PR_SCHED_CORE),
    VIGIL_VALUE(PR_SME_SET_VL),
    VIGIL_VALUE(PR_SME_GET_VL),
    VIGIL_VALUE(PR_SET_VMA),
    {65, "PR_SET_MDWE"},                   // Linux 6.3
    {66, "PR_GET_MDWE"},                   // Linux 6.3
    {67, "PR_SET_MEMORY_MERGE"},           // Linux 6.4
    {68, "PR_GET_MEMORY_MERGE"},           // Linux 6.4
    {69, "PR_RISCV_V_SET_CONTROL"},        // Linux 6.5
    {70, "PR_RISCV_V_GET_CONTROL"},        // Linux 6.5
    {71, "PR_RISCV_SET_ICACHE_FLUSH_CTX"}, // Linux 6.10
    {72, "PR_PPC_GET_DEXCR"},              // Linux 6.10
    {73, "PR_PPC_SET_DEXCR"},              // Linux 6.10
    {74, "PR_GET_SHADOW_STACK_STATUS"},    // Linux 6.13
    {75, "PR_SET_SHADOW_STACK_STATUS"},    // Linux 6.13
    {76, "PR_LOCK_SHADOW_STACK_STATUS"},   // Linux 6.13
    {77, "PR_TIMER_CREATE_RESTORE_IDS"},   // Linux 6.16
    {78, "PR_FUTEX_HASH"},                 // Linux 6.16
};

#undef VIGIL_BIT
#undef VIGIL_BIT64
#undef VIGIL_VALUE

void appendName(std::string& out, std::string_view name) {
  if (!out.empty()) {
    out += '|';
  }
  out += name;
}

// Names of the rows whose bits are all set in value, in table order, then
// any bits left over as one hex number. Appends to out ('|'-separated).
void appendBits(std::string& out, uint64_t value, std::span<const BitName> table) {
  for (const auto& row : table) {
    if (row.mask != 0 && (value & row.mask) == row.mask) {
      appendName(out, row.name);
      value &= ~row.mask;
    }
  }
  if (value != 0) {
    appendName(out, fmt::format("{:#x}", value));
  }
}

// "" for 0: a mask with no bits set has no symbolic form.
std::string bitsText(uint64_t value, std::span<const BitName> table) {
  std::string out;
  appendBits(out, value, table);
  return out;
}

std::string_view valueText(int64_t value, std::span<const ValueName> table) {
  for (const auto& row : table) {
    if (row.value == value) {
      return row.name;
    }
  }
  return {};
}

std::string openFlagsText(uint64_t flags) {
  std::string out;
  switch (flags & O_ACCMODE) {
  case O_RDONLY:
    out = "O_RDONLY";
    break;
  case O_WRONLY:
    out = "O_WRONLY";
    break;
  case O_RDWR:
    out = "O_RDWR";
    break;
  default:
    out = "O_ACCMODE"; // 3: neither read nor write (ioctl-only opens)
    break;
  }
  appendBits(out, flags & ~uint64_t(O_ACCMODE), kOpenFlags);
  return out;
}

std::string modeText(uint64_t mode) { return fmt::format("{:#o}", mode); }

std::string mountFlagsText(uint64_t flags) {
  std::string out;
  // Before Linux 2.4 the top 16 bits had to hold this magic; the kernel still
  // strips it.
  if ((flags & uint32_t(MS_MGC_MSK)) == uint32_t(MS_MGC_VAL)) {
    out = "MS_MGC_VAL";
    flags &= ~uint64_t(uint32_t(MS_MGC_MSK));
  }
  appendBits(out, flags, kMountFlags);
  return out;
}

std::string memfdFlagsText(uint32_t flags) {
  std::string out;
  // With MFD_HUGETLB the top six bits hold log2 of the huge page size.
  uint32_t huge_shift = (flags >> MFD_HUGE_SHIFT) & MFD_HUGE_MASK;
  appendBits(out, flags & ~(uint32_t(MFD_HUGE_MASK) << MFD_HUGE_SHIFT), kMemfdFlags);
  if (huge_shift != 0) {
    static constexpr std::string_view kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
    appendName(out, fmt::format("MFD_HUGE_{}{}", uint64_t(1) << (huge_shift % 10), kUnits[huge_shift / 10]));
  }
  return out;
}

std::string socketTypeText(uint32_t type) {
  // The low four bits are the type (SOCK_TYPE_MASK in the kernel), the rest flags.
  constexpr uint32_t kTypeMask = 0xf;
  std::string out(valueText(type & kTypeMask, kSocketTypes));
  if (out.empty()) {
    out = fmt::format("{}", type & kTypeMask);
  }
  appendBits(out, type & ~kTypeMask, kSocketFlags);
  return out;
}

std::string familyName(uint32_t family) {
  std::string_view name = valueText(family, kFamilies);
  return name.empty() ? fmt::format("AF_{}", family) : std::string(name);
}

std::string capabilitiesText(uint64_t mask) {
  if (mask == 0) {
    return "0";
  }
  std::string out;
  for (auto& name : runtime::capabilityNames(mask)) {
    appendName(out, name);
  }
  return out;
}

// The text of a STR or PATH chunk: up to its terminating NUL.
std::string chunkString(std::span<const uint8_t> bytes) {
  const char* s = reinterpret_cast<const char*>(bytes.data());
  return runtime::sanitizeUtf8(std::string_view(s, strnlen(s, bytes.size())));
}

template <class T> T load(std::span<const uint8_t> bytes, size_t offset = 0) {
  T out;
  std::memcpy(&out, bytes.data() + offset, sizeof(T));
  return out;
}

// One piece of argument data, checked to lie inside the record.
struct Chunk {
  vigil_sys_chunk hdr{};
  std::span<const uint8_t> bytes;
  size_t offset = 0; // of its header, in the record

  bool fault() const { return (hdr.flags & VIGIL_CHUNK_F_FAULT) != 0; }
  bool trunc() const { return (hdr.flags & VIGIL_CHUNK_F_TRUNC) != 0; }
};

std::string_view argTypeName(uint8_t type) {
  switch (type) {
  case VIGIL_ARG_NONE:
    return "NONE";
  case VIGIL_ARG_INT:
    return "INT";
  case VIGIL_ARG_STR:
    return "STR";
  case VIGIL_ARG_PATH:
    return "PATH";
  case VIGIL_ARG_BUF:
    return "BUF";
  case VIGIL_ARG_SOCKADDR:
    return "SOCKADDR";
  case VIGIL_ARG_SOCKADDR_OUT:
    return "SOCKADDR_OUT";
  }
  return "unknown";
}

// Splits data (the bytes after the fixed part, which starts at record byte
// base) into chunks, one slot per argument and one for the resolved path. A
// FAULT chunk may be followed by another for the same argument (read again at
// exit); two readable chunks for one argument are an error.
Status splitChunks(std::span<const uint8_t> data, size_t base,
                   std::array<std::optional<Chunk>, VIGIL_SYS_ARGS + 1>& slots) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t at = base + pos;
    if (data.size() - pos < sizeof(vigil_sys_chunk)) {
      return makeError("chunk header at byte {} needs {} bytes but only {} remain", at, sizeof(vigil_sys_chunk),
                       data.size() - pos);
    }
    Chunk c;
    c.offset = at;
    std::memcpy(&c.hdr, data.data() + pos, sizeof(c.hdr));
    pos += sizeof(vigil_sys_chunk);
    if (c.hdr.arg > VIGIL_CHUNK_RESOLVED) {
      return makeError("chunk at byte {} names argument {}, past the last (6, the resolved path)", at, c.hdr.arg);
    }
    if (c.hdr.type < VIGIL_ARG_STR || c.hdr.type > VIGIL_ARG_SOCKADDR_OUT) {
      return makeError("chunk at byte {} (argument {}) has unknown type {}", at, c.hdr.arg, c.hdr.type);
    }
    if (c.hdr.len > data.size() - pos) {
      return makeError("chunk at byte {} (argument {}) says {} bytes follow but only {} remain", at, c.hdr.arg,
                       c.hdr.len, data.size() - pos);
    }
    if (c.hdr.base_len > c.hdr.len) {
      return makeError("chunk at byte {} (argument {}) has base_len {} larger than its len {}", at, c.hdr.arg,
                       c.hdr.base_len, c.hdr.len);
    }
    if (c.fault() && c.hdr.len != 0) {
      return makeError("chunk at byte {} (argument {}) is marked unreadable (FAULT) but carries {} bytes", at,
                       c.hdr.arg, c.hdr.len);
    }
    c.bytes = data.subspan(pos, c.hdr.len);
    pos += c.hdr.len;
    auto& slot = slots[c.hdr.arg];
    if (slot && !slot->fault()) {
      return makeError("chunk at byte {} repeats argument {} (first at byte {})", at, c.hdr.arg, slot->offset);
    }
    slot = c;
  }
  return okStatus();
}

// b holds at least the family.
void renderSockaddr(std::span<const uint8_t> b, v1::SocketAddress& out) {
  auto family = load<sa_family_t>(b);
  out.set_family(familyName(family));
  switch (family) {
  case AF_INET: {
    if (b.size() < offsetof(sockaddr_in, sin_zero)) {
      return;
    }
    sockaddr_in sin{};
    std::memcpy(&sin, b.data(), std::min(b.size(), sizeof(sin)));
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &sin.sin_addr, text, sizeof(text));
    out.set_address(text);
    out.set_port(ntohs(sin.sin_port));
    return;
  }
  case AF_INET6: {
    if (b.size() < offsetof(sockaddr_in6, sin6_scope_id)) {
      return;
    }
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, b.data(), std::min(b.size(), sizeof(sin6)));
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof(text));
    // A link-local address means nothing without its interface (RFC 4007).
    out.set_address(sin6.sin6_scope_id != 0 ? fmt::format("{}%{}", text, sin6.sin6_scope_id) : std::string(text));
    out.set_port(ntohs(sin6.sin6_port));
    return;
  }
  case AF_UNIX: {
    auto path = b.subspan(offsetof(sockaddr_un, sun_path));
    if (path.empty()) {
      return; // unnamed (autobind)
    }
    std::string_view text(reinterpret_cast<const char*>(path.data()), path.size());
    if (text[0] == '\0') {
      // Abstract: the name is every byte of the address length, NULs
      // included; written "@name" with NULs as '@' like ss(8).
      std::string name(text.substr(1));
      for (char& ch : name) {
        if (ch == '\0') {
          ch = '@';
        }
      }
      out.set_path("@" + runtime::sanitizeUtf8(name));
    } else {
      out.set_path(runtime::sanitizeUtf8(text.substr(0, strnlen(text.data(), text.size()))));
    }
    return;
  }
  default:
    return;
  }
}

// A captured fixed-size buffer, per the argument's format. cap_version: the
// capset header's version, when that argument was read.
Status renderBuffer(const ArgSpec& spec, const Chunk& c, std::optional<uint32_t> cap_version, SyscallArg& arg) {
  auto need = [&](size_t n) -> Status {
    if (c.bytes.size() < n) {
      return makeError("chunk at byte {} (argument {}, {}) has {} bytes, shorter than the {} its format needs",
                       c.offset, c.hdr.arg, spec.name, c.bytes.size(), n);
    }
    return okStatus();
  };
  switch (spec.format) {
  case ArgFormat::CapHeader: {
    if (auto st = need(sizeof(__user_cap_header_struct)); !st) {
      return st;
    }
    auto h = load<__user_cap_header_struct>(c.bytes);
    arg.set_decoded(fmt::format("version={:#x} pid={}", h.version, h.pid));
    return okStatus();
  }
  case ArgFormat::CapData: {
    // Version 1 headers pass one struct (32-bit masks); versions 2 and 3 two,
    // low word first.
    bool one = cap_version && *cap_version == _LINUX_CAPABILITY_VERSION_1;
    size_t count = one ? 1 : 2;
    if (auto st = need(count * sizeof(__user_cap_data_struct)); !st) {
      return st;
    }
    uint64_t eff = 0, perm = 0, inh = 0;
    for (size_t i = 0; i < count; ++i) {
      auto d = load<__user_cap_data_struct>(c.bytes, i * sizeof(__user_cap_data_struct));
      eff |= uint64_t(d.effective) << (32 * i);
      perm |= uint64_t(d.permitted) << (32 * i);
      inh |= uint64_t(d.inheritable) << (32 * i);
    }
    arg.set_uint(eff);
    arg.set_decoded(fmt::format("effective={} permitted={} inheritable={}", capabilitiesText(eff),
                                capabilitiesText(perm), capabilitiesText(inh)));
    return okStatus();
  }
  case ArgFormat::OpenHow: {
    if (auto st = need(sizeof(open_how)); !st) {
      return st;
    }
    auto how = load<open_how>(c.bytes);
    std::string resolve = bitsText(how.resolve, kResolveFlags);
    arg.set_uint(how.flags);
    arg.set_decoded(fmt::format("flags={} mode={} resolve={}", openFlagsText(how.flags), modeText(how.mode),
                                resolve.empty() ? "0" : resolve));
    return okStatus();
  }
  default: {
    std::string hex;
    for (uint8_t byte : c.bytes) {
      hex += fmt::format("{:02x}", byte);
    }
    arg.set_decoded(hex);
    return okStatus();
  }
  }
}

// An argument held in its register only.
void renderRegister(ArgFormat format, uint64_t reg, SyscallArg& arg) {
  // Arguments the kernel declares int (fds, pids, signals, flags) live in the
  // low 32 bits.
  auto i32 = int32_t(uint32_t(reg));
  auto u32 = uint32_t(reg);
  switch (format) {
  case ArgFormat::Int:
  case ArgFormat::Fd:
  case ArgFormat::Pid:
    arg.set_int_(i32);
    return;
  case ArgFormat::Dirfd:
    arg.set_int_(i32);
    if (i32 == AT_FDCWD) {
      arg.set_decoded("AT_FDCWD");
    }
    return;
  case ArgFormat::Uid:
    // uid_t is unsigned: only (uid_t)-1, "unchanged", reads as -1.
    if (u32 == UINT32_MAX) {
      arg.set_int_(-1);
      arg.set_decoded("-1");
    } else {
      arg.set_int_(u32);
    }
    return;
  case ArgFormat::Signal:
    arg.set_int_(i32);
    if (i32 > 0) {
      arg.set_decoded(runtime::signalName(uint32_t(i32)));
    }
    return;
  case ArgFormat::PtraceRequest:
    arg.set_int_(int64_t(reg)); // long request
    arg.set_decoded(std::string(valueText(int64_t(reg), kPtraceRequests)));
    return;
  case ArgFormat::BpfCmd:
    arg.set_int_(i32);
    arg.set_decoded(std::string(valueText(i32, kBpfCmds)));
    return;
  case ArgFormat::PrctlOption:
    arg.set_int_(i32);
    arg.set_decoded(std::string(valueText(i32, kPrctlOptions)));
    return;
  case ArgFormat::SocketFamily:
    arg.set_int_(i32);
    arg.set_decoded(std::string(valueText(i32, kFamilies)));
    return;
  case ArgFormat::Uint:
  case ArgFormat::Hex:
    arg.set_uint(reg);
    return;
  case ArgFormat::Mode: {
    auto mode = uint16_t(reg); // umode_t
    arg.set_uint(mode);
    arg.set_decoded(modeText(mode));
    return;
  }
  case ArgFormat::OpenFlags:
    arg.set_uint(u32);
    arg.set_decoded(openFlagsText(u32));
    return;
  case ArgFormat::AtFlags:
    arg.set_uint(u32);
    arg.set_decoded(bitsText(u32, kAtFlags));
    return;
  case ArgFormat::RenameFlags:
    arg.set_uint(u32);
    arg.set_decoded(bitsText(u32, kRenameFlags));
    return;
  case ArgFormat::MountFlags:
    arg.set_uint(reg); // unsigned long
    arg.set_decoded(mountFlagsText(reg));
    return;
  case ArgFormat::UmountFlags:
    arg.set_uint(u32);
    arg.set_decoded(bitsText(u32, kUmountFlags));
    return;
  case ArgFormat::CloneFlags:
    arg.set_uint(reg); // unshare: unsigned long
    arg.set_decoded(bitsText(reg, kCloneFlags));
    return;
  case ArgFormat::MemfdFlags:
    arg.set_uint(u32);
    arg.set_decoded(memfdFlagsText(u32));
    return;
  case ArgFormat::SocketType:
    arg.set_uint(u32);
    arg.set_decoded(socketTypeText(u32));
    return;
  case ArgFormat::SocketFlags:
    arg.set_uint(u32);
    arg.set_decoded(bitsText(u32, kSocketFlags));
    return;
  case ArgFormat::ModuleInitFlags:
    arg.set_uint(u32);
    arg.set_decoded(bitsText(u32, kModuleInitFlags));
    return;
  case ArgFormat::DeleteModuleFlags:
    arg.set_uint(u32);
    arg.set_decoded(bitsText(u32, kDeleteModuleFlags));
    return;
  case ArgFormat::Str:
  case ArgFormat::Path:
  case ArgFormat::Sockaddr:
  case ArgFormat::CapHeader:
  case ArgFormat::CapData:
  case ArgFormat::OpenHow:
    // Captured formats whose argument came without a chunk: the pointer.
    arg.set_uint(reg);
    return;
  }
}

// An argument with a data chunk (c is null when none came).
Status renderCaptured(const ArgSpec& spec, const Chunk* c, uint64_t reg, int64_t ret,
                      std::optional<uint32_t> cap_version, SyscallArg& arg) {
  if (!c || c->fault()) {
    if (reg == 0) {
      arg.set_decoded("NULL"); // nothing to read, not a failed read
    } else if (!c && spec.capture == VIGIL_ARG_SOCKADDR_OUT && ret < 0) {
      // A failed call fills nothing in.
    } else {
      arg.set_unreadable(true);
    }
    return okStatus();
  }
  arg.set_truncated(c->trunc());
  switch (spec.capture) {
  case VIGIL_ARG_STR:
  case VIGIL_ARG_PATH:
    arg.set_str(chunkString(c->bytes));
    return okStatus();
  case VIGIL_ARG_BUF:
    return renderBuffer(spec, *c, cap_version, arg);
  case VIGIL_ARG_SOCKADDR:
  case VIGIL_ARG_SOCKADDR_OUT:
    // Empty: a failed call filled nothing in (or the length said 0).
    if (c->bytes.size() >= sizeof(sa_family_t)) {
      renderSockaddr(c->bytes, *arg.mutable_sockaddr());
    }
    return okStatus();
  default:
    return okStatus();
  }
}

v1::FileAccess fileAccess(uint16_t access) {
  bool read = (access & VIGIL_ACCESS_READ) != 0;
  bool write = (access & VIGIL_ACCESS_WRITE) != 0;
  if (read && write) {
    return v1::FILE_ACCESS_READ_WRITE;
  }
  if (write) {
    return v1::FILE_ACCESS_WRITE;
  }
  if (read) {
    return v1::FILE_ACCESS_READ;
  }
  return v1::FILE_ACCESS_UNSPECIFIED;
}

} // namespace


Status Decoder::decode(std::span<const uint8_t> record, Event& event) const {
  if (record.size() < sizeof(vigil_event_header)) {
    return makeError("syscall record of {} bytes is shorter than the {}-byte header", record.size(),
                     sizeof(vigil_event_header));
  }
  vigil_event_header hdr;
  std::memcpy(&hdr, record.data(), sizeof(hdr));
  if (hdr.kind != VIGIL_EV_SYSCALL) {
    return makeError("record kind {} at byte {} is not a syscall record (kind {})", hdr.kind,
                     offsetof(vigil_event_header, kind), int(VIGIL_EV_SYSCALL));
  }
  if (hdr.version != VIGIL_SYSCALL_VERSION) {
    return makeError("syscall record has layout version {} at byte {}, this agent reads version {}", hdr.version,
                     offsetof(vigil_event_header, version), VIGIL_SYSCALL_VERSION);
  }
  if (hdr.size != record.size()) {
    return makeError("syscall record header says {} bytes at byte {} but {} arrived", hdr.size,
                     offsetof(vigil_event_header, size), record.size());
  }
  if (record.size() < sizeof(vigil_sys_event)) {
    return makeError("syscall record of {} bytes is shorter than its {}-byte fixed part", record.size(),
                     sizeof(vigil_sys_event));
  }
  vigil_sys_event ev;
  std::memcpy(&ev, record.data(), sizeof(ev));
  if (ev.nr >= VIGIL_SYS_NR_MAX) {
    return makeError("syscall number {} at byte {} is not below VIGIL_SYS_NR_MAX ({})", ev.nr,
                     offsetof(vigil_sys_event, nr), VIGIL_SYS_NR_MAX);
  }
  size_t after = record.size() - sizeof(vigil_sys_event);
  if (ev.data_len != after) {
    return makeError("syscall record data_len {} at byte {} does not match the {} bytes after the {}-byte fixed part",
                     ev.data_len, offsetof(vigil_sys_event, data_len), after, sizeof(vigil_sys_event));
  }
  if (ev.access & ~uint16_t(VIGIL_ACCESS_READ | VIGIL_ACCESS_WRITE)) {
    return makeError("syscall record access {:#x} at byte {} has unknown bits", ev.access,
                     offsetof(vigil_sys_event, access));
  }
  if (ev.prefix > prefixes_.size()) {
    return makeError("syscall record prefix {} at byte {} is out of range: {} watched prefixes", ev.prefix,
                     offsetof(vigil_sys_event, prefix), prefixes_.size());
  }

  std::string name = syscallName(ev.nr);
  auto context = [&] { return fmt::format("{} record of pid {}", name, ev.pid); };

  std::array<std::optional<Chunk>, VIGIL_SYS_ARGS + 1> chunks;
  if (auto st = splitChunks(record.subspan(sizeof(vigil_sys_event)), sizeof(vigil_sys_event), chunks); !st) {
    return st.error().wrap(context());
  }

  // Every chunk must be one the spec asks for: the kernel and this decoder
  // read the same table.
  const SyscallSpec* spec = findSpec(ev.nr);
  for (int i = 0; i < VIGIL_SYS_ARGS; ++i) {
    if (!chunks[i]) {
      continue;
    }
    const ArgSpec* a = spec ? &spec->args[size_t(i)] : nullptr;
    uint8_t want = a && a->name ? a->capture : uint8_t(VIGIL_ARG_INT);
    if (chunks[i]->hdr.type != want) {
      return makeError("chunk at byte {} for argument {} has type {}, but {} captures that argument as {}",
                       chunks[i]->offset, i, argTypeName(chunks[i]->hdr.type), name, argTypeName(want))
          .wrap(context());
    }
  }
  const auto& resolved = chunks[VIGIL_CHUNK_RESOLVED];
  if (resolved) {
    if (!spec || spec->cls != VIGIL_SYS_CLASS_OPEN) {
      return makeError("resolved-path chunk at byte {} for {}, which does not open a file", resolved->offset, name)
          .wrap(context());
    }
    if (resolved->hdr.type != VIGIL_ARG_PATH) {
      return makeError("resolved-path chunk at byte {} has type {}, not PATH", resolved->offset,
                       argTypeName(resolved->hdr.type))
          .wrap(context());
    }
  }

  event.set_ktime_ns(hdr.ktime_ns);
  clock_.toTimestamp(hdr.ktime_ns, *event.mutable_time());
  auto* sc = event.mutable_syscall();
  auto* p = sc->mutable_process();
  p->set_pid(ev.pid);
  p->set_tid(ev.tid);
  p->set_exec_id(process::formatExecId(ev.pid, ev.exec_id));
  p->mutable_creds()->set_uid(ev.uid);
  p->mutable_creds()->set_gid(ev.gid);
  p->set_cgroup_id(ev.cgroup_id);
  p->set_comm(runtime::sanitizeUtf8(std::string_view(ev.comm, strnlen(ev.comm, sizeof(ev.comm)))));

  sc->set_name(name);
  sc->set_nr(ev.nr);
  sc->set_ret(ev.ret);
  if (ev.ret < 0 && ev.ret >= -4095) {
    sc->set_error(errnoName(int(-ev.ret)));
  }
  if (!(ev.flags & VIGIL_SYS_F_EXIT_ONLY)) { // recorded at exit only: not measured
    uint64_t took = hdr.ktime_ns > ev.enter_ns ? hdr.ktime_ns - ev.enter_ns : 0;
    sc->mutable_duration()->set_seconds(int64_t(took / 1000000000));
    sc->mutable_duration()->set_nanos(int32_t(took % 1000000000));
  }

  if (!spec) {
    if (auto it = arg_names_.find(ev.nr); it != arg_names_.end()) {
      for (size_t i = 0; i < it->second.size(); ++i) {
        auto* arg = sc->add_args();
        arg->set_name(it->second[i]);
        arg->set_uint(ev.args[i]);
      }
      return okStatus();
    }
    static constexpr std::array<std::string_view, VIGIL_SYS_ARGS> kRawNames = {"arg0", "arg1", "arg2",
                                                                               "arg3", "arg4", "arg5"};
    for (int i = 0; i < VIGIL_SYS_ARGS; ++i) {
      auto* arg = sc->add_args();
      arg->set_name(std::string(kRawNames[size_t(i)]));
      arg->set_uint(ev.args[i]);
    }
    return okStatus();
  }

  // capset's data is read per its header's version.
  std::optional<uint32_t> cap_version;
  for (int i = 0; i < VIGIL_SYS_ARGS; ++i) {
    const ArgSpec& a = spec->args[size_t(i)];
    if (a.format == ArgFormat::CapHeader && chunks[i] && !chunks[i]->fault() &&
        chunks[i]->bytes.size() >= sizeof(uint32_t)) {
      cap_version = load<uint32_t>(chunks[i]->bytes);
    }
  }

  const Chunk* paths[2] = {nullptr, nullptr};
  int path_args = 0;
  for (int i = 0; i < VIGIL_SYS_ARGS; ++i) {
    const ArgSpec& a = spec->args[size_t(i)];
    if (!a.name) {
      break;
    }
    auto* arg = sc->add_args();
    arg->set_name(a.name);
    if (a.capture == VIGIL_ARG_INT || a.capture == VIGIL_ARG_NONE) {
      renderRegister(a.format, ev.args[i], *arg);
      continue;
    }
    const Chunk* c = chunks[i] ? &*chunks[i] : nullptr;
    if (auto st = renderCaptured(a, c, ev.args[i], ev.ret, cap_version, *arg); !st) {
      return st.error().wrap(context());
    }
    if (a.capture == VIGIL_ARG_PATH) {
      if (path_args < 2) {
        paths[path_args] = c;
      }
      ++path_args;
    }
  }

  if (spec->cls == VIGIL_SYS_CLASS_FILE || spec->cls == VIGIL_SYS_CLASS_OPEN) {
    auto* file = sc->mutable_file();
    if (paths[0] && !paths[0]->fault()) {
      file->set_path(chunkString(paths[0]->bytes));
      // A cut directory walk leaves the path incomplete too.
      file->set_path_truncated((paths[0]->hdr.flags & (VIGIL_CHUNK_F_TRUNC | VIGIL_CHUNK_F_BASE_TRUNC)) != 0);
    }
    if (paths[1] && !paths[1]->fault()) {
      file->set_target_path(chunkString(paths[1]->bytes));
    }
    if (resolved && !resolved->fault()) {
      file->set_resolved_path(chunkString(resolved->bytes));
    }
    file->set_access(fileAccess(ev.access));
    if (ev.prefix != 0) {
      file->set_watched_prefix(prefixes_[ev.prefix - 1].path);
    }
  }
  return okStatus();
}

Status Decoder::decodeSuppressed(std::span<const uint8_t> record, Event& event) const {
  return runtime::decodeSuppressed(clock_, record, event);
}

} // namespace vigil::syscall
