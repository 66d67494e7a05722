// The network record decoder on hand-made records built from the real
// kernel/user structs (bpf/shared/network.h), valid and corrupted: flow
// records into Event.flow, DNS records into Event.dns (the DNS parser itself
// is tested in dns_test.cc).

#include "collectors/network/decoder.h"

#include "shared/network.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::network {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr int64_t kClockOffsetNs = 1'700'000'000'000'000'000; // wall = boot + this
constexpr uint32_t kPid = 4242;
constexpr uint64_t kExecId = 0x1122334455667788;
constexpr uint64_t kCookie = 0xc00c1e;
constexpr uint32_t kNetns = 4026531840;
constexpr uint64_t kStartNs = 5'000'000'000;
constexpr uint64_t kNowNs = 7'250'000'123; // 2.250000123 s after kStartNs

// Overwrites the field of type T at offset of a built record.
template <class T> void patch(std::vector<uint8_t>& record, size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), record.size());
  std::memcpy(record.data() + offset, &value, sizeof(T));
}

template <class T> std::vector<uint8_t> bytesOf(const T& value) {
  std::vector<uint8_t> out(sizeof(value));
  std::memcpy(out.data(), &value, sizeof(value));
  return out;
}

void fillOwner(vigil_net_owner& o) {
  o.pid = kPid;
  o.tid = kPid + 3;
  o.exec_id = kExecId;
  o.cgroup_id = 777;
  o.uid = 1000;
  o.netns = kNetns;
  std::strncpy(o.comm, "curl", sizeof(o.comm));
}

// Family from the text: IPv6 when it has a ':'.
void fillTuple(vigil_net_tuple& t, uint8_t protocol, const char* local, uint16_t lport, const char* remote,
               uint16_t rport) {
  const bool v6 = std::strchr(local, ':') != nullptr;
  t.family = v6 ? AF_INET6 : AF_INET;
  t.protocol = protocol;
  t.lport = lport;
  t.rport = rport;
  EXPECT_EQ(inet_pton(t.family, local, t.laddr), 1) << local;
  EXPECT_EQ(inet_pton(t.family, remote, t.raddr), 1) << remote;
}

// One VIGIL_EV_NET record: an owned outbound TCP flow of kPid by default.
class NetRecord {
public:
  explicit NetRecord(uint32_t type, uint8_t protocol = IPPROTO_TCP, const char* local = "10.0.0.5",
                     uint16_t lport = 41234, const char* remote = "93.184.216.34", uint16_t rport = 443) {
    ev_.hdr.kind = VIGIL_EV_NET;
    ev_.hdr.version = VIGIL_NET_VERSION;
    ev_.hdr.size = sizeof(ev_);
    ev_.hdr.ktime_ns = kNowNs;
    ev_.hdr.cpu = 1;
    ev_.type = type;
    fillOwner(ev_.owner);
    fillTuple(ev_.tuple, protocol, local, lport, remote, rport);
    ev_.cookie = kCookie;
    ev_.start_ns = kStartNs;
    ev_.flags = VIGIL_SOCK_F_OWNED | VIGIL_SOCK_F_ACTIVE | VIGIL_SOCK_F_REPORTED;
  }

  vigil_net_event& ev() { return ev_; }
  std::vector<uint8_t> build() const { return bytesOf(ev_); }

private:
  vigil_net_event ev_{};
};

// One VIGIL_EV_DNS record: the client 10.0.0.5:41234 and server
// 10.0.0.53:53 over UDP by default.
class DnsRecord {
public:
  explicit DnsRecord(const std::vector<uint8_t>& payload, uint8_t protocol = IPPROTO_UDP,
                     uint32_t direction = VIGIL_DNS_ANSWER) {
    ev_.hdr.kind = VIGIL_EV_DNS;
    ev_.hdr.version = VIGIL_DNS_VERSION;
    ev_.hdr.size = sizeof(ev_);
    ev_.hdr.ktime_ns = kNowNs;
    fillOwner(ev_.owner);
    fillTuple(ev_.tuple, protocol, "10.0.0.5", 41234, "10.0.0.53", 53);
    ev_.cookie = kCookie + 1;
    ev_.direction = direction;
    EXPECT_LE(payload.size(), sizeof(ev_.payload));
    ev_.len = uint32_t(std::min(payload.size(), sizeof(ev_.payload)));
    ev_.wire_len = ev_.len;
    if (ev_.len > 0) { // an empty vector's data() may be null, which memcpy must not get
      std::memcpy(ev_.payload, payload.data(), ev_.len);
    }
  }

  vigil_dns_event& ev() { return ev_; }
  std::vector<uint8_t> build() const { return bytesOf(ev_); }

private:
  vigil_dns_event ev_{};
};

// DNS wire format, byte by byte.
class DnsBuilder {
public:
  DnsBuilder& u8(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  DnsBuilder& u16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
  DnsBuilder& u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
  DnsBuilder& header(uint16_t id, uint16_t flags, uint16_t qdcount, uint16_t ancount) {
    return u16(id).u16(flags).u16(qdcount).u16(ancount).u16(0).u16(0);
  }
  DnsBuilder& name(std::string_view dotted) {
    while (!dotted.empty()) {
      const size_t dot = dotted.find('.');
      const std::string_view label = dotted.substr(0, dot);
      u8(uint8_t(label.size()));
      bytes_.insert(bytes_.end(), label.begin(), label.end());
      dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
    }
    return u8(0);
  }
  DnsBuilder& question(std::string_view dotted, uint16_t qtype) { return name(dotted).u16(qtype).u16(1); }
  // An RR whose owner name is a compression pointer to offset (class IN).
  DnsBuilder& rr(uint16_t owner, uint16_t type, uint32_t ttl, const std::vector<uint8_t>& rdata) {
    u16(uint16_t(0xc000 | owner)).u16(type).u16(1).u32(ttl).u16(uint16_t(rdata.size()));
    bytes_.insert(bytes_.end(), rdata.begin(), rdata.end());
    return *this;
  }

  const std::vector<uint8_t>& bytes() const { return bytes_; }
  // With the 2-byte big-endian TCP length prefix.
  std::vector<uint8_t> tcp() const {
    std::vector<uint8_t> out = {uint8_t(bytes_.size() >> 8), uint8_t(bytes_.size())};
    out.insert(out.end(), bytes_.begin(), bytes_.end());
    return out;
  }

private:
  std::vector<uint8_t> bytes_;
};

constexpr uint16_t kQr = 0x8000;
constexpr uint16_t kTc = 0x0200;
constexpr uint16_t kRd = 0x0100;
constexpr uint16_t kRa = 0x0080;

// www.example.test A? -> CNAME edge.example.test (TTL 300), A 192.0.2.7 (TTL 60).
// The question name is at byte 12; the CNAME target's rdata at byte 46.
DnsBuilder cnameResponse(uint16_t extra_flags = 0) {
  DnsBuilder b;
  b.header(0xbeef, kQr | kRd | kRa | extra_flags, 1, 2).question("www.example.test", 1);
  b.rr(12, 5, 300, DnsBuilder().name("edge.example.test").bytes());
  b.rr(46, 1, 60, {192, 0, 2, 7});
  return b;
}

DnsBuilder query() {
  DnsBuilder b;
  b.header(0x1234, kRd, 1, 0).question("example.test", 28);
  return b;
}

class NetworkDecoderTest : public ::testing::Test {
protected:
  // Decodes a record that must be valid into event_; the Decoded it returned
  // is in decoded_.
  const v1::NetworkFlow& decodeFlow(const std::vector<uint8_t>& record) {
    event_.Clear();
    auto res = decoder_.decode(record, event_);
    EXPECT_TRUE(res.ok()) << res.error().message();
    EXPECT_TRUE(event_.has_flow());
    decoded_ = res.ok() ? *res : Decoded{};
    return event_.flow();
  }
  const v1::NetworkFlow& decodeFlow(const NetRecord& rec) { return decodeFlow(rec.build()); }

  const v1::Dns& decodeDns(const DnsRecord& rec) {
    event_.Clear();
    auto res = decoder_.decode(rec.build(), event_);
    EXPECT_TRUE(res.ok()) << res.error().message();
    EXPECT_TRUE(event_.has_dns());
    decoded_ = res.ok() ? *res : Decoded{};
    return event_.dns();
  }

  // The error message of a record that must not decode.
  std::string decodeError(const std::vector<uint8_t>& record) {
    event_.Clear();
    auto res = decoder_.decode(record, event_);
    EXPECT_FALSE(res.ok()) << "decoded a malformed record";
    if (res.ok()) {
      return std::string();
    }
    EXPECT_FALSE(event_.has_flow()) << "a rejected record filled a flow";
    EXPECT_FALSE(event_.has_dns()) << "a rejected record filled a DNS message";
    return res.error().message();
  }

  Decoder decoder_{runtime::BootClock(kClockOffsetNs)};
  Event event_;
  Decoded decoded_;
};

// --- flows ---------------------------------------------------------------------------

TEST_F(NetworkDecoderTest, ConnectIPv4) {
  NetRecord rec(VIGIL_NET_CONNECT);
  rec.ev().oldstate = 2; // SYN_SENT
  rec.ev().newstate = 1; // ESTABLISHED
  const auto& f = decodeFlow(rec);

  EXPECT_EQ(f.kind(), v1::FLOW_CONNECT);
  EXPECT_EQ(f.protocol(), "TCP");
  EXPECT_EQ(f.family(), "AF_INET");
  EXPECT_EQ(f.local().address(), "10.0.0.5");
  EXPECT_EQ(f.local().port(), 41234u);
  EXPECT_EQ(f.remote().address(), "93.184.216.34");
  EXPECT_EQ(f.remote().port(), 443u);
  EXPECT_THAT(f.remote_name(), IsEmpty()); // the collector's job, from the DNS cache
  EXPECT_EQ(f.direction(), "outbound");
  EXPECT_EQ(f.state(), "ESTABLISHED");
  EXPECT_EQ(f.old_state(), "SYN_SENT");
  EXPECT_THAT(f.error(), IsEmpty());
  EXPECT_THAT(f.failure(), IsEmpty());
  EXPECT_EQ(f.socket_cookie(), kCookie);
  EXPECT_EQ(f.netns(), kNetns);
  EXPECT_FALSE(f.owner_unknown());
  // A connect has no duration and, here, no counters.
  EXPECT_FALSE(f.has_duration());
  EXPECT_EQ(f.bytes_sent(), 0u);
  EXPECT_EQ(f.bytes_received(), 0u);

  ASSERT_TRUE(f.has_process());
  const auto& p = f.process();
  EXPECT_EQ(p.pid(), kPid);
  EXPECT_EQ(p.tid(), kPid + 3);
  EXPECT_EQ(p.exec_id(), process::formatExecId(kPid, kExecId));
  EXPECT_EQ(p.comm(), "curl");
  EXPECT_EQ(p.creds().uid(), 1000u);
  EXPECT_EQ(p.cgroup_id(), 777u);
  EXPECT_EQ(p.ns().net(), kNetns);
  EXPECT_EQ(p.ppid(), 0u); // nothing the record does not carry
  EXPECT_THAT(p.binary(), IsEmpty());
  EXPECT_FALSE(f.has_parent());

  EXPECT_EQ(event_.ktime_ns(), kNowNs);
  const int64_t wall = int64_t(kNowNs) + kClockOffsetNs;
  EXPECT_EQ(event_.time().seconds(), wall / 1'000'000'000);
  EXPECT_EQ(event_.time().nanos(), wall % 1'000'000'000);

  EXPECT_FALSE(decoded_.dns.has_value());
  EXPECT_EQ(decoded_.netns, kNetns);
}

TEST_F(NetworkDecoderTest, ExecIdEmptyWhenUnknown) {
  NetRecord rec(VIGIL_NET_CONNECT);
  rec.ev().owner.exec_id = 0;
  const auto& f = decodeFlow(rec);
  EXPECT_THAT(f.process().exec_id(), IsEmpty());
  EXPECT_EQ(f.process().pid(), kPid);
}

TEST_F(NetworkDecoderTest, CommStopsAtNulAndIsSanitized) {
  NetRecord rec(VIGIL_NET_CONNECT);
  std::memcpy(rec.ev().owner.comm, "ab\xff" "c\0junk", 9);
  EXPECT_EQ(decodeFlow(rec).process().comm(), "ab\\xffc");

  NetRecord full(VIGIL_NET_CONNECT);
  std::memcpy(full.ev().owner.comm, "0123456789abcdef", 16); // no NUL at all
  EXPECT_EQ(decodeFlow(full).process().comm(), "0123456789abcdef");
}

TEST_F(NetworkDecoderTest, AcceptPassiveIsInbound) {
  NetRecord rec(VIGIL_NET_ACCEPT, IPPROTO_TCP, "10.0.0.5", 8080, "10.0.0.9", 51000);
  rec.ev().flags = VIGIL_SOCK_F_OWNED | VIGIL_SOCK_F_PASSIVE;
  rec.ev().oldstate = 3; // SYN_RECV
  rec.ev().newstate = 1;
  const auto& f = decodeFlow(rec);
  EXPECT_EQ(f.kind(), v1::FLOW_ACCEPT);
  EXPECT_EQ(f.direction(), "inbound");
  EXPECT_EQ(f.local().port(), 8080u);
  EXPECT_EQ(f.remote().address(), "10.0.0.9");
  EXPECT_EQ(f.remote().port(), 51000u);
  EXPECT_EQ(f.state(), "ESTABLISHED");
  EXPECT_EQ(f.old_state(), "SYN_RECV");
  EXPECT_FALSE(f.has_duration());
}

TEST_F(NetworkDecoderTest, DirectionFollowsOnlyThePassiveFlag) {
  NetRecord rec(VIGIL_NET_CLOSE);
  rec.ev().flags = VIGIL_SOCK_F_PASSIVE | VIGIL_SOCK_F_FIN_IN;
  EXPECT_EQ(decodeFlow(rec).direction(), "inbound");
  rec.ev().flags = 0;
  EXPECT_EQ(decodeFlow(rec).direction(), "outbound");
}

TEST_F(NetworkDecoderTest, CloseCountersDurationAndStates) {
  NetRecord rec(VIGIL_NET_CLOSE);
  rec.ev().oldstate = 5; // FIN_WAIT2
  rec.ev().newstate = 7; // CLOSE
  rec.ev().counters = {.bytes_sent = 5'000'000'000ULL, // over 32 bits
                       .bytes_received = 1234,
                       .packets_sent = 4000,
                       .packets_received = 17,
                       .retransmits = 3,
                       .srtt_us = 1500};
  const auto& f = decodeFlow(rec);
  EXPECT_EQ(f.kind(), v1::FLOW_CLOSE);
  EXPECT_EQ(f.state(), "CLOSE");
  EXPECT_EQ(f.old_state(), "FIN_WAIT2");
  EXPECT_EQ(f.bytes_sent(), 5'000'000'000ULL);
  EXPECT_EQ(f.bytes_received(), 1234u);
  EXPECT_EQ(f.packets_sent(), 4000u);
  EXPECT_EQ(f.packets_received(), 17u);
  EXPECT_EQ(f.retransmits(), 3u);
  EXPECT_EQ(f.srtt_us(), 1500u);
  ASSERT_TRUE(f.has_duration());
  EXPECT_EQ(f.duration().seconds(), 2);
  EXPECT_EQ(f.duration().nanos(), 250'000'123);
  EXPECT_THAT(f.error(), IsEmpty());
}

TEST_F(NetworkDecoderTest, UpdateHasDuration) {
  NetRecord rec(VIGIL_NET_UPDATE);
  rec.ev().oldstate = 1;
  rec.ev().newstate = 1;
  rec.ev().counters.bytes_sent = 10;
  const auto& f = decodeFlow(rec);
  EXPECT_EQ(f.kind(), v1::FLOW_UPDATE);
  EXPECT_EQ(f.bytes_sent(), 10u);
  EXPECT_EQ(f.duration().seconds(), 2);
  EXPECT_EQ(f.duration().nanos(), 250'000'123);
}

TEST_F(NetworkDecoderTest, DurationClampedAtZeroAndAbsentWithoutStart) {
  NetRecord later(VIGIL_NET_CLOSE);
  later.ev().start_ns = kNowNs + 1; // start after the record: clock skew, never negative
  const auto& f = decodeFlow(later);
  ASSERT_TRUE(f.has_duration());
  EXPECT_EQ(f.duration().seconds(), 0);
  EXPECT_EQ(f.duration().nanos(), 0);

  NetRecord unknown(VIGIL_NET_CLOSE);
  unknown.ev().start_ns = 0;
  EXPECT_FALSE(decodeFlow(unknown).has_duration());
}

TEST_F(NetworkDecoderTest, ConnectFailRefused) {
  NetRecord rec(VIGIL_NET_CONNECT_FAIL);
  rec.ev().error = ECONNREFUSED;
  ASSERT_EQ(ECONNREFUSED, 111);
  rec.ev().oldstate = 2; // SYN_SENT
  rec.ev().newstate = 7; // CLOSE
  const auto& f = decodeFlow(rec);
  EXPECT_EQ(f.kind(), v1::FLOW_CONNECT_FAILED);
  EXPECT_EQ(f.error(), "ECONNREFUSED");
  EXPECT_EQ(f.failure(), "refused");
  EXPECT_EQ(f.state(), "CLOSE");
  EXPECT_EQ(f.old_state(), "SYN_SENT");
  EXPECT_EQ(f.direction(), "outbound");
  EXPECT_EQ(f.duration().seconds(), 2); // how long the connect took
}

TEST_F(NetworkDecoderTest, ConnectFailTimeout) {
  NetRecord rec(VIGIL_NET_CONNECT_FAIL);
  rec.ev().error = 110;
  ASSERT_EQ(ETIMEDOUT, 110);
  const auto& f = decodeFlow(rec);
  EXPECT_EQ(f.error(), "ETIMEDOUT");
  EXPECT_EQ(f.failure(), "timeout");
}

TEST_F(NetworkDecoderTest, ConnectFailOtherErrors) {
  struct Row {
    int32_t err;
    std::string error;
    std::string failure;
  };
  const Row rows[] = {
      {ECONNRESET, "ECONNRESET", "reset"},
      {ENETUNREACH, "ENETUNREACH", "unreachable"},
      {EHOSTUNREACH, "EHOSTUNREACH", "unreachable"},
      {ECONNABORTED, "ECONNABORTED", "aborted"},
      {EACCES, "EACCES", "error"},
      {0, "", "error"},
      {-ECONNREFUSED, "", "error"}, // never sent: sk_err is positive
      {4000, "E4000", "error"}, // no name: the number, as the syscall decoder writes it
  };
  for (const auto& row : rows) {
    NetRecord rec(VIGIL_NET_CONNECT_FAIL);
    rec.ev().error = row.err;
    const auto& f = decodeFlow(rec);
    EXPECT_EQ(f.error(), row.error) << row.err;
    EXPECT_EQ(f.failure(), row.failure) << row.err;
  }
}

TEST_F(NetworkDecoderTest, ErrorOnlyOnConnectFail) {
  NetRecord rec(VIGIL_NET_CLOSE);
  rec.ev().error = ECONNRESET; // ignored for a close
  const auto& f = decodeFlow(rec);
  EXPECT_THAT(f.error(), IsEmpty());
  EXPECT_THAT(f.failure(), IsEmpty());
}

TEST_F(NetworkDecoderTest, IPv6Addresses) {
  NetRecord rec(VIGIL_NET_CONNECT, IPPROTO_TCP, "::1", 50000, "2001:db8::5", 8443);
  rec.ev().newstate = 1;
  const auto& f = decodeFlow(rec);
  EXPECT_EQ(f.family(), "AF_INET6");
  EXPECT_EQ(f.local().address(), "::1");
  EXPECT_EQ(f.local().port(), 50000u);
  EXPECT_EQ(f.remote().address(), "2001:db8::5");
  EXPECT_EQ(f.remote().port(), 8443u);

  NetRecord mapped(VIGIL_NET_CONNECT, IPPROTO_TCP, "::ffff:10.0.0.5", 1, "fe80::1:2", 2);
  const auto& m = decodeFlow(mapped);
  EXPECT_EQ(m.local().address(), "::ffff:10.0.0.5"); // not folded into IPv4
  EXPECT_EQ(m.remote().address(), "fe80::1:2");
}

TEST_F(NetworkDecoderTest, IPv4UsesOnlyTheFirstFourAddressBytes) {
  NetRecord rec(VIGIL_NET_CONNECT);
  std::memset(rec.ev().tuple.raddr + 4, 0xaa, 12);
  EXPECT_EQ(decodeFlow(rec).remote().address(), "93.184.216.34");
}

TEST_F(NetworkDecoderTest, UdpHasNoTcpState) {
  NetRecord rec(VIGIL_NET_UDP, IPPROTO_UDP, "10.0.0.5", 41000, "10.0.0.53", 53);
  rec.ev().oldstate = 7; // whatever the socket says: not a TCP state
  rec.ev().newstate = 1;
  rec.ev().counters = {.bytes_sent = 60, .bytes_received = 200, .packets_sent = 2, .packets_received = 2};
  const auto& f = decodeFlow(rec);
  EXPECT_EQ(f.kind(), v1::FLOW_UDP);
  EXPECT_EQ(f.protocol(), "UDP");
  EXPECT_EQ(f.family(), "AF_INET");
  EXPECT_THAT(f.state(), IsEmpty());
  EXPECT_THAT(f.old_state(), IsEmpty());
  EXPECT_EQ(f.bytes_sent(), 60u);
  EXPECT_EQ(f.bytes_received(), 200u);
  EXPECT_EQ(f.packets_sent(), 2u);
  EXPECT_EQ(f.packets_received(), 2u);
  EXPECT_EQ(f.duration().seconds(), 2);
  EXPECT_EQ(f.remote().port(), 53u);
  EXPECT_EQ(f.direction(), "outbound");
}

TEST_F(NetworkDecoderTest, OwnerUnknownHasNoProcess) {
  NetRecord rec(VIGIL_NET_CLOSE);
  rec.ev().owner = {};
  rec.ev().owner.netns = kNetns;
  const auto& f = decodeFlow(rec);
  EXPECT_TRUE(f.owner_unknown());
  EXPECT_FALSE(f.has_process());
  EXPECT_EQ(f.netns(), kNetns);
  EXPECT_EQ(decoded_.netns, kNetns);
  EXPECT_EQ(f.remote().address(), "93.184.216.34"); // the rest as usual
}

// A protocol byte that is neither TCP nor UDP is an error naming its byte.
TEST_F(NetworkDecoderTest, UnknownProtocolIsAnError) {
  NetRecord rec(VIGIL_NET_CONNECT, IPPROTO_SCTP);
  EXPECT_THAT(decodeError(rec.build()),
              HasSubstr(fmt::format("at byte {}: unknown protocol {}",
                                    offsetof(vigil_net_event, tuple) + offsetof(vigil_net_tuple, protocol),
                                    int(IPPROTO_SCTP))));
}

// --- DNS -------------------------------------------------------------------------------

TEST_F(NetworkDecoderTest, DnsResponseOverUdp) {
  DnsRecord rec(cnameResponse().bytes());
  const auto& d = decodeDns(rec);
  EXPECT_TRUE(d.response());
  EXPECT_EQ(d.id(), 0xbeefu);
  EXPECT_EQ(d.question(), "www.example.test");
  EXPECT_EQ(d.qtype(), "A");
  EXPECT_EQ(d.rcode(), "NOERROR");
  ASSERT_EQ(d.answers_size(), 2);
  EXPECT_EQ(d.answers(0).name(), "www.example.test");
  EXPECT_EQ(d.answers(0).type(), "CNAME");
  EXPECT_EQ(d.answers(0).ttl(), 300u);
  EXPECT_EQ(d.answers(0).data(), "edge.example.test");
  EXPECT_EQ(d.answers(1).name(), "edge.example.test");
  EXPECT_EQ(d.answers(1).type(), "A");
  EXPECT_EQ(d.answers(1).ttl(), 60u);
  EXPECT_EQ(d.answers(1).data(), "192.0.2.7");
  EXPECT_EQ(d.client().address(), "10.0.0.5");
  EXPECT_EQ(d.client().port(), 41234u);
  EXPECT_EQ(d.server().address(), "10.0.0.53");
  EXPECT_EQ(d.server().port(), 53u);
  EXPECT_EQ(d.transport(), "UDP");
  EXPECT_FALSE(d.truncated());
  EXPECT_EQ(d.socket_cookie(), kCookie + 1);

  ASSERT_TRUE(d.has_process());
  EXPECT_EQ(d.process().pid(), kPid);
  EXPECT_EQ(d.process().tid(), kPid + 3);
  EXPECT_EQ(d.process().exec_id(), process::formatExecId(kPid, kExecId));
  EXPECT_EQ(d.process().comm(), "curl");
  EXPECT_EQ(d.process().creds().uid(), 1000u);
  EXPECT_EQ(d.process().cgroup_id(), 777u);
  EXPECT_EQ(d.process().ns().net(), kNetns);
  EXPECT_FALSE(d.has_parent());

  EXPECT_EQ(event_.ktime_ns(), kNowNs);
  EXPECT_EQ(event_.time().seconds(), (int64_t(kNowNs) + kClockOffsetNs) / 1'000'000'000);
  EXPECT_FALSE(event_.has_flow());

  // The parsed message goes back to the caller for the name cache.
  ASSERT_TRUE(decoded_.dns.has_value());
  EXPECT_TRUE(decoded_.dns->response);
  EXPECT_EQ(decoded_.dns->id, 0xbeef);
  EXPECT_EQ(decoded_.dns->question, "www.example.test");
  ASSERT_EQ(decoded_.dns->answers.size(), 2u);
  EXPECT_EQ(decoded_.dns->answers[1].data, "192.0.2.7");
  EXPECT_EQ(decoded_.netns, kNetns);
}

TEST_F(NetworkDecoderTest, DnsQueryHasNoRcode) {
  DnsRecord rec(query().bytes(), IPPROTO_UDP, VIGIL_DNS_QUERY);
  const auto& d = decodeDns(rec);
  EXPECT_FALSE(d.response());
  EXPECT_EQ(d.id(), 0x1234u);
  EXPECT_EQ(d.question(), "example.test");
  EXPECT_EQ(d.qtype(), "AAAA");
  EXPECT_THAT(d.rcode(), IsEmpty());
  EXPECT_EQ(d.answers_size(), 0);
  ASSERT_TRUE(decoded_.dns.has_value());
  EXPECT_FALSE(decoded_.dns->response);
}

TEST_F(NetworkDecoderTest, DnsNxdomainRcode) {
  DnsBuilder b;
  b.header(7, kQr | kRd | kRa | 3, 1, 0).question("nope.test", 1);
  EXPECT_EQ(decodeDns(DnsRecord(b.bytes())).rcode(), "NXDOMAIN");
}

TEST_F(NetworkDecoderTest, DnsTruncated) {
  // More on the wire than captured.
  DnsRecord cut(cnameResponse().bytes());
  cut.ev().wire_len = cut.ev().len + 100;
  EXPECT_TRUE(decodeDns(cut).truncated());
  EXPECT_EQ(event_.dns().answers_size(), 2);

  // The TC bit.
  DnsRecord tc(cnameResponse(kTc).bytes());
  EXPECT_TRUE(decodeDns(tc).truncated());

  // The capture bound cut the answers.
  auto bytes = cnameResponse().bytes();
  bytes.resize(bytes.size() - 2);
  DnsRecord short_capture(bytes);
  short_capture.ev().wire_len = uint32_t(bytes.size() + 2);
  const auto& d = decodeDns(short_capture);
  EXPECT_TRUE(d.truncated());
  EXPECT_EQ(d.answers_size(), 1);

  // wire_len below len (never sent) is not truncation.
  DnsRecord odd(cnameResponse().bytes());
  odd.ev().wire_len = 0;
  EXPECT_FALSE(decodeDns(odd).truncated());
}

TEST_F(NetworkDecoderTest, DnsOverTcp) {
  DnsRecord rec(cnameResponse().tcp(), IPPROTO_TCP);
  const auto& d = decodeDns(rec);
  EXPECT_EQ(d.transport(), "TCP");
  EXPECT_TRUE(d.response());
  EXPECT_EQ(d.id(), 0xbeefu);
  EXPECT_EQ(d.question(), "www.example.test");
  ASSERT_EQ(d.answers_size(), 2);
  EXPECT_EQ(d.answers(1).data(), "192.0.2.7");
  EXPECT_FALSE(d.truncated());
}

TEST_F(NetworkDecoderTest, DnsIPv6Endpoints) {
  DnsRecord rec(query().bytes(), IPPROTO_UDP, VIGIL_DNS_QUERY);
  rec.ev().tuple = {};
  fillTuple(rec.ev().tuple, IPPROTO_UDP, "2001:db8::5", 40000, "2001:4860:4860::8888", 53);
  const auto& d = decodeDns(rec);
  EXPECT_EQ(d.client().address(), "2001:db8::5");
  EXPECT_EQ(d.client().port(), 40000u);
  EXPECT_EQ(d.server().address(), "2001:4860:4860::8888");
}

// A DNS record's address family is checked like a flow record's.
TEST_F(NetworkDecoderTest, DnsUnknownFamilyIsAnError) {
  DnsRecord rec(query().bytes());
  rec.ev().tuple.family = AF_UNIX;
  EXPECT_THAT(decodeError(rec.build()),
              HasSubstr(fmt::format("DNS record at byte {}: unknown address family {}",
                                    offsetof(vigil_dns_event, tuple) + offsetof(vigil_net_tuple, family), AF_UNIX)));
}

// --- malformed records -----------------------------------------------------------------

TEST_F(NetworkDecoderTest, ShorterThanTheHeader) {
  EXPECT_THAT(decodeError({}), HasSubstr("network record of 0 bytes is shorter than its 24-byte header"));
  auto rec = NetRecord(VIGIL_NET_CONNECT).build();
  rec.resize(sizeof(vigil_event_header) - 1);
  EXPECT_THAT(decodeError(rec), HasSubstr("network record of 23 bytes is shorter than its 24-byte header"));
}

TEST_F(NetworkDecoderTest, HeaderSizeDiffersFromRecordSize) {
  auto rec = NetRecord(VIGIL_NET_CONNECT).build();
  patch<uint32_t>(rec, offsetof(vigil_event_header, size), sizeof(vigil_net_event) - 1);
  EXPECT_THAT(decodeError(rec), HasSubstr(fmt::format("network record header says {} bytes, got {}",
                                                      sizeof(vigil_net_event) - 1, sizeof(vigil_net_event))));

  auto dns = DnsRecord(query().bytes()).build();
  dns.pop_back();
  EXPECT_THAT(decodeError(dns), HasSubstr(fmt::format("header says {} bytes, got {}", sizeof(vigil_dns_event),
                                                      sizeof(vigil_dns_event) - 1)));
}

TEST_F(NetworkDecoderTest, RecordSizeDiffersFromTheStruct) {
  // Header and record agree, but neither is a flow record's size.
  auto rec = NetRecord(VIGIL_NET_CONNECT).build();
  rec.push_back(0);
  patch<uint32_t>(rec, offsetof(vigil_event_header, size), uint32_t(rec.size()));
  EXPECT_THAT(decodeError(rec),
              HasSubstr(fmt::format("flow record: version 1 size {} (expected version 1 size {})", rec.size(),
                                    sizeof(vigil_net_event))));

  auto dns = DnsRecord(query().bytes()).build();
  dns.resize(sizeof(vigil_dns_event) - VIGIL_DNS_CAP); // no payload array
  patch<uint32_t>(dns, offsetof(vigil_event_header, size), uint32_t(dns.size()));
  EXPECT_THAT(decodeError(dns), HasSubstr(fmt::format("DNS record: version 1 size {} (expected version 1 size {})",
                                                      dns.size(), sizeof(vigil_dns_event))));
}

TEST_F(NetworkDecoderTest, WrongVersion) {
  auto rec = NetRecord(VIGIL_NET_CONNECT).build();
  patch<uint16_t>(rec, offsetof(vigil_event_header, version), VIGIL_NET_VERSION + 1);
  EXPECT_THAT(decodeError(rec), HasSubstr(fmt::format("flow record: version 2 size {} (expected version 1",
                                                      sizeof(vigil_net_event))));

  auto dns = DnsRecord(query().bytes()).build();
  patch<uint16_t>(dns, offsetof(vigil_event_header, version), 0);
  EXPECT_THAT(decodeError(dns), HasSubstr("DNS record: version 0 size"));
}

TEST_F(NetworkDecoderTest, FlowUnknownType) {
  for (uint32_t type : {0u, 7u, 0xffffffffu}) {
    NetRecord rec(type);
    EXPECT_THAT(decodeError(rec.build()), HasSubstr(fmt::format("flow record at byte {}: unknown type {}",
                                                                offsetof(vigil_net_event, type), type)));
  }
}

TEST_F(NetworkDecoderTest, FlowUnknownFamily) {
  for (uint16_t family : {uint16_t(AF_UNSPEC), uint16_t(AF_UNIX), uint16_t(0xffff)}) {
    NetRecord rec(VIGIL_NET_CONNECT);
    rec.ev().tuple.family = family;
    EXPECT_THAT(decodeError(rec.build()),
                HasSubstr(fmt::format("flow record at byte {}: unknown address family {}",
                                      offsetof(vigil_net_event, tuple) + offsetof(vigil_net_tuple, family), family)));
  }
}

TEST_F(NetworkDecoderTest, DnsPayloadLengthOverTheCap) {
  DnsRecord rec(query().bytes());
  rec.ev().len = VIGIL_DNS_CAP + 1;
  EXPECT_THAT(decodeError(rec.build()), HasSubstr(fmt::format("DNS record at byte {}: payload length 513 over 512",
                                                              offsetof(vigil_dns_event, len))));
  rec.ev().len = 0xffffffff;
  EXPECT_THAT(decodeError(rec.build()), HasSubstr("payload length 4294967295 over 512"));

  // Exactly the cap is fine (a 512-byte capture; the rest of it is zeros).
  rec.ev().len = VIGIL_DNS_CAP;
  rec.ev().wire_len = 1400;
  const auto& d = decodeDns(rec);
  EXPECT_EQ(d.question(), "example.test");
  EXPECT_TRUE(d.truncated());
}

TEST_F(NetworkDecoderTest, DnsPayloadThatDoesNotParse) {
  const std::vector<uint8_t> five = {0x12, 0x34, 0x01, 0x00, 0x00};
  EXPECT_THAT(decodeError(DnsRecord(five).build()), StartsWith("DNS payload: "));

  DnsRecord empty(std::vector<uint8_t>{}); // the kernel could not read the packet
  EXPECT_THAT(decodeError(empty.build()), StartsWith("DNS payload: "));

  // A question that runs past the captured bytes.
  auto bytes = query().bytes();
  bytes.resize(bytes.size() - 6);
  EXPECT_THAT(decodeError(DnsRecord(bytes).build()), StartsWith("DNS payload: "));
}

TEST_F(NetworkDecoderTest, KindThatIsNotNetwork) {
  auto rec = NetRecord(VIGIL_NET_CONNECT).build();
  for (uint16_t kind : {uint16_t(VIGIL_EV_EXEC), uint16_t(VIGIL_EV_SYSCALL), uint16_t(VIGIL_EV_KIND_MAX),
                        uint16_t(0)}) {
    patch<uint16_t>(rec, offsetof(vigil_event_header, kind), kind);
    EXPECT_THAT(decodeError(rec), HasSubstr(fmt::format("record kind {} is not a network record", kind)));
  }
}

TEST_F(NetworkDecoderTest, KindsAreNotSwapped) {
  // A flow-sized record saying DNS, and a DNS-sized one saying flow.
  auto flow = NetRecord(VIGIL_NET_CONNECT).build();
  patch<uint16_t>(flow, offsetof(vigil_event_header, kind), VIGIL_EV_DNS);
  EXPECT_THAT(decodeError(flow), HasSubstr("DNS record: version 1 size 184"));

  auto dns = DnsRecord(query().bytes()).build();
  patch<uint16_t>(dns, offsetof(vigil_event_header, kind), VIGIL_EV_NET);
  EXPECT_THAT(decodeError(dns), HasSubstr("flow record: version 1 size 648"));
}

// --- robustness: cut and corrupted records -----------------------------------------------

bool isAddress(const std::string& family, const std::string& text) {
  uint8_t bytes[16];
  return inet_pton(family == "AF_INET6" ? AF_INET6 : AF_INET, text.c_str(), bytes) == 1;
}

// Whatever the bytes, decode either fills the one body the record's kind
// names with well-formed fields (valid UTF-8, known enum values, addresses
// of the flow's family), or returns an error that names the part of the
// record that is wrong and fills no body. Returns whether it decoded.
bool expectEventOrNamedError(const Decoder& decoder, const std::vector<uint8_t>& record) {
  Event e;
  auto res = decoder.decode(record, e);
  if (!res.ok()) {
    EXPECT_THAT(res.error().message(), ::testing::ContainsRegex("^(network record|flow record|DNS record|"
                                                                "DNS payload: |record kind [0-9]+ is not)"));
    EXPECT_EQ(e.body_case(), Event::BODY_NOT_SET) << "a rejected record filled a body";
    return false;
  }
  vigil_event_header hdr;
  EXPECT_GE(record.size(), sizeof(hdr));
  if (record.size() < sizeof(hdr)) {
    return true;
  }
  std::memcpy(&hdr, record.data(), sizeof(hdr));
  EXPECT_EQ(hdr.size, record.size());
  EXPECT_EQ(e.ktime_ns(), hdr.ktime_ns);
  EXPECT_GE(e.time().nanos(), 0);
  EXPECT_LT(e.time().nanos(), 1'000'000'000);
  std::string wire;
  EXPECT_TRUE(e.SerializeToString(&wire));
  Event parsed;
  EXPECT_TRUE(parsed.ParseFromString(wire)) << "not valid UTF-8: " << e.ShortDebugString();

  if (hdr.kind == VIGIL_EV_NET) {
    EXPECT_EQ(e.body_case(), Event::kFlow);
    EXPECT_FALSE(res->dns.has_value());
    const auto& f = e.flow();
    EXPECT_GE(f.kind(), v1::FLOW_CONNECT);
    EXPECT_LE(f.kind(), v1::FLOW_UDP);
    EXPECT_TRUE(f.protocol() == "TCP" || f.protocol() == "UDP") << f.protocol();
    EXPECT_TRUE(f.family() == "AF_INET" || f.family() == "AF_INET6") << f.family();
    EXPECT_TRUE(isAddress(f.family(), f.local().address())) << f.local().address();
    EXPECT_TRUE(isAddress(f.family(), f.remote().address())) << f.remote().address();
    EXPECT_TRUE(f.direction() == "inbound" || f.direction() == "outbound") << f.direction();
    EXPECT_EQ(f.state().empty(), f.protocol() == "UDP");
    EXPECT_GE(f.duration().seconds(), 0);
    EXPECT_GE(f.duration().nanos(), 0);
    EXPECT_LT(f.duration().nanos(), 1'000'000'000);
    EXPECT_NE(f.owner_unknown(), f.has_process());
  } else {
    EXPECT_EQ(hdr.kind, VIGIL_EV_DNS);
    EXPECT_EQ(e.body_case(), Event::kDns);
    EXPECT_TRUE(res->dns.has_value());
    const auto& d = e.dns();
    EXPECT_TRUE(d.transport() == "TCP" || d.transport() == "UDP") << d.transport();
    const std::string family = d.client().address().find(':') == std::string::npos ? "AF_INET" : "AF_INET6";
    EXPECT_TRUE(isAddress(family, d.client().address())) << d.client().address();
    EXPECT_TRUE(isAddress(family, d.server().address())) << d.server().address();
    if (res->dns) {
      EXPECT_EQ(d.question(), res->dns->question);
      EXPECT_EQ(size_t(d.answers_size()), res->dns->answers.size());
      EXPECT_EQ(d.response(), res->dns->response);
    }
  }
  return true;
}

std::vector<uint8_t> flipped(std::vector<uint8_t> record, size_t bit) {
  record[bit / 8] ^= uint8_t(1u << (bit % 8));
  return record;
}

// A closed TCP flow, and a DNS answer with a CNAME.
std::vector<std::vector<uint8_t>> robustnessRecords() {
  NetRecord flow(VIGIL_NET_CLOSE);
  flow.ev().newstate = 7;
  flow.ev().counters.bytes_sent = 1200;
  flow.ev().counters.bytes_received = 34000;
  return {flow.build(), DnsRecord(cnameResponse().bytes()).build()};
}

// The kernel's times are taken as they come, and no value of them, however
// corrupt, overflows (run under UBSan: scripts/sanitize.sh): the event's
// time is a valid Timestamp and a duration is never negative.
TEST_F(NetworkDecoderTest, ExtremeTimesGiveValidTimestampsAndDurations) {
  constexpr uint64_t kMax = UINT64_MAX;
  constexpr uint64_t kHalf = uint64_t(INT64_MAX);
  const std::pair<uint64_t, uint64_t> times[] = {
      {kHalf, 1}, {kHalf, kHalf + 2}, {kMax, 1}, {kMax, kHalf}, {1, kMax}, {0, kHalf + 2}, {kHalf - 5, kHalf},
  };
  for (const auto& [ktime, start] : times) {
    SCOPED_TRACE(fmt::format("ktime {} start {}", ktime, start));
    NetRecord rec(VIGIL_NET_CLOSE);
    rec.ev().hdr.ktime_ns = ktime;
    rec.ev().start_ns = start;
    const auto& f = decodeFlow(rec);
    EXPECT_EQ(event_.ktime_ns(), ktime);
    EXPECT_GE(event_.time().seconds(), -62'135'596'800); // 0001-01-01, Timestamp's first second
    EXPECT_LE(event_.time().seconds(), 253'402'300'799); // 9999-12-31, its last
    EXPECT_GE(event_.time().nanos(), 0);
    EXPECT_LT(event_.time().nanos(), 1'000'000'000);
    EXPECT_GE(f.duration().seconds(), 0);
    EXPECT_GE(f.duration().nanos(), 0);
    EXPECT_LT(f.duration().nanos(), 1'000'000'000);
    EXPECT_TRUE(expectEventOrNamedError(decoder_, rec.build()));
  }
}

TEST_F(NetworkDecoderTest, EveryCutIsANamedError) {
  for (const auto& full : robustnessRecords()) {
    ASSERT_TRUE(expectEventOrNamedError(decoder_, full));
    for (size_t n = 0; n < full.size(); ++n) {
      SCOPED_TRACE(n);
      EXPECT_FALSE(expectEventOrNamedError(decoder_, std::vector<uint8_t>(full.begin(), full.begin() + long(n))));
    }
  }
}

// Every bit of kind, version and size is checked.
TEST_F(NetworkDecoderTest, EveryHeaderBitFlipIsANamedError) {
  for (const auto& full : robustnessRecords()) {
    for (size_t bit = 0; bit < 8 * offsetof(vigil_event_header, ktime_ns); ++bit) {
      SCOPED_TRACE(bit);
      EXPECT_FALSE(expectEventOrNamedError(decoder_, flipped(full, bit)));
    }
  }
}

// Counters are taken as they come: any value decodes, and shows.
TEST_F(NetworkDecoderTest, EveryCounterBitFlipDecodes) {
  const auto full = robustnessRecords()[0];
  const size_t first = 8 * offsetof(vigil_net_event, counters);
  for (size_t bit = first; bit < first + 8 * sizeof(vigil_net_counters); ++bit) {
    SCOPED_TRACE(bit);
    const auto record = flipped(full, bit);
    ASSERT_TRUE(expectEventOrNamedError(decoder_, record));
    vigil_net_event ev;
    std::memcpy(&ev, record.data(), sizeof(ev));
    const auto& f = decodeFlow(record);
    EXPECT_EQ(f.bytes_sent(), ev.counters.bytes_sent);
    EXPECT_EQ(f.bytes_received(), ev.counters.bytes_received);
    EXPECT_EQ(f.packets_sent(), ev.counters.packets_sent);
    EXPECT_EQ(f.packets_received(), ev.counters.packets_received);
    EXPECT_EQ(f.retransmits(), ev.counters.retransmits);
    EXPECT_EQ(f.srtt_us(), ev.counters.srtt_us);
  }
}

// A DNS payload bit flip may or may not leave a message that parses (an id
// or TTL bit does, a label length bit mostly does not): both happen.
TEST_F(NetworkDecoderTest, DnsPayloadBitFlipsDecodeOrNameTheError) {
  const auto full = robustnessRecords()[1];
  vigil_dns_event ev;
  std::memcpy(&ev, full.data(), sizeof(ev));
  const size_t first = 8 * offsetof(vigil_dns_event, payload);
  size_t ok = 0;
  size_t errors = 0;
  for (size_t bit = first; bit < first + 8 * ev.len; ++bit) {
    SCOPED_TRACE(bit);
    if (expectEventOrNamedError(decoder_, flipped(full, bit))) {
      ++ok;
    } else {
      ++errors;
    }
  }
  EXPECT_GT(ok, 0u);
  EXPECT_GT(errors, 0u);
}

// One to four random bit flips anywhere; run under ASan (scripts/sanitize.sh)
// this also checks that no corruption reads out of bounds.
TEST_F(NetworkDecoderTest, RandomBitFlipsDecodeOrNameTheError) {
  std::mt19937 rng(7);
  for (const auto& full : robustnessRecords()) {
    size_t ok = 0;
    size_t errors = 0;
    for (int round = 0; round < 5000; ++round) {
      SCOPED_TRACE(round);
      auto rec = full;
      const int flips = 1 + int(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        rec[rng() % rec.size()] ^= uint8_t(1u << (rng() % 8));
      }
      if (expectEventOrNamedError(decoder_, rec)) {
        ++ok;
      } else {
        ++errors;
      }
    }
    // Most bytes are addresses, ids and counters, taken as they come; about
    // one flip in twenty lands in the header or a checked field.
    EXPECT_GT(ok, 1000u);
    EXPECT_GT(errors, 100u);
  }
}

// --- helpers ---------------------------------------------------------------------------

TEST(NetworkDecoderHelpers, TcpStateName) {
  EXPECT_EQ(tcpStateName(1), "ESTABLISHED");
  EXPECT_EQ(tcpStateName(2), "SYN_SENT");
  EXPECT_EQ(tcpStateName(3), "SYN_RECV");
  EXPECT_EQ(tcpStateName(4), "FIN_WAIT1");
  EXPECT_EQ(tcpStateName(5), "FIN_WAIT2");
  EXPECT_EQ(tcpStateName(6), "TIME_WAIT");
  EXPECT_EQ(tcpStateName(7), "CLOSE");
  EXPECT_EQ(tcpStateName(8), "CLOSE_WAIT");
  EXPECT_EQ(tcpStateName(9), "LAST_ACK");
  EXPECT_EQ(tcpStateName(10), "LISTEN");
  EXPECT_EQ(tcpStateName(11), "CLOSING");
  EXPECT_EQ(tcpStateName(12), "NEW_SYN_RECV");
  EXPECT_EQ(tcpStateName(13), "BOUND_INACTIVE");
  EXPECT_EQ(tcpStateName(0), "TCP_STATE_0");
  EXPECT_EQ(tcpStateName(14), "TCP_STATE_14");
  EXPECT_EQ(tcpStateName(99), "TCP_STATE_99");
  EXPECT_EQ(tcpStateName(0xffffffff), "TCP_STATE_4294967295");
}

TEST(NetworkDecoderHelpers, ConnectFailure) {
  EXPECT_EQ(connectFailure(ECONNREFUSED), "refused");
  EXPECT_EQ(connectFailure(ETIMEDOUT), "timeout");
  EXPECT_EQ(connectFailure(ECONNRESET), "reset");
  EXPECT_EQ(connectFailure(ENETUNREACH), "unreachable");
  EXPECT_EQ(connectFailure(EHOSTUNREACH), "unreachable");
  EXPECT_EQ(connectFailure(ECONNABORTED), "aborted");
  EXPECT_EQ(connectFailure(EPERM), "error");
  EXPECT_EQ(connectFailure(0), "error");
  EXPECT_EQ(connectFailure(-ECONNREFUSED), "error");
}

TEST(NetworkDecoderHelpers, AddressText) {
  uint8_t bytes[16] = {};
  ASSERT_EQ(inet_pton(AF_INET, "192.0.2.255", bytes), 1);
  EXPECT_EQ(addressText(AF_INET, bytes), "192.0.2.255");
  std::memset(bytes, 0, sizeof(bytes));
  EXPECT_EQ(addressText(AF_INET, bytes), "0.0.0.0");
  EXPECT_EQ(addressText(AF_INET6, bytes), "::");

  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::5", bytes), 1);
  EXPECT_EQ(addressText(AF_INET6, bytes), "2001:db8::5");
  ASSERT_EQ(inet_pton(AF_INET6, "::1", bytes), 1);
  EXPECT_EQ(addressText(AF_INET6, bytes), "::1");
  std::memset(bytes, 0xff, sizeof(bytes));
  EXPECT_EQ(addressText(AF_INET6, bytes), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"); // the longest text

  EXPECT_EQ(addressText(AF_UNSPEC, bytes), "");
  EXPECT_EQ(addressText(AF_UNIX, bytes), "");
}

} // namespace
} // namespace vigil::network
