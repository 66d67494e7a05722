#include "collectors/process/decoder.h"

#include "shared/process.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>

namespace vigil::process {
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
  int64_t wall = int64_t(boot_ns) + offset_ns_;
  int64_t secs = wall / 1000000000;
  int64_t nanos = wall % 1000000000;
  if (nanos < 0) { // floor, so nanos stays in [0, 1e9) as Timestamp requires
    nanos += 1000000000;
    --secs;
  }
  out.set_seconds(secs);
  out.set_nanos(int32_t(nanos));
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

std::string sanitizeUtf8(std::string_view s) {
  // Nearly every string is ASCII, which is kept as it is.
  if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<uint8_t>(c) < 0x80; })) {
    return std::string(s);
  }
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t len = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      out += char(c);
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      min = 0x10000;
    }
    bool valid = len != 0 && i + len <= s.size();
    uint32_t cp = len ? (c & (0xFF >> (len + 1))) : 0;
    for (size_t k = 1; valid && k < len; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        valid = false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (valid && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) {
      valid = false;
    }
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return out;
}

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

void fillSuppressed(const BootClock& clock, uint32_t kind, uint64_t cgroup_id, uint64_t count, uint64_t first_ns,
                    uint64_t now_ns, Event& event) {
  event.set_ktime_ns(now_ns);
  clock.toTimestamp(now_ns, *event.mutable_time());
  auto* s = event.mutable_suppressed();
  switch (kind) {
  case VIGIL_EV_SYSCALL:
    s->set_kind("syscall");
    break;
  case VIGIL_EV_NET:
    s->set_kind("flow");
    break;
  case VIGIL_EV_DNS:
    s->set_kind("dns");
    break;
  default:
    s->set_kind(fmt::format("kind_{}", kind));
  }
  s->set_cgroup_id(cgroup_id);
  s->set_count(count);
  if (first_ns != 0) {
    clock.toTimestamp(first_ns, *s->mutable_first_time());
  }
  s->set_reason("rate_limit");
}

uint64_t emitIdleSuppressed(CollectorOutput& output, const BootClock& clock, uint32_t kind,
                            const std::vector<loader::IdleSuppressed>& idle, uint64_t now_ns) {
  uint64_t dropped = 0;
  for (const auto& s : idle) {
    auto event = output.newEvent();
    fillSuppressed(clock, kind, s.cgroup_id, s.count, s.first_ns, now_ns, *event);
    dropped += s.count;
    output.onEvent(std::move(event));
  }
  return dropped;
}

Status decodeSuppressed(const BootClock& clock, std::span<const uint8_t> record, Event& event) {
  vigil_suppressed_event ev;
  if (record.size() != sizeof(ev)) {
    return makeError("suppressed record of {} bytes, expected {}", record.size(), sizeof(ev));
  }
  std::memcpy(&ev, record.data(), sizeof(ev));
  if (ev.hdr.kind != VIGIL_EV_SUPPRESSED || ev.hdr.version != VIGIL_SUPPRESSED_VERSION || ev.hdr.size != sizeof(ev)) {
    return makeError("suppressed record: kind {} version {} size {} (expected {} {} {})", ev.hdr.kind, ev.hdr.version,
                     ev.hdr.size, int(VIGIL_EV_SUPPRESSED), VIGIL_SUPPRESSED_VERSION, sizeof(ev));
  }
  if (ev.count == 0) {
    return makeError("suppressed record at byte {}: a count of 0", offsetof(vigil_suppressed_event, count));
  }
  fillSuppressed(clock, ev.kind, ev.cgroup_id, ev.count, ev.first_ns, ev.hdr.ktime_ns, event);
  return okStatus();
}

} // namespace vigil::process
