// DNS payloads captured on port 53: parseDns on any bytes, and the name cache
// fed with what parses. The first input byte picks the transport (low bit
// set: TCP, with its 2-byte length prefix); the rest is the payload.

#include "collectors/network/dns.h"
#include "tests/fuzz/fuzz_check.h"

#include <algorithm>
#include <string>

using namespace vigil;

namespace {

uint16_t wireU16(const uint8_t* bytes) { return uint16_t((bytes[0] << 8) | bytes[1]); }

// Printable ASCII without upper case (other bytes escaped), at most four
// characters per byte of a name's 255.
bool isNameText(const std::string& name) {
  return !name.empty() && name.size() <= 4 * 255 && std::all_of(name.begin(), name.end(), [](char c) {
    return c >= 0x21 && c <= 0x7e && !(c >= 'A' && c <= 'Z');
  });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const bool tcp = (data[0] & 1) != 0;
  const uint8_t* payload = data + 1;
  const size_t len = size - 1;
  auto result = network::parseDns({payload, len}, tcp);
  if (!result.ok()) {
    fuzz::checkError(result.error());
    fuzz::check(result.error().message().find("byte") != std::string::npos, "an error says at which byte");
    return 0;
  }
  const network::DnsMessage& m = *result;
  const size_t base = tcp ? 2 : 0;
  fuzz::check(len >= base + 12, "nothing parses without a whole header");
  const uint8_t* header = payload + base;
  const uint16_t flags = wireU16(header + 2);
  fuzz::check(m.id == wireU16(header), "the id is the header's");
  fuzz::check(m.response == ((flags & 0x8000) != 0), "QR is the header's");
  fuzz::check(m.rcode == (flags & 0xf), "the rcode is the header's");
  fuzz::check(m.truncated == (((flags & 0x0200) != 0) || m.capture_truncated), "truncated is TC or a short capture");
  const size_t qdcount = wireU16(header + 4);
  const size_t ancount = wireU16(header + 6);
  fuzz::check(m.question.empty() == (qdcount == 0), "a question exactly when the header counts one");
  fuzz::check(qdcount == 0 || isNameText(m.question), "the question is name text");
  fuzz::check(m.answers.size() <= ancount, "no more answers than the header counts");
  fuzz::check(m.capture_truncated || m.answers.size() == ancount, "every answer unless the capture ended");
  for (const auto& a : m.answers) {
    fuzz::check(isNameText(a.name), "an answer's name is name text");
  }

  // The cache keeps its bound, and what it returns is a name it was given.
  static network::DnsCache cache({.max_entries = 64, .min_ttl_seconds = 1, .max_ttl_seconds = 60});
  static uint64_t now_ns = 0;
  now_ns += 100'000'000;
  cache.addResponse(data[0] >> 1, m, now_ns);
  fuzz::check(cache.stats().entries <= 64, "the cache keeps its bound");
  for (const auto& a : m.answers) {
    const std::string name = cache.lookup(data[0] >> 1, a.data, now_ns);
    fuzz::check(name.empty() || isNameText(name), "a cached name is name text");
  }
  return 0;
}
