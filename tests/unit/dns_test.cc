// The DNS message parser on hand-built messages (valid, compressed, cut by
// the capture bound, malformed, bit-flipped) and the address -> name cache
// fed from them.

#include "collectors/network/dns.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::network {
namespace {

using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

constexpr uint16_t kQr = 0x8000;
constexpr uint16_t kTc = 0x0200;
constexpr uint16_t kRd = 0x0100;
constexpr uint16_t kRa = 0x0080;
constexpr uint16_t kResponse = kQr | kRd | kRa;

constexpr uint16_t kA = 1;
constexpr uint16_t kCname = 5;
constexpr uint16_t kMx = 15;
constexpr uint16_t kTxt = 16;
constexpr uint16_t kAaaa = 28;

constexpr uint64_t kSecond = 1000000000ULL;

// Writes DNS wire format byte by byte.
class DnsBuilder {
public:
  DnsBuilder& header(uint16_t id, uint16_t flags, uint16_t qdcount, uint16_t ancount, uint16_t nscount = 0,
                     uint16_t arcount = 0) {
    u16(id).u16(flags).u16(qdcount).u16(ancount).u16(nscount).u16(arcount);
    return *this;
  }
  DnsBuilder& u8(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  DnsBuilder& u16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
  DnsBuilder& u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
  DnsBuilder& raw(std::vector<uint8_t> bytes) {
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  // Labels of a dotted name, without the final zero (for a name that ends
  // in a pointer).
  DnsBuilder& labels(std::string_view dotted) {
    while (!dotted.empty()) {
      const size_t dot = dotted.find('.');
      const std::string_view label = dotted.substr(0, dot);
      u8(uint8_t(label.size()));
      bytes_.insert(bytes_.end(), label.begin(), label.end());
      dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
    }
    return *this;
  }
  DnsBuilder& name(std::string_view dotted) { return labels(dotted).u8(0); }
  DnsBuilder& pointer(uint16_t offset) { return u16(uint16_t(0xc000 | offset)); }
  DnsBuilder& question(std::string_view dotted, uint16_t qtype) { return name(dotted).u16(qtype).u16(1); }
  // The fixed part of an RR after its owner name (class IN), then rdata.
  DnsBuilder& rrTail(uint16_t type, uint32_t ttl, const std::vector<uint8_t>& rdata) {
    u16(type).u16(1).u32(ttl).u16(uint16_t(rdata.size()));
    return raw(rdata);
  }
  // An RR whose owner is a pointer to offset.
  DnsBuilder& rr(uint16_t owner, uint16_t type, uint32_t ttl, const std::vector<uint8_t>& rdata) {
    return pointer(owner).rrTail(type, ttl, rdata);
  }

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  // With the 2-byte TCP length prefix (length defaults to the real one).
  std::vector<uint8_t> tcp(int length = -1) const {
    const uint16_t n = uint16_t(length < 0 ? bytes_.size() : size_t(length));
    std::vector<uint8_t> out = {uint8_t(n >> 8), uint8_t(n)};
    out.insert(out.end(), bytes_.begin(), bytes_.end());
    return out;
  }

private:
  std::vector<uint8_t> bytes_;
};

std::vector<uint8_t> wireName(std::string_view dotted) {
  return DnsBuilder().name(dotted).bytes();
}

DnsMessage parseOk(const std::vector<uint8_t>& bytes, bool tcp = false) {
  auto result = parseDns(bytes, tcp);
  EXPECT_TRUE(result.ok()) << result.error().message();
  return result.ok() ? *result : DnsMessage{};
}

std::string parseError(const std::vector<uint8_t>& bytes, bool tcp = false) {
  auto result = parseDns(bytes, tcp);
  EXPECT_FALSE(result.ok()) << "accepted " << bytes.size() << " bytes";
  return result.ok() ? std::string() : result.error().message();
}

// example.com A -> 93.184.216.34 (TTL 300), 10.1.2.3 (TTL 60); answer names
// point to the question name at byte 12.
DnsBuilder twoAnswerResponse() {
  DnsBuilder b;
  b.header(0xbeef, kResponse, 1, 2).question("example.com", kA);
  b.rr(12, kA, 300, {93, 184, 216, 34});
  b.rr(12, kA, 60, {10, 1, 2, 3});
  return b;
}

// --- Parsing -----------------------------------------------------------------

TEST(DnsParse, QueryForExampleComA) {
  DnsBuilder b;
  b.header(0x1234, kRd, 1, 0).question("example.com", kA);
  const DnsMessage m = parseOk(b.bytes());
  EXPECT_EQ(m.id, 0x1234);
  EXPECT_FALSE(m.response);
  EXPECT_EQ(m.opcode, 0);
  EXPECT_EQ(m.rcode, 0);
  EXPECT_FALSE(m.truncated);
  EXPECT_FALSE(m.capture_truncated);
  EXPECT_EQ(m.question, "example.com");
  EXPECT_EQ(m.qtype, kA);
  EXPECT_TRUE(m.answers.empty());
}

TEST(DnsParse, ResponseWithTwoAAnswers) {
  const DnsMessage m = parseOk(twoAnswerResponse().bytes());
  EXPECT_EQ(m.id, 0xbeef);
  EXPECT_TRUE(m.response);
  EXPECT_EQ(m.rcode, 0);
  EXPECT_FALSE(m.truncated);
  EXPECT_EQ(m.question, "example.com");
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].name, "example.com");
  EXPECT_EQ(m.answers[0].type, kA);
  EXPECT_EQ(m.answers[0].ttl, 300u);
  EXPECT_EQ(m.answers[0].data, "93.184.216.34");
  EXPECT_EQ(m.answers[1].name, "example.com");
  EXPECT_EQ(m.answers[1].ttl, 60u);
  EXPECT_EQ(m.answers[1].data, "10.1.2.3");
}

TEST(DnsParse, OpcodeAndLargeTtl) {
  DnsBuilder b;
  b.header(1, kQr | (2 << 11), 1, 1).question("example.com", kA).rr(12, kA, 0xfffffffe, {1, 2, 3, 4});
  const DnsMessage m = parseOk(b.bytes());
  EXPECT_EQ(m.opcode, 2);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].ttl, 0xfffffffeu);
}

TEST(DnsParse, AaaaAnswerText) {
  DnsBuilder b;
  b.header(7, kResponse, 1, 1).question("v6.example", kAaaa);
  b.rr(12, kAaaa, 120, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  const DnsMessage m = parseOk(b.bytes());
  EXPECT_EQ(m.qtype, kAaaa);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].type, kAaaa);
  EXPECT_EQ(m.answers[0].data, "2001:db8::1");
}

TEST(DnsParse, CnameChain) {
  DnsBuilder b;
  b.header(9, kResponse, 1, 2).question("www.a.test", kA);
  b.rr(12, kCname, 30, wireName("b.test"));
  b.name("b.test").rrTail(kA, 40, {10, 0, 0, 1});
  const DnsMessage m = parseOk(b.bytes());
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].name, "www.a.test");
  EXPECT_EQ(m.answers[0].type, kCname);
  EXPECT_EQ(m.answers[0].data, "b.test");
  EXPECT_EQ(m.answers[1].name, "b.test");
  EXPECT_EQ(m.answers[1].type, kA);
  EXPECT_EQ(m.answers[1].data, "10.0.0.1");

  DnsCache cache({});
  cache.addResponse(1, m, 0);
  EXPECT_EQ(cache.lookup(1, "10.0.0.1", 0), "www.a.test");
}

TEST(DnsParse, CompressionPointers) {
  DnsBuilder b;
  b.header(3, kResponse, 1, 3).question("www.example.com", kA);
  // Answer 0: owner -> question name; CNAME target "edge" + pointer to
  // "example.com" inside the question (byte 16).
  b.rr(12, kCname, 10, DnsBuilder().labels("edge").pointer(16).bytes());
  const size_t target = b.size() - 7; // the "edge" label of that target
  // Answer 1: owner is a pointer to the CNAME target, which itself ends in
  // a pointer (a pointer chain).
  b.rr(uint16_t(target), kA, 20, {192, 0, 2, 7});
  // Answer 2: owner "x" + pointer to a pointer.
  const size_t answer1 = target + 7;
  b.labels("x").pointer(uint16_t(answer1)).rrTail(kA, 20, {192, 0, 2, 8});
  const DnsMessage m = parseOk(b.bytes());
  ASSERT_EQ(m.answers.size(), 3u);
  EXPECT_EQ(m.answers[0].name, "www.example.com");
  EXPECT_EQ(m.answers[0].data, "edge.example.com");
  EXPECT_EQ(m.answers[1].name, "edge.example.com");
  EXPECT_EQ(m.answers[1].data, "192.0.2.7");
  EXPECT_EQ(m.answers[2].name, "x.edge.example.com");
  EXPECT_EQ(m.answers[2].data, "192.0.2.8");
}

TEST(DnsParse, ForwardPointerIsAllowed) {
  // The question name points forward to a name placed after the question.
  DnsBuilder b;
  b.header(1, kRd, 1, 0).pointer(18).u16(kA).u16(1).name("later.test");
  const DnsMessage m = parseOk(b.bytes());
  EXPECT_EQ(m.question, "later.test");
}

TEST(DnsParse, NxdomainRcodeName) {
  DnsBuilder b;
  b.header(5, kResponse | 3, 1, 0).question("nope.example", kA);
  const DnsMessage m = parseOk(b.bytes());
  EXPECT_EQ(m.rcode, 3);
  EXPECT_EQ(dnsRcodeName(m.rcode), "NXDOMAIN");
  EXPECT_TRUE(m.answers.empty());
}

TEST(DnsParse, RcodeAndTypeNames) {
  EXPECT_EQ(dnsRcodeName(0), "NOERROR");
  EXPECT_EQ(dnsRcodeName(1), "FORMERR");
  EXPECT_EQ(dnsRcodeName(2), "SERVFAIL");
  EXPECT_EQ(dnsRcodeName(4), "NOTIMP");
  EXPECT_EQ(dnsRcodeName(5), "REFUSED");
  EXPECT_EQ(dnsRcodeName(12), "RCODE12");
  EXPECT_EQ(dnsTypeName(1), "A");
  EXPECT_EQ(dnsTypeName(28), "AAAA");
  EXPECT_EQ(dnsTypeName(5), "CNAME");
  EXPECT_EQ(dnsTypeName(12), "PTR");
  EXPECT_EQ(dnsTypeName(15), "MX");
  EXPECT_EQ(dnsTypeName(16), "TXT");
  EXPECT_EQ(dnsTypeName(33), "SRV");
  EXPECT_EQ(dnsTypeName(2), "NS");
  EXPECT_EQ(dnsTypeName(6), "SOA");
  EXPECT_EQ(dnsTypeName(65), "HTTPS");
  EXPECT_EQ(dnsTypeName(64), "SVCB");
  EXPECT_EQ(dnsTypeName(255), "ANY");
  EXPECT_EQ(dnsTypeName(999), "TYPE999");
}

TEST(DnsParse, TcBit) {
  DnsBuilder b;
  b.header(5, kResponse | kTc, 1, 0).question("big.example", kTxt);
  const DnsMessage m = parseOk(b.bytes());
  EXPECT_TRUE(m.truncated);
  EXPECT_FALSE(m.capture_truncated);
}

TEST(DnsParse, OtherTypesHaveEmptyDataAndAreSkipped) {
  DnsBuilder b;
  b.header(5, kResponse, 1, 2).question("example.com", kMx);
  b.rr(12, kMx, 10, DnsBuilder().u16(10).name("mail.example.com").bytes());
  b.rr(12, kA, 10, {1, 2, 3, 4});
  const DnsMessage m = parseOk(b.bytes());
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].type, kMx);
  EXPECT_EQ(m.answers[0].data, "");
  EXPECT_EQ(m.answers[1].data, "1.2.3.4");
}

TEST(DnsParse, NoQuestionIsNotAnError) {
  DnsBuilder b;
  b.header(5, kResponse, 0, 1).name("orphan.test").rrTail(kA, 10, {1, 2, 3, 4});
  const DnsMessage m = parseOk(b.bytes());
  EXPECT_EQ(m.question, "");
  EXPECT_EQ(m.qtype, 0);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name, "orphan.test");
}

TEST(DnsParse, SecondQuestionIsSkipped) {
  DnsBuilder b;
  b.header(5, kResponse, 2, 1).question("one.test", kA).question("two.test", kAaaa);
  b.rr(12, kA, 10, {1, 2, 3, 4});
  const DnsMessage m = parseOk(b.bytes());
  EXPECT_EQ(m.question, "one.test");
  EXPECT_EQ(m.qtype, kA);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name, "one.test");
}

TEST(DnsParse, TcpFraming) {
  const DnsBuilder b = twoAnswerResponse();
  const DnsMessage m = parseOk(b.tcp(), true);
  EXPECT_EQ(m.id, 0xbeef);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[1].data, "10.1.2.3");
  EXPECT_FALSE(m.truncated);
  EXPECT_FALSE(m.capture_truncated);

  // Bytes after the announced length (the next message) are ignored.
  std::vector<uint8_t> two = b.tcp();
  two.insert(two.end(), {0, 12, 0xff, 0xff});
  EXPECT_EQ(parseOk(two, true).answers.size(), 2u);
}

TEST(DnsParse, TcpLengthLargerThanCaptured) {
  const DnsBuilder b = twoAnswerResponse();
  // The real message is longer than what was captured: all captured
  // answers, and capture_truncated even though the last one is complete.
  DnsMessage m = parseOk(b.tcp(int(b.size()) + 100), true);
  EXPECT_TRUE(m.capture_truncated);
  EXPECT_TRUE(m.truncated);
  EXPECT_EQ(m.answers.size(), 2u);

  // Cut inside the second answer.
  std::vector<uint8_t> cut = b.tcp(int(b.size()) + 100);
  cut.resize(cut.size() - 3);
  m = parseOk(cut, true);
  EXPECT_TRUE(m.capture_truncated);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].data, "93.184.216.34");
}

TEST(DnsParse, CaptureCutInAnswerSection) {
  DnsBuilder b;
  b.header(5, kResponse, 1, 3).question("example.com", kA);
  b.rr(12, kA, 10, {1, 1, 1, 1});
  const size_t end0 = b.size();
  b.rr(12, kA, 10, {2, 2, 2, 2});
  const size_t end1 = b.size();
  b.rr(12, kA, 10, {3, 3, 3, 3});

  std::vector<uint8_t> bytes = b.bytes();
  bytes.resize(end1 + 5); // in the fixed part of answer 2
  DnsMessage m = parseOk(bytes);
  EXPECT_TRUE(m.capture_truncated);
  EXPECT_TRUE(m.truncated);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[1].data, "2.2.2.2");

  bytes.resize(end0 + 13); // in the RDATA of answer 1
  m = parseOk(bytes);
  EXPECT_TRUE(m.capture_truncated);
  ASSERT_EQ(m.answers.size(), 1u);

  bytes.resize(end0 + 1); // in the owner pointer of answer 1
  m = parseOk(bytes);
  EXPECT_TRUE(m.capture_truncated);
  EXPECT_EQ(m.answers.size(), 1u);
}

TEST(DnsParse, CaseFolding) {
  DnsBuilder b;
  b.header(5, kResponse, 1, 2).question("ExAmple.COM", kA);
  b.rr(12, kCname, 10, wireName("EDGE.Cdn.NET"));
  b.name("Edge.CDN.net").rrTail(kA, 10, {1, 2, 3, 4});
  const DnsMessage m = parseOk(b.bytes());
  EXPECT_EQ(m.question, "example.com");
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].name, "example.com");
  EXPECT_EQ(m.answers[0].data, "edge.cdn.net");
  EXPECT_EQ(m.answers[1].name, "edge.cdn.net");
}

TEST(DnsParse, RootAndEscapedLabels) {
  DnsBuilder b;
  b.header(5, kRd, 1, 0).u8(0).u16(2).u16(1); // ". NS"
  EXPECT_EQ(parseOk(b.bytes()).question, ".");

  DnsBuilder odd;
  odd.header(5, kRd, 1, 0).raw({5, 'a', '.', 'b', '\\', ' ', 2, 0x00, 0xff, 0}).u16(kA).u16(1);
  EXPECT_EQ(parseOk(odd.bytes()).question, "a\\.b\\\\\\032.\\000\\255");
}

TEST(DnsParse, LongestNameIs255Bytes) {
  // 3 x 63 + 61 label bytes, 4 length octets and the final zero: 255.
  const std::string name = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                           std::string(61, 'd');
  DnsBuilder b;
  b.header(5, kRd, 1, 0).question(name, kA);
  EXPECT_EQ(parseOk(b.bytes()).question, name);
}

// --- Errors ------------------------------------------------------------------

TEST(DnsParseError, ShorterThanHeader) {
  std::vector<uint8_t> bytes = DnsBuilder().header(1, 0, 0, 0).bytes();
  bytes.pop_back();
  EXPECT_THAT(parseError(bytes), AllOf(HasSubstr("11 bytes"), HasSubstr("shorter than the 12-byte header")));
  EXPECT_THAT(parseError({}), HasSubstr("0 bytes"));
}

TEST(DnsParseError, TcpPrefix) {
  EXPECT_THAT(parseError({0}, true), HasSubstr("2-byte length prefix"));
  EXPECT_THAT(parseError({0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, true),
              AllOf(HasSubstr("says 11 bytes"), HasSubstr("12-byte DNS header")));
  // Prefix fine, but fewer than 12 bytes captured.
  EXPECT_THAT(parseError({0, 40, 1, 2, 3}, true), AllOf(HasSubstr("3 bytes at byte 2"), HasSubstr("12-byte header")));
}

TEST(DnsParseError, PointerLoop) {
  DnsBuilder self;
  self.header(1, kRd, 1, 0).pointer(12).u16(kA).u16(1);
  EXPECT_THAT(parseError(self.bytes()),
              AllOf(HasSubstr("question 0 name at byte 12"), HasSubstr("compression pointer loop"),
                    HasSubstr("more than 128 jumps"), HasSubstr("the last at byte 12")));

  // A two-pointer loop in the answer section is an error too, not a cut.
  DnsBuilder two;
  two.header(1, kResponse, 1, 1).question("a.test", kA);
  const uint16_t at = uint16_t(two.size());
  two.pointer(at + 2).pointer(at).rrTail(kA, 1, {1, 2, 3, 4});
  EXPECT_THAT(parseError(two.bytes()),
              AllOf(HasSubstr("answer 0 name at byte 24"), HasSubstr("compression pointer loop")));

  // Offsets count the TCP length prefix.
  EXPECT_THAT(parseError(self.tcp(), true), AllOf(HasSubstr("name at byte 14"), HasSubstr("pointer loop")));
}

TEST(DnsParseError, LabelLength64) {
  DnsBuilder b;
  b.header(1, kRd, 1, 0).u8(3).raw({'a', 'b', 'c'}).u8(64).raw(std::vector<uint8_t>(64, 'x')).u8(0);
  b.u16(kA).u16(1);
  EXPECT_THAT(parseError(b.bytes()),
              AllOf(HasSubstr("label at byte 16 of length 64, over 63"), HasSubstr("question 0 name at byte 12")));
  // 0x80 is the other reserved label type.
  DnsBuilder c;
  c.header(1, kRd, 1, 0).u8(0x80).u8(0).u16(kA).u16(1);
  EXPECT_THAT(parseError(c.bytes()), HasSubstr("over 63 (reserved label type 0x80)"));
}

TEST(DnsParseError, NameLongerThan255) {
  const std::string label(63, 'a');
  DnsBuilder b;
  b.header(1, kRd, 1, 0).question(label + "." + label + "." + label + "." + label, kA);
  EXPECT_THAT(parseError(b.bytes()),
              AllOf(HasSubstr("question 0 name at byte 12 is longer than 255 bytes"),
                    HasSubstr("label at byte 204")));

  // Also when the length comes from following pointers: a name of 5 x
  // 63-byte labels spread over a pointer.
  DnsBuilder c;
  c.header(1, kRd, 1, 0).labels(label + "." + label).pointer(12).u16(kA).u16(1);
  EXPECT_THAT(parseError(c.bytes()), HasSubstr("longer than 255 bytes"));
}

TEST(DnsParseError, QuestionRunsPastTheEnd) {
  DnsBuilder b;
  b.header(1, kRd, 1, 0).u8(7).raw({'e', 'x', 'a', 'm'});
  EXPECT_THAT(parseError(b.bytes()),
              AllOf(HasSubstr("question 0 name at byte 12 runs past the end"), HasSubstr("label at byte 12")));

  DnsBuilder no_zero;
  no_zero.header(1, kRd, 1, 0).labels("example");
  EXPECT_THAT(parseError(no_zero.bytes()), HasSubstr("end of the message at byte 20"));

  DnsBuilder no_type;
  no_type.header(1, kRd, 1, 0).name("example").u8(0);
  EXPECT_THAT(parseError(no_type.bytes()),
              HasSubstr("question 0 at byte 12 ends before its type and class at byte 21"));

  // qdcount says 2, only one is there.
  DnsBuilder missing;
  missing.header(1, kRd, 2, 0).question("example", kA);
  EXPECT_THAT(parseError(missing.bytes()), HasSubstr("question 1 name at byte 25 runs past the end"));
}

TEST(DnsParseError, BadRdata) {
  DnsBuilder a;
  a.header(1, kResponse, 1, 1).question("a.test", kA).rr(12, kA, 1, {1, 2, 3, 4, 5});
  EXPECT_THAT(parseError(a.bytes()), AllOf(HasSubstr("answer 0 at byte 24 is A with RDLENGTH 5"), HasSubstr("not 4")));

  DnsBuilder aaaa;
  aaaa.header(1, kResponse, 1, 1).question("a.test", kAaaa).rr(12, kAaaa, 1, {1, 2, 3, 4});
  EXPECT_THAT(parseError(aaaa.bytes()), HasSubstr("is AAAA with RDLENGTH 4 at byte 34, not 16"));

  // A CNAME target longer than its RDLENGTH.
  DnsBuilder cname;
  cname.header(1, kResponse, 1, 1).question("a.test", kA);
  cname.pointer(12).u16(kCname).u16(1).u32(1).u16(3).name("b.test");
  EXPECT_THAT(parseError(cname.bytes()),
              AllOf(HasSubstr("answer 0 CNAME target at byte 36"), HasSubstr("overruns its RDLENGTH of 3")));
}

// --- Robustness --------------------------------------------------------------

// A response using most features: several questions, compression, CNAME,
// A, AAAA, MX, and an authority record after the answers.
DnsBuilder richResponse(std::vector<size_t>& answer_ends, size_t& question_end) {
  DnsBuilder b;
  b.header(0x4242, kResponse, 2, 5, 1, 0).question("www.Example.com", kA).question("other.test", kAaaa);
  question_end = b.size();
  b.rr(12, kCname, 300, DnsBuilder().labels("edge").pointer(16).bytes());
  answer_ends.push_back(b.size());
  b.labels("edge").pointer(16).rrTail(kA, 60, {93, 184, 216, 34});
  answer_ends.push_back(b.size());
  b.rr(12, kAaaa, 60, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  answer_ends.push_back(b.size());
  b.rr(12, kMx, 60, DnsBuilder().u16(5).labels("mx").pointer(16).bytes());
  answer_ends.push_back(b.size());
  b.name("last.test").rrTail(kA, 1, {10, 0, 0, 9});
  answer_ends.push_back(b.size());
  b.pointer(16).rrTail(6, 60, std::vector<uint8_t>(22, 0)); // authority SOA, not read
  return b;
}

size_t completeAnswers(const std::vector<size_t>& ends, size_t cut) {
  size_t n = 0;
  while (n < ends.size() && ends[n] <= cut) {
    ++n;
  }
  return n;
}

TEST(DnsRobustness, EveryPrefixCut) {
  std::vector<size_t> ends;
  size_t question_end = 0;
  const DnsBuilder b = richResponse(ends, question_end);
  const DnsMessage full = parseOk(b.bytes());
  ASSERT_EQ(full.answers.size(), 5u);
  EXPECT_EQ(full.question, "www.example.com");
  EXPECT_EQ(full.answers[1].name, "edge.example.com");
  EXPECT_FALSE(full.capture_truncated);

  for (size_t cut = 0; cut <= b.size(); ++cut) {
    SCOPED_TRACE(cut);
    const std::vector<uint8_t> udp(b.bytes().begin(), b.bytes().begin() + cut);
    auto result = parseDns(udp, false);
    if (cut < question_end) {
      EXPECT_FALSE(result.ok());
    } else {
      ASSERT_TRUE(result.ok()) << result.error().message();
      EXPECT_EQ(result->answers.size(), completeAnswers(ends, cut));
      EXPECT_EQ(result->capture_truncated, cut < ends.back());
      EXPECT_EQ(result->truncated, result->capture_truncated);
    }

    // The same cut under the full TCP length.
    std::vector<uint8_t> tcp = b.tcp();
    tcp.resize(cut + 2);
    auto framed = parseDns(tcp, true);
    EXPECT_EQ(framed.ok(), result.ok());
    if (framed.ok()) {
      EXPECT_EQ(framed->answers.size(), completeAnswers(ends, cut));
      EXPECT_EQ(framed->capture_truncated, cut < b.size());
    }
  }
}

// A name as parseDns writes it: printable ASCII without upper case or
// spaces (other bytes escaped), at most four characters per wire byte.
void expectNameText(const std::string& name) {
  EXPECT_FALSE(name.empty());
  EXPECT_LE(name.size(), 4u * 255u);
  EXPECT_TRUE(std::all_of(name.begin(), name.end(),
                          [](char c) { return c >= 0x21 && c <= 0x7e && !(c >= 'A' && c <= 'Z'); }))
      << name;
}

uint16_t wireU16(const std::vector<uint8_t>& bytes, size_t at) { return uint16_t((bytes[at] << 8) | bytes[at + 1]); }

// Whatever the bytes, parseDns returns a message that agrees with its header
// and holds only printable names and well-formed addresses, or an error that
// names the part that is wrong and the byte. Returns whether it parsed.
bool expectMessageOrNamedError(const std::vector<uint8_t>& payload, bool tcp) {
  auto result = parseDns(payload, tcp);
  const size_t base = tcp ? 2 : 0;
  if (!result.ok()) {
    const std::string& message = result.error().message();
    EXPECT_THAT(message, ContainsRegex("length prefix|header|question [0-9]+|answer [0-9]+"));
    EXPECT_THAT(message, HasSubstr("byte"));
    return false;
  }
  // Nothing parses without a whole header.
  EXPECT_GE(payload.size(), base + 12);
  if (payload.size() < base + 12) {
    return true;
  }
  const DnsMessage& m = *result;
  const uint16_t flags = wireU16(payload, base + 2);
  EXPECT_EQ(m.id, wireU16(payload, base));
  EXPECT_EQ(m.response, (flags & kQr) != 0);
  EXPECT_EQ(m.opcode, (flags >> 11) & 0xf);
  EXPECT_EQ(m.rcode, flags & 0xf);
  EXPECT_EQ(m.truncated, (flags & kTc) != 0 || m.capture_truncated);
  const size_t qdcount = wireU16(payload, base + 4);
  const size_t ancount = wireU16(payload, base + 6);
  if (qdcount == 0) {
    EXPECT_EQ(m.question, "");
    EXPECT_EQ(m.qtype, 0);
  } else {
    expectNameText(m.question);
  }
  // Every answer the header announces, unless the capture ended first.
  EXPECT_LE(m.answers.size(), ancount);
  if (!m.capture_truncated) {
    EXPECT_EQ(m.answers.size(), ancount);
  }
  for (const DnsAnswer& a : m.answers) {
    expectNameText(a.name);
    uint8_t address[16];
    switch (a.type) {
    case kA:
      EXPECT_EQ(inet_pton(AF_INET, a.data.c_str(), address), 1) << a.data;
      break;
    case kAaaa:
      EXPECT_EQ(inet_pton(AF_INET6, a.data.c_str(), address), 1) << a.data;
      break;
    case kCname:
    case 2: // NS
    case 12: // PTR
      expectNameText(a.data);
      break;
    default:
      EXPECT_EQ(a.data, "") << dnsTypeName(a.type);
    }
  }
  return true;
}

TEST(DnsRobustness, RandomBitFlips) {
  std::vector<size_t> ends;
  size_t question_end = 0;
  const DnsBuilder b = richResponse(ends, question_end);
  std::mt19937 rng(20240601);
  DnsCache cache({.max_entries = 16});
  size_t ok = 0;
  size_t errors = 0;
  for (int i = 0; i < 5000; ++i) {
    SCOPED_TRACE(i);
    const bool tcp = i % 2 != 0;
    std::vector<uint8_t> bytes = tcp ? b.tcp() : b.bytes();
    const int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t bit = rng() % (bytes.size() * 8);
      bytes[bit / 8] ^= uint8_t(1u << (bit % 8));
    }
    const bool cut = rng() % 4 == 0;
    if (cut) {
      bytes.resize(rng() % (bytes.size() + 1));
    }
    if (!expectMessageOrNamedError(bytes, tcp)) {
      ++errors;
      continue;
    }
    ++ok;
    cache.addResponse(uint64_t(i % 3), *parseDns(bytes, tcp), uint64_t(i) * kSecond);
  }
  // Most flips leave a parseable message; the cuts below the header (about
  // one in ten of the quarter of rounds that cut) and flips in label
  // lengths and counts do not.
  EXPECT_GT(ok, 1000u);
  EXPECT_GT(errors, 100u);
  EXPECT_LE(cache.stats().entries, 16u);
}

TEST(DnsRobustness, RandomBytes) {
  std::mt19937 rng(7);
  size_t ok = 0;
  size_t errors = 0;
  size_t short_errors = 0;
  for (int i = 0; i < 5000; ++i) {
    SCOPED_TRACE(i);
    const bool tcp = i % 2 != 0;
    std::vector<uint8_t> bytes(rng() % 80);
    for (auto& byte : bytes) {
      // Bias towards pointer and small label bytes.
      const uint32_t r = rng();
      byte = r % 3 == 0 ? uint8_t(0xc0 | (r >> 8) % 2) : uint8_t(r >> 8);
    }
    // Half the messages announce a plausible length and a few questions
    // and answers, so parsing goes past the header into random names.
    const size_t base = tcp ? 2 : 0;
    if (i % 4 < 2 && bytes.size() >= base + 12) {
      if (tcp) {
        bytes[0] = 0;
        bytes[1] = uint8_t(bytes.size() - 2);
      }
      for (size_t count : {base + 4, base + 6}) {
        bytes[count] = 0;
        bytes[count + 1] = uint8_t(rng() % 3);
      }
    }
    if (expectMessageOrNamedError(bytes, tcp)) {
      ++ok;
      continue;
    }
    ++errors;
    if (bytes.size() < base + 12) {
      ++short_errors;
    }
  }
  // Under 12 bytes (14 over TCP) is always an error: roughly one in six
  // of these lengths.
  EXPECT_GT(short_errors, 500u);
  EXPECT_GT(errors, short_errors);
  EXPECT_GT(ok, 100u);
}

// --- DnsCache ----------------------------------------------------------------

DnsMessage aResponse(std::string question, std::vector<std::pair<std::string, uint32_t>> addresses) {
  DnsMessage m;
  m.response = true;
  m.question = question;
  m.qtype = kA;
  for (auto& [address, ttl] : addresses) {
    m.answers.push_back({question, address.find(':') == std::string::npos ? kA : kAaaa, ttl, address});
  }
  return m;
}

TEST(DnsCacheTest, TtlExpiry) {
  DnsCache cache({});
  const uint64_t t0 = 1000 * kSecond;
  cache.addResponse(1, aResponse("example.com", {{"1.2.3.4", 60}, {"2001:db8::1", 120}}), t0);
  EXPECT_EQ(cache.lookup(1, "1.2.3.4", t0), "example.com");
  EXPECT_EQ(cache.lookup(1, "1.2.3.4", t0 + 60 * kSecond - 1), "example.com");
  EXPECT_EQ(cache.lookup(1, "2001:db8::1", t0 + 60 * kSecond), "example.com");
  EXPECT_EQ(cache.lookup(1, "1.2.3.4", t0 + 60 * kSecond), "");
  EXPECT_EQ(cache.lookup(1, "2001:db8::1", t0 + 120 * kSecond), "");

  const DnsCache::Stats s = cache.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.hits, 3u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.expired, 2u);
  EXPECT_EQ(s.evictions, 0u);
}

TEST(DnsCacheTest, TtlClamp) {
  DnsCache cache({.max_entries = 100, .min_ttl_seconds = 5, .max_ttl_seconds = 3600});
  cache.addResponse(1, aResponse("short.test", {{"10.0.0.1", 0}, {"10.0.0.4", 0x80000005}}), 0);
  cache.addResponse(1, aResponse("long.test", {{"10.0.0.2", 86400}}), 0);
  cache.addResponse(1, aResponse("mid.test", {{"10.0.0.3", 30}}), 0);

  EXPECT_EQ(cache.lookup(1, "10.0.0.1", 5 * kSecond - 1), "short.test");
  EXPECT_EQ(cache.lookup(1, "10.0.0.1", 5 * kSecond), "");
  // A TTL with the top bit set reads as 0 (RFC 2181), so the minimum.
  EXPECT_EQ(cache.lookup(1, "10.0.0.4", 5 * kSecond), "");
  EXPECT_EQ(cache.lookup(1, "10.0.0.3", 30 * kSecond - 1), "mid.test");
  EXPECT_EQ(cache.lookup(1, "10.0.0.3", 30 * kSecond), "");
  EXPECT_EQ(cache.lookup(1, "10.0.0.2", 3600 * kSecond - 1), "long.test");
  EXPECT_EQ(cache.lookup(1, "10.0.0.2", 3600 * kSecond), "");
}

TEST(DnsCacheTest, ScopeSeparation) {
  DnsCache cache({});
  cache.addResponse(100, aResponse("inside.container", {{"10.0.0.1", 60}}), 0);
  cache.addResponse(200, aResponse("other.container", {{"10.0.0.1", 60}}), 0);
  EXPECT_EQ(cache.lookup(100, "10.0.0.1", 0), "inside.container");
  EXPECT_EQ(cache.lookup(200, "10.0.0.1", 0), "other.container");
  EXPECT_EQ(cache.lookup(300, "10.0.0.1", 0), "");
  EXPECT_EQ(cache.stats().entries, 2u);
}

TEST(DnsCacheTest, IgnoresQueriesErrorsAndOtherTypes) {
  DnsCache cache({});
  DnsMessage query = aResponse("q.test", {{"10.0.0.1", 60}});
  query.response = false;
  cache.addResponse(1, query, 0);
  DnsMessage nx = aResponse("nx.test", {{"10.0.0.2", 60}});
  nx.rcode = 3;
  cache.addResponse(1, nx, 0);
  DnsMessage notify = aResponse("op.test", {{"10.0.0.3", 60}});
  notify.opcode = 4;
  cache.addResponse(1, notify, 0);
  DnsMessage mx = aResponse("mx.test", {});
  mx.answers.push_back({"mx.test", kMx, 60, ""});
  mx.answers.push_back({"mx.test", kCname, 60, "10.0.0.4"});
  cache.addResponse(1, mx, 0);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.lookup(1, "10.0.0.4", 0), "");
}

TEST(DnsCacheTest, CnameChainOutOfOrderAndUnrelatedOwner) {
  DnsMessage m;
  m.response = true;
  m.question = "www.a.test";
  m.qtype = kA;
  m.answers = {
      {"c.test", kA, 60, "10.0.0.1"},
      {"b.test", kCname, 60, "c.test"},
      {"www.a.test", kCname, 60, "b.test"},
      {"unrelated.test", kA, 60, "10.0.0.2"},
      {"c.test", kCname, 60, "www.a.test"}, // a loop back to the question
  };
  DnsCache cache({});
  cache.addResponse(1, m, 0);
  EXPECT_EQ(cache.lookup(1, "10.0.0.1", 0), "www.a.test");
  EXPECT_EQ(cache.lookup(1, "10.0.0.2", 0), "unrelated.test");
}

TEST(DnsCacheTest, NewerAnswerReplaces) {
  DnsCache cache({});
  cache.addResponse(1, aResponse("old.test", {{"10.0.0.1", 600}}), 0);
  cache.addResponse(1, aResponse("new.test", {{"10.0.0.1", 10}}), kSecond);
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.lookup(1, "10.0.0.1", 2 * kSecond), "new.test");
  // The newer (shorter) expiry applies.
  EXPECT_EQ(cache.lookup(1, "10.0.0.1", 11 * kSecond), "");
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(DnsCacheTest, BoundedSizeEvictsSoonestExpiring) {
  DnsCache cache({.max_entries = 3, .min_ttl_seconds = 1, .max_ttl_seconds = 3600});
  cache.addResponse(1, aResponse("a.test", {{"10.0.0.1", 300}}), 0);
  cache.addResponse(1, aResponse("b.test", {{"10.0.0.2", 100}}), 0);
  cache.addResponse(1, aResponse("c.test", {{"10.0.0.3", 200}}), 0);
  cache.addResponse(1, aResponse("d.test", {{"10.0.0.4", 50}}), 0); // evicts b (100)
  cache.addResponse(1, aResponse("e.test", {{"10.0.0.5", 400}}), 0); // evicts d (50)

  DnsCache::Stats s = cache.stats();
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_EQ(s.expired, 0u);
  EXPECT_EQ(cache.lookup(1, "10.0.0.1", 0), "a.test");
  EXPECT_EQ(cache.lookup(1, "10.0.0.2", 0), "");
  EXPECT_EQ(cache.lookup(1, "10.0.0.3", 0), "c.test");
  EXPECT_EQ(cache.lookup(1, "10.0.0.4", 0), "");
  EXPECT_EQ(cache.lookup(1, "10.0.0.5", 0), "e.test");
  s = cache.stats();
  EXPECT_EQ(s.hits, 3u);
  EXPECT_EQ(s.misses, 2u);

  // Expired entries make room before any live one is evicted.
  cache.addResponse(1, aResponse("f.test", {{"10.0.0.6", 10}}), 250 * kSecond); // c (200) has expired
  s = cache.stats();
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(cache.lookup(1, "10.0.0.1", 250 * kSecond), "a.test");
  EXPECT_EQ(cache.lookup(1, "10.0.0.5", 250 * kSecond), "e.test");
  EXPECT_EQ(cache.lookup(1, "10.0.0.6", 250 * kSecond), "f.test");
}

TEST(DnsCacheTest, ZeroCapacityStoresNothing) {
  DnsCache cache({.max_entries = 0});
  cache.addResponse(1, aResponse("a.test", {{"10.0.0.1", 60}}), 0);
  EXPECT_EQ(cache.lookup(1, "10.0.0.1", 0), "");
  EXPECT_EQ(cache.stats().entries, 0u);
}

} // namespace
} // namespace vigil::network
