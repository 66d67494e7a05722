#include "collectors/network/decoder.h"

#include "shared/network.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <netinet/in.h>
#include <sys/socket.h>

namespace vigil::network {
namespace {

void setDuration(google::protobuf::Duration& d, int64_t ns) {
  if (ns < 0) {
    ns = 0;
  }
  d.set_seconds(ns / 1000000000);
  d.set_nanos(int32_t(ns % 1000000000));
}

void fillOwner(const vigil_net_owner& o, Process& p) {
  p.set_pid(o.pid);
  p.set_tid(o.tid);
  if (o.exec_id != 0) {
    p.set_exec_id(process::formatExecId(o.pid, o.exec_id));
  }
  p.mutable_creds()->set_uid(o.uid);
  p.set_cgroup_id(o.cgroup_id);
  p.mutable_ns()->set_net(o.netns);
  p.set_comm(runtime::sanitizeUtf8(std::string_view(o.comm, strnlen(o.comm, sizeof(o.comm)))));
}

void fillEndpoint(uint16_t family, const uint8_t* addr, uint16_t port, v1::Endpoint& e) {
  e.set_address(addressText(family, addr));
  e.set_port(port);
}

std::string_view familyName(uint16_t family) {
  return family == AF_INET6 ? "AF_INET6" : family == AF_INET ? "AF_INET" : "AF_UNSPEC";
}

} // namespace

std::string tcpStateName(uint32_t state) {
  static const char* const names[] = {"",          "ESTABLISHED", "SYN_SENT",   "SYN_RECV", "FIN_WAIT1",
                                      "FIN_WAIT2", "TIME_WAIT",   "CLOSE",      "CLOSE_WAIT", "LAST_ACK",
                                      "LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE"};
  if (state > 0 && state < sizeof(names) / sizeof(names[0])) {
    return names[state];
  }
  return fmt::format("TCP_STATE_{}", state);
}

std::string addressText(uint16_t family, const uint8_t* bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET6) {
    inet_ntop(AF_INET6, bytes, buf, sizeof(buf));
  } else if (family == AF_INET) {
    inet_ntop(AF_INET, bytes, buf, sizeof(buf));
  }
  return buf;
}

std::string_view connectFailure(int err) {
  switch (err) {
  case ECONNREFUSED:
    return "refused";
  case ETIMEDOUT:
    return "timeout";
  case ECONNRESET:
    return "reset";
  case ENETUNREACH:
  case EHOSTUNREACH:
    return "unreachable";
  case ECONNABORTED:
    return "aborted";
  default:
    return "error";
  }
}

Result<Decoded> Decoder::decode(std::span<const uint8_t> record, Event& event) const {
  vigil_event_header hdr;
  if (record.size() < sizeof(hdr)) {
    return makeError("network record of {} bytes is shorter than its {}-byte header", record.size(), sizeof(hdr));
  }
  std::memcpy(&hdr, record.data(), sizeof(hdr));
  if (hdr.size != record.size()) {
    return makeError("network record header says {} bytes, got {}", hdr.size, record.size());
  }
  event.set_ktime_ns(hdr.ktime_ns);
  clock_.toTimestamp(hdr.ktime_ns, *event.mutable_time());
  Decoded out;

  if (hdr.kind == VIGIL_EV_NET) {
    vigil_net_event ev;
    if (hdr.version != VIGIL_NET_VERSION || record.size() != sizeof(ev)) {
      return makeError("flow record: version {} size {} (expected version {} size {})", hdr.version, record.size(),
                       VIGIL_NET_VERSION, sizeof(ev));
    }
    std::memcpy(&ev, record.data(), sizeof(ev));
    if (ev.type < VIGIL_NET_CONNECT || ev.type > VIGIL_NET_UDP) {
      return makeError("flow record at byte {}: unknown type {}", offsetof(vigil_net_event, type), ev.type);
    }
    const auto& t = ev.tuple;
    if (t.family != AF_INET && t.family != AF_INET6) {
      return makeError("flow record at byte {}: unknown address family {}",
                       offsetof(vigil_net_event, tuple) + offsetof(vigil_net_tuple, family), t.family);
    }
    if (t.protocol != IPPROTO_TCP && t.protocol != IPPROTO_UDP) {
      return makeError("flow record at byte {}: unknown protocol {}",
                       offsetof(vigil_net_event, tuple) + offsetof(vigil_net_tuple, protocol), t.protocol);
    }
    auto* f = event.mutable_flow();
    out.netns = ev.owner.netns;
    if (ev.owner.pid != 0) {
      fillOwner(ev.owner, *f->mutable_process());
    } else {
      f->set_owner_unknown(true);
    }
    f->set_kind(v1::FlowKind(ev.type));
    f->set_protocol(t.protocol == IPPROTO_UDP ? "UDP" : "TCP");
    f->set_family(std::string(familyName(t.family)));
    fillEndpoint(t.family, t.laddr, t.lport, *f->mutable_local());
    fillEndpoint(t.family, t.raddr, t.rport, *f->mutable_remote());
    bool inbound = ev.type == VIGIL_NET_ACCEPT || (ev.flags & VIGIL_SOCK_F_PASSIVE);
    f->set_direction(inbound ? "inbound" : "outbound");
    f->set_bytes_sent(ev.counters.bytes_sent);
    f->set_bytes_received(ev.counters.bytes_received);
    f->set_packets_sent(ev.counters.packets_sent);
    f->set_packets_received(ev.counters.packets_received);
    f->set_retransmits(ev.counters.retransmits);
    f->set_srtt_us(ev.counters.srtt_us);
    if (ev.type == VIGIL_NET_CLOSE || ev.type == VIGIL_NET_UPDATE || ev.type == VIGIL_NET_UDP ||
        ev.type == VIGIL_NET_CONNECT_FAIL) {
      if (ev.start_ns != 0) {
        // Both times come from the record: a start after the end is 0, a
        // span beyond int64 (a corrupt record) the longest there is.
        const uint64_t span = hdr.ktime_ns > ev.start_ns ? hdr.ktime_ns - ev.start_ns : 0;
        setDuration(*f->mutable_duration(), int64_t(std::min<uint64_t>(span, uint64_t(INT64_MAX))));
      }
    }
    if (t.protocol == IPPROTO_TCP) {
      f->set_state(tcpStateName(ev.newstate));
      f->set_old_state(tcpStateName(ev.oldstate));
    }
    if (ev.type == VIGIL_NET_CONNECT_FAIL) {
      f->set_error(ev.error > 0 ? runtime::errnoName(ev.error) : std::string());
      f->set_failure(std::string(connectFailure(ev.error)));
    }
    f->set_socket_cookie(ev.cookie);
    f->set_netns(ev.owner.netns);
    return out;
  }

  if (hdr.kind == VIGIL_EV_DNS) {
    vigil_dns_event ev;
    if (hdr.version != VIGIL_DNS_VERSION || record.size() != sizeof(ev)) {
      return makeError("DNS record: version {} size {} (expected version {} size {})", hdr.version, record.size(),
                       VIGIL_DNS_VERSION, sizeof(ev));
    }
    std::memcpy(&ev, record.data(), sizeof(ev));
    if (ev.len > VIGIL_DNS_CAP) {
      return makeError("DNS record at byte {}: payload length {} over {}", offsetof(vigil_dns_event, len), ev.len,
                       VIGIL_DNS_CAP);
    }
    if (ev.tuple.family != AF_INET && ev.tuple.family != AF_INET6) {
      return makeError("DNS record at byte {}: unknown address family {}",
                       offsetof(vigil_dns_event, tuple) + offsetof(vigil_net_tuple, family), ev.tuple.family);
    }
    bool tcp = ev.tuple.protocol == IPPROTO_TCP;
    auto msg = parseDns(std::span<const uint8_t>(ev.payload, ev.len), tcp);
    if (!msg) {
      return msg.error().wrap("DNS payload");
    }
    auto* d = event.mutable_dns();
    fillOwner(ev.owner, *d->mutable_process());
    d->set_response(msg->response);
    d->set_id(msg->id);
    d->set_question(msg->question);
    d->set_qtype(dnsTypeName(msg->qtype));
    if (msg->response) {
      d->set_rcode(dnsRcodeName(msg->rcode));
    }
    for (const auto& a : msg->answers) {
      auto* ans = d->add_answers();
      ans->set_name(a.name);
      ans->set_type(dnsTypeName(a.type));
      ans->set_ttl(a.ttl);
      ans->set_data(a.data);
    }
    fillEndpoint(ev.tuple.family, ev.tuple.laddr, ev.tuple.lport, *d->mutable_client());
    fillEndpoint(ev.tuple.family, ev.tuple.raddr, ev.tuple.rport, *d->mutable_server());
    d->set_transport(tcp ? "TCP" : "UDP");
    d->set_truncated(msg->truncated || ev.wire_len > ev.len);
    d->set_socket_cookie(ev.cookie);
    out.netns = ev.owner.netns;
    out.dns = std::move(*msg);
    return out;
  }
  return makeError("record kind {} is not a network record", hdr.kind);
}

} // namespace vigil::network
