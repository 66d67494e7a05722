// The process record decoder on hand-made records built from the real
// kernel/user structs (bpf/shared/process.h), valid and corrupted.

#include "collectors/process/decoder.h"

#include "shared/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace vigil::process {
namespace {

using namespace std::string_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using runtime::BootClock;
using runtime::capabilityNames;
using runtime::decodeSuppressed;
using runtime::errnoName;
using runtime::fillSuppressed;
using runtime::sanitizeUtf8;
using runtime::signalName;

constexpr int64_t kClockOffsetNs = 1'700'000'000'000'000'000; // wall = boot + this
constexpr uint32_t kPid = 4242;
constexpr uint32_t kPpid = 100;
constexpr uint64_t kExecId = 0x1122334455667788;
constexpr uint64_t kParentExecId = 0x0000000abcdef012;
constexpr uint64_t kStartNs = 5'000'000'000;
constexpr uint64_t kCapSysAdmin = uint64_t(1) << 21;
constexpr uint64_t kCapChown = uint64_t(1) << 0;
constexpr uint64_t kCapNetAdmin = uint64_t(1) << 12;

std::span<const uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Overwrites the field of type T at offset of a built record.
template <class T> void patch(std::vector<uint8_t>& record, size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), record.size());
  std::memcpy(record.data() + offset, &value, sizeof(T));
}

vigil_task_info sampleTask() {
  vigil_task_info t{};
  t.pid = kPid;
  t.tid = kPid + 1;
  t.ppid = kPpid;
  t.flags = 0;
  t.start_ns = kStartNs;
  t.exec_id = kExecId;
  t.parent_exec_id = kParentExecId;
  t.cgroup_id = 777;
  t.cap_effective = kCapSysAdmin | kCapChown;
  t.cap_permitted = kCapSysAdmin | kCapChown | kCapNetAdmin;
  t.uid = 1000;
  t.gid = 1001;
  t.euid = 0;
  t.egid = 1002;
  t.auid = 4294967295u;
  t.pidns = 4026531836u;
  t.mntns = 4026531841u;
  t.netns = 4026531840u;
  std::strncpy(t.comm, "bash", sizeof(t.comm));
  return t;
}

void fillHeader(vigil_event_header& hdr, uint16_t kind, uint16_t version, size_t size, uint64_t ktime_ns) {
  hdr.kind = kind;
  hdr.version = version;
  hdr.size = uint32_t(size);
  hdr.ktime_ns = ktime_ns;
  hdr.cpu = 3;
  hdr.pad = 0;
}

// An exec or snapshot record: the fixed part, then argv, exe, cwd and
// filename, with the lengths and header size computed from the strings.
struct ExecRecord {
  uint16_t kind = VIGIL_EV_EXEC;
  uint16_t version = VIGIL_EXEC_VERSION;
  uint64_t ktime_ns = 6'500'000'123;
  vigil_task_info task = sampleTask();
  uint64_t exe_ino = 131'077;
  uint32_t exe_dev = (254u << 20) | 1u;
  uint32_t flags = 0;
  std::string argv = "/usr/bin/true\0--flag\0"s;
  std::string exe = "true\0bin\0usr\0"s;
  std::string cwd = "user\0home\0"s;
  std::string filename = "/usr/bin/true\0"s;

  std::vector<uint8_t> build() const {
    vigil_exec_event ev{};
    size_t size = sizeof(ev) + argv.size() + exe.size() + cwd.size() + filename.size();
    fillHeader(ev.hdr, kind, version, size, ktime_ns);
    ev.task = task;
    ev.exe_ino = exe_ino;
    ev.exe_dev = exe_dev;
    ev.flags = flags;
    ev.argv_len = uint32_t(argv.size());
    ev.exe_len = uint32_t(exe.size());
    ev.cwd_len = uint32_t(cwd.size());
    ev.filename_len = uint32_t(filename.size());
    std::vector<uint8_t> out(sizeof(ev));
    std::memcpy(out.data(), &ev, sizeof(ev));
    for (const std::string* part : {&argv, &exe, &cwd, &filename}) {
      out.insert(out.end(), part->begin(), part->end());
    }
    return out;
  }
};

std::vector<uint8_t> forkRecord(uint64_t ktime_ns = 7'000'000'000) {
  vigil_fork_event ev{};
  fillHeader(ev.hdr, VIGIL_EV_FORK, VIGIL_FORK_VERSION, sizeof(ev), ktime_ns);
  ev.child = sampleTask();
  ev.child.flags = VIGIL_TASK_F_ID_FROM_START;
  ev.parent_tid = kPpid + 7;
  std::vector<uint8_t> out(sizeof(ev));
  std::memcpy(out.data(), &ev, sizeof(ev));
  return out;
}

std::vector<uint8_t> exitRecord(uint32_t raw_status, uint64_t ktime_ns = 7'250'000'000) {
  vigil_exit_event ev{};
  fillHeader(ev.hdr, VIGIL_EV_EXIT, VIGIL_EXIT_VERSION, sizeof(ev), ktime_ns);
  ev.task = sampleTask();
  ev.exit_code = raw_status;
  std::vector<uint8_t> out(sizeof(ev));
  std::memcpy(out.data(), &ev, sizeof(ev));
  return out;
}

class DecoderTest : public ::testing::Test {
protected:
  Result<RecordKind> decode(const std::vector<uint8_t>& record) {
    event_.Clear();
    return decoder_.decode(record, event_);
  }

  // The error message of a record that must not decode.
  std::string decodeError(const std::vector<uint8_t>& record) {
    auto result = decode(record);
    EXPECT_FALSE(result.ok()) << "decoded a malformed record as " << recordKindName(*result);
    return result.ok() ? std::string() : result.error().message();
  }

  const Process& execProcess() const { return event_.exec().process(); }

  Decoder decoder_{BootClock(kClockOffsetNs)};
  Event event_;
};

// --- valid records -------------------------------------------------------------

TEST_F(DecoderTest, ExecRecordFillsIdentityCredsCapsNamespaces) {
  auto result = decode(ExecRecord{}.build());
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(*result, RecordKind::Exec);
  ASSERT_TRUE(event_.has_exec());
  const Process& p = execProcess();
  EXPECT_EQ(p.pid(), kPid);
  EXPECT_EQ(p.tid(), kPid + 1);
  EXPECT_EQ(p.ppid(), kPpid);
  EXPECT_EQ(p.comm(), "bash");
  EXPECT_EQ(p.creds().uid(), 1000u);
  EXPECT_EQ(p.creds().gid(), 1001u);
  EXPECT_EQ(p.creds().euid(), 0u);
  EXPECT_EQ(p.creds().egid(), 1002u);
  EXPECT_EQ(p.creds().auid(), 4294967295u);
  EXPECT_EQ(p.caps().effective_mask(), kCapSysAdmin | kCapChown);
  EXPECT_EQ(p.caps().permitted_mask(), kCapSysAdmin | kCapChown | kCapNetAdmin);
  EXPECT_THAT(p.caps().effective(), ElementsAre("CAP_CHOWN", "CAP_SYS_ADMIN"));
  EXPECT_THAT(p.caps().permitted(), ElementsAre("CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"));
  EXPECT_EQ(p.ns().pid(), 4026531836u);
  EXPECT_EQ(p.ns().mnt(), 4026531841u);
  EXPECT_EQ(p.ns().net(), 4026531840u);
  EXPECT_EQ(p.cgroup_id(), 777u);
  EXPECT_EQ(p.start_boot_ns(), kStartNs);
  EXPECT_EQ(p.source(), v1::PROCESS_SOURCE_EXEC);
  EXPECT_FALSE(p.kernel_thread());
}

TEST_F(DecoderTest, ExecIdsAreFormattedFromPidAndParentPid) {
  ASSERT_TRUE(decode(ExecRecord{}.build()).ok());
  // 4242 = 0x1092, 100 = 0x64.
  EXPECT_EQ(execProcess().exec_id(), "1122334455667788" "00001092");
  EXPECT_EQ(execProcess().parent_exec_id(), "0000000abcdef012" "00000064");
  EXPECT_EQ(execProcess().exec_id(), formatExecId(kPid, kExecId));
  EXPECT_EQ(execProcess().parent_exec_id(), formatExecId(kPpid, kParentExecId));
}

TEST_F(DecoderTest, NoParentExecIdWithoutParentPid) {
  ExecRecord rec;
  rec.task.ppid = 0;
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_THAT(execProcess().parent_exec_id(), IsEmpty());
}

TEST_F(DecoderTest, ExecTimesUseTheBootClockOffset) {
  ASSERT_TRUE(decode(ExecRecord{}.build()).ok());
  // ktime 6.500000123 s after boot; boot was at 1'700'000'000 s wall.
  EXPECT_EQ(event_.ktime_ns(), 6'500'000'123u);
  EXPECT_EQ(event_.time().seconds(), 1'700'000'006);
  EXPECT_EQ(event_.time().nanos(), 500'000'123);
  EXPECT_EQ(execProcess().start_time().seconds(), 1'700'000'005);
  EXPECT_EQ(execProcess().start_time().nanos(), 0);
}

TEST_F(DecoderTest, ArgvKeepsSpacesAndEmptyArguments) {
  ExecRecord rec;
  rec.argv = "a b\0\0c\0"s;
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_THAT(execProcess().args(), ElementsAre("a b", "", "c"));
  EXPECT_FALSE(execProcess().args_truncated());
}

TEST_F(DecoderTest, TruncatedArgvKeepsTheCutLastArgument) {
  ExecRecord rec;
  rec.argv = "cat\0/very/long/pa"s; // no final NUL: cut by the bound
  rec.flags = VIGIL_EXEC_F_ARGV_TRUNC;
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_THAT(execProcess().args(), ElementsAre("cat", "/very/long/pa"));
  EXPECT_TRUE(execProcess().args_truncated());
}

TEST_F(DecoderTest, EmptyArgvGivesNoArgs) {
  ExecRecord rec;
  rec.argv.clear();
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_THAT(execProcess().args(), IsEmpty());
}

TEST_F(DecoderTest, ExeAndCwdPathsAreJoinedFromLeafFirstComponents) {
  ASSERT_TRUE(decode(ExecRecord{}.build()).ok());
  EXPECT_EQ(execProcess().binary(), "/usr/bin/true");
  EXPECT_FALSE(execProcess().binary_truncated());
  EXPECT_EQ(execProcess().cwd(), "/home/user");
  EXPECT_FALSE(execProcess().cwd_truncated());
}

TEST_F(DecoderTest, CwdWithoutComponentsIsRoot) {
  ExecRecord rec;
  rec.cwd.clear();
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_EQ(execProcess().cwd(), "/");
  EXPECT_FALSE(execProcess().cwd_truncated());
}

TEST_F(DecoderTest, TruncatedCwdWithoutComponentsIsEmpty) {
  ExecRecord rec;
  rec.cwd.clear();
  rec.flags = VIGIL_EXEC_F_CWD_TRUNC;
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_EQ(execProcess().cwd(), "");
  EXPECT_TRUE(execProcess().cwd_truncated());
}

TEST_F(DecoderTest, TruncatedCwdKeepsDeepestComponents) {
  ExecRecord rec;
  rec.cwd = "leaf\0mid\0"s;
  rec.flags = VIGIL_EXEC_F_CWD_TRUNC;
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_EQ(execProcess().cwd(), "/mid/leaf");
  EXPECT_TRUE(execProcess().cwd_truncated());
}

TEST_F(DecoderTest, FilenameStopsAtItsNul) {
  ExecRecord rec;
  rec.filename = "./run.sh\0junk"s;
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_EQ(execProcess().filename(), "./run.sh");
}

TEST_F(DecoderTest, UnreadableExePathFallsBackToFilename) {
  ExecRecord rec;
  rec.exe.clear();
  rec.flags = VIGIL_EXEC_F_EXE_TRUNC;
  rec.filename = "./run.sh\0"s;
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_EQ(execProcess().binary(), "./run.sh");
  EXPECT_TRUE(execProcess().binary_truncated());
}

TEST_F(DecoderTest, ExeDeviceIsMajorColonMinorAndInodeIsKept) {
  ExecRecord rec;
  rec.exe_dev = (254u << 20) | 1u;
  rec.exe_ino = 987'654'321;
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_EQ(execProcess().exe_dev(), "254:1");
  EXPECT_EQ(execProcess().exe_inode(), 987'654'321u);

  rec.exe_dev = (8u << 20) | 0xFFFFFu; // the largest minor
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_EQ(execProcess().exe_dev(), "8:1048575");
}

TEST_F(DecoderTest, NoExecutableLeavesImageFieldsEmpty) {
  ExecRecord rec;
  rec.flags = VIGIL_EXEC_F_NO_EXE;
  rec.task.flags = VIGIL_TASK_F_KTHREAD;
  rec.exe.clear();
  rec.exe_ino = 0;
  rec.exe_dev = 0;
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_EQ(execProcess().binary(), "");
  EXPECT_EQ(execProcess().exe_dev(), "");
  EXPECT_EQ(execProcess().exe_inode(), 0u);
  EXPECT_TRUE(execProcess().kernel_thread());
}

TEST_F(DecoderTest, CommFillingAllSixteenBytesIsKeptWhole) {
  ExecRecord rec;
  std::memcpy(rec.task.comm, "abcdefghijklmnop", VIGIL_COMM_LEN); // no NUL
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_EQ(execProcess().comm(), "abcdefghijklmnop");
}

TEST_F(DecoderTest, InvalidUtf8InStringsIsEscaped) {
  ExecRecord rec;
  rec.argv = "a\xff" "b\0"s;
  rec.exe = "x\xfe\0bin\0"s;
  rec.task.comm[0] = '\x80';
  ASSERT_TRUE(decode(rec.build()).ok());
  EXPECT_THAT(execProcess().args(), ElementsAre("a\\xffb"));
  EXPECT_EQ(execProcess().binary(), "/bin/x\\xfe");
  EXPECT_EQ(execProcess().comm(), "\\x80ash");
}

TEST_F(DecoderTest, SnapshotRecordFillsOnlyTheProcess) {
  ExecRecord rec;
  rec.kind = VIGIL_EV_SNAPSHOT;
  rec.argv.clear(); // snapshots carry no argv
  rec.filename.clear();
  auto result = decode(rec.build());
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(*result, RecordKind::Snapshot);
  EXPECT_EQ(execProcess().source(), v1::PROCESS_SOURCE_SNAPSHOT_ITER);
  EXPECT_EQ(execProcess().pid(), kPid);
  EXPECT_EQ(execProcess().binary(), "/usr/bin/true");
  EXPECT_EQ(execProcess().cwd(), "/home/user");
  EXPECT_EQ(event_.ktime_ns(), 0u);
  EXPECT_FALSE(event_.has_time());
}

TEST_F(DecoderTest, ForkRecordFillsTheChild) {
  auto result = decode(forkRecord(7'000'000'000));
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(*result, RecordKind::Fork);
  ASSERT_TRUE(event_.has_fork());
  const Process& child = event_.fork().process();
  EXPECT_EQ(child.pid(), kPid);
  EXPECT_EQ(child.ppid(), kPpid);
  EXPECT_EQ(child.exec_id(), formatExecId(kPid, kExecId));
  EXPECT_EQ(child.parent_exec_id(), formatExecId(kPpid, kParentExecId));
  EXPECT_EQ(child.source(), v1::PROCESS_SOURCE_FORK);
  EXPECT_EQ(child.comm(), "bash");
  EXPECT_THAT(child.caps().effective(), ElementsAre("CAP_CHOWN", "CAP_SYS_ADMIN"));
  EXPECT_THAT(child.args(), IsEmpty()); // inherited later, by the cache
  EXPECT_EQ(event_.ktime_ns(), 7'000'000'000u);
  EXPECT_EQ(event_.time().seconds(), 1'700'000'007);
  EXPECT_EQ(event_.time().nanos(), 0);
}

TEST_F(DecoderTest, ExitWithStatusGivesExitCode) {
  auto result = decode(exitRecord(3u << 8));
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(*result, RecordKind::Exit);
  ASSERT_TRUE(event_.has_exit());
  const auto& exit = event_.exit();
  EXPECT_EQ(exit.exit_code(), 3);
  EXPECT_EQ(exit.signal(), 0u);
  EXPECT_EQ(exit.signal_name(), "");
  EXPECT_FALSE(exit.core_dumped());
  EXPECT_EQ(exit.process().pid(), kPid);
  EXPECT_EQ(exit.process().exec_id(), formatExecId(kPid, kExecId));
}

TEST_F(DecoderTest, ExitBySignalGivesSignalAndNoExitCode) {
  ASSERT_TRUE(decode(exitRecord(9)).ok());
  EXPECT_EQ(event_.exit().signal(), 9u);
  EXPECT_EQ(event_.exit().signal_name(), "SIGKILL");
  EXPECT_EQ(event_.exit().exit_code(), 0);
  EXPECT_FALSE(event_.exit().core_dumped());
}

TEST_F(DecoderTest, ExitWithCoreDump) {
  ASSERT_TRUE(decode(exitRecord(0x80 | 11)).ok());
  EXPECT_TRUE(event_.exit().core_dumped());
  EXPECT_EQ(event_.exit().signal(), 11u);
  EXPECT_EQ(event_.exit().signal_name(), "SIGSEGV");
  EXPECT_EQ(event_.exit().exit_code(), 0);
}

TEST_F(DecoderTest, ExitDurationIsExitTimeMinusStart) {
  ASSERT_TRUE(decode(exitRecord(0, kStartNs + 2'250'000'001)).ok());
  EXPECT_EQ(event_.exit().duration().seconds(), 2);
  EXPECT_EQ(event_.exit().duration().nanos(), 250'000'001);
  EXPECT_EQ(event_.ktime_ns(), kStartNs + 2'250'000'001);
  EXPECT_EQ(event_.time().seconds(), 1'700'000'007);
  EXPECT_EQ(event_.time().nanos(), 250'000'001);
}

TEST_F(DecoderTest, ExitBeforeStartHasZeroDuration) {
  ASSERT_TRUE(decode(exitRecord(0, kStartNs - 1)).ok());
  EXPECT_EQ(event_.exit().duration().seconds(), 0);
  EXPECT_EQ(event_.exit().duration().nanos(), 0);
}

// --- malformed records ----------------------------------------------------------

TEST_F(DecoderTest, EmptyBufferIsAnError) {
  EXPECT_THAT(decodeError({}), HasSubstr("0 bytes, shorter than the 24-byte header"));
}

TEST_F(DecoderTest, BufferShorterThanHeaderIsAnError) {
  auto record = ExecRecord{}.build();
  record.resize(sizeof(vigil_event_header) - 1);
  EXPECT_THAT(decodeError(record), HasSubstr("23 bytes, shorter than the 24-byte header"));
}

TEST_F(DecoderTest, HeaderSizeDifferentFromBufferIsAnError) {
  auto record = ExecRecord{}.build();
  size_t real = record.size();
  patch(record, offsetof(vigil_event_header, size), uint32_t(real + 1));
  EXPECT_THAT(decodeError(record), HasSubstr(fmt::format("header says {} bytes but {} arrived", real + 1, real)));

  auto longer = ExecRecord{}.build();
  longer.push_back(0); // an extra byte the header does not count
  EXPECT_THAT(decodeError(longer), HasSubstr(fmt::format("header says {} bytes but {} arrived", real, real + 1)));
}

TEST_F(DecoderTest, UnknownKindIsAnError) {
  auto record = ExecRecord{}.build();
  patch(record, offsetof(vigil_event_header, kind), uint16_t(99));
  EXPECT_THAT(decodeError(record), HasSubstr("unknown record kind 99"));
  patch(record, offsetof(vigil_event_header, kind), uint16_t(0));
  EXPECT_THAT(decodeError(record), HasSubstr("unknown record kind 0"));
  patch(record, offsetof(vigil_event_header, kind), uint16_t(VIGIL_EV_KIND_MAX));
  EXPECT_THAT(decodeError(record), HasSubstr("unknown record kind"));
}

TEST_F(DecoderTest, WrongVersionIsAnError) {
  ExecRecord rec;
  rec.version = VIGIL_EXEC_VERSION + 1;
  EXPECT_THAT(decodeError(rec.build()), HasSubstr("exec record has layout version 2, this agent reads version 1"));
  rec.kind = VIGIL_EV_SNAPSHOT;
  EXPECT_THAT(decodeError(rec.build()), HasSubstr("snapshot record has layout version 2"));

  auto fork = forkRecord();
  patch(fork, offsetof(vigil_event_header, version), uint16_t(0));
  EXPECT_THAT(decodeError(fork), HasSubstr("fork record has layout version 0"));

  auto exit = exitRecord(0);
  patch(exit, offsetof(vigil_event_header, version), uint16_t(7));
  EXPECT_THAT(decodeError(exit), HasSubstr("exit record has layout version 7"));
}

// A record of kind that holds only a valid header of size bytes.
std::vector<uint8_t> headerOnly(uint16_t kind, uint16_t version, size_t size) {
  std::vector<uint8_t> out(size, 0);
  vigil_event_header hdr{};
  fillHeader(hdr, kind, version, size, 1);
  std::memcpy(out.data(), &hdr, sizeof(hdr));
  return out;
}

TEST_F(DecoderTest, ExecShorterThanFixedPartIsAnError) {
  auto record = headerOnly(VIGIL_EV_EXEC, VIGIL_EXEC_VERSION, sizeof(vigil_exec_event) - 1);
  EXPECT_THAT(decodeError(record), HasSubstr("exec record is 167 bytes, shorter than its fixed part (168 bytes)"));
  record = headerOnly(VIGIL_EV_SNAPSHOT, VIGIL_EXEC_VERSION, sizeof(vigil_event_header));
  EXPECT_THAT(decodeError(record), HasSubstr("snapshot record is 24 bytes, shorter than its fixed part"));
}

TEST_F(DecoderTest, ForkAndExitShorterThanFixedPartAreErrors) {
  auto fork = headerOnly(VIGIL_EV_FORK, VIGIL_FORK_VERSION, sizeof(vigil_fork_event) - 4);
  EXPECT_THAT(decodeError(fork), HasSubstr("fork record is 140 bytes, shorter than its fixed part (144 bytes)"));
  auto exit = headerOnly(VIGIL_EV_EXIT, VIGIL_EXIT_VERSION, sizeof(vigil_event_header) + 8);
  EXPECT_THAT(decodeError(exit), HasSubstr("exit record is 32 bytes, shorter than its fixed part (144 bytes)"));
}

TEST_F(DecoderTest, DataLengthPastTheEndIsAnError) {
  struct Case {
    size_t offset;
    std::string what;
  };
  for (const auto& c : {Case{offsetof(vigil_exec_event, argv_len), "argv needs"},
                        Case{offsetof(vigil_exec_event, exe_len), "exe path needs"},
                        Case{offsetof(vigil_exec_event, cwd_len), "cwd needs"},
                        Case{offsetof(vigil_exec_event, filename_len), "filename needs"}}) {
    SCOPED_TRACE(c.what);
    for (uint32_t len : {1000u, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
      auto record = ExecRecord{}.build();
      patch(record, c.offset, len);
      std::string message = decodeError(record);
      EXPECT_THAT(message, HasSubstr(c.what));
      EXPECT_THAT(message, HasSubstr(fmt::format("exec record of pid {}", kPid)));
    }
  }
}

TEST_F(DecoderTest, DataLengthsTogetherPastTheEndAreAnError) {
  // Each length fits on its own; their sum does not.
  ExecRecord rec;
  rec.argv = "abcd"s;
  rec.exe = "ef\0"s;
  rec.cwd.clear();
  rec.filename.clear();
  auto record = rec.build();
  patch(record, offsetof(vigil_exec_event, exe_len), uint32_t(rec.argv.size() + rec.exe.size()));
  EXPECT_THAT(decodeError(record), HasSubstr("exe path needs 7 bytes at data offset 4 but only 3 remain"));
}

// --- fuzz-style: corrupted copies of a valid record ------------------------------

// A decoded event must be a valid message: every string field valid UTF-8,
// which proto3 enforces when parsing.
void expectValidMessage(const Event& event) {
  std::string wire;
  ASSERT_TRUE(event.SerializeToString(&wire));
  Event parsed;
  EXPECT_TRUE(parsed.ParseFromString(wire)) << event.ShortDebugString();
}

ExecRecord richExecRecord() {
  ExecRecord rec;
  rec.argv = "sh\0-c\0echo 'h\xc3\xa9llo' \xe2\x9c\x93\0"s;
  rec.exe = "dash\0bin\0usr\0"s;
  rec.cwd = "tmp\0"s;
  rec.filename = "/bin/sh\0"s;
  rec.flags = VIGIL_EXEC_F_ARGV_TRUNC;
  return rec;
}

TEST_F(DecoderTest, EveryPrefixOfARecordIsRejected) {
  const auto full = richExecRecord().build();
  for (size_t len = 0; len < full.size(); ++len) {
    SCOPED_TRACE(fmt::format("prefix of {} bytes", len));
    std::vector<uint8_t> prefix(full.begin(), full.begin() + len);
    EXPECT_FALSE(decode(prefix).ok());
    // The same prefix with a header that agrees with its length still lacks
    // either the fixed part or some of the data it announces.
    if (len >= sizeof(vigil_event_header)) {
      patch(prefix, offsetof(vigil_event_header, size), uint32_t(len));
      EXPECT_FALSE(decode(prefix).ok());
    }
  }
  EXPECT_TRUE(decode(full).ok());
}

// The body a decoded record fills is the one its kind names (a snapshot
// fills exec.process, without the event's time).
void expectBodyOfKind(RecordKind kind, const Event& event) {
  switch (kind) {
  case RecordKind::Exec:
  case RecordKind::Snapshot:
    EXPECT_EQ(event.body_case(), Event::kExec);
    EXPECT_EQ(event.exec().process().source(),
              kind == RecordKind::Exec ? v1::PROCESS_SOURCE_EXEC : v1::PROCESS_SOURCE_SNAPSHOT_ITER);
    EXPECT_EQ(event.has_time(), kind == RecordKind::Exec);
    break;
  case RecordKind::Fork:
    EXPECT_EQ(event.body_case(), Event::kFork);
    break;
  case RecordKind::Exit:
    EXPECT_EQ(event.body_case(), Event::kExit);
    break;
  }
}

// An error names the record part that is wrong.
void expectNamedError(const Error& error) {
  EXPECT_THAT(error.message(), ::testing::ContainsRegex("(exec|snapshot|fork|exit) record|record (is|header) "
                                                        "|unknown record kind"));
}

TEST_F(DecoderTest, RandomByteFlipsDecodeOrNameTheError) {
  const auto valid = richExecRecord().build();
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<size_t> position(0, valid.size() - 1);
  std::uniform_int_distribution<int> flips(1, 4);
  std::uniform_int_distribution<int> mask(1, 255);
  int decoded = 0;
  int rejected = 0;
  for (int round = 0; round < 500; ++round) {
    SCOPED_TRACE(round);
    auto record = valid;
    for (int n = flips(rng); n > 0; --n) {
      record[position(rng)] ^= uint8_t(mask(rng));
    }
    auto result = decode(record);
    if (result.ok()) {
      ++decoded;
      expectBodyOfKind(*result, event_);
      expectValidMessage(event_);
    } else {
      ++rejected;
      expectNamedError(result.error());
    }
  }
  // Flips in the header or the lengths are caught, flips in the data are not:
  // both paths ran.
  EXPECT_GT(decoded, 0);
  EXPECT_GT(rejected, 0);
}

// Every bit of version and size is checked, in every record kind. A kind bit
// may name another process kind whose fixed part fits (fork and exit records
// are the same size): then the record decodes as that kind, else it is an
// error.
TEST_F(DecoderTest, EveryHeaderBitFlipIsANamedErrorOrAnotherKind) {
  int kind_changes = 0;
  for (const auto& valid : {richExecRecord().build(), forkRecord(), exitRecord(0x0900)}) {
    for (size_t bit = 0; bit < 8 * offsetof(vigil_event_header, ktime_ns); ++bit) {
      SCOPED_TRACE(bit);
      auto record = valid;
      record[bit / 8] ^= uint8_t(1u << (bit % 8));
      auto result = decode(record);
      if (result.ok()) {
        ASSERT_LT(bit, 8 * sizeof(vigil_event_header::kind)) << "decoded as " << recordKindName(*result);
        uint16_t kind = 0;
        std::memcpy(&kind, record.data(), sizeof(kind));
        const RecordKind want = kind == VIGIL_EV_EXEC   ? RecordKind::Exec
                                : kind == VIGIL_EV_FORK ? RecordKind::Fork
                                : kind == VIGIL_EV_EXIT ? RecordKind::Exit
                                                        : RecordKind::Snapshot;
        EXPECT_TRUE(kind == VIGIL_EV_EXEC || kind == VIGIL_EV_FORK || kind == VIGIL_EV_EXIT ||
                    kind == VIGIL_EV_SNAPSHOT)
            << kind;
        EXPECT_EQ(*result, want);
        expectBodyOfKind(*result, event_);
        ++kind_changes;
        continue;
      }
      expectNamedError(result.error());
    }
  }
  EXPECT_GT(kind_changes, 0); // fork <-> exit at least
}

// The task's identity, credentials and capabilities are taken as they come:
// any value decodes, into the body of the record's kind.
TEST_F(DecoderTest, EveryTaskBitFlipDecodes) {
  for (const auto& valid : {richExecRecord().build(), forkRecord(), exitRecord(0x0900)}) {
    const size_t first = 8 * sizeof(vigil_event_header);
    for (size_t bit = first; bit < first + 8 * sizeof(vigil_task_info); ++bit) {
      SCOPED_TRACE(bit);
      auto record = valid;
      record[bit / 8] ^= uint8_t(1u << (bit % 8));
      auto result = decode(record);
      ASSERT_TRUE(result.ok()) << result.error().message();
      expectBodyOfKind(*result, event_);
      expectValidMessage(event_);
    }
  }
}

TEST_F(DecoderTest, RandomDataBytesDecodeToValidStrings) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 200; ++round) {
    ExecRecord rec;
    for (std::string* part : {&rec.argv, &rec.exe, &rec.cwd, &rec.filename}) {
      part->resize(size_t(byte(rng)) % 40);
      for (char& c : *part) {
        c = char(byte(rng));
      }
    }
    for (char& c : rec.task.comm) {
      c = char(byte(rng));
    }
    auto result = decode(rec.build());
    ASSERT_TRUE(result.ok()) << result.error().message();
    expectValidMessage(event_);
  }
}

// --- helpers ---------------------------------------------------------------------

TEST(SanitizeUtf8Test, KeepsValidUtf8) {
  EXPECT_EQ(sanitizeUtf8("plain ascii"), "plain ascii");
  std::string multi = "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"; // é, check mark, emoji
  EXPECT_EQ(sanitizeUtf8(multi), multi);
  std::string highest = "\xf4\x8f\xbf\xbf"; // U+10FFFF
  EXPECT_EQ(sanitizeUtf8(highest), highest);
  EXPECT_EQ(sanitizeUtf8(""), "");
}

TEST(SanitizeUtf8Test, EscapesLoneInvalidBytes) {
  EXPECT_EQ(sanitizeUtf8("\xff"), "\\xff");
  EXPECT_EQ(sanitizeUtf8("a\xff" "b"), "a\\xffb");
  EXPECT_EQ(sanitizeUtf8("\x80"), "\\x80"); // continuation without a lead
  EXPECT_EQ(sanitizeUtf8("\xf8\x88\x80\x80\x80"), "\\xf8\\x88\\x80\\x80\\x80"); // 5-byte form
}

TEST(SanitizeUtf8Test, RejectsOverlongEncodings) {
  EXPECT_EQ(sanitizeUtf8("\xc0\x80"), "\\xc0\\x80"); // NUL in two bytes
  EXPECT_EQ(sanitizeUtf8("\xc1\xbf"), "\\xc1\\xbf");
  EXPECT_EQ(sanitizeUtf8("\xe0\x80\xaf"), "\\xe0\\x80\\xaf"); // '/' in three bytes
  EXPECT_EQ(sanitizeUtf8("\xf0\x82\x82\xac"), "\\xf0\\x82\\x82\\xac");
}

TEST(SanitizeUtf8Test, RejectsSurrogatesAndCodePointsAboveUnicode) {
  EXPECT_EQ(sanitizeUtf8("\xed\xa0\x80"), "\\xed\\xa0\\x80"); // U+D800
  EXPECT_EQ(sanitizeUtf8("\xed\xbf\xbf"), "\\xed\\xbf\\xbf"); // U+DFFF
  EXPECT_EQ(sanitizeUtf8("\xed\x9f\xbf"), "\xed\x9f\xbf"); // U+D7FF is fine
  EXPECT_EQ(sanitizeUtf8("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); // U+110000
}

TEST(SanitizeUtf8Test, EscapesSequenceTruncatedAtTheEnd) {
  EXPECT_EQ(sanitizeUtf8("ok\xe2\x9c"), "ok\\xe2\\x9c");
  EXPECT_EQ(sanitizeUtf8("\xf0\x9f\x98"), "\\xf0\\x9f\\x98");
  EXPECT_EQ(sanitizeUtf8("\xc3"), "\\xc3");
  // A sequence cut by a non-continuation byte keeps that byte.
  EXPECT_EQ(sanitizeUtf8("\xe2" "A"), "\\xe2" "A");
}

TEST(SplitArgvTest, SplitsOnNulKeepingEmptyArguments) {
  EXPECT_THAT(splitArgv(bytesOf("a b\0\0c\0"s)), ElementsAre("a b", "", "c"));
  EXPECT_THAT(splitArgv(bytesOf("\0"s)), ElementsAre(""));
  EXPECT_THAT(splitArgv(bytesOf(""s)), IsEmpty());
}

TEST(SplitArgvTest, KeepsACutLastArgument) {
  EXPECT_THAT(splitArgv(bytesOf("ls\0-la\0/ho"s)), ElementsAre("ls", "-la", "/ho"));
}

TEST(SplitArgvTest, SanitizesEachArgument) {
  EXPECT_THAT(splitArgv(bytesOf("\xff\0ok\0"s)), ElementsAre("\\xff", "ok"));
}

TEST(JoinLeafFirstPathTest, ReversesComponents) {
  EXPECT_EQ(joinLeafFirstPath(bytesOf("true\0bin\0usr\0"s), false), "/usr/bin/true");
  EXPECT_EQ(joinLeafFirstPath(bytesOf("etc\0"s), false), "/etc");
  EXPECT_EQ(joinLeafFirstPath(bytesOf("true\0bin\0usr"s), false), "/usr/bin/true"); // last NUL missing
}

TEST(JoinLeafFirstPathTest, NoComponents) {
  EXPECT_EQ(joinLeafFirstPath({}, false), "/");
  EXPECT_EQ(joinLeafFirstPath({}, true), "");
}

TEST(JoinLeafFirstPathTest, SanitizesComponents) {
  EXPECT_EQ(joinLeafFirstPath(bytesOf("f\xff\0dir\0"s), false), "/dir/f\\xff");
}

TEST(CapabilityNamesTest, NamesEachSetBitInOrder) {
  EXPECT_THAT(capabilityNames(0), IsEmpty());
  EXPECT_THAT(capabilityNames(kCapSysAdmin), ElementsAre("CAP_SYS_ADMIN"));
  EXPECT_THAT(capabilityNames(kCapChown | (uint64_t(1) << 40)), ElementsAre("CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"));
  EXPECT_THAT(capabilityNames((uint64_t(1) << 38) | (uint64_t(1) << 39)), ElementsAre("CAP_PERFMON", "CAP_BPF"));
}

TEST(CapabilityNamesTest, UnknownBitsAreNumbered) {
  EXPECT_THAT(capabilityNames(uint64_t(1) << 50), ElementsAre("CAP_50"));
  EXPECT_THAT(capabilityNames((uint64_t(1) << 41) | (uint64_t(1) << 63)), ElementsAre("CAP_41", "CAP_63"));
  EXPECT_EQ(capabilityNames(~uint64_t(0)).size(), 64u);
}

TEST(SignalNameTest, NamesKnownSignals) {
  EXPECT_EQ(signalName(9), "SIGKILL");
  EXPECT_EQ(signalName(11), "SIGSEGV");
  EXPECT_EQ(signalName(15), "SIGTERM");
}

TEST(SignalNameTest, NumbersUnknownSignals) {
  EXPECT_EQ(signalName(200), "SIG200");
  EXPECT_EQ(signalName(100000), "SIG100000");
}

TEST(FormatExecIdTest, FixedWidthHex) {
  EXPECT_EQ(formatExecId(1, 0), "0000000000000000" "00000001");
  EXPECT_EQ(formatExecId(0xFFFFFFFFu, ~uint64_t(0)), std::string(24, 'f'));
  EXPECT_EQ(formatExecId(kPid, kExecId).size(), 24u);
}

TEST(FormatExecIdTest, IdsOfOnePidSortByTime) {
  EXPECT_LT(formatExecId(7, 0x9), formatExecId(7, 0x10));
  EXPECT_LT(formatExecId(7, 0xFFFF), formatExecId(7, 0x10000));
}

TEST(BootClockTest, AddsTheOffset) {
  BootClock clock(kClockOffsetNs);
  EXPECT_EQ(clock.offsetNs(), kClockOffsetNs);
  google::protobuf::Timestamp ts;
  clock.toTimestamp(1'999'999'999, ts);
  EXPECT_EQ(ts.seconds(), 1'700'000'001);
  EXPECT_EQ(ts.nanos(), 999'999'999);
}

TEST(BootClockTest, MeasuredOffsetIsRealtimeMinusBoottime) {
  // Boot time is in the past, after 2001.
  int64_t offset = BootClock::measure().offsetNs();
  EXPECT_GT(offset, int64_t(1'000'000'000) * 1'000'000'000);
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  EXPECT_LE(offset, int64_t(now.tv_sec) * 1'000'000'000 + now.tv_nsec);
}

TEST(RecordKindNameTest, NamesEveryKind) {
  EXPECT_EQ(recordKindName(RecordKind::Exec), "exec");
  EXPECT_EQ(recordKindName(RecordKind::Fork), "fork");
  EXPECT_EQ(recordKindName(RecordKind::Exit), "exit");
  EXPECT_EQ(recordKindName(RecordKind::Snapshot), "snapshot");
}

} // namespace
} // namespace vigil::process

namespace vigil::process {
namespace {

using runtime::BootClock;
using runtime::capabilityNames;
using runtime::decodeSuppressed;
using runtime::errnoName;
using runtime::fillSuppressed;
using runtime::sanitizeUtf8;
using runtime::signalName;

TEST(BootClockRegressionTest, NegativeWallTimeFloorsToValidNanos) {
  google::protobuf::Timestamp ts;
  BootClock(-2'000'000'000LL).toTimestamp(500'000'000ULL, ts);
  EXPECT_EQ(ts.seconds(), -2);
  EXPECT_EQ(ts.nanos(), 500'000'000);
}

} // namespace
} // namespace vigil::process
