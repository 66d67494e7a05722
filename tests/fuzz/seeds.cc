// Writes the fuzz targets' seed corpora: a few valid records of each kind,
// built from the kernel/user structs themselves (bpf/shared/*.h), so the
// seeds follow any change of layout. Each seed is checked to decode before it
// is written: a seed that no longer does fails here, not silently in the
// fuzzer. Usage: vigil_fuzz_seeds OUTDIR (writes OUTDIR/<target>/<seed>).

#include "collectors/network/decoder.h"
#include "collectors/network/dns.h"
#include "collectors/process/decoder.h"
#include "collectors/runtime/suppressed.h"
#include "collectors/syscall/decoder.h"
#include "collectors/syscall/syscall_table.h"

#include "shared/common.h"
#include "shared/network.h"
#include "shared/process.h"
#include "shared/syscall.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::fuzz {
namespace {

using Bytes = std::vector<uint8_t>;
using namespace std::string_literals;

constexpr uint64_t kNowNs = 7'250'000'123;
const runtime::BootClock kClock(1'700'000'000'000'000'000);

template <class T> Bytes bytesOf(const T& value) {
  Bytes out(sizeof(value));
  std::memcpy(out.data(), &value, sizeof(value));
  return out;
}

void append(Bytes& out, std::string_view bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

void fillHeader(vigil_event_header& hdr, uint16_t kind, uint16_t version, size_t size) {
  hdr.kind = kind;
  hdr.version = version;
  hdr.size = uint32_t(size);
  hdr.ktime_ns = kNowNs;
  hdr.cpu = 1;
}

// --- process -----------------------------------------------------------------------------

vigil_task_info task(uint32_t pid) {
  vigil_task_info t{};
  t.pid = pid;
  t.tid = pid;
  t.ppid = 1;
  t.start_ns = 5'000'000'000;
  t.exec_id = 0x1122334455667788;
  t.parent_exec_id = 0xabcdef;
  t.cgroup_id = 777;
  t.cap_effective = 1u << 21;
  t.cap_permitted = (1u << 21) | 1u;
  t.uid = 1000;
  t.gid = 1000;
  t.auid = 4294967295u;
  t.pidns = 4026531836u;
  t.mntns = 4026531841u;
  t.netns = 4026531840u;
  std::strncpy(t.comm, "bash", sizeof(t.comm));
  return t;
}

// argv NUL-separated, exe and cwd leaf first, filename NUL-terminated.
Bytes execRecord(uint16_t kind, std::string argv, std::string exe, std::string cwd, std::string filename,
                 uint32_t flags = 0) {
  vigil_exec_event ev{};
  fillHeader(ev.hdr, kind, VIGIL_EXEC_VERSION, sizeof(ev) + argv.size() + exe.size() + cwd.size() + filename.size());
  ev.task = task(4242);
  ev.exe_ino = 131077;
  ev.exe_dev = (254u << 20) | 1u;
  ev.flags = flags;
  ev.argv_len = uint32_t(argv.size());
  ev.exe_len = uint32_t(exe.size());
  ev.cwd_len = uint32_t(cwd.size());
  ev.filename_len = uint32_t(filename.size());
  Bytes out = bytesOf(ev);
  for (const std::string* part : {&argv, &exe, &cwd, &filename}) {
    append(out, *part);
  }
  return out;
}

Bytes forkRecord() {
  vigil_fork_event ev{};
  fillHeader(ev.hdr, VIGIL_EV_FORK, VIGIL_FORK_VERSION, sizeof(ev));
  ev.child = task(4243);
  ev.parent_tid = 4242;
  return bytesOf(ev);
}

Bytes exitRecord(uint32_t status) {
  vigil_exit_event ev{};
  fillHeader(ev.hdr, VIGIL_EV_EXIT, VIGIL_EXIT_VERSION, sizeof(ev));
  ev.task = task(4242);
  ev.exit_code = status;
  return bytesOf(ev);
}

// --- syscall -----------------------------------------------------------------------------

class SyscallRecord {
public:
  SyscallRecord(std::string_view name, std::vector<uint64_t> args, int64_t ret) {
    fillHeader(ev_.hdr, VIGIL_EV_SYSCALL, VIGIL_SYSCALL_VERSION, 0);
    ev_.pid = 4242;
    ev_.tid = 4245;
    ev_.exec_id = 0x1122334455667788;
    ev_.cgroup_id = 777;
    ev_.uid = 1000;
    ev_.gid = 1000;
    ev_.enter_ns = kNowNs - 1'500'000;
    ev_.ret = ret;
    ev_.nr = syscall::syscallNumber(name).value_or(0);
    for (size_t i = 0; i < args.size() && i < VIGIL_SYS_ARGS; ++i) {
      ev_.args[i] = args[i];
    }
    std::strncpy(ev_.comm, "worker", sizeof(ev_.comm));
  }
  SyscallRecord& chunk(uint8_t arg, uint8_t type, std::string_view bytes, uint16_t flags = 0, uint16_t base_len = 0) {
    vigil_sys_chunk c{};
    c.arg = arg;
    c.type = type;
    c.flags = flags;
    c.len = uint16_t(bytes.size());
    c.base_len = base_len;
    Bytes header = bytesOf(c);
    data_.insert(data_.end(), header.begin(), header.end());
    append(data_, bytes);
    return *this;
  }
  SyscallRecord& access(uint16_t access, uint16_t prefix) {
    ev_.access = access;
    ev_.prefix = prefix;
    return *this;
  }
  Bytes build() const {
    vigil_sys_event ev = ev_;
    ev.hdr.size = uint32_t(sizeof(ev) + data_.size());
    ev.data_len = uint32_t(data_.size());
    Bytes out = bytesOf(ev);
    out.insert(out.end(), data_.begin(), data_.end());
    return out;
  }

private:
  vigil_sys_event ev_{};
  Bytes data_;
};

std::string sockaddrIn(const char* ip, uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  inet_pton(AF_INET, ip, &sin.sin_addr);
  return std::string(reinterpret_cast<const char*>(&sin), sizeof(sin));
}

// --- network -----------------------------------------------------------------------------

void fillOwner(vigil_net_owner& o) {
  o.pid = 4242;
  o.tid = 4245;
  o.exec_id = 0x1122334455667788;
  o.cgroup_id = 777;
  o.uid = 1000;
  o.netns = 4026531840u;
  std::strncpy(o.comm, "curl", sizeof(o.comm));
}

void fillTuple(vigil_net_tuple& t, uint8_t protocol, const char* local, uint16_t lport, const char* remote,
               uint16_t rport) {
  t.family = std::strchr(local, ':') ? AF_INET6 : AF_INET;
  t.protocol = protocol;
  t.lport = lport;
  t.rport = rport;
  inet_pton(t.family, local, t.laddr);
  inet_pton(t.family, remote, t.raddr);
}

Bytes flowRecord(uint32_t type, uint8_t protocol, const char* local, const char* remote, int32_t error = 0) {
  vigil_net_event ev{};
  fillHeader(ev.hdr, VIGIL_EV_NET, VIGIL_NET_VERSION, sizeof(ev));
  ev.type = type;
  ev.oldstate = 2;
  ev.newstate = type == VIGIL_NET_CLOSE ? 7 : 1;
  fillOwner(ev.owner);
  fillTuple(ev.tuple, protocol, local, 41234, remote, protocol == IPPROTO_UDP ? 53 : 443);
  ev.cookie = 0xc00c1e;
  ev.start_ns = 5'000'000'000;
  ev.counters = {1200, 34000, 10, 30, 1, 250};
  ev.error = error;
  ev.flags = VIGIL_SOCK_F_OWNED | VIGIL_SOCK_F_ACTIVE;
  return bytesOf(ev);
}

// DNS wire format.
class DnsMessageBuilder {
public:
  DnsMessageBuilder& u8(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  DnsMessageBuilder& u16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
  DnsMessageBuilder& u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
  DnsMessageBuilder& header(uint16_t id, uint16_t flags, uint16_t qdcount, uint16_t ancount) {
    return u16(id).u16(flags).u16(qdcount).u16(ancount).u16(0).u16(0);
  }
  DnsMessageBuilder& name(std::string_view dotted) {
    while (!dotted.empty()) {
      const size_t dot = dotted.find('.');
      const std::string_view label = dotted.substr(0, dot);
      u8(uint8_t(label.size()));
      append(bytes_, label);
      dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
    }
    return u8(0);
  }
  DnsMessageBuilder& question(std::string_view dotted, uint16_t qtype) { return name(dotted).u16(qtype).u16(1); }
  // An RR whose owner is a compression pointer to offset (class IN).
  DnsMessageBuilder& rr(uint16_t owner, uint16_t type, uint32_t ttl, const Bytes& rdata) {
    u16(uint16_t(0xc000 | owner)).u16(type).u16(1).u32(ttl).u16(uint16_t(rdata.size()));
    bytes_.insert(bytes_.end(), rdata.begin(), rdata.end());
    return *this;
  }
  const Bytes& bytes() const { return bytes_; }
  Bytes tcp() const {
    Bytes out = {uint8_t(bytes_.size() >> 8), uint8_t(bytes_.size())};
    out.insert(out.end(), bytes_.begin(), bytes_.end());
    return out;
  }

private:
  Bytes bytes_;
};

DnsMessageBuilder dnsQuery() {
  DnsMessageBuilder b;
  b.header(0x1234, 0x0100, 1, 0).question("example.test", 28);
  return b;
}

// www.example.test -> CNAME edge.example.test -> A 192.0.2.7, AAAA 2001:db8::7.
DnsMessageBuilder dnsResponse() {
  DnsMessageBuilder b;
  b.header(0xbeef, 0x8180, 1, 3).question("www.example.test", 1);
  b.rr(12, 5, 300, DnsMessageBuilder().name("edge.example.test").bytes());
  b.rr(46, 1, 60, {192, 0, 2, 7});
  b.rr(46, 28, 60, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7});
  return b;
}

Bytes dnsRecord(const Bytes& payload, uint8_t protocol) {
  vigil_dns_event ev{};
  fillHeader(ev.hdr, VIGIL_EV_DNS, VIGIL_DNS_VERSION, sizeof(ev));
  fillOwner(ev.owner);
  fillTuple(ev.tuple, protocol, "10.0.0.5", 41234, "10.0.0.53", 53);
  ev.cookie = 0xc00c1f;
  ev.direction = VIGIL_DNS_ANSWER;
  ev.len = uint32_t(std::min(payload.size(), sizeof(ev.payload)));
  ev.wire_len = ev.len;
  if (ev.len > 0) { // an empty vector's data() may be null, which memcpy must not get
    std::memcpy(ev.payload, payload.data(), ev.len);
  }
  return bytesOf(ev);
}

// The DNS target's input: a transport byte (1: TCP), then the payload.
Bytes dnsInput(bool tcp, const Bytes& payload) {
  Bytes out = {uint8_t(tcp ? 1 : 0)};
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes suppressedRecord(uint32_t kind) {
  vigil_suppressed_event ev{};
  fillHeader(ev.hdr, VIGIL_EV_SUPPRESSED, VIGIL_SUPPRESSED_VERSION, sizeof(ev));
  ev.cgroup_id = 777;
  ev.count = 1500;
  ev.first_ns = kNowNs - 1'000'000'000;
  ev.kind = kind;
  return bytesOf(ev);
}

// --- writing -----------------------------------------------------------------------------

struct Seed {
  std::string target; // the fuzz target's directory
  std::string name;
  Bytes bytes;
  std::function<Status(const Bytes&)> check; // decodes it
};

template <class T> Status toStatus(const Result<T>& result) {
  if (!result.ok()) {
    return result.error();
  }
  return okStatus();
}

std::vector<Seed> seeds() {
  auto process = [](const Bytes& b) {
    static const process::Decoder decoder(kClock);
    Event e;
    return toStatus(decoder.decode(b, e));
  };
  auto syscall = [](const Bytes& b) {
    static const syscall::Decoder decoder(kClock, {{"/etc", 3}, {"/home", 2}, {"/var/run/secrets", 1}});
    Event e;
    return decoder.decode(b, e);
  };
  auto network = [](const Bytes& b) {
    static const network::Decoder decoder(kClock);
    Event e;
    return toStatus(decoder.decode(b, e));
  };
  auto dns = [](const Bytes& b) { return toStatus(network::parseDns({b.data() + 1, b.size() - 1}, b[0] & 1)); };
  auto suppressed = [](const Bytes& b) {
    Event e;
    return runtime::decodeSuppressed(kClock, b, e);
  };

  return {
      {"process", "exec", execRecord(VIGIL_EV_EXEC, "sh\0-c\0echo 'h\xc3\xa9llo'\0"s, "dash\0bin\0usr\0"s, "tmp\0"s,
                                     "/bin/sh\0"s),
       process},
      {"process", "exec-truncated",
       execRecord(VIGIL_EV_EXEC, "python3\0-c\0import o"s, "python3.11\0bin\0usr\0"s, "x\0"s, "/usr/bin/python3\0"s,
                  VIGIL_EXEC_F_ARGV_TRUNC | VIGIL_EXEC_F_CWD_TRUNC),
       process},
      {"process", "snapshot", execRecord(VIGIL_EV_SNAPSHOT, "/sbin/init\0"s, "systemd\0systemd\0lib\0usr\0"s, ""s, ""s),
       process},
      {"process", "kthread", execRecord(VIGIL_EV_SNAPSHOT, ""s, ""s, ""s, ""s, VIGIL_EXEC_F_NO_EXE), process},
      {"process", "fork", forkRecord(), process},
      {"process", "exit-code", exitRecord(3 << 8), process},
      {"process", "exit-signal", exitRecord(SIGSEGV | 0x80), process},

      {"syscall", "openat",
       SyscallRecord("openat", {uint64_t(int64_t(AT_FDCWD)), 0x1000, O_WRONLY | O_CREAT, 0644}, 3)
           .chunk(1, VIGIL_ARG_PATH, "/home/u/notes.txt\0"s, VIGIL_CHUNK_F_RELATIVE, 8)
           .chunk(VIGIL_CHUNK_RESOLVED, VIGIL_ARG_PATH, "/data/u/notes.txt\0"s)
           .access(VIGIL_ACCESS_WRITE, 2)
           .build(),
       syscall},
      {"syscall", "unlink-fault",
       SyscallRecord("unlink", {0x2000}, -2).chunk(0, VIGIL_ARG_PATH, "", VIGIL_CHUNK_F_FAULT).build(), syscall},
      {"syscall", "connect",
       SyscallRecord("connect", {3, 0x3000, 16}, -111).chunk(1, VIGIL_ARG_SOCKADDR, sockaddrIn("10.0.0.1", 8080)).build(),
       syscall},
      {"syscall", "kill", SyscallRecord("kill", {1, SIGTERM}, 0).build(), syscall},
      {"syscall", "getppid", SyscallRecord("getppid", {}, 1).build(), syscall},

      {"network", "connect-v4", flowRecord(VIGIL_NET_CONNECT, IPPROTO_TCP, "10.0.0.5", "93.184.216.34"), network},
      {"network", "close-v6", flowRecord(VIGIL_NET_CLOSE, IPPROTO_TCP, "2001:db8::5", "2001:db8::1"), network},
      {"network", "connect-fail",
       flowRecord(VIGIL_NET_CONNECT_FAIL, IPPROTO_TCP, "10.0.0.5", "10.0.0.9", ECONNREFUSED), network},
      {"network", "udp", flowRecord(VIGIL_NET_UDP, IPPROTO_UDP, "10.0.0.5", "10.0.0.53"), network},
      {"network", "dns-query", dnsRecord(dnsQuery().bytes(), IPPROTO_UDP), network},
      {"network", "dns-response", dnsRecord(dnsResponse().bytes(), IPPROTO_UDP), network},
      {"network", "dns-tcp", dnsRecord(dnsResponse().tcp(), IPPROTO_TCP), network},

      {"dns", "query", dnsInput(false, dnsQuery().bytes()), dns},
      {"dns", "response", dnsInput(false, dnsResponse().bytes()), dns},
      {"dns", "response-tcp", dnsInput(true, dnsResponse().tcp()), dns},

      {"suppressed", "syscall", suppressedRecord(VIGIL_EV_SYSCALL), suppressed},
      {"suppressed", "dns", suppressedRecord(VIGIL_EV_DNS), suppressed},
  };
}

} // namespace
} // namespace vigil::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  int bad = 0;
  int written = 0;
  for (const auto& seed : vigil::fuzz::seeds()) {
    if (auto st = seed.check(seed.bytes); !st.ok()) {
      std::fprintf(stderr, "seed %s/%s does not decode: %s\n", seed.target.c_str(), seed.name.c_str(),
                   st.error().message().c_str());
      ++bad;
      continue;
    }
    std::filesystem::create_directories(out / seed.target);
    std::ofstream file(out / seed.target / seed.name, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(seed.bytes.data()), std::streamsize(seed.bytes.size()));
    if (!file) {
      std::fprintf(stderr, "cannot write %s\n", (out / seed.target / seed.name).c_str());
      return 1;
    }
    ++written;
  }
  std::printf("vigil_fuzz_seeds: %d seeds in %s\n", written, out.c_str());
  return bad == 0 ? 0 : 1;
}
