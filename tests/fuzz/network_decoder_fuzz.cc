// Network ring buffer records (bpf/shared/network.h) into events:
// network::Decoder::decode on any bytes (flows, and DNS records whose
// payload goes through parseDns).

#include "collectors/network/decoder.h"
#include "tests/fuzz/fuzz_check.h"

#include "shared/network.h"

#include <cstring>

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const network::Decoder decoder(runtime::BootClock(1'700'000'000'000'000'000));
  Event event;
  auto result = decoder.decode({data, size}, event);
  if (!result.ok()) {
    fuzz::checkError(result.error());
    fuzz::check(!event.has_flow() && !event.has_dns(), "a rejected record fills no body");
    return 0;
  }
  vigil_event_header hdr;
  fuzz::check(size >= sizeof(hdr), "a decoded record holds a header");
  std::memcpy(&hdr, data, sizeof(hdr));
  fuzz::check(hdr.size == size, "a decoded record is the size its header says");
  if (hdr.kind == VIGIL_EV_NET) {
    fuzz::check(size == sizeof(vigil_net_event), "a flow record has the flow size");
    fuzz::check(event.has_flow() && !result->dns, "a flow record fills flow");
    const auto& f = event.flow();
    fuzz::check(f.kind() >= v1::FLOW_CONNECT && f.kind() <= v1::FLOW_UDP, "a known flow kind");
    fuzz::check(f.protocol() == "TCP" || f.protocol() == "UDP", "a known protocol");
    fuzz::check(f.family() == "AF_INET" || f.family() == "AF_INET6", "a known family");
    fuzz::check(!f.local().address().empty() && !f.remote().address().empty(), "both addresses written");
    fuzz::check(f.owner_unknown() != f.has_process(), "an owner, or owner_unknown");
  } else {
    fuzz::check(hdr.kind == VIGIL_EV_DNS, "only flow and DNS records decode");
    fuzz::check(size == sizeof(vigil_dns_event), "a DNS record has the DNS size");
    fuzz::check(event.has_dns() && result->dns.has_value(), "a DNS record fills dns and returns the message");
    fuzz::check(event.dns().question() == result->dns->question, "the event's question is the message's");
    fuzz::check(size_t(event.dns().answers_size()) == result->dns->answers.size(), "every answer is in the event");
  }
  fuzz::checkShippable(event);
  return 0;
}
