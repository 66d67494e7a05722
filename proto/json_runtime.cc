#include "proto/json_runtime.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace vigil::json {
namespace {

// For each byte: 0 when it is copied as is, else the letter of its two-character
// escape ('n' for "\n"), or 'u' for "\u00XX".
constexpr std::array<char, 256> kEscapes = [] {
  std::array<char, 256> table{};
  for (int c = 0; c < 0x20; ++c) {
    table[c] = 'u';
  }
  table[0x7f] = 'u';
  table['"'] = '"';
  table['\\'] = '\\';
  table['\n'] = 'n';
  table['\r'] = 'r';
  table['\t'] = 't';
  table['\b'] = 'b';
  table['\f'] = 'f';
  return table;
}();

// Whether one of the 8 bytes of word needs an escape (below 0x20, '"', '\\'
// or DEL), 8 at a time: the "has less" and "has zero byte" tests of Sean
// Anderson's Bit Twiddling Hacks, exact as a yes/no.
bool needsEscape(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  auto hasZero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const uint64_t below_space = (word - kOnes * 0x20) & ~word & kHigh;
  return (below_space | hasZero(word ^ (kOnes * '"')) | hasZero(word ^ (kOnes * '\\')) |
          hasZero(word ^ (kOnes * 0x7f))) != 0;
}

// v as exactly `digits` decimal digits (zero-padded) at p; returns the end.
char* fixedDigits(char* p, uint64_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    p[i] = char('0' + v % 10);
    v /= 10;
  }
  return p + digits;
}

// Fractional seconds as protobuf prints them: none, 3, 6 or 9 digits.
char* fraction(char* p, int32_t nanos) {
  if (nanos == 0) {
    return p;
  }
  *p++ = '.';
  uint32_t v = uint32_t(nanos);
  int digits = 9;
  if (v % 1000000 == 0) {
    v /= 1000000;
    digits = 3;
  } else if (v % 1000 == 0) {
    v /= 1000;
    digits = 6;
  }
  return fixedDigits(p, v, digits);
}

} // namespace

void writeEscaped(std::string_view s, std::string& out) {
  const char* run = s.data(); // start of the bytes not yet appended
  const char* p = s.data();
  const char* end = s.data() + s.size();
  while (p != end) {
    if (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, sizeof(word));
      if (!needsEscape(word)) {
        p += 8;
        continue;
      }
    }
    for (const char* stop = std::min(p + 8, end); p != stop; ++p) {
      const char escape = kEscapes[static_cast<unsigned char>(*p)];
      if (escape == 0) {
        continue;
      }
      out.append(run, size_t(p - run));
      run = p + 1;
      if (escape == 'u') {
        static constexpr char kHex[] = "0123456789abcdef";
        const auto u = static_cast<unsigned char>(*p);
        const char text[6] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
        out.append(text, sizeof(text));
      } else {
        const char text[2] = {'\\', escape};
        out.append(text, sizeof(text));
      }
    }
  }
  out.append(run, size_t(end - run));
}

void writeUnknownEnum(std::string_view enum_name, int value, std::string& out) {
  std::string name = "UNKNOWN_ENUM_VALUE_";
  name += enum_name;
  name += '_';
  writeNumber(value, name);
  writeString(name, out);
}

bool writeTimestamp(const google::protobuf::Timestamp& ts, std::string& out) {
  const int64_t secs = ts.seconds();
  const int32_t nanos = ts.nanos();
  // The proto3 JSON range: 0001-01-01 to 9999-12-31.
  if (secs < -62135596800LL || secs > 253402300799LL || nanos < 0 || nanos > 999999999) {
    return false;
  }
  // Civil date from days since 1970-01-01 in the proleptic Gregorian
  // calendar (what gmtime_r computes), after H. Hinnant's days_from_civil
  // inverse: eras of 400 years, years starting on March 1st.
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const auto year = uint64_t(int64_t(yoe) + era * 400 + (month <= 2 ? 1 : 0));

  // "YYYY-MM-DDTHH:MM:SS.fffffffffZ"
  char text[32];
  char* p = text;
  *p++ = '"';
  p = fixedDigits(p, year, 4);
  *p++ = '-';
  p = fixedDigits(p, month, 2);
  *p++ = '-';
  p = fixedDigits(p, day, 2);
  *p++ = 'T';
  p = fixedDigits(p, unsigned(rem / 3600), 2);
  *p++ = ':';
  p = fixedDigits(p, unsigned(rem / 60 % 60), 2);
  *p++ = ':';
  p = fixedDigits(p, unsigned(rem % 60), 2);
  p = fraction(p, nanos);
  *p++ = 'Z';
  *p++ = '"';
  out.append(text, size_t(p - text));
  return true;
}

bool writeDuration(const google::protobuf::Duration& d, std::string& out) {
  const int64_t secs = d.seconds();
  const int32_t nanos = d.nanos();
  if ((secs < 0 && nanos > 0) || (secs > 0 && nanos < 0) || nanos <= -1000000000 || nanos >= 1000000000) {
    return false;
  }
  char text[40];
  char* p = text;
  *p++ = '"';
  uint64_t magnitude = uint64_t(secs);
  int32_t frac = nanos;
  if (secs < 0 || nanos < 0) {
    *p++ = '-';
    magnitude = 0 - magnitude;
    frac = -frac;
  }
  p = std::to_chars(p, text + sizeof(text), magnitude).ptr;
  p = fraction(p, frac);
  *p++ = 's';
  *p++ = '"';
  out.append(text, size_t(p - text));
  return true;
}

} // namespace vigil::json
