// JSON lines rendered from the proto contract, and parsed back.

#include "agent/sinks/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <string>

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
