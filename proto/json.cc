#include "proto/json.h"

#include "vigil/v1/event.json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <vector>

namespace vigil {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// The proto3 JSON mapping, written directly from reflection. Protobuf's own
// printer (util::MessageToJsonString) goes through a type resolver and an
// object stream: ~34 us for an 800-byte exec event here, where this takes a
// few (bench/results/decode.md). parseJson still uses protobuf's parser, and
// the unit tests check that it reads back exactly what this writes.
//
// This is the reference for the generated writers (renderJson): what they
// print is defined as what this prints.
class JsonWriter {
public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  Status message(const Message& msg) {
    const Descriptor* d = msg.GetDescriptor();
    if (d == google::protobuf::Timestamp::descriptor()) {
      return timestamp(static_cast<const google::protobuf::Timestamp&>(msg));
    }
    if (d == google::protobuf::Duration::descriptor()) {
      return duration(static_cast<const google::protobuf::Duration&>(msg));
    }
    const Reflection* r = msg.GetReflection();
    out_ += '{';
    bool first = true;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      // Like always_print_primitive_fields: proto3 scalars and lists always;
      // fields with presence (messages, oneof members) only when set.
      if (f->has_presence() && !r->HasField(msg, f)) {
        continue;
      }
      if (!first) {
        out_ += ',';
      }
      first = false;
      string(f->name());
      out_ += ':';
      if (f->is_map()) {
        if (auto st = map(msg, r, f); !st) {
          return st;
        }
      } else if (f->is_repeated()) {
        out_ += '[';
        int n = r->FieldSize(msg, f);
        for (int k = 0; k < n; ++k) {
          if (k > 0) {
            out_ += ',';
          }
          if (auto st = value(msg, r, f, k); !st) {
            return st;
          }
        }
        out_ += ']';
      } else if (auto st = value(msg, r, f); !st) {
        return st;
      }
    }
    out_ += '}';
    return okStatus();
  }

private:
  // A map field: a JSON object; keys are strings (integer and bool keys as
  // their text), values by the value field's type. Entries are in key order
  // (bytes for string keys, numeric otherwise): the order of the repeated
  // view depends on how the map was filled and on its hash seed.
  Status map(const Message& msg, const Reflection* r, const FieldDescriptor* f) {
    const FieldDescriptor* key_f = f->message_type()->map_key();
    const FieldDescriptor* value_f = f->message_type()->map_value();
    out_ += '{';
    const int n = r->FieldSize(msg, f);
    std::vector<const Message*> entries;
    entries.reserve(size_t(n));
    for (int k = 0; k < n; ++k) {
      entries.push_back(&r->GetRepeatedMessage(msg, f, k));
    }
    std::sort(entries.begin(), entries.end(),
              [key_f](const Message* a, const Message* b) { return keyLess(*a, *b, key_f); });
    for (int k = 0; k < n; ++k) {
      const Message& entry = *entries[size_t(k)];
      const Reflection* er = entry.GetReflection();
      if (k > 0) {
        out_ += ',';
      }
      if (key_f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        std::string scratch;
        string(er->GetStringReference(entry, key_f, &scratch));
      } else {
        std::string text;
        std::swap(text, out_);
        auto st = value(entry, er, key_f);
        std::swap(text, out_);
        if (!st) {
          return st;
        }
        if (text.size() >= 2 && text.front() == '"') {
          out_ += text; // 64-bit integers are already quoted
        } else {
          string(text);
        }
      }
      out_ += ':';
      if (auto st = value(entry, er, value_f); !st) {
        return st;
      }
    }
    out_ += '}';
    return okStatus();
  }

  // Map entry a's key before b's.
  static bool keyLess(const Message& a, const Message& b, const FieldDescriptor* key_f) {
    const Reflection* r = a.GetReflection();
    switch (key_f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(a, key_f) < r->GetInt32(b, key_f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(a, key_f) < r->GetUInt32(b, key_f);
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(a, key_f) < r->GetInt64(b, key_f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->GetUInt64(a, key_f) < r->GetUInt64(b, key_f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(a, key_f) < r->GetBool(b, key_f);
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch_a;
      std::string scratch_b;
      return r->GetStringReference(a, key_f, &scratch_a) < r->GetStringReference(b, key_f, &scratch_b);
    }
    default: // map keys are integers, bools and strings only
      return false;
    }
  }

  // Field f of msg: the singular value when index < 0, else element index.
  Status value(const Message& msg, const Reflection* r, const FieldDescriptor* f, int index = -1) {
    const bool one = index < 0;
    switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      integer(one ? r->GetInt32(msg, f) : r->GetRepeatedInt32(msg, f, index), false);
      return okStatus();
    case FieldDescriptor::CPPTYPE_UINT32:
      integer(one ? r->GetUInt32(msg, f) : r->GetRepeatedUInt32(msg, f, index), false);
      return okStatus();
    case FieldDescriptor::CPPTYPE_INT64: // 64-bit integers are JSON strings
      integer(one ? r->GetInt64(msg, f) : r->GetRepeatedInt64(msg, f, index), true);
      return okStatus();
    case FieldDescriptor::CPPTYPE_UINT64:
      integer(one ? r->GetUInt64(msg, f) : r->GetRepeatedUInt64(msg, f, index), true);
      return okStatus();
    case FieldDescriptor::CPPTYPE_BOOL:
      out_ += (one ? r->GetBool(msg, f) : r->GetRepeatedBool(msg, f, index)) ? "true" : "false";
      return okStatus();
    case FieldDescriptor::CPPTYPE_ENUM:
      string((one ? r->GetEnum(msg, f) : r->GetRepeatedEnum(msg, f, index))->name());
      return okStatus();
    case FieldDescriptor::CPPTYPE_STRING: {
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        return makeError("bytes field {} has no JSON rendering here", f->full_name());
      }
      std::string scratch;
      string(one ? r->GetStringReference(msg, f, &scratch) : r->GetRepeatedStringReference(msg, f, index, &scratch));
      return okStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return message(one ? r->GetMessage(msg, f) : r->GetRepeatedMessage(msg, f, index));
    default:
      return makeError("field {} has a type this renderer does not handle", f->full_name());
    }
  }

  // Fractional seconds as protobuf prints them: none, 3, 6 or 9 digits.
  void fraction(int32_t nanos) {
    if (nanos == 0) {
      return;
    }
    if (nanos % 1000000 == 0) {
      fmt::format_to(std::back_inserter(out_), ".{:03}", nanos / 1000000);
    } else if (nanos % 1000 == 0) {
      fmt::format_to(std::back_inserter(out_), ".{:06}", nanos / 1000);
    } else {
      fmt::format_to(std::back_inserter(out_), ".{:09}", nanos);
    }
  }

  Status timestamp(const google::protobuf::Timestamp& ts) {
    // The proto3 JSON range: 0001-01-01 to 9999-12-31.
    if (ts.seconds() < -62135596800LL || ts.seconds() > 253402300799LL || ts.nanos() < 0 ||
        ts.nanos() > 999999999) {
      return makeError("timestamp {}s {}ns is outside the JSON range", ts.seconds(), ts.nanos());
    }
    time_t secs = time_t(ts.seconds());
    struct tm tm {};
    gmtime_r(&secs, &tm);
    fmt::format_to(std::back_inserter(out_), "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    fraction(ts.nanos());
    out_ += "Z\"";
    return okStatus();
  }

  Status duration(const google::protobuf::Duration& d) {
    int64_t secs = d.seconds();
    int32_t nanos = d.nanos();
    if ((secs < 0 && nanos > 0) || (secs > 0 && nanos < 0) || nanos <= -1000000000 || nanos >= 1000000000) {
      return makeError("duration {}s {}ns is malformed", secs, nanos);
    }
    out_ += '"';
    if (secs < 0 || nanos < 0) {
      out_ += '-';
      secs = -secs;
      nanos = -nanos;
    }
    fmt::format_to(std::back_inserter(out_), "{}", secs);
    fraction(nanos);
    out_ += "s\"";
    return okStatus();
  }

  // A JSON string; input is valid UTF-8 (the decoder guarantees it). Runs of
  // characters that need no escape are appended whole: nearly all of them.
  void string(std::string_view s) {
    out_ += '"';
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      auto u = static_cast<unsigned char>(s[i]);
      if (u >= 0x20 && u != 0x7f && u != '"' && u != '\\') {
        continue;
      }
      out_.append(s.data() + run, i - run);
      run = i + 1;
      switch (u) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      case '\b':
        out_ += "\\b";
        break;
      case '\f':
        out_ += "\\f";
        break;
      default:
        fmt::format_to(std::back_inserter(out_), "\\u{:04x}", u);
      }
    }
    out_.append(s.data() + run, s.size() - run);
    out_ += '"';
  }

  // An integer as JSON: 64-bit ones are strings in the proto3 mapping.
  template <typename T>
  void integer(T v, bool quoted) {
    fmt::format_int text(v);
    if (quoted) {
      out_ += '"';
    }
    out_.append(text.data(), text.size());
    if (quoted) {
      out_ += '"';
    }
  }

  std::string& out_;
};

} // namespace

Status renderJson(const Event& event, std::string& out) {
  out.clear();
  if (v1::json::writeJson(event, out)) {
    return okStatus();
  }
  // A value with no JSON form: the reference writer says which, in the same words.
  return renderJsonReflection(event, out);
}

Status renderJsonReflection(const Event& event, std::string& out) {
  out.clear();
  JsonWriter writer(out);
  if (auto st = writer.message(event); !st) {
    return st.error().wrap(fmt::format("rendering event seq {} as JSON", event.seq()));
  }
  return okStatus();
}

Status parseJson(const std::string& line, Event& event) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(line, &event, options);
  if (!status.ok()) {
    return makeError("parsing event JSON: {}", status.ToString());
  }
  return okStatus();
}

} // namespace vigil
