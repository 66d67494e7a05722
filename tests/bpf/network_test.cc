// Network flow and DNS capture against the real kernel: real BPF programs in
// an in-process agent, real connections made by forked children (the agent
// never reports its own process's sockets), every flow field checked: TCP
// connect/accept/close with exact payload byte counts, refused connects,
// IPv6, UDP per (socket, peer), two hosts in network namespaces over a veth
// pair, DNS queries and answers over UDP and TCP with the answered name on
// the following connection, interim updates of live flows, connections of a
// listener from before the agent (no owner), and the agent's own sockets
// hidden.
//
// Children run only async-signal-safe code (raw socket calls, static
// buffers, no gtest); what only they can learn (ports the kernel picked,
// local addresses, DNS replies) goes through a shared page. A child exits
// with 0, or with the number of the step that failed (its errno is kept in
// the shared page).

#include "collectors/network/network_collector.h"
#include "collectors/runtime/counters.h"
#include "collectors/runtime/bpf_env.h"
#include "support/agent_harness.h"
#include "support/cgroup.h"
#include "support/spawn.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <sched.h>
#include <set>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace vigil::test {
namespace {

using ::testing::IsEmpty;
using v1::Dns;
using v1::NetworkFlow;

constexpr auto kEventWait = std::chrono::seconds(10);

// ---- the children -----------------------------------------------------------

constexpr int kSteps = 128;
constexpr int kDnsSlots = 4;
constexpr size_t kDnsMax = 512;

// What the children report to the test.
struct Shared {
  uint16_t server_port; // the TCP listener's
  uint16_t client_port; // the TCP client's local port
  sockaddr_storage client_local; // the TCP client's local address
  uint16_t udp_port[4]; // UDP sockets' local ports
  sockaddr_storage dns_local[kDnsSlots]; // each DNS client socket's local address
  uint8_t dns_reply[kDnsSlots][kDnsMax]; // each DNS reply (TCP: without the length)
  uint32_t dns_reply_len[kDnsSlots];
  int step_errno[kSteps]; // errno when a step failed
};

Shared& shared() {
  static Shared* s = [] {
    void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw std::runtime_error("mmap");
    }
    return static_cast<Shared*>(p);
  }();
  return *s;
}

// In a child: records errno for step and returns step (the exit status).
int fail(int step) {
  shared().step_errno[step % kSteps] = errno;
  return step;
}

using Body = std::function<int()>;

// Forks a child named comm that runs body and exits with its result.
pid_t forkChild(const char* comm, const Body& body) {
  pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    prctl(PR_SET_NAME, comm, 0, 0, 0);
    _exit(body());
  }
  return pid;
}

// Waits for a child, killing it after timeout; its raw wait status.
int waitChild(pid_t pid, std::chrono::seconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) {
      return status;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return status;
    }
    usleep(5000);
  }
}

void expectChildOk(pid_t pid, std::string_view role) {
  int status = waitChild(pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return;
  }
  if (WIFEXITED(status)) {
    int step = WEXITSTATUS(status);
    ADD_FAILURE() << role << " child " << pid << " failed at step " << step << ": "
                  << strerror(shared().step_errno[step % kSteps]);
  } else {
    ADD_FAILURE() << role << " child " << pid << " killed (status " << status << ")";
  }
}

// A pipe; O_CLOEXEC so exec'ed programs do not keep it.
class Pipe {
public:
  Pipe() {
    if (pipe2(fds_, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2");
    }
  }
  ~Pipe() {
    closeRead();
    closeWrite();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  // Child side: one byte to the reader.
  void notify() const {
    char c = 'x';
    (void)!write(fds_[1], &c, 1);
  }
  // Parent side: waits for a byte.
  bool wait(std::chrono::milliseconds timeout = kEventWait) const {
    pollfd p{fds_[0], POLLIN, 0};
    char c;
    return poll(&p, 1, int(timeout.count())) == 1 && read(fds_[0], &c, 1) == 1;
  }
  // Child side of a hold: drops its copy of the write end, then blocks
  // until every other copy is closed (the parent's release()).
  void holdInChild() const {
    close(fds_[1]);
    char c;
    while (read(fds_[0], &c, 1) > 0) {
    }
  }
  void release() { closeWrite(); }

private:
  void closeRead() {
    if (fds_[0] >= 0) {
      close(fds_[0]);
      fds_[0] = -1;
    }
  }
  void closeWrite() {
    if (fds_[1] >= 0) {
      close(fds_[1]);
      fds_[1] = -1;
    }
  }
  int fds_[2] = {-1, -1};
};

char g_buf[16384]; // children's I/O buffer

// Timeouts on every child socket, so a missing peer fails a step instead of
// hanging the test.
void setTimeouts(int fd) {
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool sendAll(int fd, size_t n) {
  memset(g_buf, 'v', sizeof(g_buf));
  while (n > 0) {
    ssize_t r = send(fd, g_buf, n < sizeof(g_buf) ? n : sizeof(g_buf), MSG_NOSIGNAL);
    if (r <= 0) {
      return false;
    }
    n -= size_t(r);
  }
  return true;
}

bool recvAll(int fd, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, g_buf, n < sizeof(g_buf) ? n : sizeof(g_buf), 0);
    if (r <= 0) {
      return false;
    }
    n -= size_t(r);
  }
  return true;
}

// Reads until the peer's FIN (so the peer closes first).
bool recvEof(int fd) {
  for (;;) {
    ssize_t r = recv(fd, g_buf, sizeof(g_buf), 0);
    if (r == 0) {
      return true;
    }
    if (r < 0) {
      return false;
    }
  }
}

uint16_t portOf(const sockaddr_storage& a) {
  return ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(a).sin6_port
                                       : reinterpret_cast<const sockaddr_in&>(a).sin_port);
}

bool localAddress(int fd, sockaddr_storage& out) {
  socklen_t len = sizeof(out);
  return getsockname(fd, reinterpret_cast<sockaddr*>(&out), &len) == 0;
}

uint16_t localPort(int fd) {
  sockaddr_storage a{};
  return localAddress(fd, a) ? portOf(a) : 0;
}

// Joins the network namespace at path (a child's first step).
int enterNetns(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  int r = setns(fd, CLONE_NEWNET);
  close(fd);
  return r;
}

// ---- addresses (parent side) --------------------------------------------------

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

SockAddr makeAddr(const std::string& text, uint16_t port) {
  SockAddr a;
  if (text.find(':') != std::string::npos) {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(a.storage);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    if (inet_pton(AF_INET6, text.c_str(), &in6.sin6_addr) != 1) {
      throw std::runtime_error("bad address " + text);
    }
    a.len = sizeof(in6);
  } else {
    auto& in = reinterpret_cast<sockaddr_in&>(a.storage);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    if (inet_pton(AF_INET, text.c_str(), &in.sin_addr) != 1) {
      throw std::runtime_error("bad address " + text);
    }
    a.len = sizeof(in);
  }
  return a;
}

std::string addressText(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof(buf));
  } else if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof(buf));
  }
  return buf;
}

uint32_t inodeOf(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? uint32_t(st.st_ino) : 0;
}

uint32_t hostNetns() { return inodeOf("/proc/self/ns/net"); }

std::string netnsPath(const std::string& name) { return "/var/run/netns/" + name; }

// ---- DNS messages -------------------------------------------------------------

constexpr uint16_t kTypeA = 1;

// A standard query (RD set) for name, type A, class IN.
std::vector<uint8_t> dnsQuery(uint16_t id, const std::string& name) {
  std::vector<uint8_t> m = {uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) {
      dot = name.size();
    }
    m.push_back(uint8_t(dot - start));
    m.insert(m.end(), name.begin() + long(start), name.begin() + long(dot));
    start = dot + 1;
  }
  m.push_back(0);
  m.insert(m.end(), {0, uint8_t(kTypeA), 0, 1});
  return m;
}

// In a child: a socket of type connected to server, with its local address
// in slot; 0 or a step (step .. step + 2).
int connectDnsSocket(const SockAddr& server, int type, int slot, int step, int& fd) {
  fd = socket(server.storage.ss_family, type, 0);
  if (fd < 0) {
    return fail(step);
  }
  setTimeouts(fd);
  if (connect(fd, server.get(), server.len) != 0) {
    return fail(step + 1);
  }
  if (!localAddress(fd, shared().dns_local[slot])) {
    return fail(step + 2);
  }
  return 0;
}

// In a child: one query over UDP (connected socket) into slot; 0 or a step.
int udpDnsExchange(const SockAddr& server, const std::vector<uint8_t>& query, int slot, int step) {
  int fd = -1;
  if (int st = connectDnsSocket(server, SOCK_DGRAM, slot, step, fd); st != 0) {
    return st;
  }
  if (send(fd, query.data(), query.size(), 0) != ssize_t(query.size())) {
    return fail(step + 3);
  }
  ssize_t r = recv(fd, shared().dns_reply[slot], kDnsMax, 0);
  if (r < 12) {
    return fail(step + 4);
  }
  shared().dns_reply_len[slot] = uint32_t(r);
  close(fd);
  return 0;
}

// In a child: one query over TCP (length prefix and message in one send).
int tcpDnsExchange(const SockAddr& server, const std::vector<uint8_t>& query, int slot, int step) {
  int fd = -1;
  if (int st = connectDnsSocket(server, SOCK_STREAM, slot, step, fd); st != 0) {
    return st;
  }
  static uint8_t msg[kDnsMax + 2];
  msg[0] = uint8_t(query.size() >> 8);
  msg[1] = uint8_t(query.size());
  memcpy(msg + 2, query.data(), query.size());
  if (send(fd, msg, query.size() + 2, MSG_NOSIGNAL) != ssize_t(query.size() + 2)) {
    return fail(step + 3);
  }
  uint8_t len[2];
  if (recv(fd, len, 2, MSG_WAITALL) != 2) {
    return fail(step + 4);
  }
  size_t n = size_t(len[0]) << 8 | len[1];
  if (n < 12 || n > kDnsMax || recv(fd, shared().dns_reply[slot], n, MSG_WAITALL) != ssize_t(n)) {
    return fail(step + 5);
  }
  shared().dns_reply_len[slot] = uint32_t(n);
  close(fd);
  return 0;
}

uint16_t replyId(int slot) { return uint16_t(shared().dns_reply[slot][0] << 8 | shared().dns_reply[slot][1]); }
int replyRcode(int slot) { return shared().dns_reply[slot][3] & 0xf; }

// ---- a TCP exchange -------------------------------------------------------------

// A server child accepts one connection and a client child connects to it;
// the client sends to_server bytes, the server reads them all and sends
// to_client bytes, the client reads them all and closes first, the server
// closes on the client's FIN. Deterministic on both sides: the client ends
// FIN_WAIT2 -> CLOSE, the server LAST_ACK -> CLOSE.
struct TcpPlan {
  std::string server_address = "127.0.0.1";
  std::string server_netns; // a name under /var/run/netns; empty: the test's
  std::string client_netns;
  size_t to_server = 5000;
  size_t to_client = 3000;
  Body before_connect; // runs first in the client child: 0 or a failed step
  Pipe* hold = nullptr; // both sides wait for its release before closing
  const char* server_comm = "vigil-t-server";
  const char* client_comm = "vigil-t-client";
};

struct TcpRun {
  pid_t server = -1;
  pid_t client = -1;
  uint16_t server_port = 0;
};

// Starts the server child; returns once it listens.
TcpRun startTcpServer(const TcpPlan& plan) {
  TcpRun run;
  const std::string server_ns = plan.server_netns.empty() ? "" : netnsPath(plan.server_netns);
  const SockAddr bind_addr = makeAddr(plan.server_address, 0);
  Pipe ready;
  run.server = forkChild(plan.server_comm, [&]() -> int {
    if (!server_ns.empty() && enterNetns(server_ns.c_str()) != 0) {
      return fail(10);
    }
    int l = socket(bind_addr.storage.ss_family, SOCK_STREAM, 0);
    if (l < 0) {
      return fail(11);
    }
    setTimeouts(l);
    if (bind(l, bind_addr.get(), bind_addr.len) != 0) {
      return fail(12);
    }
    if (listen(l, 4) != 0) {
      return fail(13);
    }
    shared().server_port = localPort(l);
    ready.notify();
    int s = accept(l, nullptr, nullptr);
    if (s < 0) {
      return fail(14);
    }
    close(l);
    setTimeouts(s);
    if (!recvAll(s, plan.to_server)) {
      return fail(15);
    }
    if (!sendAll(s, plan.to_client)) {
      return fail(16);
    }
    if (plan.hold) {
      plan.hold->holdInChild();
    }
    if (!recvEof(s)) {
      return fail(17);
    }
    close(s);
    return 0;
  });
  if (!ready.wait()) {
    ADD_FAILURE() << "the server child never listened";
    return run;
  }
  run.server_port = shared().server_port;
  return run;
}

// Starts the client child against run's server.
void startTcpClient(const TcpPlan& plan, TcpRun& run) {
  if (run.server_port == 0) {
    return;
  }
  const std::string client_ns = plan.client_netns.empty() ? "" : netnsPath(plan.client_netns);
  const SockAddr server = makeAddr(plan.server_address, run.server_port);
  run.client = forkChild(plan.client_comm, [&]() -> int {
    if (!client_ns.empty() && enterNetns(client_ns.c_str()) != 0) {
      return fail(20);
    }
    if (plan.before_connect) {
      if (int step = plan.before_connect(); step != 0) {
        return step;
      }
    }
    int c = socket(server.storage.ss_family, SOCK_STREAM, 0);
    if (c < 0) {
      return fail(21);
    }
    setTimeouts(c);
    if (connect(c, server.get(), server.len) != 0) {
      return fail(22);
    }
    if (!localAddress(c, shared().client_local)) {
      return fail(23);
    }
    shared().client_port = portOf(shared().client_local);
    if (!sendAll(c, plan.to_server)) {
      return fail(24);
    }
    if (!recvAll(c, plan.to_client)) {
      return fail(25);
    }
    if (plan.hold) {
      plan.hold->holdInChild();
    }
    close(c);
    return 0;
  });
}

// Starts both children (the server is listening before the client starts).
TcpRun startTcp(const TcpPlan& plan) {
  TcpRun run = startTcpServer(plan);
  startTcpClient(plan, run);
  return run;
}

// Runs the exchange to the end (a child that fails fails the test).
TcpRun runTcp(const TcpPlan& plan) {
  TcpRun run = startTcp(plan);
  if (run.client > 0) {
    expectChildOk(run.client, "client");
  }
  expectChildOk(run.server, "server");
  return run;
}

// ---- events -----------------------------------------------------------------------

bool isFlow(const Event& e, pid_t pid, v1::FlowKind kind) {
  return e.has_flow() && e.flow().process().pid() == uint32_t(pid) && e.flow().kind() == kind;
}

// Flow events of pid that have arrived (of kind, when given), in order.
std::vector<NetworkFlow> flowsOf(CaptureSink& sink, pid_t pid,
                                 std::optional<v1::FlowKind> kind = std::nullopt) {
  std::vector<NetworkFlow> out;
  for (const auto& e : sink.snapshot()) {
    if (e.has_flow() && e.flow().process().pid() == uint32_t(pid) && (!kind || e.flow().kind() == *kind)) {
      out.push_back(e.flow());
    }
  }
  return out;
}

std::vector<Dns> dnsOf(CaptureSink& sink, pid_t pid) {
  std::vector<Dns> out;
  for (const auto& e : sink.snapshot()) {
    if (e.has_dns() && e.dns().process().pid() == uint32_t(pid)) {
      out.push_back(e.dns());
    }
  }
  return out;
}

std::optional<Event> waitFlow(AgentHarness& h, pid_t pid, v1::FlowKind kind,
                              const std::function<bool(const NetworkFlow&)>& also = nullptr) {
  return h.sink().waitFor(
      [&](const Event& e) { return isFlow(e, pid, kind) && (!also || also(e.flow())); }, kEventWait);
}

std::optional<Event> waitDns(AgentHarness& h, pid_t pid, uint16_t id, bool response) {
  return h.sink().waitFor(
      [&](const Event& e) {
        return e.has_dns() && e.dns().process().pid() == uint32_t(pid) && e.dns().id() == id &&
               e.dns().response() == response;
      },
      kEventWait);
}

int64_t nanos(const google::protobuf::Duration& d) { return d.seconds() * 1000000000LL + d.nanos(); }

void expectEndpoint(const v1::Endpoint& e, const std::string& address, uint32_t port, std::string_view what) {
  EXPECT_EQ(e.address(), address) << what;
  EXPECT_EQ(e.port(), port) << what;
}

// Who owns a flow: the process as it was at the socket call.
void expectOwner(const v1::Process& p, pid_t pid, const char* comm, uint32_t netns) {
  EXPECT_EQ(p.pid(), uint32_t(pid));
  EXPECT_EQ(p.tid(), uint32_t(pid));
  EXPECT_EQ(p.comm(), comm);
  EXPECT_EQ(p.creds().uid(), 0u);
  EXPECT_NE(p.cgroup_id(), 0u);
  EXPECT_EQ(p.ns().net(), netns);
}

struct Side {
  pid_t pid;
  const char* comm;
  std::string local_address;
  uint32_t local_port;
  std::string remote_address;
  uint32_t remote_port;
  uint32_t netns;
};

// A CONNECT or ACCEPT: the tuple, the owner, no counters yet.
void expectOpen(const NetworkFlow& f, v1::FlowKind kind, const Side& s, const std::string& family) {
  SCOPED_TRACE(fmt::format("{} of pid {}", v1::FlowKind_Name(kind), s.pid));
  EXPECT_EQ(f.kind(), kind);
  expectOwner(f.process(), s.pid, s.comm, s.netns);
  EXPECT_FALSE(f.owner_unknown());
  EXPECT_EQ(f.protocol(), "TCP");
  EXPECT_EQ(f.family(), family);
  expectEndpoint(f.local(), s.local_address, s.local_port, "local");
  expectEndpoint(f.remote(), s.remote_address, s.remote_port, "remote");
  EXPECT_EQ(f.direction(), kind == v1::FLOW_CONNECT ? "outbound" : "inbound");
  EXPECT_EQ(f.state(), "ESTABLISHED");
  EXPECT_EQ(f.old_state(), kind == v1::FLOW_CONNECT ? "SYN_SENT" : "SYN_RECV");
  EXPECT_EQ(f.bytes_sent(), 0u);
  EXPECT_EQ(f.bytes_received(), 0u);
  EXPECT_EQ(f.error(), "");
  EXPECT_EQ(f.failure(), "");
  EXPECT_NE(f.socket_cookie(), 0u);
  EXPECT_EQ(f.netns(), s.netns);
}

// A CLOSE: the same socket and tuple as its open, the final counters.
void expectClose(const NetworkFlow& f, const NetworkFlow& open, const Side& s, uint64_t sent, uint64_t received,
                 const std::string& old_state) {
  SCOPED_TRACE(fmt::format("FLOW_CLOSE of pid {}", s.pid));
  EXPECT_EQ(f.kind(), v1::FLOW_CLOSE);
  expectOwner(f.process(), s.pid, s.comm, s.netns);
  EXPECT_EQ(f.protocol(), "TCP");
  EXPECT_EQ(f.family(), open.family());
  expectEndpoint(f.local(), s.local_address, s.local_port, "local");
  expectEndpoint(f.remote(), s.remote_address, s.remote_port, "remote");
  EXPECT_EQ(f.direction(), open.direction());
  EXPECT_EQ(f.socket_cookie(), open.socket_cookie());
  EXPECT_EQ(f.bytes_sent(), sent);
  EXPECT_EQ(f.bytes_received(), received);
  EXPECT_GT(f.packets_sent(), 0u);
  EXPECT_GT(f.packets_received(), 0u);
  EXPECT_EQ(f.retransmits(), 0u); // loopback and veth do not lose segments
  EXPECT_GT(f.srtt_us(), 0u);
  EXPECT_GT(nanos(f.duration()), 0);
  EXPECT_LT(nanos(f.duration()), 60'000'000'000LL);
  EXPECT_EQ(f.state(), "CLOSE");
  EXPECT_EQ(f.old_state(), old_state);
  EXPECT_EQ(f.error(), "");
  EXPECT_EQ(f.netns(), s.netns);
}

// Both sides of a finished runTcp: CONNECT and CLOSE of the client, ACCEPT
// and CLOSE of the server, one each, with the exact payload byte counts.
struct TcpFlows {
  NetworkFlow connect, client_close, accept, server_close;
};

TcpFlows expectTcpFlows(AgentHarness& h, const TcpPlan& plan, const TcpRun& run, uint32_t client_netns,
                        uint32_t server_netns) {
  TcpFlows out;
  const std::string client_address = addressText(shared().client_local);
  const uint32_t client_port = shared().client_port;
  const std::string family = shared().client_local.ss_family == AF_INET6 ? "AF_INET6" : "AF_INET";
  const Side client{run.client,  plan.client_comm, client_address, client_port, plan.server_address,
                    run.server_port, client_netns};
  const Side server{run.server,     plan.server_comm, plan.server_address, run.server_port, client_address,
                    client_port, server_netns};
  auto client_close = waitFlow(h, run.client, v1::FLOW_CLOSE,
                               [&](const NetworkFlow& f) { return f.remote().port() == run.server_port; });
  auto server_close = waitFlow(h, run.server, v1::FLOW_CLOSE);
  EXPECT_TRUE(client_close) << "no FLOW_CLOSE from the client";
  EXPECT_TRUE(server_close) << "no FLOW_CLOSE from the server";

  auto connects = flowsOf(h.sink(), run.client, v1::FLOW_CONNECT);
  auto accepts = flowsOf(h.sink(), run.server, v1::FLOW_ACCEPT);
  // The client may have made other connections first (DNS over TCP).
  std::erase_if(connects, [&](const NetworkFlow& f) { return f.remote().port() != run.server_port; });
  EXPECT_EQ(connects.size(), 1u) << "FLOW_CONNECT events of the client";
  EXPECT_EQ(accepts.size(), 1u) << "FLOW_ACCEPT events of the server";
  EXPECT_THAT(flowsOf(h.sink(), run.server, v1::FLOW_CONNECT), IsEmpty()) << "the server connected";
  EXPECT_THAT(flowsOf(h.sink(), run.client, v1::FLOW_ACCEPT), IsEmpty()) << "the client accepted";
  if (connects.empty() || accepts.empty() || !client_close || !server_close) {
    return out;
  }
  out = {connects[0], client_close->flow(), accepts[0], server_close->flow()};
  expectOpen(out.connect, v1::FLOW_CONNECT, client, family);
  expectOpen(out.accept, v1::FLOW_ACCEPT, server, family);
  EXPECT_NE(out.connect.socket_cookie(), out.accept.socket_cookie());
  expectClose(out.client_close, out.connect, client, plan.to_server, plan.to_client, "FIN_WAIT2");
  expectClose(out.server_close, out.accept, server, plan.to_client, plan.to_server, "LAST_ACK");
  // One CLOSE per side.
  auto closes = flowsOf(h.sink(), run.client, v1::FLOW_CLOSE);
  std::erase_if(closes, [&](const NetworkFlow& f) { return f.remote().port() != run.server_port; });
  EXPECT_EQ(closes.size(), 1u) << "FLOW_CLOSE events of the client";
  EXPECT_EQ(flowsOf(h.sink(), run.server, v1::FLOW_CLOSE).size(), 1u) << "FLOW_CLOSE events of the server";
  return out;
}

// ---- the fixture ----------------------------------------------------------------

class NetworkTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!isRoot()) {
      GTEST_SKIP() << "needs root: loads BPF programs into the kernel and creates network namespaces";
    }
    memset(&shared(), 0, sizeof(Shared));
  }

  // Network capture only; interim updates off unless asked for, so every
  // flow is reported exactly at its end.
  static AgentConfig config(uint32_t flow_update_seconds = 0) {
    AgentConfig c;
    c.stats_interval_seconds = 0;
    c.syscalls.enabled = false;
    c.network.enabled = true;
    c.network.dns = true;
    c.network.flow_update_seconds = flow_update_seconds;
    // The process and syscall suites cover the inline and threads modes.
    c.pipeline.mode = AgentConfig::Pipeline::Mode::kInline;
    return c;
  }

  // No flow or DNS record was lost or failed in the kernel, none was
  // malformed, and the iterator never failed.
  static void expectNoLoss(AgentHarness& h) {
    h.stop();
    auto counters = h.agent().runtime().kernelCounters();
    ASSERT_TRUE(counters) << counters.error().message();
    EXPECT_EQ((*counters)[VIGIL_CNT_RB_FULL_NET], 0u);
    EXPECT_EQ((*counters)[VIGIL_CNT_RB_FULL_DNS], 0u);
    EXPECT_EQ((*counters)[VIGIL_CNT_NET_STORAGE_FAIL], 0u);
    EXPECT_EQ((*counters)[VIGIL_CNT_NET_ITER_WRITE_FAIL], 0u);
    ASSERT_NE(h.agent().collector<network::NetworkCollector>("network"), nullptr);
    EXPECT_EQ(h.agent().collector<network::NetworkCollector>("network")->stats().decode_errors.load(), 0u);
    EXPECT_EQ(h.agent().collector<network::NetworkCollector>("network")->stats().iterator_errors.load(), 0u);
  }
};

// ---- TCP ------------------------------------------------------------------------------

TEST_F(NetworkTest, TcpLoopbackIpv4ConnectAcceptClose) {
  AgentHarness h(config());
  TcpPlan plan;
  TcpRun run = runTcp(plan);
  ASSERT_FALSE(HasFailure());
  expectTcpFlows(h, plan, run, hostNetns(), hostNetns());
  EXPECT_EQ(addressText(shared().client_local), "127.0.0.1");
  // Nothing but these two flows (the listener itself is no flow).
  EXPECT_EQ(flowsOf(h.sink(), run.client).size(), 2u);
  EXPECT_EQ(flowsOf(h.sink(), run.server).size(), 2u);
  expectNoLoss(h);
}

TEST_F(NetworkTest, TcpLoopbackIpv6) {
  AgentHarness h(config());
  TcpPlan plan;
  plan.server_address = "::1";
  plan.to_server = 7000;
  plan.to_client = 1234;
  TcpRun run = runTcp(plan);
  ASSERT_FALSE(HasFailure());
  TcpFlows flows = expectTcpFlows(h, plan, run, hostNetns(), hostNetns());
  EXPECT_EQ(addressText(shared().client_local), "::1");
  EXPECT_EQ(flows.connect.family(), "AF_INET6");
  EXPECT_EQ(flows.accept.family(), "AF_INET6");
  EXPECT_EQ(flows.connect.remote().address(), "::1");
  EXPECT_EQ(flows.accept.local().address(), "::1");
  expectNoLoss(h);
}

// Twice: from a port the kernel picks on connect, and from a port bound
// explicitly beforehand.
TEST_F(NetworkTest, RefusedConnectIsConnectFailed) {
  AgentHarness h(config());
  const SockAddr any = makeAddr("127.0.0.1", 0);
  pid_t pid = forkChild("vigil-t-refused", [&]() -> int {
    // A port that was just bound and released: nothing listens there.
    int b = socket(AF_INET, SOCK_STREAM, 0);
    if (b < 0 || bind(b, any.get(), any.len) != 0) {
      return fail(30);
    }
    shared().server_port = localPort(b);
    close(b);
    SockAddr closed = any;
    reinterpret_cast<sockaddr_in&>(closed.storage).sin_port = htons(shared().server_port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0) {
      return fail(31);
    }
    setTimeouts(c);
    if (connect(c, closed.get(), closed.len) == 0 || errno != ECONNREFUSED) {
      return fail(32);
    }
    close(c);
    // A free port, then bound by number.
    b = socket(AF_INET, SOCK_STREAM, 0);
    if (b < 0 || bind(b, any.get(), any.len) != 0) {
      return fail(33);
    }
    shared().client_port = localPort(b);
    close(b);
    SockAddr local = any;
    reinterpret_cast<sockaddr_in&>(local.storage).sin_port = htons(shared().client_port);
    c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || bind(c, local.get(), local.len) != 0) {
      return fail(34);
    }
    setTimeouts(c);
    if (connect(c, closed.get(), closed.len) == 0 || errno != ECONNREFUSED) {
      return fail(35);
    }
    close(c);
    return 0;
  });
  expectChildOk(pid, "refused connect");
  ASSERT_FALSE(HasFailure());
  const uint32_t port = shared().server_port, bound_port = shared().client_port;
  // The exit follows the connects in the ring buffer: nothing else comes.
  ASSERT_TRUE(h.sink().waitFor(
      [pid](const Event& e) { return e.has_exit() && e.exit().process().pid() == uint32_t(pid); }, kEventWait))
      << "no exit event for the child";
  auto all = flowsOf(h.sink(), pid);
  ASSERT_EQ(all.size(), 2u) << "a refused connect is one FLOW_CONNECT_FAILED and nothing else";
  for (const NetworkFlow& f : all) {
    SCOPED_TRACE(f.ShortDebugString());
    EXPECT_EQ(f.kind(), v1::FLOW_CONNECT_FAILED);
    expectOwner(f.process(), pid, "vigil-t-refused", hostNetns());
    EXPECT_FALSE(f.owner_unknown());
    EXPECT_EQ(f.protocol(), "TCP");
    EXPECT_EQ(f.family(), "AF_INET");
    EXPECT_EQ(f.local().address(), "127.0.0.1");
    expectEndpoint(f.remote(), "127.0.0.1", port, "remote");
    EXPECT_EQ(f.direction(), "outbound");
    EXPECT_EQ(f.error(), "ECONNREFUSED");
    EXPECT_EQ(f.failure(), "refused");
    EXPECT_EQ(f.state(), "CLOSE");
    EXPECT_EQ(f.old_state(), "SYN_SENT");
    EXPECT_EQ(f.bytes_sent(), 0u);
    EXPECT_EQ(f.bytes_received(), 0u);
    EXPECT_GE(nanos(f.duration()), 0);
    EXPECT_LT(nanos(f.duration()), 10'000'000'000LL);
    EXPECT_NE(f.socket_cookie(), 0u);
    EXPECT_EQ(f.netns(), hostNetns());
  }
  // The SYN left from a real port, whoever chose it.
  EXPECT_NE(all[0].local().port(), 0u) << "ephemeral source port of the failed connect";
  EXPECT_EQ(all[1].local().port(), bound_port) << "bound source port of the failed connect";
  EXPECT_NE(all[0].socket_cookie(), all[1].socket_cookie());
  expectNoLoss(h);
}

// ---- UDP --------------------------------------------------------------------------------

const size_t kDatagrams[] = {1, 100, 512, 1400, 9000};
constexpr size_t kDatagramCount = std::size(kDatagrams);
constexpr size_t kDatagramBytes = 1 + 100 + 512 + 1400 + 9000;

TEST_F(NetworkTest, UdpCountsBothSidesPerSocket) {
  AgentHarness h(config());
  const SockAddr any = makeAddr("127.0.0.1", 0);
  Pipe ready;
  pid_t receiver = forkChild("vigil-t-udprecv", [&]() -> int {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || bind(s, any.get(), any.len) != 0) {
      return fail(40);
    }
    setTimeouts(s);
    shared().udp_port[0] = localPort(s);
    ready.notify();
    for (size_t i = 0; i < kDatagramCount; ++i) {
      if (recv(s, g_buf, sizeof(g_buf), 0) != ssize_t(kDatagrams[i])) {
        return fail(41);
      }
    }
    close(s);
    return 0;
  });
  ASSERT_TRUE(ready.wait()) << "the receiver never bound";
  const uint16_t receiver_port = shared().udp_port[0];
  const SockAddr to = makeAddr("127.0.0.1", receiver_port);
  pid_t sender = forkChild("vigil-t-udpsend", [&]() -> int {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) {
      return fail(42);
    }
    for (size_t i = 0; i < kDatagramCount; ++i) {
      if (sendto(s, g_buf, kDatagrams[i], 0, to.get(), to.len) != ssize_t(kDatagrams[i])) {
        return fail(43);
      }
      if (i == 0) {
        shared().udp_port[1] = localPort(s); // bound by the first send
      }
    }
    close(s);
    return 0;
  });
  expectChildOk(sender, "sender");
  expectChildOk(receiver, "receiver");
  ASSERT_FALSE(HasFailure());
  const uint16_t sender_port = shared().udp_port[1];

  auto sent = waitFlow(h, sender, v1::FLOW_UDP);
  auto received = waitFlow(h, receiver, v1::FLOW_UDP);
  ASSERT_TRUE(sent) << "no FLOW_UDP from the sender";
  ASSERT_TRUE(received) << "no FLOW_UDP from the receiver";
  {
    SCOPED_TRACE("sender");
    const NetworkFlow& f = sent->flow();
    expectOwner(f.process(), sender, "vigil-t-udpsend", hostNetns());
    EXPECT_EQ(f.protocol(), "UDP");
    EXPECT_EQ(f.family(), "AF_INET");
    expectEndpoint(f.local(), "127.0.0.1", sender_port, "local");
    expectEndpoint(f.remote(), "127.0.0.1", receiver_port, "remote");
    EXPECT_EQ(f.direction(), "outbound");
    EXPECT_EQ(f.packets_sent(), kDatagramCount);
    EXPECT_EQ(f.bytes_sent(), kDatagramBytes);
    EXPECT_EQ(f.packets_received(), 0u);
    EXPECT_EQ(f.bytes_received(), 0u);
    EXPECT_EQ(f.state(), "");
    EXPECT_NE(f.socket_cookie(), 0u);
    EXPECT_GE(nanos(f.duration()), 0);
  }
  {
    SCOPED_TRACE("receiver");
    const NetworkFlow& f = received->flow();
    expectOwner(f.process(), receiver, "vigil-t-udprecv", hostNetns());
    EXPECT_EQ(f.protocol(), "UDP");
    expectEndpoint(f.local(), "127.0.0.1", receiver_port, "local");
    expectEndpoint(f.remote(), "127.0.0.1", sender_port, "remote");
    EXPECT_EQ(f.packets_received(), kDatagramCount);
    EXPECT_EQ(f.bytes_received(), kDatagramBytes);
    EXPECT_EQ(f.packets_sent(), 0u);
    EXPECT_EQ(f.bytes_sent(), 0u);
    EXPECT_NE(f.socket_cookie(), 0u);
    EXPECT_NE(f.socket_cookie(), sent->flow().socket_cookie());
  }
  EXPECT_EQ(flowsOf(h.sink(), sender).size(), 1u);
  EXPECT_EQ(flowsOf(h.sink(), receiver).size(), 1u);
  expectNoLoss(h);
}

// An unconnected socket talking to two peers: one flow per peer (the first
// reported when the peer changes, the second at close).
TEST_F(NetworkTest, UdpUnconnectedSocketReportsEachPeer) {
  AgentHarness h(config());
  const SockAddr any = makeAddr("127.0.0.1", 0);
  Pipe ready;
  pid_t receiver = forkChild("vigil-t-udprecv", [&]() -> int {
    int a = socket(AF_INET, SOCK_DGRAM, 0);
    int b = socket(AF_INET, SOCK_DGRAM, 0);
    if (a < 0 || b < 0 || bind(a, any.get(), any.len) != 0 || bind(b, any.get(), any.len) != 0) {
      return fail(50);
    }
    setTimeouts(a);
    setTimeouts(b);
    shared().udp_port[0] = localPort(a);
    shared().udp_port[1] = localPort(b);
    ready.notify();
    if (recv(a, g_buf, sizeof(g_buf), 0) != 10 || recv(b, g_buf, sizeof(g_buf), 0) != 20 ||
        recv(b, g_buf, sizeof(g_buf), 0) != 30) {
      return fail(51);
    }
    close(a);
    close(b);
    return 0;
  });
  ASSERT_TRUE(ready.wait()) << "the receiver never bound";
  const uint16_t port_a = shared().udp_port[0], port_b = shared().udp_port[1];
  const SockAddr to_a = makeAddr("127.0.0.1", port_a), to_b = makeAddr("127.0.0.1", port_b);
  pid_t sender = forkChild("vigil-t-udpsend", [&]() -> int {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || sendto(s, g_buf, 10, 0, to_a.get(), to_a.len) != 10 ||
        sendto(s, g_buf, 20, 0, to_b.get(), to_b.len) != 20 || sendto(s, g_buf, 30, 0, to_b.get(), to_b.len) != 30) {
      return fail(52);
    }
    shared().udp_port[2] = localPort(s);
    close(s);
    return 0;
  });
  expectChildOk(sender, "sender");
  expectChildOk(receiver, "receiver");
  ASSERT_FALSE(HasFailure());
  const uint16_t sender_port = shared().udp_port[2];

  ASSERT_TRUE(waitFlow(h, sender, v1::FLOW_UDP, [&](const NetworkFlow& f) { return f.remote().port() == port_b; }))
      << "no FLOW_UDP to the second peer";
  ASSERT_TRUE(waitFlow(h, receiver, v1::FLOW_UDP, [&](const NetworkFlow& f) { return f.local().port() == port_b; }))
      << "no FLOW_UDP of the second receiving socket";
  auto flows = flowsOf(h.sink(), sender, v1::FLOW_UDP);
  ASSERT_EQ(flows.size(), 2u) << "one FLOW_UDP per peer";
  expectEndpoint(flows[0].remote(), "127.0.0.1", port_a, "first peer");
  expectEndpoint(flows[1].remote(), "127.0.0.1", port_b, "second peer");
  for (const auto& f : flows) {
    expectEndpoint(f.local(), "127.0.0.1", sender_port, "local");
    expectOwner(f.process(), sender, "vigil-t-udpsend", hostNetns());
    EXPECT_EQ(f.socket_cookie(), flows[0].socket_cookie()) << "one socket";
    EXPECT_EQ(f.packets_received(), 0u);
  }
  EXPECT_EQ(flows[0].packets_sent(), 1u);
  EXPECT_EQ(flows[0].bytes_sent(), 10u);
  EXPECT_EQ(flows[1].packets_sent(), 2u);
  EXPECT_EQ(flows[1].bytes_sent(), 50u);

  auto received = flowsOf(h.sink(), receiver, v1::FLOW_UDP);
  ASSERT_EQ(received.size(), 2u) << "one FLOW_UDP per receiving socket";
  std::stable_partition(received.begin(), received.end(),
                        [&](const NetworkFlow& f) { return f.local().port() == port_a; });
  expectEndpoint(received[0].local(), "127.0.0.1", port_a, "receiver a");
  expectEndpoint(received[1].local(), "127.0.0.1", port_b, "receiver b");
  EXPECT_EQ(received[0].packets_received(), 1u);
  EXPECT_EQ(received[0].bytes_received(), 10u);
  EXPECT_EQ(received[1].packets_received(), 2u);
  EXPECT_EQ(received[1].bytes_received(), 50u);
  for (const auto& f : received) {
    expectEndpoint(f.remote(), "127.0.0.1", sender_port, "receiver's peer");
  }
  expectNoLoss(h);
}

// ---- two hosts in network namespaces --------------------------------------------------

// Two network namespaces joined by a veth pair: 10.213.0.1 in vigil-t-a,
// 10.213.0.2 in vigil-t-b.
class NetworkNetnsTest : public NetworkTest {
protected:
  static constexpr const char* kA = "vigil-t-a";
  static constexpr const char* kB = "vigil-t-b";

  void SetUp() override {
    NetworkTest::SetUp();
    if (IsSkipped()) {
      return;
    }
    cleanup();
    for (const std::string& cmd : {
             fmt::format("ip netns add {}", kA),
             fmt::format("ip netns add {}", kB),
             std::string("ip link add vigil-t-va type veth peer name vigil-t-vb"),
             fmt::format("ip link set vigil-t-va netns {}", kA),
             fmt::format("ip link set vigil-t-vb netns {}", kB),
             fmt::format("ip -n {} addr add 10.213.0.1/24 dev vigil-t-va", kA),
             fmt::format("ip -n {} addr add 10.213.0.2/24 dev vigil-t-vb", kB),
             fmt::format("ip -n {} link set lo up", kA),
             fmt::format("ip -n {} link set lo up", kB),
             fmt::format("ip -n {} link set vigil-t-va up", kA),
             fmt::format("ip -n {} link set vigil-t-vb up", kB),
         }) {
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  }

  void TearDown() override {
    if (!IsSkipped()) {
      cleanup();
    }
  }

  static void cleanup() {
    // Deleting a namespace deletes the veth end in it, and so the pair.
    (void)!std::system(fmt::format("ip netns del {} 2>/dev/null", kA).c_str());
    (void)!std::system(fmt::format("ip netns del {} 2>/dev/null", kB).c_str());
    (void)!std::system("ip link del vigil-t-va 2>/dev/null");
  }
};

TEST_F(NetworkNetnsTest, TcpBetweenNamespacesOverVeth) {
  const uint32_t ns_a = inodeOf(netnsPath(kA)), ns_b = inodeOf(netnsPath(kB));
  ASSERT_NE(ns_a, 0u);
  ASSERT_NE(ns_b, 0u);
  ASSERT_NE(ns_a, hostNetns());
  ASSERT_NE(ns_b, hostNetns());
  ASSERT_NE(ns_a, ns_b);
  AgentHarness h(config());
  TcpPlan plan;
  plan.server_address = "10.213.0.2";
  plan.server_netns = kB;
  plan.client_netns = kA;
  plan.to_server = 20000;
  plan.to_client = 9000;
  TcpRun run = runTcp(plan);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(addressText(shared().client_local), "10.213.0.1");
  TcpFlows flows = expectTcpFlows(h, plan, run, ns_a, ns_b);
  EXPECT_EQ(flows.connect.netns(), ns_a);
  EXPECT_EQ(flows.accept.netns(), ns_b);
  expectNoLoss(h);
}

// ---- DNS ----------------------------------------------------------------------------------

// dnsmasq on 127.0.0.42:53 (UDP and TCP): web.vigil.test is 127.0.0.43 with
// TTL 300; other names under vigil.test are NXDOMAIN; anything else is
// REFUSED (no upstream servers).
class NetworkDnsTest : public NetworkTest {
protected:
  static constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";
  static constexpr const char* kServer = "127.0.0.42";
  static constexpr const char* kName = "web.vigil.test";
  static constexpr const char* kAddress = "127.0.0.43";
  static constexpr uint32_t kTtl = 300;

  void SetUp() override {
    NetworkTest::SetUp();
    if (IsSkipped()) {
      return;
    }
    ASSERT_EQ(access(kDnsmasq, X_OK), 0) << kDnsmasq << " is missing: install dnsmasq-base (scripts/setup.sh)";
    dnsmasq_ = spawn({.argv = {kDnsmasq, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                               fmt::format("--listen-address={}", kServer), "--bind-interfaces", "--port=53",
                               fmt::format("--address=/{}/{}", kName, kAddress), "--local=/vigil.test/",
                               fmt::format("--local-ttl={}", kTtl), "--pid-file=", "--log-facility=/dev/null"}});
    ASSERT_GT(dnsmasq_, 0);
    // Ready once it answers (this process's own sockets: never reported).
    ASSERT_TRUE(waitUntilAnswering()) << "dnsmasq does not answer on " << kServer << ":53";
  }

  void TearDown() override {
    if (dnsmasq_ > 0) {
      kill(dnsmasq_, SIGTERM);
      waitChild(dnsmasq_, std::chrono::seconds(5));
      dnsmasq_ = -1;
    }
  }

  bool waitUntilAnswering() {
    const SockAddr server = makeAddr(kServer, 53);
    const auto query = dnsQuery(0x7777, kName);
    for (int i = 0; i < 100; ++i) {
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      timeval tv{0, 100000};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      uint8_t reply[kDnsMax];
      bool ok = sendto(fd, query.data(), query.size(), 0, server.get(), server.len) == ssize_t(query.size()) &&
                recv(fd, reply, sizeof(reply), 0) >= 12;
      close(fd);
      if (ok) {
        return true;
      }
      int status = 0;
      if (waitpid(dnsmasq_, &status, WNOHANG) == dnsmasq_) {
        dnsmasq_ = -1;
        return false;
      }
    }
    return false;
  }

  // Common fields of a DNS event of pid seen on the socket whose local
  // address slot holds.
  static void expectDns(const Dns& d, pid_t pid, const char* comm, uint16_t id, const std::string& question,
                        bool response, int slot, const std::string& transport) {
    SCOPED_TRACE(fmt::format("DNS {} {} id {:#x}", response ? "answer" : "query", question, id));
    expectOwner(d.process(), pid, comm, hostNetns());
    EXPECT_EQ(d.response(), response);
    EXPECT_EQ(d.id(), id);
    EXPECT_EQ(d.question(), question);
    EXPECT_EQ(d.qtype(), "A");
    expectEndpoint(d.client(), addressText(shared().dns_local[slot]), portOf(shared().dns_local[slot]), "client");
    expectEndpoint(d.server(), kServer, 53, "server");
    EXPECT_EQ(d.transport(), transport);
    EXPECT_FALSE(d.truncated());
    EXPECT_NE(d.socket_cookie(), 0u);
    if (!response) {
      EXPECT_EQ(d.rcode(), "");
      EXPECT_THAT(d.answers(), IsEmpty());
    }
  }

  pid_t dnsmasq_ = -1;
};

// A query over UDP, its answer, and a connection to the answered address
// that carries the name.
TEST_F(NetworkDnsTest, UdpQueryAnswerAndNamedConnection) {
  AgentHarness h(config());
  const SockAddr server = makeAddr(kServer, 53);
  const auto query = dnsQuery(0x1001, kName);
  TcpPlan plan;
  plan.server_address = kAddress;
  plan.before_connect = [&]() -> int { return udpDnsExchange(server, query, 0, 60); };
  TcpRun run = runTcp(plan);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(replyId(0), 0x1001);
  ASSERT_EQ(replyRcode(0), 0) << "dnsmasq did not answer " << kName;

  auto q = waitDns(h, run.client, 0x1001, false);
  auto a = waitDns(h, run.client, 0x1001, true);
  ASSERT_TRUE(q) << "no DNS query event";
  ASSERT_TRUE(a) << "no DNS answer event";
  expectDns(q->dns(), run.client, plan.client_comm, 0x1001, kName, false, 0, "UDP");
  expectDns(a->dns(), run.client, plan.client_comm, 0x1001, kName, true, 0, "UDP");
  EXPECT_EQ(a->dns().rcode(), "NOERROR");
  ASSERT_EQ(a->dns().answers_size(), 1);
  EXPECT_EQ(a->dns().answers(0).name(), kName);
  EXPECT_EQ(a->dns().answers(0).type(), "A");
  EXPECT_EQ(a->dns().answers(0).ttl(), kTtl);
  EXPECT_EQ(a->dns().answers(0).data(), kAddress);
  EXPECT_EQ(a->dns().socket_cookie(), q->dns().socket_cookie());
  EXPECT_LT(q->seq(), a->seq());
  EXPECT_EQ(dnsOf(h.sink(), run.client).size(), 2u) << "one query, one answer";

  // The connection to the answered address is named, in both its events;
  // the server's side (its peer is 127.0.0.1) is not.
  TcpFlows flows = expectTcpFlows(h, plan, run, hostNetns(), hostNetns());
  EXPECT_EQ(flows.connect.remote_name(), kName);
  EXPECT_EQ(flows.client_close.remote_name(), kName);
  EXPECT_EQ(flows.accept.remote_name(), "");
  EXPECT_EQ(flows.server_close.remote_name(), "");
  auto connect = waitFlow(h, run.client, v1::FLOW_CONNECT);
  ASSERT_TRUE(connect);
  EXPECT_LT(a->seq(), connect->seq()) << "the answer comes before the connection";

  // The DNS socket's own flow: one datagram each way.
  auto udp = waitFlow(h, run.client, v1::FLOW_UDP);
  ASSERT_TRUE(udp) << "no FLOW_UDP for the DNS socket";
  expectEndpoint(udp->flow().remote(), kServer, 53, "DNS server");
  expectEndpoint(udp->flow().local(), addressText(shared().dns_local[0]), portOf(shared().dns_local[0]), "local");
  EXPECT_EQ(udp->flow().packets_sent(), 1u);
  EXPECT_EQ(udp->flow().bytes_sent(), query.size());
  EXPECT_EQ(udp->flow().packets_received(), 1u);
  EXPECT_EQ(udp->flow().bytes_received(), shared().dns_reply_len[0]);
  EXPECT_EQ(udp->flow().socket_cookie(), q->dns().socket_cookie());
  EXPECT_EQ(udp->flow().remote_name(), "");
  expectNoLoss(h);
}

// Names dnsmasq does not resolve: NXDOMAIN under its local domain, REFUSED
// outside it (no upstream servers). Neither names a later connection.
TEST_F(NetworkDnsTest, FailedLookupsCarryTheirRcode) {
  AgentHarness h(config());
  const SockAddr server = makeAddr(kServer, 53);
  const auto nx = dnsQuery(0x2001, "nothere.vigil.test");
  const auto refused = dnsQuery(0x2002, "other.example");
  pid_t pid = forkChild("vigil-t-dns", [&]() -> int {
    if (int step = udpDnsExchange(server, nx, 0, 60); step != 0) {
      return step;
    }
    return udpDnsExchange(server, refused, 1, 70);
  });
  expectChildOk(pid, "dns");
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(replyRcode(0), 3) << "dnsmasq's answer for nothere.vigil.test";
  ASSERT_EQ(replyRcode(1), 5) << "dnsmasq's answer for other.example";

  auto nx_answer = waitDns(h, pid, 0x2001, true);
  auto refused_answer = waitDns(h, pid, 0x2002, true);
  ASSERT_TRUE(nx_answer) << "no answer event for nothere.vigil.test";
  ASSERT_TRUE(refused_answer) << "no answer event for other.example";
  expectDns(nx_answer->dns(), pid, "vigil-t-dns", 0x2001, "nothere.vigil.test", true, 0, "UDP");
  EXPECT_EQ(nx_answer->dns().rcode(), "NXDOMAIN");
  EXPECT_THAT(nx_answer->dns().answers(), IsEmpty());
  expectDns(refused_answer->dns(), pid, "vigil-t-dns", 0x2002, "other.example", true, 1, "UDP");
  EXPECT_EQ(refused_answer->dns().rcode(), "REFUSED");
  EXPECT_THAT(refused_answer->dns().answers(), IsEmpty());
  auto queries = dnsOf(h.sink(), pid);
  ASSERT_EQ(queries.size(), 4u) << "two queries, two answers";
  expectDns(queries[0], pid, "vigil-t-dns", 0x2001, "nothere.vigil.test", false, 0, "UDP");
  expectDns(queries[2], pid, "vigil-t-dns", 0x2002, "other.example", false, 1, "UDP");
  expectNoLoss(h);
}

// DNS over TCP port 53: the length-prefixed message in a segment.
TEST_F(NetworkDnsTest, TcpQueryAndAnswer) {
  AgentHarness h(config());
  const SockAddr server = makeAddr(kServer, 53);
  const auto query = dnsQuery(0x3001, kName);
  pid_t pid = forkChild("vigil-t-dnstcp", [&]() -> int { return tcpDnsExchange(server, query, 0, 80); });
  expectChildOk(pid, "dns over tcp");
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(replyId(0), 0x3001);
  ASSERT_EQ(replyRcode(0), 0);

  auto q = waitDns(h, pid, 0x3001, false);
  auto a = waitDns(h, pid, 0x3001, true);
  ASSERT_TRUE(q) << "no DNS query event over TCP";
  ASSERT_TRUE(a) << "no DNS answer event over TCP";
  expectDns(q->dns(), pid, "vigil-t-dnstcp", 0x3001, kName, false, 0, "TCP");
  expectDns(a->dns(), pid, "vigil-t-dnstcp", 0x3001, kName, true, 0, "TCP");
  EXPECT_EQ(a->dns().rcode(), "NOERROR");
  ASSERT_EQ(a->dns().answers_size(), 1);
  EXPECT_EQ(a->dns().answers(0).type(), "A");
  EXPECT_EQ(a->dns().answers(0).ttl(), kTtl);
  EXPECT_EQ(a->dns().answers(0).data(), kAddress);
  EXPECT_EQ(a->dns().socket_cookie(), q->dns().socket_cookie());
  EXPECT_EQ(dnsOf(h.sink(), pid).size(), 2u) << "one query, one answer (bare segments carry no DNS)";

  // The TCP connection to port 53 is a flow of that socket too.
  auto connect = waitFlow(h, pid, v1::FLOW_CONNECT);
  ASSERT_TRUE(connect) << "no FLOW_CONNECT to the DNS server";
  expectEndpoint(connect->flow().remote(), kServer, 53, "DNS server");
  EXPECT_EQ(connect->flow().socket_cookie(), q->dns().socket_cookie());
  auto close = waitFlow(h, pid, v1::FLOW_CLOSE);
  ASSERT_TRUE(close) << "no FLOW_CLOSE of the DNS connection";
  EXPECT_EQ(close->flow().bytes_sent(), query.size() + 2);
  EXPECT_EQ(close->flow().bytes_received(), shared().dns_reply_len[0] + 2);
  expectNoLoss(h);
}

// ---- interim updates ----------------------------------------------------------------------

// A connection kept open past the update interval reports its counters so
// far, before it closes.
TEST_F(NetworkTest, RateLimitDropsAreCountedInSummaries) {
  // One unconnected UDP socket sends to kPeers ports: exactly one flow record
  // per peer, all from a cgroup of the test's own. The limit lets the burst
  // through and counts the rest into "suppressed" summaries.
  constexpr int kPeers = 300;
  constexpr uint32_t kBurst = 10;
  const std::string root = runtime::cgroup2Mount();
  ASSERT_FALSE(root.empty()) << "no cgroup2 mount";
  TestCgroup cg(root);
  AgentConfig c = config();
  c.network.rate_limit_per_second = 20;
  c.network.rate_limit_burst = kBurst;
  AgentHarness h(c);
  const std::string procs = cg.path() + "/cgroup.procs";
  pid_t sender = forkChild("vigil-t-udprate", [&]() -> int {
    if (!(std::ofstream(procs) << 0 << std::flush)) { // into the test's cgroup
      return fail(60);
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) {
      return fail(61);
    }
    for (int i = 0; i < kPeers; ++i) {
      const SockAddr to = makeAddr("127.0.0.1", uint16_t(20000 + i));
      if (sendto(s, g_buf, 1, 0, to.get(), to.len) != 1) {
        return fail(62);
      }
    }
    close(s);
    return 0;
  });
  expectChildOk(sender, "sender");
  ASSERT_FALSE(HasFailure());

  // The cgroup is quiet now: the agent's sweep reports the rest within ~1 s.
  uint64_t delivered = 0, suppressed = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    delivered = flowsOf(h.sink(), sender, v1::FLOW_UDP).size();
    suppressed = 0;
    for (const auto& e : h.sink().snapshot()) {
      if (e.has_suppressed() && e.suppressed().cgroup_id() == cg.id()) {
        EXPECT_EQ(e.suppressed().kind(), "flow");
        EXPECT_EQ(e.suppressed().reason(), "rate_limit");
        suppressed += e.suppressed().count();
      }
    }
    if (delivered + suppressed >= uint64_t(kPeers)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(delivered + suppressed, uint64_t(kPeers)) << "delivered " << delivered << ", suppressed " << suppressed;
  EXPECT_GE(delivered, uint64_t(kBurst)) << "the burst passes";
  EXPECT_LT(delivered, uint64_t(kPeers) / 2) << "the limit held";
  expectNoLoss(h);
}

TEST_F(NetworkTest, LiveTcpFlowReportsUpdatesBeforeClose) {
  // The agent's poll loop runs the flow iterator every interval (calling
  // reportLiveFlows from here would race with that loop's thread).
  AgentHarness h(config(1));
  Pipe hold;
  TcpPlan plan;
  plan.to_server = 4321;
  plan.to_client = 1234;
  plan.hold = &hold;
  TcpRun run = startTcp(plan);
  ASSERT_GT(run.client, 0);
  auto update_of = [&](pid_t pid, uint64_t sent) {
    return waitFlow(h, pid, v1::FLOW_UPDATE, [&](const NetworkFlow& f) { return f.bytes_sent() == sent; });
  };
  auto client_update = update_of(run.client, plan.to_server);
  auto server_update = update_of(run.server, plan.to_client);
  const bool closed_early =
      !flowsOf(h.sink(), run.client, v1::FLOW_CLOSE).empty() || !flowsOf(h.sink(), run.server, v1::FLOW_CLOSE).empty();
  hold.release();
  expectChildOk(run.client, "client");
  expectChildOk(run.server, "server");
  ASSERT_TRUE(client_update) << "no FLOW_UPDATE of the client's live flow";
  ASSERT_TRUE(server_update) << "no FLOW_UPDATE of the server's live flow";
  EXPECT_FALSE(closed_early) << "a side closed while held open";

  TcpFlows flows = expectTcpFlows(h, plan, run, hostNetns(), hostNetns());
  struct Check {
    const Event& update;
    const NetworkFlow& open;
    const NetworkFlow& close;
    uint64_t sent, received;
    const char* comm;
    pid_t pid;
  };
  for (const Check& c : {Check{*client_update, flows.connect, flows.client_close, plan.to_server, plan.to_client,
                               plan.client_comm, run.client},
                         Check{*server_update, flows.accept, flows.server_close, plan.to_client, plan.to_server,
                               plan.server_comm, run.server}}) {
    SCOPED_TRACE(fmt::format("FLOW_UPDATE of pid {}", c.pid));
    const NetworkFlow& f = c.update.flow();
    expectOwner(f.process(), c.pid, c.comm, hostNetns());
    EXPECT_EQ(f.protocol(), "TCP");
    EXPECT_EQ(f.family(), "AF_INET");
    EXPECT_EQ(f.local().address(), c.open.local().address());
    EXPECT_EQ(f.local().port(), c.open.local().port());
    EXPECT_EQ(f.remote().address(), c.open.remote().address());
    EXPECT_EQ(f.remote().port(), c.open.remote().port());
    EXPECT_EQ(f.direction(), c.open.direction());
    EXPECT_EQ(f.socket_cookie(), c.open.socket_cookie());
    EXPECT_EQ(f.bytes_sent(), c.sent);
    EXPECT_EQ(f.bytes_received(), c.received);
    EXPECT_GT(f.packets_sent(), 0u);
    EXPECT_GT(f.packets_received(), 0u);
    EXPECT_EQ(f.state(), "ESTABLISHED");
    EXPECT_GE(nanos(f.duration()), 1'000'000'000LL) << "younger than the interval";
    EXPECT_LE(nanos(f.duration()), nanos(c.close.duration()));
    EXPECT_NE(c.update.seq(), 0u);
  }
  // Every update of these flows precedes their close and is at least an
  // interval old.
  uint64_t last_update_seq = 0, first_close_seq = UINT64_MAX;
  for (const auto& e : h.sink().snapshot()) {
    if (!e.has_flow() || (e.flow().process().pid() != uint32_t(run.client) &&
                          e.flow().process().pid() != uint32_t(run.server))) {
      continue;
    }
    if (e.flow().kind() == v1::FLOW_UPDATE) {
      last_update_seq = std::max(last_update_seq, e.seq());
      EXPECT_GE(nanos(e.flow().duration()), 1'000'000'000LL);
    } else if (e.flow().kind() == v1::FLOW_CLOSE) {
      first_close_seq = std::min(first_close_seq, e.seq());
    }
  }
  EXPECT_LT(last_update_seq, first_close_seq) << "an update after the close";
  expectNoLoss(h);
}

// ---- sockets from before the agent ----------------------------------------------------------

// A listener created before the agent started: its connections are reported
// without an owner (and counted), and still with their tuple, direction and
// exact counters; the client's side, created afterwards, has its owner.
TEST_F(NetworkTest, ConnectionsOfAPreexistingListenerHaveNoOwner) {
  TcpPlan plan;
  TcpRun run = startTcpServer(plan); // before the agent
  ASSERT_GT(run.server_port, 0);
  AgentHarness h(config());
  const uint64_t unowned_before = [&] {
    auto counters = h.agent().runtime().kernelCounters();
    return counters ? (*counters)[VIGIL_CNT_NET_NO_OWNER] : 0;
  }();
  startTcpClient(plan, run);
  ASSERT_GT(run.client, 0);
  expectChildOk(run.client, "client");
  expectChildOk(run.server, "server");
  ASSERT_FALSE(HasFailure());
  const std::string client_address = addressText(shared().client_local);
  const uint32_t client_port = shared().client_port;

  auto of_server = [&](v1::FlowKind kind) {
    return h.sink().waitFor(
        [&](const Event& e) {
          return e.has_flow() && e.flow().kind() == kind && e.flow().owner_unknown() &&
                 e.flow().remote().port() == client_port;
        },
        kEventWait);
  };
  auto accept = of_server(v1::FLOW_ACCEPT);
  auto close = of_server(v1::FLOW_CLOSE);
  ASSERT_TRUE(accept) << "no unowned FLOW_ACCEPT of the preexisting listener";
  ASSERT_TRUE(close) << "no unowned FLOW_CLOSE of the preexisting listener";
  EXPECT_THAT(flowsOf(h.sink(), run.server), IsEmpty()) << "the listener's owner cannot be known";
  for (const Event* e : {&*accept, &*close}) {
    const NetworkFlow& f = e->flow();
    SCOPED_TRACE(f.ShortDebugString());
    EXPECT_TRUE(f.owner_unknown());
    EXPECT_EQ(f.process().pid(), 0u);
    EXPECT_EQ(f.protocol(), "TCP");
    EXPECT_EQ(f.family(), "AF_INET");
    expectEndpoint(f.local(), plan.server_address, run.server_port, "local");
    expectEndpoint(f.remote(), client_address, client_port, "remote");
    EXPECT_EQ(f.direction(), "inbound") << "an accepted connection";
    EXPECT_NE(f.socket_cookie(), 0u);
  }
  EXPECT_EQ(accept->flow().state(), "ESTABLISHED");
  EXPECT_EQ(accept->flow().old_state(), "SYN_RECV");
  EXPECT_EQ(close->flow().socket_cookie(), accept->flow().socket_cookie());
  EXPECT_EQ(close->flow().state(), "CLOSE");
  EXPECT_EQ(close->flow().old_state(), "LAST_ACK");
  EXPECT_EQ(close->flow().bytes_sent(), plan.to_client);
  EXPECT_EQ(close->flow().bytes_received(), plan.to_server) << "payload only, not the peer's FIN";
  EXPECT_GT(close->flow().packets_sent(), 0u);
  EXPECT_GT(close->flow().packets_received(), 0u);

  // The client's side is owned as usual.
  auto connect = waitFlow(h, run.client, v1::FLOW_CONNECT);
  auto client_close = waitFlow(h, run.client, v1::FLOW_CLOSE);
  ASSERT_TRUE(connect);
  ASSERT_TRUE(client_close);
  const Side client{run.client,      plan.client_comm, client_address, client_port, plan.server_address,
                    run.server_port, hostNetns()};
  expectOpen(connect->flow(), v1::FLOW_CONNECT, client, "AF_INET");
  expectClose(client_close->flow(), connect->flow(), client, plan.to_server, plan.to_client, "FIN_WAIT2");
  auto counters = h.agent().runtime().kernelCounters();
  ASSERT_TRUE(counters);
  EXPECT_GE((*counters)[VIGIL_CNT_NET_NO_OWNER], unowned_before + 2);
  expectNoLoss(h);
}

// ---- the agent itself -----------------------------------------------------------------------

// This process's own TCP and UDP sockets (and a DNS query it sends) are never
// reported, not even as flows of an unknown owner; a child's connection made
// afterwards is the sentinel.
TEST_F(NetworkTest, AgentsOwnSocketsAreNotReported) {
  AgentHarness h(config());
  std::set<uint32_t> own_ports;
  {
    const SockAddr any = makeAddr("127.0.0.1", 0);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(l, 0);
    ASSERT_EQ(bind(l, any.get(), any.len), 0);
    ASSERT_EQ(listen(l, 1), 0);
    const uint16_t port = localPort(l);
    const SockAddr to = makeAddr("127.0.0.1", port);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(c, 0);
    ASSERT_EQ(connect(c, to.get(), to.len), 0);
    int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(s, 0);
    own_ports = {port, localPort(c)};
    char buf[100] = {};
    ASSERT_EQ(send(c, buf, sizeof(buf), 0), ssize_t(sizeof(buf)));
    ASSERT_EQ(recv(s, buf, sizeof(buf), MSG_WAITALL), ssize_t(sizeof(buf)));
    ASSERT_EQ(send(s, buf, 50, 0), 50);
    ASSERT_EQ(recv(c, buf, 50, MSG_WAITALL), 50);
    close(c);
    close(s);
    close(l);

    int u1 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int u2 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(u1, 0);
    ASSERT_GE(u2, 0);
    ASSERT_EQ(bind(u2, any.get(), any.len), 0);
    const SockAddr to_u2 = makeAddr("127.0.0.1", localPort(u2));
    ASSERT_EQ(sendto(u1, buf, 20, 0, to_u2.get(), to_u2.len), 20);
    ASSERT_EQ(recv(u2, buf, sizeof(buf), 0), 20);
    // A DNS query (to a port 53 where nothing need listen).
    const auto query = dnsQuery(0x4001, "own.vigil.test");
    const SockAddr dns = makeAddr("127.0.0.1", 53);
    ASSERT_EQ(sendto(u1, query.data(), query.size(), 0, dns.get(), dns.len), ssize_t(query.size()));
    own_ports.insert(localPort(u1));
    own_ports.insert(localPort(u2));
    close(u1);
    close(u2);
  }

  TcpPlan plan;
  TcpRun run = runTcp(plan);
  ASSERT_FALSE(HasFailure());
  expectTcpFlows(h, plan, run, hostNetns(), hostNetns());

  for (const auto& e : h.sink().snapshot()) {
    if (e.has_flow()) {
      const NetworkFlow& f = e.flow();
      EXPECT_NE(f.process().pid(), uint32_t(getpid())) << "the agent's own flow: " << f.ShortDebugString();
      // (The sentinel's sockets may reuse a port of the agent's.)
      const bool sentinel = f.process().pid() == uint32_t(run.client) || f.process().pid() == uint32_t(run.server);
      if (!sentinel && f.local().address() == "127.0.0.1") {
        EXPECT_FALSE(own_ports.contains(f.local().port())) << "a flow of the agent's socket: " << f.ShortDebugString();
      }
    }
    if (e.has_dns()) {
      EXPECT_NE(e.dns().process().pid(), uint32_t(getpid())) << "the agent's own DNS query";
      EXPECT_NE(e.dns().id(), 0x4001u) << "the agent's own DNS query";
    }
  }
  expectNoLoss(h);
}

} // namespace
} // namespace vigil::test
