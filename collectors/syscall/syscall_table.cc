#include "collectors/syscall/syscall_table.h"

#include <fmt/format.h>

#include <unordered_map>
#include <vector>

namespace vigil::syscall {
namespace {

struct NameNr {
  const char* name;
  uint32_t nr;
};

constexpr NameNr kNumbers[] = {
#define VIGIL_SYSCALL(name, nr) {#name, nr},
#include "collectors/syscall/syscall_names_x86_64.inc"
#undef VIGIL_SYSCALL
};

using F = ArgFormat;

// Shorthands for one argument.
constexpr ArgSpec I(const char* name, F format = F::Int) { return {name, VIGIL_ARG_INT, 0, format}; }
constexpr ArgSpec S(const char* name) { return {name, VIGIL_ARG_STR, 0, F::Str}; }
constexpr ArgSpec P(const char* name, uint8_t dirfd_arg = VIGIL_ARG_AUX_CWD) {
  return {name, VIGIL_ARG_PATH, dirfd_arg, F::Path};
}
constexpr ArgSpec B(const char* name, uint8_t bytes, F format) { return {name, VIGIL_ARG_BUF, bytes, format}; }
constexpr ArgSpec A(const char* name, uint8_t len_arg) { return {name, VIGIL_ARG_SOCKADDR, len_arg, F::Sockaddr}; }
constexpr ArgSpec AOut(const char* name, uint8_t lenp_arg) {
  return {name, VIGIL_ARG_SOCKADDR_OUT, lenp_arg, F::Sockaddr};
}

constexpr uint8_t G = VIGIL_SYS_CLASS_GENERIC;
constexpr uint8_t FILE_ = VIGIL_SYS_CLASS_FILE;
constexpr uint8_t OPEN = VIGIL_SYS_CLASS_OPEN;

// x86_64 argument order, from the kernel's SYSCALL_DEFINEn.
const SyscallSpec kSpecs[] = {
    // Files: opened, created, removed, renamed, permissions, owners, links.
    {"open", OPEN, 0, {P("pathname"), I("flags", F::OpenFlags), I("mode", F::Mode)}},
    {"openat", OPEN, 0, {I("dirfd", F::Dirfd), P("pathname", 0), I("flags", F::OpenFlags), I("mode", F::Mode)}},
    {"openat2", OPEN, 0, {I("dirfd", F::Dirfd), P("pathname", 0), B("how", 24, F::OpenHow), I("size", F::Uint)}},
    {"creat", OPEN, 0, {P("pathname"), I("mode", F::Mode)}},
    {"unlink", FILE_, 0, {P("pathname")}},
    {"unlinkat", FILE_, 0, {I("dirfd", F::Dirfd), P("pathname", 0), I("flags", F::AtFlags)}},
    {"rename", FILE_, 0, {P("oldpath"), P("newpath")}},
    {"renameat", FILE_, 0, {I("olddirfd", F::Dirfd), P("oldpath", 0), I("newdirfd", F::Dirfd), P("newpath", 2)}},
    {"renameat2",
     FILE_,
     0,
     {I("olddirfd", F::Dirfd), P("oldpath", 0), I("newdirfd", F::Dirfd), P("newpath", 2),
      I("flags", F::RenameFlags)}},
    {"chmod", FILE_, 0, {P("pathname"), I("mode", F::Mode)}},
    {"fchmodat", FILE_, 0, {I("dirfd", F::Dirfd), P("pathname", 0), I("mode", F::Mode)}},
    {"fchmodat2", FILE_, 0, {I("dirfd", F::Dirfd), P("pathname", 0), I("mode", F::Mode), I("flags", F::AtFlags)}},
    {"chown", FILE_, 0, {P("pathname"), I("owner", F::Uid), I("group", F::Uid)}},
    {"lchown", FILE_, 0, {P("pathname"), I("owner", F::Uid), I("group", F::Uid)}},
    {"fchownat",
     FILE_,
     0,
     {I("dirfd", F::Dirfd), P("pathname", 0), I("owner", F::Uid), I("group", F::Uid), I("flags", F::AtFlags)}},
    {"link", FILE_, 0, {P("oldpath"), P("newpath")}},
    {"linkat",
     FILE_,
     0,
     {I("olddirfd", F::Dirfd), P("oldpath", 0), I("newdirfd", F::Dirfd), P("newpath", 2), I("flags", F::AtFlags)}},
    // A symlink's target is its content, not a path resolved now.
    {"symlink", FILE_, 0, {S("target"), P("linkpath")}},
    {"symlinkat", FILE_, 0, {S("target"), I("newdirfd", F::Dirfd), P("linkpath", 1)}},

    // Mounts and root changes.
    {"mount",
     G,
     0,
     {S("source"), P("target"), S("filesystemtype"), I("mountflags", F::MountFlags), I("data", F::Hex)}},
    {"umount2", G, 0, {P("target"), I("flags", F::UmountFlags)}},
    {"chroot", G, 0, {P("path")}},

    // Processes: tracing, credentials, capabilities, namespaces, signals.
    {"ptrace", G, 0, {I("request", F::PtraceRequest), I("pid", F::Pid), I("addr", F::Hex), I("data", F::Hex)}},
    {"setuid", G, 0, {I("uid", F::Uid)}},
    {"setgid", G, 0, {I("gid", F::Uid)}},
    {"setreuid", G, 0, {I("ruid", F::Uid), I("euid", F::Uid)}},
    {"setregid", G, 0, {I("rgid", F::Uid), I("egid", F::Uid)}},
    {"setresuid", G, 0, {I("ruid", F::Uid), I("euid", F::Uid), I("suid", F::Uid)}},
    {"setresgid", G, 0, {I("rgid", F::Uid), I("egid", F::Uid), I("sgid", F::Uid)}},
    {"capset", G, 0, {B("hdrp", 8, F::CapHeader), B("datap", 24, F::CapData)}},
    {"setns", G, 0, {I("fd", F::Fd), I("nstype", F::CloneFlags)}},
    {"unshare", G, 0, {I("flags", F::CloneFlags)}},
    {"kill", G, 0, {I("pid", F::Pid), I("sig", F::Signal)}},
    {"tkill", G, 0, {I("tid", F::Pid), I("sig", F::Signal)}},
    {"tgkill", G, 0, {I("tgid", F::Pid), I("tid", F::Pid), I("sig", F::Signal)}},
    {"prctl",
     G,
     0,
     {I("option", F::PrctlOption), I("arg2", F::Hex), I("arg3", F::Hex), I("arg4", F::Hex), I("arg5", F::Hex)}},
    // Failed execs only: a successful one is the process exec event.
    {"execve", G, VIGIL_SYS_SPEC_FAIL_ONLY, {P("pathname"), I("argv", F::Hex), I("envp", F::Hex)}},
    {"execveat",
     G,
     VIGIL_SYS_SPEC_FAIL_ONLY,
     {I("dirfd", F::Dirfd), P("pathname", 0), I("argv", F::Hex), I("envp", F::Hex), I("flags", F::AtFlags)}},

    // Kernel: modules, BPF, anonymous executable memory.
    {"init_module", G, 0, {I("module_image", F::Hex), I("len", F::Uint), S("param_values")}},
    {"finit_module", G, 0, {I("fd", F::Fd), S("param_values"), I("flags", F::ModuleInitFlags)}},
    {"delete_module", G, 0, {S("name"), I("flags", F::DeleteModuleFlags)}},
    {"bpf", G, 0, {I("cmd", F::BpfCmd), I("attr", F::Hex), I("size", F::Uint)}},
    {"memfd_create", G, 0, {S("name"), I("flags", F::MemfdFlags)}},

    // Sockets.
    {"socket", G, 0, {I("domain", F::SocketFamily), I("type", F::SocketType), I("protocol", F::Int)}},
    {"connect", G, 0, {I("sockfd", F::Fd), A("addr", 2), I("addrlen", F::Uint)}},
    {"bind", G, 0, {I("sockfd", F::Fd), A("addr", 2), I("addrlen", F::Uint)}},
    {"listen", G, 0, {I("sockfd", F::Fd), I("backlog", F::Int)}},
    {"accept", G, 0, {I("sockfd", F::Fd), AOut("addr", 2), I("addrlen", F::Hex)}},
    {"accept4", G, 0, {I("sockfd", F::Fd), AOut("addr", 2), I("addrlen", F::Hex), I("flags", F::SocketFlags)}},
};

const std::unordered_map<std::string_view, uint32_t>& numbersByName() {
  static const auto* map = [] {
    auto* m = new std::unordered_map<std::string_view, uint32_t>();
    for (const auto& row : kNumbers) {
      m->emplace(row.name, row.nr);
    }
    return m;
  }();
  return *map;
}

} // namespace

std::optional<uint32_t> syscallNumber(std::string_view name) {
  const auto& map = numbersByName();
  auto it = map.find(name);
  if (it == map.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::string syscallName(uint32_t nr) {
  static const auto* names = [] {
    auto* v = new std::vector<const char*>(VIGIL_SYS_NR_MAX, nullptr);
    for (const auto& row : kNumbers) {
      if (row.nr < v->size()) {
        (*v)[row.nr] = row.name;
      }
    }
    return v;
  }();
  if (nr < names->size() && (*names)[nr]) {
    return (*names)[nr];
  }
  return fmt::format("syscall_{}", nr);
}

std::span<const SyscallSpec> decodedSyscalls() { return kSpecs; }

std::optional<std::vector<std::string>> parseEnterFormat(std::string_view text) {
  // Lines like "\tfield:unsigned int fd;\toffset:16;\tsize:8;\tsigned:0;".
  std::vector<std::string> names;
  bool after_nr = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t field = line.find("field:");
    size_t semi = field == std::string_view::npos ? field : line.find(';', field);
    if (semi == std::string_view::npos) {
      continue;
    }
    std::string_view decl = line.substr(field + 6, semi - field - 6);
    size_t start = decl.find_last_of(" *");
    std::string_view name = start == std::string_view::npos ? decl : decl.substr(start + 1);
    if (name.empty()) {
      return std::nullopt;
    }
    if (!after_nr) {
      after_nr = name == "__syscall_nr";
      continue;
    }
    names.emplace_back(name);
  }
  if (!after_nr || names.size() > VIGIL_SYS_ARGS) {
    return std::nullopt;
  }
  return names;
}

const SyscallSpec* findSpec(uint32_t nr) {
  static const auto* by_nr = [] {
    auto* v = new std::vector<const SyscallSpec*>(VIGIL_SYS_NR_MAX, nullptr);
    for (uint32_t i = 0; i < v->size(); ++i) {
      (*v)[i] = findSpec(syscallName(i));
    }
    return v;
  }();
  return nr < by_nr->size() ? (*by_nr)[nr] : nullptr;
}

const SyscallSpec* findSpec(std::string_view name) {
  for (const auto& spec : kSpecs) {
    if (name == spec.name) {
      return &spec;
    }
  }
  return nullptr;
}

vigil_sys_spec kernelSpec(std::string_view name, uint8_t mode) {
  vigil_sys_spec k{};
  k.mode = mode;
  const SyscallSpec* spec = findSpec(name);
  if (!spec) {
    for (int i = 0; i < VIGIL_SYS_ARGS; ++i) {
      k.type[i] = VIGIL_ARG_INT;
    }
    return k;
  }
  k.cls = spec->cls;
  k.flags = spec->flags;
  k.open_flags_arg = VIGIL_OPEN_FLAGS_NONE;
  for (int i = 0; i < VIGIL_SYS_ARGS; ++i) {
    const ArgSpec& a = spec->args[size_t(i)];
    k.type[i] = a.name ? a.capture : uint8_t(VIGIL_ARG_NONE);
    k.aux[i] = a.aux;
    if (k.type[i] > VIGIL_ARG_INT) {
      k.has_data = 1;
    }
    if (a.name && a.format == ArgFormat::OpenFlags) {
      k.open_flags_arg = uint8_t(i);
    } else if (a.name && a.format == ArgFormat::OpenHow) {
      k.open_flags_arg = VIGIL_OPEN_FLAGS_HOW;
    }
  }
  if (k.cls == VIGIL_SYS_CLASS_FILE || (k.cls == VIGIL_SYS_CLASS_OPEN && k.open_flags_arg == VIGIL_OPEN_FLAGS_NONE)) {
    k.access = VIGIL_ACCESS_WRITE; // unlink, rename, chmod, ...; creat
  }
  return k;
}

std::span<const char* const> defaultTraced() {
  static const std::vector<const char*> names = [] {
    std::vector<const char*> v;
    for (const auto& spec : kSpecs) {
      v.push_back(spec.name);
    }
    return v;
  }();
  return names;
}

} // namespace vigil::syscall
