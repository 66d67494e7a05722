#pragma once

// What the generated JSON writers (proto/protoc-gen-vigil-json.cc, writing
// gen/vigil/v1/*.json.{h,cc}) share: values appended to a std::string in the
// format of proto/json.h, byte for byte what the reflection writer
// (renderJsonReflection) prints.

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::json {

// The inside of a JSON string: '"', '\\' and the control characters (DEL
// included) escaped; input is valid UTF-8 and is copied as is. (Generated
// writers put the quotes in the text around it: `,"comm":"` and `","next":`.)
void writeEscaped(std::string_view s, std::string& out);

// A JSON string: quoted and escaped.
inline void writeString(std::string_view s, std::string& out) {
  out.push_back('"');
  writeEscaped(s, out);
  out.push_back('"');
}

// An integer in decimal. 32-bit integers are JSON numbers, 64-bit ones JSON
// strings (the proto3 mapping): generated writers put their quotes in the
// text around them, as for strings.
template <typename T> inline void writeNumber(T v, std::string& out) {
  char text[24];
  auto end = std::to_chars(text, text + sizeof(text), v).ptr;
  out.append(text, size_t(end - text));
}

// The same as a JSON string.
template <typename T> inline void writeQuotedNumber(T v, std::string& out) {
  char text[24];
  text[0] = '"';
  char* end = std::to_chars(text + 1, text + sizeof(text) - 1, v).ptr;
  *end++ = '"';
  out.append(text, size_t(end - text));
}

inline void writeBool(bool v, std::string& out) {
  if (v) {
    out.append("true", 4);
  } else {
    out.append("false", 5);
  }
}

// An enum value the enum does not define (proto3 enums are open), named as
// reflection names it: "UNKNOWN_ENUM_VALUE_<Enum>_<number>".
void writeUnknownEnum(std::string_view enum_name, int value, std::string& out);

// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits; false outside the
// proto3 JSON range (years 1 to 9999) or with nanos outside [0, 1e9).
[[nodiscard]] bool writeTimestamp(const google::protobuf::Timestamp& ts, std::string& out);

// "<secs>[.frac]s", negative when either part is; false when the parts'
// signs disagree or nanos is out of range.
[[nodiscard]] bool writeDuration(const google::protobuf::Duration& d, std::string& out);

// Map keys are JSON strings: string keys escaped, integer and bool keys as their text.
inline void writeMapKey(const std::string& key, std::string& out) { writeString(key, out); }
inline void writeMapKey(int32_t key, std::string& out) { writeQuotedNumber(key, out); }
inline void writeMapKey(uint32_t key, std::string& out) { writeQuotedNumber(key, out); }
inline void writeMapKey(int64_t key, std::string& out) { writeQuotedNumber(key, out); }
inline void writeMapKey(uint64_t key, std::string& out) { writeQuotedNumber(key, out); }
inline void writeMapKey(bool key, std::string& out) {
  if (key) {
    out.append("\"true\"", 6);
  } else {
    out.append("\"false\"", 7);
  }
}

// A protobuf Map's entries in key order (bytes for string keys, numeric
// otherwise): its iteration order is a hash order that differs between maps
// with the same content, and the reflection writer sorts the same way.
template <typename Map> std::vector<const typename Map::value_type*> sortedEntries(const Map& map) {
  std::vector<const typename Map::value_type*> entries;
  entries.reserve(map.size());
  for (const auto& entry : map) {
    entries.push_back(&entry);
  }
  std::sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  return entries;
}

} // namespace vigil::json
