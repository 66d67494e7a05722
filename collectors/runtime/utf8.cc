#include "collectors/runtime/utf8.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace vigil::runtime {

std::string sanitizeUtf8(std::string_view s) {
  // Nearly every string is ASCII, which is kept as it is.
  if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<uint8_t>(c) < 0x80; })) {
    return std::string(s);
  }
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t len = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      out += char(c);
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      min = 0x10000;
    }
    bool valid = len != 0 && i + len <= s.size();
    uint32_t cp = len ? (c & (0xFF >> (len + 1))) : 0;
    for (size_t k = 1; valid && k < len; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        valid = false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (valid && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) {
      valid = false;
    }
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return out;
}

} // namespace vigil::runtime
