#include "collectors/process/proc_scan.h"

#include "collectors/runtime/bpf_env.h"

#include <fmt/format.h>

#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <unordered_map>

namespace vigil::process {

using runtime::BootClock;
using runtime::capabilityNames;
using runtime::errnoName;
using runtime::sanitizeUtf8;
using runtime::signalName;
namespace {

constexpr uint32_t kPfKthread = 0x00200000;

bool readFile(const std::string& path, std::string& out, size_t limit = 1 << 20) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  out.assign(limit, '\0');
  in.read(out.data(), std::streamsize(limit));
  out.resize(size_t(in.gcount()));
  return true;
}

std::string readLink(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// "pid:[4026531836]" -> 4026531836
uint32_t nsInode(const std::string& link) {
  auto open = link.find('[');
  return open == std::string::npos ? 0 : uint32_t(strtoul(link.c_str() + open + 1, nullptr, 10));
}


uint64_t cgroupIdOf(const std::string& proc_dir, const std::string& cg_root) {
  if (cg_root.empty()) {
    return 0;
  }
  std::ifstream in(proc_dir + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) {
      struct stat st {};
      if (stat((cg_root + line.substr(3)).c_str(), &st) == 0) {
        return st.st_ino; // kernfs node id, what the kernel reports as cgroup id
      }
    }
  }
  return 0;
}

struct StatFields {
  std::string comm;
  uint32_t ppid = 0;
  uint32_t flags = 0;
  uint64_t start_ticks = 0;
};

bool parseStat(const std::string& text, StatFields& out) {
  // comm may hold spaces and parens: it ends at the last ')'.
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return false;
  }
  out.comm = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  std::vector<std::string> f;
  std::string tok;
  while (rest >> tok) {
    f.push_back(tok);
  }
  // rest starts at field 3 (state): ppid is field 4, flags 9, starttime 22.
  if (f.size() < 20) {
    return false;
  }
  out.ppid = uint32_t(std::stoul(f[1]));
  out.flags = uint32_t(std::stoul(f[6]));
  out.start_ticks = std::stoull(f[19]);
  return true;
}

uint64_t hexField(const std::string& status, const char* key) {
  auto at = status.find(key);
  return at == std::string::npos ? 0 : std::stoull(status.substr(at + strlen(key)), nullptr, 16);
}

void idFields(const std::string& status, const char* key, uint32_t& real, uint32_t& eff) {
  auto at = status.find(key);
  if (at == std::string::npos) {
    return;
  }
  std::istringstream in(status.substr(at + strlen(key)));
  in >> real >> eff;
}

} // namespace

bool fillArgsFromProc(uint32_t pid, uint32_t argv_max, Process& process, const std::string& proc_root) {
  std::string raw;
  if (!readFile(fmt::format("{}/{}/cmdline", proc_root, pid), raw, size_t(argv_max) + 1) || raw.empty()) {
    return false;
  }
  bool truncated = raw.size() > argv_max;
  if (truncated) {
    raw.resize(argv_max);
  }
  process.clear_args();
  for (auto& arg : splitArgv(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()))) {
    process.add_args(std::move(arg));
  }
  process.set_args_truncated(truncated);
  return true;
}

uint64_t execIdFromStartTicks(uint64_t start_ticks) {
  static const uint64_t ns_per_tick = 1000000000ULL / uint64_t(sysconf(_SC_CLK_TCK));
  return start_ticks * ns_per_tick;
}

std::vector<Process> scanProc(const BootClock& clock, uint32_t argv_max, const std::string& proc_root) {
  std::vector<Process> out;
  std::unordered_map<uint32_t, uint64_t> start_ids;
  const std::string cg_root = runtime::cgroup2Mount();

  DIR* dir = opendir(proc_root.c_str());
  if (!dir) {
    return out;
  }
  while (dirent* de = readdir(dir)) {
    char* end = nullptr;
    unsigned long pid = strtoul(de->d_name, &end, 10);
    if (*end != '\0' || pid == 0) {
      continue;
    }
    std::string base = fmt::format("{}/{}", proc_root, pid);
    std::string stat_text, status;
    StatFields st;
    if (!readFile(base + "/stat", stat_text) || !parseStat(stat_text, st) || !readFile(base + "/status", status)) {
      continue; // gone
    }
    Process p;
    p.set_pid(uint32_t(pid));
    p.set_tid(uint32_t(pid));
    p.set_ppid(st.ppid);
    p.set_comm(sanitizeUtf8(st.comm));
    uint64_t id = execIdFromStartTicks(st.start_ticks);
    start_ids[uint32_t(pid)] = id;
    p.set_exec_id(formatExecId(uint32_t(pid), id));
    p.set_start_boot_ns(id);
    clock.toTimestamp(id, *p.mutable_start_time());
    p.set_kernel_thread((st.flags & kPfKthread) != 0);

    auto* creds = p.mutable_creds();
    uint32_t r = 0, e = 0;
    idFields(status, "Uid:", r, e);
    creds->set_uid(r);
    creds->set_euid(e);
    idFields(status, "Gid:", r, e);
    creds->set_gid(r);
    creds->set_egid(e);
    std::string loginuid;
    creds->set_auid(readFile(base + "/loginuid", loginuid) && !loginuid.empty()
                        ? uint32_t(std::stoul(loginuid))
                        : 4294967295u);
    auto* caps = p.mutable_caps();
    caps->set_effective_mask(hexField(status, "CapEff:"));
    caps->set_permitted_mask(hexField(status, "CapPrm:"));
    for (auto& n : capabilityNames(caps->effective_mask())) {
      caps->add_effective(std::move(n));
    }
    for (auto& n : capabilityNames(caps->permitted_mask())) {
      caps->add_permitted(std::move(n));
    }
    p.mutable_ns()->set_pid(nsInode(readLink(base + "/ns/pid")));
    p.mutable_ns()->set_mnt(nsInode(readLink(base + "/ns/mnt")));
    p.mutable_ns()->set_net(nsInode(readLink(base + "/ns/net")));
    p.set_cgroup_id(cgroupIdOf(base, cg_root));

    if (!p.kernel_thread()) {
      std::string exe = readLink(base + "/exe");
      p.set_binary(sanitizeUtf8(exe));
      struct stat exe_st {};
      if (!exe.empty() && stat((base + "/exe").c_str(), &exe_st) == 0) {
        p.set_exe_inode(exe_st.st_ino);
        p.set_exe_dev(fmt::format("{}:{}", major(exe_st.st_dev), minor(exe_st.st_dev)));
      }
      p.set_cwd(sanitizeUtf8(readLink(base + "/cwd")));
      fillArgsFromProc(uint32_t(pid), argv_max, p, proc_root);
    }
    p.set_source(v1::PROCESS_SOURCE_SNAPSHOT_PROC);
    out.push_back(std::move(p));
  }
  closedir(dir);

  for (auto& p : out) {
    if (auto it = start_ids.find(p.ppid()); it != start_ids.end()) {
      p.set_parent_exec_id(formatExecId(p.ppid(), it->second));
    }
  }
  return out;
}

} // namespace vigil::process
