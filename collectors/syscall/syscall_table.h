#pragma once

// The syscalls Vigil knows: numbers and names for x86_64, and for the
// security-relevant ones how each argument is captured in the kernel
// (bpf/shared/syscall.h) and rendered in user space (decoder.cc).
// Adding a decoded syscall is one row in syscall_table.cc.

#include "shared/syscall.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::syscall {

// How user space renders an argument's value.
enum class ArgFormat : uint8_t {
  Int, // signed decimal
  Uint, // unsigned decimal (sizes, counts)
  Hex, // addresses, opaque words
  Fd, // file descriptor
  Dirfd, // file descriptor or AT_FDCWD
  Uid, // uid/gid; -1 (unchanged) decoded as "-1"
  Pid, // pid/tid
  Mode, // file mode, octal "0644"
  OpenFlags, // O_* (access mode first)
  AtFlags, // AT_* for unlinkat/fchownat/linkat/...
  RenameFlags, // RENAME_*
  MountFlags, // MS_*
  UmountFlags, // MNT_* / UMOUNT_*
  CloneFlags, // CLONE_* (setns nstype, unshare flags)
  Signal, // SIGKILL
  PtraceRequest, // PTRACE_*
  BpfCmd, // BPF_MAP_CREATE ...
  MemfdFlags, // MFD_*
  PrctlOption, // PR_*
  SocketFamily, // AF_*
  SocketType, // SOCK_STREAM|SOCK_CLOEXEC
  SocketFlags, // accept4: SOCK_CLOEXEC|SOCK_NONBLOCK
  ModuleInitFlags, // finit_module: MODULE_INIT_*
  DeleteModuleFlags, // O_NONBLOCK|O_TRUNC
  Str, // captured string
  Path, // captured path (file activity)
  Sockaddr, // captured socket address
  CapHeader, // captured __user_cap_header_struct: version, pid
  CapData, // captured __user_cap_data_struct[2]: effective/permitted/inheritable
  OpenHow, // captured struct open_how: flags, mode, resolve
};

struct ArgSpec {
  const char* name = nullptr; // nullptr: the syscall has fewer arguments
  uint8_t capture = VIGIL_ARG_NONE; // enum vigil_arg_type
  uint8_t aux = 0; // see enum vigil_arg_type
  ArgFormat format = ArgFormat::Hex;
};

struct SyscallSpec {
  const char* name;
  uint8_t cls; // enum vigil_sys_class
  uint8_t flags; // VIGIL_SYS_SPEC_*
  std::array<ArgSpec, VIGIL_SYS_ARGS> args;
};

// x86_64 syscall number of name, if it exists.
std::optional<uint32_t> syscallNumber(std::string_view name);
// Name of syscall nr; "syscall_<nr>" when the table does not know it.
std::string syscallName(uint32_t nr);

// The argument names of a syscall from the text of its enter tracepoint's
// format file (tracefs events/syscalls/sys_enter_<name>/format): the fields
// after __syscall_nr, in order ("fd", "buf", "count" for read). nullopt when
// the text is not a syscall enter format. A syscall without a decoded spec
// is reported with these names and only as many arguments.
std::optional<std::vector<std::string>> parseEnterFormat(std::string_view text);

// The syscalls with decoded arguments.
std::span<const SyscallSpec> decodedSyscalls();
// The decoded spec of name, or nullptr (the syscall is captured with six raw
// arguments then).
const SyscallSpec* findSpec(std::string_view name);
// The same by syscall number (a table look-up, for the decoder's hot path).
const SyscallSpec* findSpec(uint32_t nr);

// The kernel spec for capturing syscall name (decoded or raw) with mode.
vigil_sys_spec kernelSpec(std::string_view name, uint8_t mode);

// The default set traced with arguments: every decoded syscall.
std::span<const char* const> defaultTraced();

} // namespace vigil::syscall
