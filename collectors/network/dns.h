#pragma once

// DNS messages captured on port 53 (a UDP payload, or a TCP segment payload
// starting with the 2-byte length prefix, at most 512 bytes and possibly cut
// short by that bound) turned into query/answer records, and a cache that
// remembers which names resolved to which addresses so later connections to
// those addresses can carry the name. Pure: no kernel, no I/O, no clock.

#include "vigil/status.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vigil::network {

// Names are lowercase ASCII without the trailing dot; the root name is ".".
// Label bytes that would make the text ambiguous or unprintable are escaped
// the way dig shows them: '.' as "\.", '\' as "\\", and bytes outside
// 0x21..0x7e as "\DDD" (three decimal digits).

struct DnsAnswer {
  std::string name; // owner name of the RR
  uint16_t type = 0; // 1 A, 28 AAAA, 5 CNAME, ...
  uint32_t ttl = 0;
  std::string data; // A/AAAA: address text (inet_ntop); CNAME/PTR/NS: the target name; other types: empty
};

struct DnsMessage {
  uint16_t id = 0;
  bool response = false; // QR bit
  uint8_t opcode = 0;
  uint8_t rcode = 0; // 0 NOERROR, 3 NXDOMAIN, ...
  // The TC bit is set, or the capture ended before the message did; the
  // latter alone also sets capture_truncated.
  bool truncated = false;
  bool capture_truncated = false;
  std::string question; // first question name; empty if none
  uint16_t qtype = 0;
  std::vector<DnsAnswer> answers; // answer section only, in order
};

// Parses a DNS message. tcp: payload begins with the 2-byte big-endian
// message length (bytes after the message it announces are ignored).
//
// Errors say what is wrong and at which byte, counted from the start of
// payload (so including a TCP length prefix): shorter than the 12-byte
// header, a question running past the end, a label longer than 63 (or a
// reserved label type), a name longer than 255 bytes, a compression pointer
// loop (more than 128 jumps), an A/AAAA record of the wrong size, a name in
// RDATA that overruns its RDLENGTH.
//
// The answer section may be cut by the capture bound: parsing stops at the
// first answer that does not fit, keeps the answers before it and sets
// capture_truncated. A TCP length larger than the captured bytes also sets
// capture_truncated. Authority and additional sections are not read.
Result<DnsMessage> parseDns(std::span<const uint8_t> payload, bool tcp);

// "A", "AAAA", "CNAME", ...; "TYPE<n>" for types without a name here.
std::string dnsTypeName(uint16_t type);

// "NOERROR", "NXDOMAIN", ...; "RCODE<n>" for codes without a name.
std::string dnsRcodeName(uint8_t rcode);

// Remembers address -> name from DNS answers for their TTL, clamped to
// [min_ttl_seconds, max_ttl_seconds]. Keys are (scope, address text as
// inet_ntop writes it); the agent passes the network namespace inode as the
// scope so containers with different resolvers do not mix. IPv4-mapped IPv6
// addresses are not folded into IPv4.
//
// An address answered again takes the newer name and expiry. When full, the
// entry that expires soonest goes first (a still-live one counts as an
// eviction): it is the one that would be dropped soonest anyway, and it
// makes already-expired entries go before any live one.
class DnsCache {
public:
  struct Options {
    size_t max_entries = 65536;
    uint32_t min_ttl_seconds = 5;
    uint32_t max_ttl_seconds = 3600;
  };

  struct Stats {
    uint64_t entries = 0;
    uint64_t hits = 0;
    uint64_t misses = 0; // lookups of unknown or expired addresses
    uint64_t evictions = 0; // live entries dropped to respect max_entries
    uint64_t expired = 0; // entries dropped because their TTL ran out
  };

  explicit DnsCache(Options options);

  // Records the A/AAAA answers of a NOERROR standard-query response; ignores
  // queries, other opcodes and other rcodes. Each address maps to the name
  // the client asked for when the answer's owner is that name or reached from
  // it through the CNAME answers (www.a.test -> CNAME b.test -> A 10.0.0.1
  // maps 10.0.0.1 to www.a.test); otherwise to the owner name. Also drops the
  // entries that have expired by now_ns (CLOCK_BOOTTIME nanoseconds).
  void addResponse(uint64_t scope, const DnsMessage& msg, uint64_t now_ns);

  // The name for address in scope, or empty. An expired entry is a miss (and
  // is dropped).
  std::string lookup(uint64_t scope, std::string_view address, uint64_t now_ns);

  Stats stats() const;

private:
  struct Key {
    uint64_t scope;
    std::string address;
    bool operator==(const Key&) const = default;
  };
  struct KeyView {
    uint64_t scope;
    std::string_view address;
  };
  // Hashes and compares Key and KeyView alike, so lookups need no copy.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(const Key& key) const { return (*this)(KeyView{key.scope, key.address}); }
    size_t operator()(const KeyView& key) const;
  };
  struct KeyEqual {
    using is_transparent = void;
    static KeyView view(const Key& key) { return {key.scope, key.address}; }
    static KeyView view(const KeyView& key) { return key; }
    template <class A, class B> bool operator()(const A& a, const B& b) const {
      return view(a).scope == view(b).scope && view(a).address == view(b).address;
    }
  };
  struct Entry {
    std::string name;
    uint64_t expires_ns = 0; // live while now_ns < expires_ns
  };
  using Map = std::unordered_map<Key, Entry, KeyHash, KeyEqual>;

  void insert(uint64_t scope, std::string_view address, std::string_view name, uint64_t expires_ns);
  void erase(Map::iterator it);
  void dropExpired(uint64_t now_ns);

  Options options_;
  Map entries_;
  // (expires_ns, key) of every entry, soonest first. Keys point into
  // entries_, whose nodes do not move.
  std::set<std::pair<uint64_t, const Key*>> by_expiry_;
  Stats stats_;
};

} // namespace vigil::network
