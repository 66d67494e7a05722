#pragma once

// Turns network ring buffer records (bpf/shared/network.h) into events.
// Pure: no kernel, no I/O.

#include "collectors/network/dns.h"
#include "collectors/process/decoder.h"
#include "vigil/event.h"
#include "vigil/status.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace vigil::network {

// "ESTABLISHED" for 1, ...; "TCP_STATE_<n>" otherwise.
std::string tcpStateName(uint32_t state);
// Address text of a record's 16 address bytes (IPv4 in the first 4).
std::string addressText(uint16_t family, const uint8_t* bytes);
// What a failed connect's socket error means: "refused", "timeout", ...
std::string_view connectFailure(int err);

struct Decoded {
  // Set for DNS records whose payload parsed: the message, for the name cache.
  std::optional<DnsMessage> dns;
  uint32_t netns = 0; // the owner's network namespace (the DNS cache scope)
};

class Decoder {
public:
  explicit Decoder(runtime::BootClock clock) : clock_(clock) {}
  const runtime::BootClock& clock() const { return clock_; }

  // Decodes one VIGIL_EV_NET record into event.flow, or one VIGIL_EV_DNS
  // record into event.dns. A malformed record is an error saying what and
  // where; a DNS payload that does not parse is an error too (the raw record
  // is dropped and counted by the caller).
  Result<Decoded> decode(std::span<const uint8_t> record, Event& event) const;

private:
  runtime::BootClock clock_;
};

} // namespace vigil::network
