// JSON lines rendered from the proto contract, and parsed back.

#include "proto/json.h"
#include "vigil/v1/event.json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <string>
#include <utility>
#include <vector>

namespace vigil {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::Not;

Event execEvent() {
  Event e;
  e.set_node("node-7");
  e.set_seq(42);
  e.set_ktime_ns(6'500'000'123);
  e.mutable_time()->set_seconds(1'700'000'006);
  e.mutable_time()->set_nanos(500'000'123);
  Process* p = e.mutable_exec()->mutable_process();
  p->set_pid(4242);
  p->set_tid(4242);
  p->set_ppid(100);
  p->set_exec_id("112233445566778800001092");
  p->set_parent_exec_id("0000000abcdef01200000064");
  p->set_binary("/usr/bin/true");
  p->add_args("true");
  p->add_args("a \"quoted\" arg");
  p->add_args("");
  p->set_cwd("/root");
  p->set_filename("/usr/bin/true");
  p->set_comm("true");
  p->mutable_creds()->set_uid(0); // root: every id is 0
  p->mutable_creds()->set_auid(4294967295u);
  p->mutable_caps()->set_effective_mask(uint64_t(1) << 21);
  p->mutable_caps()->add_effective("CAP_SYS_ADMIN");
  p->mutable_ns()->set_pid(4026531836u);
  p->set_cgroup_id(9'007'199'254'740'993); // above 2^53: exact only as a string
  p->set_exe_inode(131'077);
  p->set_exe_dev("254:1");
  p->mutable_start_time()->set_seconds(1'700'000'005);
  p->set_start_boot_ns(5'000'000'000);
  p->set_source(v1::PROCESS_SOURCE_EXEC);
  Process* parent = e.mutable_exec()->mutable_parent();
  parent->set_pid(100);
  parent->set_binary("/usr/bin/bash");
  return e;
}

Event exitEvent() {
  Event e;
  e.set_seq(43);
  e.set_ktime_ns(7'250'000'000);
  auto* exit = e.mutable_exit();
  exit->mutable_process()->set_pid(4242);
  exit->mutable_process()->set_exec_id("112233445566778800001092");
  exit->set_signal(9);
  exit->set_signal_name("SIGKILL");
  exit->set_core_dumped(true);
  exit->mutable_duration()->set_seconds(2);
  exit->mutable_duration()->set_nanos(250'000'000);
  return e;
}

std::string render(const Event& event) {
  std::string out;
  auto st = renderJson(event, out);
  EXPECT_TRUE(st.ok()) << st.error().message();
  return out;
}

TEST(JsonTest, PrintsZeroValuedFields) {
  std::string line = render(execEvent());
  EXPECT_THAT(line, HasSubstr("\"uid\":0"));
  EXPECT_THAT(line, HasSubstr("\"euid\":0"));
  EXPECT_THAT(line, HasSubstr("\"args_truncated\":false"));
  EXPECT_THAT(line, HasSubstr("\"kernel_thread\":false"));
  EXPECT_THAT(line, HasSubstr("\"permitted\":[]"));
}

TEST(JsonTest, UsesProtoFieldNames) {
  std::string line = render(execEvent());
  EXPECT_THAT(line, HasSubstr("\"exec_id\":\"112233445566778800001092\""));
  EXPECT_THAT(line, HasSubstr("\"parent_exec_id\":"));
  EXPECT_THAT(line, HasSubstr("\"args_truncated\":"));
  EXPECT_THAT(line, HasSubstr("\"start_boot_ns\":"));
  EXPECT_THAT(line, Not(HasSubstr("execId")));
  EXPECT_THAT(line, Not(HasSubstr("argsTruncated")));
  EXPECT_THAT(line, HasSubstr("\"source\":\"PROCESS_SOURCE_EXEC\""));
}

TEST(JsonTest, RendersSixtyFourBitIntegersAsStrings) {
  std::string line = render(execEvent());
  EXPECT_THAT(line, HasSubstr("\"seq\":\"42\""));
  EXPECT_THAT(line, HasSubstr("\"ktime_ns\":\"6500000123\""));
  EXPECT_THAT(line, HasSubstr("\"cgroup_id\":\"9007199254740993\""));
  EXPECT_THAT(line, HasSubstr("\"effective_mask\":\"2097152\""));
  // 32-bit integers stay numbers.
  EXPECT_THAT(line, HasSubstr("\"pid\":4242"));
  EXPECT_THAT(line, HasSubstr("\"auid\":4294967295"));
}

TEST(JsonTest, IsOneLine) {
  std::string line = render(execEvent());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.front(), '{');
  EXPECT_EQ(line.back(), '}');
  // Quotes inside strings are escaped, not line breaks or raw quotes.
  EXPECT_THAT(line, HasSubstr(R"("a \"quoted\" arg")"));
}

TEST(JsonTest, ReplacesWhatTheOutputHeld) {
  std::string out = "stale";
  ASSERT_TRUE(renderJson(execEvent(), out).ok());
  EXPECT_EQ(out.front(), '{');
  EXPECT_THAT(out, Not(HasSubstr("stale")));
}

TEST(JsonTest, ExecEventRoundTrips) {
  Event original = execEvent();
  Event parsed;
  auto st = parseJson(render(original), parsed);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(MessageDifferencer::Equals(original, parsed))
      << original.ShortDebugString() << "\n" << parsed.ShortDebugString();
  EXPECT_TRUE(parsed.has_exec());
  EXPECT_EQ(parsed.exec().process().cgroup_id(), 9'007'199'254'740'993u);
}

TEST(JsonTest, ExitEventRoundTrips) {
  Event original = exitEvent();
  std::string line = render(original);
  EXPECT_THAT(line, HasSubstr("\"signal_name\":\"SIGKILL\""));
  EXPECT_THAT(line, HasSubstr("\"duration\":\"2.250s\""));
  Event parsed;
  ASSERT_TRUE(parseJson(line, parsed).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(original, parsed))
      << original.ShortDebugString() << "\n" << parsed.ShortDebugString();
}

TEST(JsonTest, PodLabelsAreAnObjectAndRoundTrip) {
  Event original = execEvent();
  auto* p = original.mutable_exec()->mutable_process();
  p->mutable_container()->set_id(std::string(64, 'a'));
  p->mutable_container()->set_name("web");
  p->mutable_pod()->set_name("frontend-7d9");
  p->mutable_pod()->set_namespace_("shop");
  (*p->mutable_pod()->mutable_labels())["app"] = "frontend";
  (*p->mutable_pod()->mutable_labels())["quote\"d"] = "a\nb";
  std::string line = render(original);
  EXPECT_THAT(line, HasSubstr("\"labels\":{"));
  EXPECT_THAT(line, HasSubstr("\"app\":\"frontend\""));
  Event parsed;
  auto st = parseJson(line, parsed);
  ASSERT_TRUE(st.ok()) << st.error().message() << "\n" << line;
  EXPECT_TRUE(MessageDifferencer::Equals(original, parsed))
      << original.ShortDebugString() << "\n" << parsed.ShortDebugString();
}

TEST(JsonTest, GarbageIsAnError) {
  Event event;
  for (const std::string& line : {std::string("not json"), std::string("{\"seq\":"), std::string("")}) {
    auto st = parseJson(line, event);
    ASSERT_FALSE(st.ok()) << "accepted: " << line;
    EXPECT_THAT(st.error().message(), HasSubstr("parsing event JSON"));
  }
}

TEST(JsonTest, UnknownFieldIsAnError) {
  Event event;
  auto st = parseJson(R"({"seq":"1","bogus_field":3})", event);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("bogus_field"));

  st = parseJson(R"({"exec":{"process":{"pid":1,"not_a_field":true}}})", event);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("not_a_field"));
}

TEST(JsonTest, WrongTypeIsAnError) {
  Event event;
  EXPECT_FALSE(parseJson(R"({"exec":{"process":{"pid":"many"}}})", event).ok());
}

} // namespace
} // namespace vigil

namespace vigil {
namespace {

// The same JSON value (keys, values, defaults) as protobuf's own printer.
google::protobuf::Struct asStruct(const std::string& json) {
  google::protobuf::Struct s;
  auto st = google::protobuf::util::JsonStringToMessage(json, &s);
  EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << json;
  return s;
}

std::string protobufPrinter(const Event& e) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(e, &out, options).ok());
  return out;
}

TEST(JsonRendererTest, SameJsonValueAsProtobufsPrinter) {
  for (int32_t nanos : {0, 5'000'000, 5'000, 5, 999'999'999}) {
    for (Event e : {execEvent(), exitEvent()}) {
      e.mutable_time()->set_nanos(nanos);
      if (e.has_exit()) {
        e.mutable_exit()->mutable_duration()->set_seconds(2);
        e.mutable_exit()->mutable_duration()->set_nanos(nanos);
      }
      Process* p = e.has_exec() ? e.mutable_exec()->mutable_process() : e.mutable_exit()->mutable_process();
      p->add_args("ctl\x01\x7f\n\t\\ \xc3\xa9 \xe2\x82\xac");
      std::string ours;
      ASSERT_TRUE(renderJson(e, ours));
      EXPECT_TRUE(MessageDifferencer::Equals(asStruct(ours), asStruct(protobufPrinter(e))))
          << "ours:   " << ours << "\nproto:  " << protobufPrinter(e);
      Event back;
      ASSERT_TRUE(parseJson(ours, back));
      EXPECT_TRUE(MessageDifferencer::Equals(back, e));
    }
  }
}

TEST(JsonRendererTest, NegativeDurationAndOutOfRangeTimestamp) {
  Event e = exitEvent();
  e.mutable_exit()->mutable_duration()->set_seconds(-1);
  e.mutable_exit()->mutable_duration()->set_nanos(-500'000'000);
  std::string ours;
  ASSERT_TRUE(renderJson(e, ours));
  EXPECT_THAT(ours, HasSubstr("\"duration\":\"-1.500s\""));
  e.mutable_time()->set_seconds(300'000'000'000LL);
  EXPECT_FALSE(renderJson(e, ours));
}

} // namespace
} // namespace vigil

// The generated writer (renderJson) against the reflection writer it must
// match byte for byte (renderJsonReflection), on events built by reflection
// so that no field is forgotten when the contract grows.
namespace vigil {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Both writers give the same bytes, or fail with the same error. The
// generated writer is also called directly: renderJson falls back on the
// reflection writer when it fails.
void expectSameAsReflection(const Event& e) {
  std::string reference = "stale";
  auto reference_st = renderJsonReflection(e, reference);
  std::string generated;
  EXPECT_EQ(v1::json::writeJson(e, generated), reference_st.ok())
      << (reference_st.ok() ? "" : reference_st.error().message());
  if (reference_st.ok()) {
    EXPECT_EQ(generated, reference);
  }
  std::string rendered = "stale";
  auto rendered_st = renderJson(e, rendered);
  ASSERT_EQ(rendered_st.ok(), reference_st.ok());
  if (rendered_st.ok()) {
    EXPECT_EQ(rendered, reference);
  } else {
    EXPECT_EQ(rendered_st.error().message(), reference_st.error().message());
  }
}

// Characters a JSON string must escape, and some it must not.
const std::string kNeedsEscapes = "quote\" back\\ nl\n tab\t ctl\x01 del\x7f \xc3\xa9";

// Sub-second parts at each precision the writers print: none, ms, us, ns.
constexpr int32_t kNanos[] = {0, 5'000'000, 7'000, 123'456'789};

// Sets every field of a message, recursively, to values that differ from
// the defaults and from each other: scalars non-zero (negative where signed,
// above 2^53 for 64-bit), strings with characters needing escapes, lists of
// 2, maps of 2 entries (added out of key order), enums non-zero. A oneof
// gets member `kind` in the event itself, and a member that varies with the
// variant and the list position below it.
class Filler {
public:
  Filler(int kind, int variant) : kind_(kind), variant_(variant) {}

  void fill(Message& msg, int depth = 0, int element = 0) {
    const Descriptor* d = msg.GetDescriptor();
    const Reflection* r = msg.GetReflection();
    if (d == google::protobuf::Timestamp::descriptor()) {
      const int n = next();
      r->SetInt64(&msg, d->FindFieldByName("seconds"), 1'700'000'000LL + int64_t(n) * 86'400 * 397 + n);
      r->SetInt32(&msg, d->FindFieldByName("nanos"), kNanos[(variant_ + n) % 4]);
      return;
    }
    if (d == google::protobuf::Duration::descriptor()) {
      const int n = next();
      const int sign = n % 2 == 0 ? 1 : -1; // negative durations too, "-0.005s" among them
      r->SetInt64(&msg, d->FindFieldByName("seconds"), sign * int64_t(n % 3) * 3'601);
      r->SetInt32(&msg, d->FindFieldByName("nanos"), sign * kNanos[(variant_ + n) % 4]);
      return;
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (const auto* oneof = f->real_containing_oneof(); oneof != nullptr) {
        const int choice = depth == 0 ? kind_ : (variant_ + element) % oneof->field_count();
        if (oneof->field(choice % oneof->field_count()) != f) {
          continue;
        }
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth >= kMaxDepth) {
        continue;
      }
      if (f->is_map()) {
        const FieldDescriptor* key = f->message_type()->map_key();
        const FieldDescriptor* value = f->message_type()->map_value();
        for (int k = 0; k < 2; ++k) {
          Message* entry = r->AddMessage(&msg, f);
          set(*entry, key, depth + 1, k);
          set(*entry, value, depth + 1, k);
        }
      } else if (f->is_repeated()) {
        for (int k = 0; k < 2; ++k) {
          set(msg, f, depth, k);
        }
      } else {
        set(msg, f, depth, element);
      }
    }
  }

private:
  static constexpr int kMaxDepth = 6;

  int next() { return ++counter_; }

  // Sets f, or adds to it when it is a list.
  void set(Message& msg, const FieldDescriptor* f, int depth, int element) {
    const Reflection* r = msg.GetReflection();
    const bool add = f->is_repeated();
    const int n = next();
    switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      const auto v = int32_t(n % 2 == 0 ? 1'000'003 * n : -1'000'003 * n);
      add ? r->AddInt32(&msg, f, v) : r->SetInt32(&msg, f, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      const auto v = uint32_t(4'000'000'000u + uint32_t(n));
      add ? r->AddUInt32(&msg, f, v) : r->SetUInt32(&msg, f, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      const int64_t v = n % 2 == 0 ? 9'007'199'254'740'993LL + n : -9'000'000'000'000'000'000LL + n;
      add ? r->AddInt64(&msg, f, v) : r->SetInt64(&msg, f, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      const uint64_t v = 18'000'000'000'000'000'000ULL + uint64_t(n);
      add ? r->AddUInt64(&msg, f, v) : r->SetUInt64(&msg, f, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      add ? r->AddBool(&msg, f, true) : r->SetBool(&msg, f, true);
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* e = f->enum_type();
      const auto* v = e->value(e->value_count() > 1 ? 1 + n % (e->value_count() - 1) : 0);
      add ? r->AddEnum(&msg, f, v) : r->SetEnum(&msg, f, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      // Map keys: the second sorts before the first ("key" < "quote").
      std::string v = element == 0 ? kNeedsEscapes + std::to_string(n) : "key " + std::to_string(n);
      add ? r->AddString(&msg, f, v) : r->SetString(&msg, f, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      fill(add ? *r->AddMessage(&msg, f) : *r->MutableMessage(&msg, f), depth + 1, element);
      break;
    default: // floating point: the contract has none, and neither writer renders it
      ADD_FAILURE() << "no test value for " << f->full_name();
    }
  }

  int kind_;
  int variant_;
  int counter_ = 0;
};

TEST(GeneratedJsonTest, DefaultEventIsTheSame) {
  expectSameAsReflection(Event());
  Event e;
  std::string line;
  ASSERT_TRUE(renderJson(e, line).ok());
  EXPECT_EQ(line, R"({"node":"","seq":"0","ktime_ns":"0","ancestors":[]})");
}

TEST(GeneratedJsonTest, EmptyBodyOfEveryKindIsTheSame) {
  const auto* body = Event::descriptor()->FindOneofByName("body");
  ASSERT_NE(body, nullptr);
  for (int kind = 0; kind < body->field_count(); ++kind) {
    SCOPED_TRACE(body->field(kind)->name());
    Event e;
    e.GetReflection()->MutableMessage(&e, body->field(kind));
    expectSameAsReflection(e);
  }
}

TEST(GeneratedJsonTest, EveryKindWithEveryFieldSetIsTheSameAndRoundTrips) {
  const auto* body = Event::descriptor()->FindOneofByName("body");
  for (int kind = 0; kind < body->field_count(); ++kind) {
    for (int variant = 0; variant < 4; ++variant) {
      SCOPED_TRACE(body->field(kind)->name() + " variant " + std::to_string(variant));
      Event e;
      Filler(kind, variant).fill(e);
      ASSERT_TRUE(e.GetReflection()->HasField(e, body->field(kind)));
      expectSameAsReflection(e);

      std::string line;
      ASSERT_TRUE(renderJson(e, line).ok());
      Event parsed;
      auto st = parseJson(line, parsed);
      ASSERT_TRUE(st.ok()) << st.error().message() << "\n" << line;
      EXPECT_TRUE(MessageDifferencer::Equals(e, parsed)) << e.ShortDebugString() << "\n" << parsed.ShortDebugString();
    }
  }
}

// Strings are scanned 8 bytes at a time: every byte value at every place in a word.
TEST(GeneratedJsonTest, EveryByteAtEveryOffsetIsEscapedTheSame) {
  Event e;
  for (int c = 0; c < 256; ++c) {
    for (size_t offset = 0; offset < 17; ++offset) {
      e.set_node(std::string(offset, 'a') + char(c) + std::string(9, 'b') + char(c));
      SCOPED_TRACE("byte " + std::to_string(c) + " at " + std::to_string(offset));
      expectSameAsReflection(e);
    }
  }
}

TEST(GeneratedJsonTest, TimestampsAcrossTheRangeAreTheSame) {
  std::vector<int64_t> seconds = {
      -62'135'596'800LL, // 0001-01-01T00:00:00
      253'402'300'799LL, // 9999-12-31T23:59:59
      -1,
      0,
      1,
      86'399,
      86'400,
      951'782'399,     // 2000-02-28T23:59:59
      951'868'800,     // 2000-03-01 (2000 is a leap year)
      4'107'542'399,   // 2100-02-28T23:59:59
      4'107'542'400,   // 2100-03-01 (2100 is not)
      -2'203'977'600,  // 1900-03-01
      -12'219'292'800, // 1582-10-15
  };
  uint64_t x = 88172645463325252ULL; // xorshift: spread over the whole range
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    seconds.push_back(-62'135'596'800LL + int64_t(x % uint64_t(253'402'300'799LL + 62'135'596'800LL + 1)));
  }
  Event e;
  for (size_t i = 0; i < seconds.size(); ++i) {
    e.mutable_time()->set_seconds(seconds[i]);
    e.mutable_time()->set_nanos(kNanos[i % 4]);
    SCOPED_TRACE(e.time().ShortDebugString());
    expectSameAsReflection(e);
  }
  e.mutable_time()->set_nanos(999'999'999);
  expectSameAsReflection(e);
}

TEST(GeneratedJsonTest, DurationsAreTheSame) {
  Event e;
  auto* d = e.mutable_exit()->mutable_duration();
  for (int64_t secs : {0LL, 1LL, -1LL, 59LL, 315'576'000'000LL, -315'576'000'000LL, 9'223'372'036'854'775'807LL}) {
    for (int32_t nanos : kNanos) {
      for (int sign : {1, -1}) {
        if (secs != 0 && (secs < 0) != (sign < 0)) {
          continue;
        }
        d->set_seconds(secs);
        d->set_nanos(sign * nanos);
        SCOPED_TRACE(d->ShortDebugString());
        expectSameAsReflection(e);
      }
    }
  }
  d->set_seconds(-1);
  d->set_nanos(-1);
  std::string line;
  ASSERT_TRUE(renderJson(e, line).ok());
  EXPECT_THAT(line, HasSubstr("\"duration\":\"-1.000000001s\""));
}

TEST(GeneratedJsonTest, ValuesWithNoJsonFormFailTheSameWay) {
  const std::pair<int64_t, int32_t> bad_times[] = {
      {253'402'300'800LL, 0}, {-62'135'596'801LL, 0}, {0, -1}, {0, 1'000'000'000}};
  for (auto [secs, nanos] : bad_times) {
    Event e;
    e.set_seq(9);
    e.mutable_time()->set_seconds(secs);
    e.mutable_time()->set_nanos(nanos);
    expectSameAsReflection(e);
    std::string line;
    auto st = renderJson(e, line);
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(st.error().message(), HasSubstr("rendering event seq 9 as JSON"));
  }
  const std::pair<int64_t, int32_t> bad_durations[] = {{1, -1}, {-1, 1}, {0, 1'000'000'000}, {0, -1'000'000'000}};
  for (auto [secs, nanos] : bad_durations) {
    Event e;
    e.mutable_syscall()->mutable_duration()->set_seconds(secs);
    e.mutable_syscall()->mutable_duration()->set_nanos(nanos);
    expectSameAsReflection(e);
    std::string line;
    EXPECT_FALSE(renderJson(e, line).ok());
  }
}

TEST(GeneratedJsonTest, UnknownEnumValueIsTheSame) {
  Event e = execEvent();
  e.mutable_exec()->mutable_process()->set_source(static_cast<v1::ProcessSource>(77));
  expectSameAsReflection(e);
  std::string line;
  ASSERT_TRUE(renderJson(e, line).ok());
  EXPECT_THAT(line, HasSubstr("\"source\":\"UNKNOWN_ENUM_VALUE_ProcessSource_77\""));
}

TEST(GeneratedJsonTest, MapEntriesAreInKeyOrder) {
  Event a = execEvent();
  Event b = execEvent();
  auto& labels_a = *a.mutable_exec()->mutable_process()->mutable_pod()->mutable_labels();
  auto& labels_b = *b.mutable_exec()->mutable_process()->mutable_pod()->mutable_labels();
  const std::vector<std::string> keys = {"zone", "app", "tier", "\xc3\xa9t\xc3\xa9", "Version", "a\"b", ""};
  for (size_t i = 0; i < keys.size(); ++i) {
    labels_a[keys[i]] = "v" + std::to_string(i);
    labels_b[keys[keys.size() - 1 - i]] = "v" + std::to_string(keys.size() - 1 - i);
  }
  expectSameAsReflection(a);
  expectSameAsReflection(b);
  std::string line_a;
  std::string line_b;
  ASSERT_TRUE(renderJson(a, line_a).ok());
  ASSERT_TRUE(renderJson(b, line_b).ok());
  EXPECT_EQ(line_a, line_b);
  EXPECT_THAT(line_a, HasSubstr(R"("labels":{"":"v6","Version":"v4","a\"b":"v5","app":"v1","tier":"v2","zone":"v0",)"
                                "\"\xc3\xa9t\xc3\xa9\":\"v3\"}"));
}

} // namespace
} // namespace vigil
