#include "collectors/process/decoder.h"

#include "shared/process.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>

namespace vigil::process {

using runtime::BootClock;
using runtime::capabilityNames;
using runtime::errnoName;
using runtime::sanitizeUtf8;
using runtime::signalName;
namespace {


// Bytes [offset, offset + len) of data, checked against its size.
struct Cursor {
  std::span<const uint8_t> data;
  size_t offset = 0;

  Result<std::span<const uint8_t>> take(uint32_t len, std::string_view what) {
    if (len > data.size() - offset) {
      return makeError("{} needs {} bytes at data offset {} but only {} remain", what, len, offset,
                       data.size() - offset);
    }
    auto out = data.subspan(offset, len);
    offset += len;
    return out;
  }
};

template <class T> Result<T> readStruct(std::span<const uint8_t> record, std::string_view kind) {
  if (record.size() < sizeof(T)) {
    return makeError("{} record is {} bytes, shorter than its fixed part ({} bytes)", kind,
                     record.size(), sizeof(T));
  }
  T out;
  std::memcpy(&out, record.data(), sizeof(T));
  return out;
}

Status checkVersion(const vigil_event_header& hdr, uint16_t want, std::string_view kind) {
  if (hdr.version != want) {
    return makeError("{} record has layout version {}, this agent reads version {}", kind,
                     hdr.version, want);
  }
  return okStatus();
}

std::string commString(const char (&comm)[VIGIL_COMM_LEN]) {
  return sanitizeUtf8(std::string_view(comm, strnlen(comm, VIGIL_COMM_LEN)));
}

std::string devString(uint32_t dev) {
  // Kernel-internal dev_t: 12-bit major above a 20-bit minor.
  return fmt::format("{}:{}", dev >> 20, dev & 0xFFFFF);
}

void fillTask(const vigil_task_info& t, const BootClock& clock, Process& p) {
  p.set_pid(t.pid);
  p.set_tid(t.tid);
  p.set_ppid(t.ppid);
  p.set_exec_id(formatExecId(t.pid, t.exec_id));
  if (t.ppid != 0) {
    p.set_parent_exec_id(formatExecId(t.ppid, t.parent_exec_id));
  }
  p.set_comm(commString(t.comm));
  auto* creds = p.mutable_creds();
  creds->set_uid(t.uid);
  creds->set_gid(t.gid);
  creds->set_euid(t.euid);
  creds->set_egid(t.egid);
  creds->set_auid(t.auid);
  auto* caps = p.mutable_caps();
  caps->set_effective_mask(t.cap_effective);
  caps->set_permitted_mask(t.cap_permitted);
  for (auto& name : capabilityNames(t.cap_effective)) {
    caps->add_effective(std::move(name));
  }
  for (auto& name : capabilityNames(t.cap_permitted)) {
    caps->add_permitted(std::move(name));
  }
  auto* ns = p.mutable_ns();
  ns->set_pid(t.pidns);
  ns->set_mnt(t.mntns);
  ns->set_net(t.netns);
  p.set_cgroup_id(t.cgroup_id);
  p.set_start_boot_ns(t.start_ns);
  clock.toTimestamp(t.start_ns, *p.mutable_start_time());
  p.set_kernel_thread((t.flags & VIGIL_TASK_F_KTHREAD) != 0);
}

Status decodeImage(const vigil_exec_event& ev, std::span<const uint8_t> data, Process& p) {
  Cursor cur{data};
  auto argv = cur.take(ev.argv_len, "argv");
  if (!argv) {
    return argv.error();
  }
  auto exe = cur.take(ev.exe_len, "exe path");
  if (!exe) {
    return exe.error();
  }
  auto cwd = cur.take(ev.cwd_len, "cwd");
  if (!cwd) {
    return cwd.error();
  }
  auto filename = cur.take(ev.filename_len, "filename");
  if (!filename) {
    return filename.error();
  }
  for (auto& arg : splitArgv(*argv)) {
    p.add_args(std::move(arg));
  }
  p.set_args_truncated((ev.flags & VIGIL_EXEC_F_ARGV_TRUNC) != 0);
  bool no_exe = (ev.flags & VIGIL_EXEC_F_NO_EXE) != 0;
  if (!no_exe) {
    p.set_binary(joinLeafFirstPath(*exe, (ev.flags & VIGIL_EXEC_F_EXE_TRUNC) != 0));
    p.set_binary_truncated((ev.flags & VIGIL_EXEC_F_EXE_TRUNC) != 0);
    p.set_exe_inode(ev.exe_ino);
    p.set_exe_dev(devString(ev.exe_dev));
  }
  p.set_cwd(joinLeafFirstPath(*cwd, (ev.flags & VIGIL_EXEC_F_CWD_TRUNC) != 0));
  p.set_cwd_truncated((ev.flags & VIGIL_EXEC_F_CWD_TRUNC) != 0);
  if (!filename->empty()) {
    size_t n = strnlen(reinterpret_cast<const char*>(filename->data()), filename->size());
    p.set_filename(sanitizeUtf8(std::string_view(reinterpret_cast<const char*>(filename->data()), n)));
  }
  if (p.binary().empty() && !no_exe) {
    p.set_binary(p.filename());
  }
  return okStatus();
}

} // namespace

std::string_view recordKindName(RecordKind kind) {
  switch (kind) {
  case RecordKind::Exec:
    return "exec";
  case RecordKind::Fork:
    return "fork";
  case RecordKind::Exit:
    return "exit";
  case RecordKind::Snapshot:
    return "snapshot";
  }
  return "unknown";
}



std::string formatExecId(uint32_t pid, uint64_t id_ns) {
  // Every syscall, flow and DNS event formats one: by hand, ~10x fmt's cost.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(24, '0');
  for (int i = 15; i >= 0; --i, id_ns >>= 4) {
    out[size_t(i)] = kHex[id_ns & 0xF];
  }
  for (int i = 23; i >= 16; --i, pid >>= 4) {
    out[size_t(i)] = kHex[pid & 0xF];
  }
  return out;
}

std::string joinLeafFirstPath(std::span<const uint8_t> bytes, bool truncated) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < bytes.size()) {
    const char* start = reinterpret_cast<const char*>(bytes.data() + i);
    size_t n = strnlen(start, bytes.size() - i);
    parts.emplace_back(start, n);
    i += n + 1;
  }
  if (parts.empty()) {
    return truncated ? std::string() : std::string("/");
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += '/';
    out += *it;
  }
  return sanitizeUtf8(out);
}

std::vector<std::string> splitArgv(std::span<const uint8_t> bytes) {
  std::vector<std::string> args;
  size_t i = 0;
  while (i < bytes.size()) {
    const char* start = reinterpret_cast<const char*>(bytes.data() + i);
    size_t n = strnlen(start, bytes.size() - i);
    args.push_back(sanitizeUtf8(std::string_view(start, n)));
    i += n + 1;
  }
  return args;
}





Result<RecordKind> Decoder::decode(std::span<const uint8_t> record, Event& event) const {
  if (record.size() < sizeof(vigil_event_header)) {
    return makeError("record is {} bytes, shorter than the {}-byte header", record.size(),
                     sizeof(vigil_event_header));
  }
  vigil_event_header hdr;
  std::memcpy(&hdr, record.data(), sizeof(hdr));
  if (hdr.size != record.size()) {
    return makeError("record header says {} bytes but {} arrived (kind {})", hdr.size, record.size(),
                     hdr.kind);
  }

  switch (hdr.kind) {
  case VIGIL_EV_EXEC:
  case VIGIL_EV_SNAPSHOT: {
    bool snapshot = hdr.kind == VIGIL_EV_SNAPSHOT;
    std::string_view name = snapshot ? "snapshot" : "exec";
    auto ev = readStruct<vigil_exec_event>(record, name);
    if (!ev) {
      return ev.error();
    }
    if (auto st = checkVersion(hdr, VIGIL_EXEC_VERSION, name); !st) {
      return st.error();
    }
    Process* p = event.mutable_exec()->mutable_process();
    fillTask(ev->task, clock_, *p);
    if (auto st = decodeImage(*ev, record.subspan(sizeof(vigil_exec_event)), *p); !st) {
      return st.error().wrap(fmt::format("{} record of pid {}", name, ev->task.pid));
    }
    p->set_source(snapshot ? v1::PROCESS_SOURCE_SNAPSHOT_ITER : v1::PROCESS_SOURCE_EXEC);
    if (snapshot) {
      return RecordKind::Snapshot;
    }
    event.set_ktime_ns(hdr.ktime_ns);
    clock_.toTimestamp(hdr.ktime_ns, *event.mutable_time());
    return RecordKind::Exec;
  }
  case VIGIL_EV_FORK: {
    auto ev = readStruct<vigil_fork_event>(record, "fork");
    if (!ev) {
      return ev.error();
    }
    if (auto st = checkVersion(hdr, VIGIL_FORK_VERSION, "fork"); !st) {
      return st.error();
    }
    Process* p = event.mutable_fork()->mutable_process();
    fillTask(ev->child, clock_, *p);
    p->set_source(v1::PROCESS_SOURCE_FORK);
    event.set_ktime_ns(hdr.ktime_ns);
    clock_.toTimestamp(hdr.ktime_ns, *event.mutable_time());
    return RecordKind::Fork;
  }
  case VIGIL_EV_EXIT: {
    auto ev = readStruct<vigil_exit_event>(record, "exit");
    if (!ev) {
      return ev.error();
    }
    if (auto st = checkVersion(hdr, VIGIL_EXIT_VERSION, "exit"); !st) {
      return st.error();
    }
    auto* exit = event.mutable_exit();
    fillTask(ev->task, clock_, *exit->mutable_process());
    uint32_t sig = ev->exit_code & 0x7F;
    exit->set_signal(sig);
    if (sig != 0) {
      exit->set_signal_name(signalName(sig));
    } else {
      exit->set_exit_code(int32_t((ev->exit_code >> 8) & 0xFF));
    }
    exit->set_core_dumped((ev->exit_code & 0x80) != 0);
    uint64_t ran = hdr.ktime_ns > ev->task.start_ns ? hdr.ktime_ns - ev->task.start_ns : 0;
    exit->mutable_duration()->set_seconds(int64_t(ran / 1000000000));
    exit->mutable_duration()->set_nanos(int32_t(ran % 1000000000));
    event.set_ktime_ns(hdr.ktime_ns);
    clock_.toTimestamp(hdr.ktime_ns, *event.mutable_time());
    return RecordKind::Exit;
  }
  default:
    return makeError("unknown record kind {} ({} bytes)", hdr.kind, record.size());
  }
}




} // namespace vigil::process
