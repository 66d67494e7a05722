#include "collectors/network/dns.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <algorithm>

namespace vigil::network {
namespace {

constexpr size_t kHeaderBytes = 12;
constexpr size_t kMaxNameBytes = 255; // wire form: length octets, labels and the final zero
constexpr int kMaxPointerJumps = 128;
constexpr size_t kRrFixedBytes = 10; // type, class, ttl, rdlength

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeNs = 2;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypePtr = 12;
constexpr uint16_t kTypeAaaa = 28;

constexpr uint64_t kNsPerSecond = 1000000000ULL;

uint16_t readU16(std::span<const uint8_t> bytes, size_t at) {
  return uint16_t((bytes[at] << 8) | bytes[at + 1]);
}

uint32_t readU32(std::span<const uint8_t> bytes, size_t at) {
  return (uint32_t(bytes[at]) << 24) | (uint32_t(bytes[at + 1]) << 16) | (uint32_t(bytes[at + 2]) << 8) |
         uint32_t(bytes[at + 3]);
}

// Appends one label as text: lowercase, with the bytes that would make the
// name ambiguous or unprintable escaped as dig does.
void appendLabel(std::span<const uint8_t> label, std::string& out) {
  for (uint8_t c : label) {
    if (c >= 'A' && c <= 'Z') {
      out.push_back(char(c - 'A' + 'a'));
    } else if (c == '.' || c == '\\') {
      out.push_back('\\');
      out.push_back(char(c));
    } else if (c < 0x21 || c > 0x7e) {
      out += fmt::format("\\{:03d}", c);
    } else {
      out.push_back(char(c));
    }
  }
}

// Reads the parts of one message. Offsets are into msg; errors report them
// counted from the start of the payload (msg starts at payload byte base_).
class MessageReader {
public:
  MessageReader(std::span<const uint8_t> msg, size_t base) : msg_(msg), base_(base) {}

  size_t size() const { return msg_.size(); }
  size_t at(size_t offset) const { return base_ + offset; }
  std::span<const uint8_t> bytes() const { return msg_; }

  // Whether the last error was the captured bytes running out (rather than
  // bytes that are wrong whatever follows them).
  bool ranOut() const { return ran_out_; }

  // Reads the (possibly compressed) name at offset into name. Returns the
  // offset just past the name where it starts: after its final zero, or after
  // its first compression pointer.
  Result<size_t> readName(size_t offset, std::string_view what, std::string& name) {
    name.clear();
    size_t pos = offset;
    size_t end = 0; // set at the first pointer or the final zero
    bool jumped = false;
    int jumps = 0;
    size_t wire_bytes = 1; // the final zero
    while (true) {
      if (pos >= msg_.size()) {
        return ranOutError(fmt::format("{} at byte {} runs past the end of the message at byte {}", what,
                                       at(offset), at(pos)));
      }
      const uint8_t len = msg_[pos];
      if (len == 0) {
        if (!jumped) {
          end = pos + 1;
        }
        break;
      }
      if ((len & 0xc0) == 0xc0) {
        if (pos + 1 >= msg_.size()) {
          return ranOutError(fmt::format("{} at byte {} runs past the end of the message in the "
                                         "compression pointer at byte {}",
                                         what, at(offset), at(pos)));
        }
        if (++jumps > kMaxPointerJumps) {
          return fail(makeError("{} at byte {} has a compression pointer loop: more than {} jumps "
                                "(the last at byte {})",
                                what, at(offset), kMaxPointerJumps, at(pos)));
        }
        if (!jumped) {
          end = pos + 2;
          jumped = true;
        }
        // Forward pointers are allowed; the jump bound stops loops.
        pos = (size_t(len & 0x3f) << 8) | msg_[pos + 1];
        continue;
      }
      if (len & 0xc0) {
        return fail(makeError("{} at byte {} has a label at byte {} of length {}, over 63 (reserved label "
                              "type 0x{:02x})",
                              what, at(offset), at(pos), len, len & 0xc0));
      }
      wire_bytes += size_t(len) + 1;
      if (wire_bytes > kMaxNameBytes) {
        return fail(makeError("{} at byte {} is longer than {} bytes (at the label at byte {})", what,
                              at(offset), kMaxNameBytes, at(pos)));
      }
      if (pos + 1 + len > msg_.size()) {
        return ranOutError(fmt::format("{} at byte {} runs past the end of the message in the {}-byte label "
                                       "at byte {}",
                                       what, at(offset), len, at(pos)));
      }
      if (!name.empty()) {
        name.push_back('.');
      }
      appendLabel(msg_.subspan(pos + 1, len), name);
      pos += 1 + size_t(len);
    }
    if (name.empty()) {
      name = ".";
    }
    return end;
  }

  Error ranOutError(std::string message) {
    ran_out_ = true;
    return Error(std::move(message));
  }

  Error fail(Error error) {
    ran_out_ = false;
    return error;
  }

private:
  std::span<const uint8_t> msg_;
  size_t base_;
  bool ran_out_ = false;
};

std::string addressText(int family, std::span<const uint8_t> bytes) {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(family, bytes.data(), text, sizeof(text)) == nullptr) {
    return {};
  }
  return text;
}

// The answer RR at offset (number index, counting from 0). Returns the offset
// after it. An error with reader.ranOut() means the capture ended inside it.
Result<size_t> readAnswer(MessageReader& reader, size_t offset, size_t index, DnsAnswer& answer) {
  const std::string what = fmt::format("answer {} name", index);
  auto name_end = reader.readName(offset, what, answer.name);
  if (!name_end) {
    return name_end.error();
  }
  const size_t fixed = *name_end;
  if (fixed + kRrFixedBytes > reader.size()) {
    return reader.ranOutError(fmt::format("answer {} at byte {} ends before its type, class, TTL and "
                                          "RDLENGTH at byte {}",
                                          index, reader.at(offset), reader.at(fixed)));
  }
  auto bytes = reader.bytes();
  answer.type = readU16(bytes, fixed);
  answer.ttl = readU32(bytes, fixed + 4);
  const size_t rdlength = readU16(bytes, fixed + 8);
  const size_t rdata = fixed + kRrFixedBytes;
  if (rdata + rdlength > reader.size()) {
    return reader.ranOutError(fmt::format("answer {} at byte {} has {} bytes of RDATA at byte {} but the "
                                          "message ends after {}",
                                          index, reader.at(offset), rdlength, reader.at(rdata),
                                          reader.size() - rdata));
  }
  switch (answer.type) {
  case kTypeA:
  case kTypeAaaa: {
    const size_t want = answer.type == kTypeA ? 4 : 16;
    if (rdlength != want) {
      return reader.fail(makeError("answer {} at byte {} is {} with RDLENGTH {} at byte {}, not {}", index,
                                   reader.at(offset), dnsTypeName(answer.type), rdlength,
                                   reader.at(fixed + 8), want));
    }
    answer.data = addressText(answer.type == kTypeA ? AF_INET : AF_INET6, bytes.subspan(rdata, rdlength));
    break;
  }
  case kTypeCname:
  case kTypePtr:
  case kTypeNs: {
    const std::string target_what = fmt::format("answer {} {} target", index, dnsTypeName(answer.type));
    auto target_end = reader.readName(rdata, target_what, answer.data);
    if (!target_end) {
      return target_end.error();
    }
    if (*target_end > rdata + rdlength) {
      return reader.fail(makeError("{} at byte {} overruns its RDLENGTH of {} (ends at byte {})", target_what,
                                   reader.at(rdata), rdlength, reader.at(*target_end)));
    }
    break;
  }
  default:
    break;
  }
  return rdata + rdlength;
}

} // namespace

Result<DnsMessage> parseDns(std::span<const uint8_t> payload, bool tcp) {
  DnsMessage msg;
  std::span<const uint8_t> bytes = payload;
  size_t base = 0;
  if (tcp) {
    if (payload.size() < 2) {
      return makeError("TCP DNS payload of {} bytes is shorter than its 2-byte length prefix", payload.size());
    }
    const size_t length = readU16(payload, 0);
    if (length < kHeaderBytes) {
      return makeError("TCP length prefix at byte 0 says {} bytes, shorter than the {}-byte DNS header", length,
                       kHeaderBytes);
    }
    base = 2;
    bytes = payload.subspan(2);
    if (length > bytes.size()) {
      msg.capture_truncated = true;
    } else {
      bytes = bytes.first(length);
    }
  }
  if (bytes.size() < kHeaderBytes) {
    return makeError("DNS message of {} bytes at byte {} is shorter than the {}-byte header", bytes.size(), base,
                     kHeaderBytes);
  }

  msg.id = readU16(bytes, 0);
  const uint16_t flags = readU16(bytes, 2);
  msg.response = (flags & 0x8000) != 0;
  msg.opcode = uint8_t((flags >> 11) & 0xf);
  const bool tc = (flags & 0x0200) != 0;
  msg.rcode = uint8_t(flags & 0xf);
  const size_t qdcount = readU16(bytes, 4);
  const size_t ancount = readU16(bytes, 6);

  MessageReader reader(bytes, base);
  size_t pos = kHeaderBytes;
  std::string name;
  for (size_t i = 0; i < qdcount; ++i) {
    auto end = reader.readName(pos, fmt::format("question {} name", i), name);
    if (!end) {
      return end.error();
    }
    if (*end + 4 > bytes.size()) {
      return makeError("question {} at byte {} ends before its type and class at byte {}", i, reader.at(pos),
                       reader.at(*end));
    }
    if (i == 0) {
      msg.question = name;
      msg.qtype = readU16(bytes, *end);
    }
    pos = *end + 4;
  }

  // Every RR takes at least 11 bytes, which bounds what a forged count can
  // reserve.
  msg.answers.reserve(std::min(ancount, (bytes.size() - std::min(pos, bytes.size())) / 11));
  for (size_t i = 0; i < ancount; ++i) {
    DnsAnswer answer;
    auto end = readAnswer(reader, pos, i, answer);
    if (!end) {
      if (reader.ranOut()) {
        msg.capture_truncated = true;
        break;
      }
      return end.error();
    }
    msg.answers.push_back(std::move(answer));
    pos = *end;
  }

  msg.truncated = tc || msg.capture_truncated;
  return msg;
}

std::string dnsTypeName(uint16_t type) {
  switch (type) {
  case 1:
    return "A";
  case 2:
    return "NS";
  case 5:
    return "CNAME";
  case 6:
    return "SOA";
  case 12:
    return "PTR";
  case 15:
    return "MX";
  case 16:
    return "TXT";
  case 28:
    return "AAAA";
  case 33:
    return "SRV";
  case 41:
    return "OPT";
  case 64:
    return "SVCB";
  case 65:
    return "HTTPS";
  case 255:
    return "ANY";
  default:
    return fmt::format("TYPE{}", type);
  }
}

std::string dnsRcodeName(uint8_t rcode) {
  switch (rcode) {
  case 0:
    return "NOERROR";
  case 1:
    return "FORMERR";
  case 2:
    return "SERVFAIL";
  case 3:
    return "NXDOMAIN";
  case 4:
    return "NOTIMP";
  case 5:
    return "REFUSED";
  default:
    return fmt::format("RCODE{}", rcode);
  }
}

size_t DnsCache::KeyHash::operator()(const KeyView& key) const {
  const size_t h = std::hash<std::string_view>()(key.address);
  return h ^ (std::hash<uint64_t>()(key.scope) * 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

DnsCache::DnsCache(Options options) : options_(options) {}

void DnsCache::addResponse(uint64_t scope, const DnsMessage& msg, uint64_t now_ns) {
  if (!msg.response || msg.opcode != 0 || msg.rcode != 0) {
    return;
  }
  dropExpired(now_ns);

  // The question and the names reached from it through CNAME answers, in
  // whatever order the answers come. Each step adds a new name, so the
  // answers bound the walk even when the CNAMEs loop.
  std::vector<std::string_view> chain;
  if (!msg.question.empty()) {
    chain.push_back(msg.question);
    bool grew = true;
    while (grew) {
      grew = false;
      for (const DnsAnswer& answer : msg.answers) {
        if (answer.type == kTypeCname && answer.name == chain.back() && !answer.data.empty() &&
            std::find(chain.begin(), chain.end(), answer.data) == chain.end()) {
          chain.push_back(answer.data);
          grew = true;
          break;
        }
      }
    }
  }

  for (const DnsAnswer& answer : msg.answers) {
    if ((answer.type != kTypeA && answer.type != kTypeAaaa) || answer.data.empty()) {
      continue;
    }
    const bool asked = std::find(chain.begin(), chain.end(), answer.name) != chain.end();
    // RFC 2181 section 8: a TTL with the top bit set is read as zero.
    uint32_t ttl = (answer.ttl & 0x80000000U) ? 0 : answer.ttl;
    ttl = std::max(std::min(ttl, options_.max_ttl_seconds), options_.min_ttl_seconds);
    insert(scope, answer.data, asked ? std::string_view(msg.question) : std::string_view(answer.name),
           now_ns + uint64_t(ttl) * kNsPerSecond);
  }
}

std::string DnsCache::lookup(uint64_t scope, std::string_view address, uint64_t now_ns) {
  auto it = entries_.find(KeyView{scope, address});
  if (it == entries_.end()) {
    ++stats_.misses;
    return {};
  }
  if (now_ns >= it->second.expires_ns) {
    erase(it);
    ++stats_.expired;
    ++stats_.misses;
    return {};
  }
  ++stats_.hits;
  return it->second.name;
}

DnsCache::Stats DnsCache::stats() const {
  Stats stats = stats_;
  stats.entries = entries_.size();
  return stats;
}

void DnsCache::insert(uint64_t scope, std::string_view address, std::string_view name, uint64_t expires_ns) {
  if (options_.max_entries == 0) {
    return;
  }
  auto it = entries_.find(KeyView{scope, address});
  if (it != entries_.end()) {
    by_expiry_.erase({it->second.expires_ns, &it->first});
    it->second.name.assign(name);
    it->second.expires_ns = expires_ns;
    by_expiry_.insert({expires_ns, &it->first});
    return;
  }
  // Expired entries are gone already (dropExpired), so these are live.
  while (entries_.size() >= options_.max_entries && !by_expiry_.empty()) {
    erase(entries_.find(*by_expiry_.begin()->second));
    ++stats_.evictions;
  }
  auto [inserted, ok] = entries_.try_emplace(Key{scope, std::string(address)}, Entry{std::string(name), expires_ns});
  (void)ok;
  by_expiry_.insert({expires_ns, &inserted->first});
}

void DnsCache::erase(Map::iterator it) {
  by_expiry_.erase({it->second.expires_ns, &it->first});
  entries_.erase(it);
}

void DnsCache::dropExpired(uint64_t now_ns) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now_ns) {
    erase(entries_.find(*by_expiry_.begin()->second));
    ++stats_.expired;
  }
}

} // namespace vigil::network
