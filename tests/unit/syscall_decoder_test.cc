// The syscall record decoder and the syscall table, on hand-made records built
// from the real kernel/user structs (bpf/shared/syscall.h), valid and corrupted.

#include "collectors/syscall/decoder.h"
#include "collectors/syscall/syscall_table.h"

#include "shared/syscall.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::syscall {
namespace {

using namespace std::string_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kClockOffsetNs = 1'700'000'000'000'000'000; // wall = boot + this
constexpr uint32_t kPid = 4242;
constexpr uint64_t kExecId = 0x1122334455667788;
constexpr uint64_t kEnterNs = 9'000'000'000;
constexpr uint64_t kExitNs = 9'001'500'250; // 1.50025 ms after enter

// Overwrites the field of type T at offset of a built record.
template <class T> void patch(std::vector<uint8_t>& record, size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), record.size());
  std::memcpy(record.data() + offset, &value, sizeof(T));
}

std::string bytesOf(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

// One VIGIL_EV_SYSCALL record: the fixed part, then chunks in the order
// added. build() computes hdr.size and data_len.
class Record {
public:
  explicit Record(std::string_view name) {
    auto nr = syscallNumber(name);
    EXPECT_TRUE(nr.has_value()) << name;
    ev_.hdr.kind = VIGIL_EV_SYSCALL;
    ev_.hdr.version = VIGIL_SYSCALL_VERSION;
    ev_.hdr.ktime_ns = kExitNs;
    ev_.hdr.cpu = 1;
    ev_.pid = kPid;
    ev_.tid = kPid + 3;
    ev_.exec_id = kExecId;
    ev_.cgroup_id = 777;
    ev_.uid = 1000;
    ev_.gid = 1001;
    ev_.enter_ns = kEnterNs;
    ev_.nr = nr.value_or(0);
    std::strncpy(ev_.comm, "worker", sizeof(ev_.comm));
  }

  vigil_sys_event& ev() { return ev_; }

  Record& args(std::initializer_list<uint64_t> values) {
    size_t i = 0;
    for (uint64_t v : values) {
      ev_.args[i++] = v;
    }
    return *this;
  }
  Record& ret(int64_t value) {
    ev_.ret = value;
    return *this;
  }

  // A chunk with exactly these bytes.
  Record& chunk(uint8_t arg, uint8_t type, std::string bytes, uint16_t flags = 0, uint16_t base_len = 0) {
    vigil_sys_chunk c{};
    c.arg = arg;
    c.type = type;
    c.flags = flags;
    c.len = uint16_t(bytes.size());
    c.base_len = base_len;
    data_ += bytesOf(&c, sizeof(c));
    data_ += bytes;
    return *this;
  }
  // A STR or PATH chunk: text and its NUL.
  Record& text(uint8_t arg, uint8_t type, std::string_view s, uint16_t flags = 0, uint16_t base_len = 0) {
    return chunk(arg, type, std::string(s) + '\0', flags, base_len);
  }
  Record& fault(uint8_t arg, uint8_t type) { return chunk(arg, type, "", VIGIL_CHUNK_F_FAULT); }

  // Raw bytes after the chunks (a cut or corrupt tail).
  Record& raw(std::string bytes) {
    data_ += bytes;
    return *this;
  }

  std::vector<uint8_t> build() const {
    vigil_sys_event ev = ev_;
    ev.hdr.size = uint32_t(sizeof(ev) + data_.size());
    ev.data_len = uint32_t(data_.size());
    std::vector<uint8_t> out(sizeof(ev));
    std::memcpy(out.data(), &ev, sizeof(ev));
    out.insert(out.end(), data_.begin(), data_.end());
    return out;
  }

private:
  vigil_sys_event ev_{};
  std::string data_;
};

std::string sockaddrIn(const char* ip, uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
  return bytesOf(&sin, sizeof(sin));
}

std::string sockaddrIn6(const char* ip, uint16_t port, uint32_t scope = 0) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  sin6.sin6_scope_id = scope;
  EXPECT_EQ(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
  return bytesOf(&sin6, sizeof(sin6));
}

// sa_family then exactly path's bytes (as a caller passes with addrlen =
// offsetof(sun_path) + length).
std::string sockaddrUn(std::string_view path) {
  sa_family_t family = AF_UNIX;
  return bytesOf(&family, sizeof(family)) + std::string(path);
}

class SyscallDecoderTest : public ::testing::Test {
protected:
  // Decodes a record that must be valid.
  const v1::Syscall& decodeOk(const Record& rec) {
    event_.Clear();
    auto st = decoder_.decode(rec.build(), event_);
    EXPECT_TRUE(st.ok()) << st.error().message();
    EXPECT_TRUE(event_.has_syscall());
    return event_.syscall();
  }

  // The error message of a record that must not decode.
  std::string decodeError(const std::vector<uint8_t>& record) {
    event_.Clear();
    auto st = decoder_.decode(record, event_);
    EXPECT_FALSE(st.ok()) << "decoded a malformed record";
    return st.ok() ? std::string() : st.error().message();
  }

  static const v1::SyscallArg& arg(const v1::Syscall& sc, std::string_view name) {
    for (const auto& a : sc.args()) {
      if (a.name() == name) {
        return a;
      }
    }
    ADD_FAILURE() << "no argument " << name << " in " << sc.name();
    return v1::SyscallArg::default_instance();
  }

  Decoder decoder_{runtime::BootClock(kClockOffsetNs), {{"/etc", 3}, {"/home", 2}}};
  Event event_;
};

// --- file syscalls ---------------------------------------------------------------

TEST_F(SyscallDecoderTest, OpenatRelativePathResolvedAndPrefix) {
  Record rec("openat");
  rec.args({uint64_t(int64_t(AT_FDCWD)), 0x7ffd0000, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644})
      .ret(3)
      .text(1, VIGIL_ARG_PATH, "/home/alice/notes.txt", VIGIL_CHUNK_F_RELATIVE, uint16_t(strlen("/home/alice/")))
      .text(VIGIL_CHUNK_RESOLVED, VIGIL_ARG_PATH, "/data/alice/notes.txt");
  rec.ev().access = VIGIL_ACCESS_WRITE;
  rec.ev().prefix = 2;
  const auto& sc = decodeOk(rec);

  EXPECT_EQ(sc.name(), "openat");
  EXPECT_EQ(sc.nr(), 257u);
  EXPECT_EQ(sc.ret(), 3);
  EXPECT_THAT(sc.error(), IsEmpty());
  ASSERT_EQ(sc.args_size(), 4);
  EXPECT_EQ(sc.args(0).name(), "dirfd");
  EXPECT_EQ(sc.args(0).value_case(), v1::SyscallArg::kInt);
  EXPECT_EQ(sc.args(0).int_(), -100);
  EXPECT_EQ(sc.args(0).decoded(), "AT_FDCWD");
  EXPECT_EQ(sc.args(1).name(), "pathname");
  EXPECT_EQ(sc.args(1).str(), "/home/alice/notes.txt");
  EXPECT_FALSE(sc.args(1).truncated());
  EXPECT_FALSE(sc.args(1).unreadable());
  EXPECT_EQ(sc.args(2).name(), "flags");
  EXPECT_EQ(sc.args(2).uint(), uint64_t(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC));
  EXPECT_EQ(sc.args(2).decoded(), "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC");
  EXPECT_EQ(sc.args(3).name(), "mode");
  EXPECT_EQ(sc.args(3).uint(), 0644u);
  EXPECT_EQ(sc.args(3).decoded(), "0644");

  ASSERT_TRUE(sc.has_file());
  EXPECT_EQ(sc.file().path(), "/home/alice/notes.txt");
  EXPECT_FALSE(sc.file().path_truncated());
  EXPECT_EQ(sc.file().resolved_path(), "/data/alice/notes.txt");
  EXPECT_THAT(sc.file().target_path(), IsEmpty());
  EXPECT_EQ(sc.file().access(), v1::FILE_ACCESS_WRITE);
  EXPECT_EQ(sc.file().watched_prefix(), "/home");
}

TEST_F(SyscallDecoderTest, ProcessIdentityTimeAndDuration) {
  Record rec("openat");
  rec.args({3, 1, O_RDONLY, 0}).ret(4).text(1, VIGIL_ARG_PATH, "/etc/hosts");
  const auto& sc = decodeOk(rec);
  const auto& p = sc.process();
  EXPECT_EQ(p.pid(), kPid);
  EXPECT_EQ(p.tid(), kPid + 3);
  EXPECT_EQ(p.exec_id(), process::formatExecId(kPid, kExecId));
  EXPECT_EQ(p.creds().uid(), 1000u);
  EXPECT_EQ(p.creds().gid(), 1001u);
  EXPECT_EQ(p.cgroup_id(), 777u);
  EXPECT_EQ(p.comm(), "worker");
  // Nothing the record does not carry.
  EXPECT_EQ(p.ppid(), 0u);
  EXPECT_THAT(p.binary(), IsEmpty());
  EXPECT_FALSE(sc.has_parent());

  EXPECT_EQ(event_.ktime_ns(), kExitNs);
  int64_t wall = int64_t(kExitNs) + kClockOffsetNs;
  EXPECT_EQ(event_.time().seconds(), wall / 1'000'000'000);
  EXPECT_EQ(event_.time().nanos(), wall % 1'000'000'000);
  EXPECT_EQ(sc.duration().seconds(), 0);
  EXPECT_EQ(sc.duration().nanos(), 1'500'250);

  // A dirfd that is not AT_FDCWD has no symbolic form.
  EXPECT_EQ(sc.args(0).int_(), 3);
  EXPECT_THAT(sc.args(0).decoded(), IsEmpty());
}

TEST_F(SyscallDecoderTest, DurationIsZeroWhenExitPrecedesEnter) {
  Record rec("kill");
  rec.args({1, SIGTERM});
  rec.ev().enter_ns = kExitNs + 1;
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(sc.duration().seconds(), 0);
  EXPECT_EQ(sc.duration().nanos(), 0);

  Record longer("kill");
  longer.args({1, SIGTERM});
  longer.ev().enter_ns = kExitNs - 2'000'000'007;
  const auto& sc2 = decodeOk(longer);
  EXPECT_EQ(sc2.duration().seconds(), 2);
  EXPECT_EQ(sc2.duration().nanos(), 7);
}

TEST_F(SyscallDecoderTest, CommStopsAtNulAndIsSanitized) {
  Record rec("kill");
  std::memcpy(rec.ev().comm, "ab\xff" "c\0junk", 9);
  EXPECT_EQ(decodeOk(rec).process().comm(), "ab\\xffc");

  Record full("kill");
  std::memcpy(full.ev().comm, "0123456789abcdef", 16); // no NUL at all
  EXPECT_EQ(decodeOk(full).process().comm(), "0123456789abcdef");
}

TEST_F(SyscallDecoderTest, OpenReadOnlyCloexecIsReadAccessWithoutPrefix) {
  Record rec("open");
  rec.args({0x1000, O_RDONLY | O_CLOEXEC, 0}).ret(5).text(0, VIGIL_ARG_PATH, "/etc/passwd");
  rec.ev().access = VIGIL_ACCESS_READ;
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "flags").decoded(), "O_RDONLY|O_CLOEXEC");
  EXPECT_EQ(arg(sc, "mode").decoded(), "0");
  EXPECT_EQ(sc.file().path(), "/etc/passwd");
  EXPECT_EQ(sc.file().access(), v1::FILE_ACCESS_READ);
  EXPECT_THAT(sc.file().watched_prefix(), IsEmpty());
  EXPECT_THAT(sc.file().resolved_path(), IsEmpty());
}

TEST_F(SyscallDecoderTest, AccessBitsMapToFileAccess) {
  struct Row {
    uint16_t access;
    v1::FileAccess want;
  };
  for (auto [access, want] : {Row{0, v1::FILE_ACCESS_UNSPECIFIED}, Row{VIGIL_ACCESS_READ, v1::FILE_ACCESS_READ},
                              Row{VIGIL_ACCESS_WRITE, v1::FILE_ACCESS_WRITE},
                              Row{VIGIL_ACCESS_READ | VIGIL_ACCESS_WRITE, v1::FILE_ACCESS_READ_WRITE}}) {
    Record rec("open");
    rec.args({1, O_RDWR, 0}).ret(3).text(0, VIGIL_ARG_PATH, "/etc/x");
    rec.ev().access = access;
    EXPECT_EQ(decodeOk(rec).file().access(), want) << access;
  }
}

TEST_F(SyscallDecoderTest, OpenFlagsDecoding) {
  struct Row {
    uint64_t flags;
    std::string want;
  };
  const Row rows[] = {
      {O_RDONLY, "O_RDONLY"},
      {O_WRONLY | O_CREAT | O_TRUNC, "O_WRONLY|O_CREAT|O_TRUNC"},
      {O_RDWR | O_APPEND | O_NONBLOCK, "O_RDWR|O_APPEND|O_NONBLOCK"},
      {O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, "O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC"},
      {O_PATH | O_CLOEXEC, "O_RDONLY|O_CLOEXEC|O_PATH"},
      {O_RDWR | O_TMPFILE, "O_RDWR|O_TMPFILE"},
      {O_WRONLY | O_SYNC, "O_WRONLY|O_SYNC"},
      {O_WRONLY | O_DSYNC, "O_WRONLY|O_DSYNC"},
      {O_WRONLY | O_CREAT | O_EXCL, "O_WRONLY|O_CREAT|O_EXCL"},
      {O_RDONLY | 0100000, "O_RDONLY|O_LARGEFILE"},
      {O_ACCMODE, "O_ACCMODE"},
      {O_RDONLY | 0x80000000, "O_RDONLY|0x80000000"},
  };
  for (const auto& row : rows) {
    Record rec("open");
    rec.args({1, row.flags, 0}).ret(3).text(0, VIGIL_ARG_PATH, "/etc/x");
    const auto& sc = decodeOk(rec);
    EXPECT_EQ(arg(sc, "flags").decoded(), row.want);
    EXPECT_EQ(arg(sc, "flags").uint(), row.flags);
  }
}

TEST_F(SyscallDecoderTest, OpenFlagsUseTheLow32BitsOfTheRegister) {
  Record rec("open");
  rec.args({1, 0xdead'0000'0000'0000 | O_WRONLY, 0x1'0000'01ed}).ret(3).text(0, VIGIL_ARG_PATH, "/etc/x");
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "flags").decoded(), "O_WRONLY");
  EXPECT_EQ(arg(sc, "flags").uint(), uint64_t(O_WRONLY));
  // umode_t: the kernel sees the low 16 bits.
  EXPECT_EQ(arg(sc, "mode").uint(), 0755u);
  EXPECT_EQ(arg(sc, "mode").decoded(), "0755");
}

TEST_F(SyscallDecoderTest, FailedOpenNamesTheErrno) {
  Record rec("openat");
  rec.args({uint64_t(int64_t(AT_FDCWD)), 1, O_RDONLY, 0}).ret(-2).text(1, VIGIL_ARG_PATH, "/etc/nope");
  rec.ev().access = VIGIL_ACCESS_READ;
  rec.ev().prefix = 1;
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(sc.ret(), -2);
  EXPECT_EQ(sc.error(), "ENOENT");
  EXPECT_EQ(sc.file().path(), "/etc/nope");
  EXPECT_THAT(sc.file().resolved_path(), IsEmpty());
  EXPECT_EQ(sc.file().watched_prefix(), "/etc");
}

TEST_F(SyscallDecoderTest, ErrorOnlyForReturnValuesInTheErrnoRange) {
  for (auto [ret, want] : {std::pair<int64_t, std::string>{-13, "EACCES"},
                           {-4095, "E4095"},
                           {-4096, ""},
                           {-512, "ERESTARTSYS"},
                           {0, ""},
                           {5, ""},
                           {INT64_MIN, ""}}) {
    Record rec("kill");
    rec.args({1, SIGTERM}).ret(ret);
    EXPECT_EQ(decodeOk(rec).error(), want) << ret;
  }
}

TEST_F(SyscallDecoderTest, ErrnoNames) {
  EXPECT_EQ(errnoName(1), "EPERM");
  EXPECT_EQ(errnoName(2), "ENOENT");
  EXPECT_EQ(errnoName(13), "EACCES");
  EXPECT_EQ(errnoName(38), "ENOSYS");
  EXPECT_EQ(errnoName(516), "ERESTART_RESTARTBLOCK");
  EXPECT_EQ(errnoName(4000), "E4000");
}

TEST_F(SyscallDecoderTest, RenameHasPathAndTargetPath) {
  Record rec("rename");
  rec.args({0x1000, 0x2000})
      .text(0, VIGIL_ARG_PATH, "/etc/shadow.tmp")
      .text(1, VIGIL_ARG_PATH, "/etc/shadow");
  rec.ev().access = VIGIL_ACCESS_WRITE;
  rec.ev().prefix = 1;
  const auto& sc = decodeOk(rec);
  ASSERT_EQ(sc.args_size(), 2);
  EXPECT_EQ(arg(sc, "oldpath").str(), "/etc/shadow.tmp");
  EXPECT_EQ(arg(sc, "newpath").str(), "/etc/shadow");
  EXPECT_EQ(sc.file().path(), "/etc/shadow.tmp");
  EXPECT_EQ(sc.file().target_path(), "/etc/shadow");
  EXPECT_EQ(sc.file().access(), v1::FILE_ACCESS_WRITE);
  EXPECT_EQ(sc.file().watched_prefix(), "/etc");
}

TEST_F(SyscallDecoderTest, Renameat2DirfdsAndFlags) {
  Record rec("renameat2");
  rec.args({7, 0x1000, uint64_t(int64_t(AT_FDCWD)), 0x2000, RENAME_NOREPLACE | RENAME_WHITEOUT})
      .text(1, VIGIL_ARG_PATH, "/srv/a/x", VIGIL_CHUNK_F_RELATIVE, 7)
      .text(3, VIGIL_ARG_PATH, "/home/b/y", VIGIL_CHUNK_F_RELATIVE, 8);
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "olddirfd").int_(), 7);
  EXPECT_EQ(arg(sc, "newdirfd").decoded(), "AT_FDCWD");
  EXPECT_EQ(arg(sc, "flags").decoded(), "RENAME_NOREPLACE|RENAME_WHITEOUT");
  EXPECT_EQ(sc.file().path(), "/srv/a/x");
  EXPECT_EQ(sc.file().target_path(), "/home/b/y");
}

TEST_F(SyscallDecoderTest, SecondPathStaysTargetWhenFirstIsUnreadable) {
  Record rec("link");
  rec.args({0x1000, 0x2000}).fault(0, VIGIL_ARG_PATH).text(1, VIGIL_ARG_PATH, "/etc/hardlink");
  const auto& sc = decodeOk(rec);
  EXPECT_TRUE(arg(sc, "oldpath").unreadable());
  EXPECT_THAT(sc.file().path(), IsEmpty());
  EXPECT_EQ(sc.file().target_path(), "/etc/hardlink");
}

TEST_F(SyscallDecoderTest, AtFlags) {
  Record rec("unlinkat");
  rec.args({3, 0x1000, AT_REMOVEDIR}).text(1, VIGIL_ARG_PATH, "/tmp/d");
  EXPECT_EQ(arg(decodeOk(rec), "flags").decoded(), "AT_REMOVEDIR");

  Record chown("fchownat");
  chown.args({3, 0x1000, 0, 0, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH}).text(1, VIGIL_ARG_PATH, "/tmp/d");
  EXPECT_EQ(arg(decodeOk(chown), "flags").decoded(), "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH");

  Record none("unlinkat");
  none.args({3, 0x1000, 0}).text(1, VIGIL_ARG_PATH, "/tmp/f");
  const auto& sc = decodeOk(none);
  EXPECT_EQ(arg(sc, "flags").uint(), 0u);
  EXPECT_THAT(arg(sc, "flags").decoded(), IsEmpty());
}

TEST_F(SyscallDecoderTest, ChmodModeAndFileClass) {
  Record rec("fchmodat2");
  rec.args({uint64_t(int64_t(AT_FDCWD)), 0x1000, 04755, AT_SYMLINK_NOFOLLOW}).text(1, VIGIL_ARG_PATH, "/usr/bin/x");
  rec.ev().access = VIGIL_ACCESS_WRITE;
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "mode").decoded(), "04755");
  EXPECT_EQ(arg(sc, "flags").decoded(), "AT_SYMLINK_NOFOLLOW");
  EXPECT_EQ(sc.file().path(), "/usr/bin/x");
}

TEST_F(SyscallDecoderTest, TruncatedPathAndCutDirectoryWalk) {
  std::string long_path = "/etc/" + std::string(100, 'a');
  Record rec("unlink");
  rec.args({0x1000}).text(0, VIGIL_ARG_PATH, long_path, VIGIL_CHUNK_F_TRUNC);
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "pathname").str(), long_path);
  EXPECT_TRUE(arg(sc, "pathname").truncated());
  EXPECT_TRUE(sc.file().path_truncated());

  Record cut("unlink");
  cut.args({0x1000}).text(0, VIGIL_ARG_PATH, "/deep/x", VIGIL_CHUNK_F_RELATIVE | VIGIL_CHUNK_F_BASE_TRUNC, 6);
  const auto& sc2 = decodeOk(cut);
  EXPECT_FALSE(arg(sc2, "pathname").truncated()); // not an exact prefix
  EXPECT_TRUE(sc2.file().path_truncated());
}

TEST_F(SyscallDecoderTest, PathReadAtExitIsUsed) {
  Record rec("unlink");
  // Unreadable at enter (not paged in), read again at exit.
  rec.args({0x1000}).fault(0, VIGIL_ARG_PATH).text(0, VIGIL_ARG_PATH, "/etc/late", VIGIL_CHUNK_F_AT_EXIT);
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "pathname").str(), "/etc/late");
  EXPECT_FALSE(arg(sc, "pathname").unreadable());
  EXPECT_EQ(sc.file().path(), "/etc/late");
}

// An open outside the watched prefixes that opened a watched file through a
// symlink: the kernel sends the resolved path first, then the arguments read
// again at exit.
TEST_F(SyscallDecoderTest, ResolvedChunkMayComeFirst) {
  Record rec("openat");
  rec.args({uint64_t(int64_t(AT_FDCWD)), 0x1000, O_RDONLY, 0})
      .ret(3)
      .text(VIGIL_CHUNK_RESOLVED, VIGIL_ARG_PATH, "/etc/shadow", VIGIL_CHUNK_F_AT_EXIT)
      .text(1, VIGIL_ARG_PATH, "/tmp/innocent");
  rec.ev().flags = VIGIL_SYS_F_REREAD;
  rec.ev().access = VIGIL_ACCESS_READ;
  rec.ev().prefix = 1;
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(sc.file().path(), "/tmp/innocent");
  EXPECT_EQ(sc.file().resolved_path(), "/etc/shadow");
  EXPECT_EQ(sc.file().watched_prefix(), "/etc");
}

// An empty path against a directory (AT_EMPTY_PATH): the kernel sends the
// directory itself, base_len set but not RELATIVE.
TEST_F(SyscallDecoderTest, EmptyPathAgainstADirectory) {
  Record rec("fchownat");
  rec.args({5, 0x1000, 0, 0, AT_EMPTY_PATH}).text(1, VIGIL_ARG_PATH, "/srv/data", 0, 9);
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "pathname").str(), "/srv/data");
  EXPECT_EQ(sc.file().path(), "/srv/data");
}

TEST_F(SyscallDecoderTest, NonFileSyscallsHaveNoFileActivity) {
  Record rec("chroot");
  rec.args({0x1000}).text(0, VIGIL_ARG_PATH, "/jail");
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "path").str(), "/jail");
  EXPECT_FALSE(sc.has_file());
}

// --- strings, faults, NULL pointers --------------------------------------------------

TEST_F(SyscallDecoderTest, UnreadableString) {
  Record rec("memfd_create");
  rec.args({0xdead0000, MFD_CLOEXEC}).ret(-14).fault(0, VIGIL_ARG_STR);
  const auto& sc = decodeOk(rec);
  const auto& name = arg(sc, "name");
  EXPECT_TRUE(name.unreadable());
  EXPECT_THAT(name.str(), IsEmpty());
  EXPECT_EQ(sc.error(), "EFAULT");
}

TEST_F(SyscallDecoderTest, MissingChunkIsUnreadable) {
  Record rec("memfd_create");
  rec.args({0xdead0000, 0});
  rec.ev().flags = VIGIL_SYS_F_DATA_TRUNC;
  EXPECT_TRUE(arg(decodeOk(rec), "name").unreadable());
}

TEST_F(SyscallDecoderTest, NullPointerIsNotUnreadable) {
  Record rec("delete_module");
  rec.args({0, 0}).ret(-14).fault(0, VIGIL_ARG_STR);
  const auto& name = arg(decodeOk(rec), "name");
  EXPECT_FALSE(name.unreadable());
  EXPECT_EQ(name.decoded(), "NULL");
}

TEST_F(SyscallDecoderTest, TruncatedString) {
  std::string prefix(200, 'p');
  Record rec("finit_module");
  rec.args({3, 0x1000, 0}).text(1, VIGIL_ARG_STR, prefix, VIGIL_CHUNK_F_TRUNC);
  const auto& a = arg(decodeOk(rec), "param_values");
  EXPECT_EQ(a.str(), prefix);
  EXPECT_TRUE(a.truncated());
  EXPECT_FALSE(a.unreadable());
}

TEST_F(SyscallDecoderTest, StringsAreSanitizedAndStopAtNul) {
  Record rec("memfd_create");
  rec.args({0x1000, 0}).chunk(0, VIGIL_ARG_STR, "bad\xc3(name\0tail\0"s);
  EXPECT_EQ(arg(decodeOk(rec), "name").str(), "bad\\xc3(name");

  Record no_nul("memfd_create");
  no_nul.args({0x1000, 0}).chunk(0, VIGIL_ARG_STR, "cut", VIGIL_CHUNK_F_TRUNC);
  EXPECT_EQ(arg(decodeOk(no_nul), "name").str(), "cut");
}

TEST_F(SyscallDecoderTest, SymlinkTargetIsAStringNotAPath) {
  Record rec("symlinkat");
  rec.args({0x1000, uint64_t(int64_t(AT_FDCWD)), 0x2000})
      .text(0, VIGIL_ARG_STR, "../lib/libx.so")
      .text(2, VIGIL_ARG_PATH, "/etc/ld.so.preload");
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "target").str(), "../lib/libx.so");
  EXPECT_EQ(sc.file().path(), "/etc/ld.so.preload");
  EXPECT_THAT(sc.file().target_path(), IsEmpty());
}

// --- sockets ------------------------------------------------------------------------

TEST_F(SyscallDecoderTest, ConnectInet) {
  Record rec("connect");
  rec.args({5, 0x1000, sizeof(sockaddr_in)}).ret(0).chunk(1, VIGIL_ARG_SOCKADDR, sockaddrIn("127.0.0.1", 8080));
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "sockfd").int_(), 5);
  EXPECT_EQ(arg(sc, "addrlen").uint(), sizeof(sockaddr_in));
  const auto& a = arg(sc, "addr");
  ASSERT_EQ(a.value_case(), v1::SyscallArg::kSockaddr);
  EXPECT_EQ(a.sockaddr().family(), "AF_INET");
  EXPECT_EQ(a.sockaddr().address(), "127.0.0.1");
  EXPECT_EQ(a.sockaddr().port(), 8080u);
  EXPECT_THAT(a.sockaddr().path(), IsEmpty());
  EXPECT_FALSE(sc.has_file());
}

TEST_F(SyscallDecoderTest, ConnectInet6) {
  Record rec("connect");
  rec.args({5, 0x1000, sizeof(sockaddr_in6)}).ret(-111).chunk(1, VIGIL_ARG_SOCKADDR, sockaddrIn6("::1", 443));
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(sc.error(), "ECONNREFUSED");
  const auto& sa = arg(sc, "addr").sockaddr();
  EXPECT_EQ(sa.family(), "AF_INET6");
  EXPECT_EQ(sa.address(), "::1");
  EXPECT_EQ(sa.port(), 443u);

  Record scoped("connect");
  scoped.args({5, 0x1000, sizeof(sockaddr_in6)}).chunk(1, VIGIL_ARG_SOCKADDR, sockaddrIn6("fe80::1", 22, 2));
  EXPECT_EQ(arg(decodeOk(scoped), "addr").sockaddr().address(), "fe80::1%2");
}

TEST_F(SyscallDecoderTest, ConnectUnixPathAndAbstract) {
  Record rec("connect");
  std::string path = "/run/docker.sock";
  rec.args({5, 0x1000, offsetof(sockaddr_un, sun_path) + path.size() + 1})
      .chunk(1, VIGIL_ARG_SOCKADDR, sockaddrUn(path + '\0'));
  const auto& sa = arg(decodeOk(rec), "addr").sockaddr();
  EXPECT_EQ(sa.family(), "AF_UNIX");
  EXPECT_EQ(sa.path(), "/run/docker.sock");
  EXPECT_THAT(sa.address(), IsEmpty());
  EXPECT_EQ(sa.port(), 0u);

  // The whole sockaddr_un, path NUL-padded.
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strcpy(sun.sun_path, "/tmp/s");
  Record padded("connect");
  padded.args({5, 0x1000, sizeof(sun)}).chunk(1, VIGIL_ARG_SOCKADDR, bytesOf(&sun, sizeof(sun)));
  EXPECT_EQ(arg(decodeOk(padded), "addr").sockaddr().path(), "/tmp/s");

  Record abstract("connect");
  abstract.args({5, 0x1000, 2 + 12}).chunk(1, VIGIL_ARG_SOCKADDR, sockaddrUn("\0containerd"s));
  EXPECT_EQ(arg(decodeOk(abstract), "addr").sockaddr().path(), "@containerd");

  Record abstract_nul("bind");
  abstract_nul.args({5, 0x1000, 2 + 5}).chunk(1, VIGIL_ARG_SOCKADDR, sockaddrUn("\0a\0b"s));
  EXPECT_EQ(arg(decodeOk(abstract_nul), "addr").sockaddr().path(), "@a@b");

  Record unnamed("bind");
  unnamed.args({5, 0x1000, 2}).chunk(1, VIGIL_ARG_SOCKADDR, sockaddrUn(""));
  const auto& sa2 = arg(decodeOk(unnamed), "addr").sockaddr();
  EXPECT_EQ(sa2.family(), "AF_UNIX");
  EXPECT_THAT(sa2.path(), IsEmpty());
}

TEST_F(SyscallDecoderTest, SockaddrOfOtherFamiliesAndShortAddresses) {
  sa_family_t netlink = AF_NETLINK;
  Record rec("bind");
  rec.args({5, 0x1000, 12}).chunk(1, VIGIL_ARG_SOCKADDR, bytesOf(&netlink, 2) + std::string(10, '\0'));
  EXPECT_EQ(arg(decodeOk(rec), "addr").sockaddr().family(), "AF_NETLINK");

  sa_family_t unknown = 250;
  Record odd("bind");
  odd.args({5, 0x1000, 2}).chunk(1, VIGIL_ARG_SOCKADDR, bytesOf(&unknown, 2));
  EXPECT_EQ(arg(decodeOk(odd), "addr").sockaddr().family(), "AF_250");

  // Shorter than sockaddr_in's address: family only, nothing read past the end.
  Record cut("connect");
  cut.args({5, 0x1000, 4}).chunk(1, VIGIL_ARG_SOCKADDR, sockaddrIn("10.0.0.1", 80).substr(0, 4));
  const auto& sa = arg(decodeOk(cut), "addr").sockaddr();
  EXPECT_EQ(sa.family(), "AF_INET");
  EXPECT_THAT(sa.address(), IsEmpty());
}

TEST_F(SyscallDecoderTest, Accept4OutAddressAndFlags) {
  Record rec("accept4");
  rec.args({3, 0x1000, 0x2000, SOCK_CLOEXEC | SOCK_NONBLOCK})
      .ret(7)
      .chunk(1, VIGIL_ARG_SOCKADDR_OUT, sockaddrIn("192.0.2.10", 51000), VIGIL_CHUNK_F_AT_EXIT);
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "addr").sockaddr().address(), "192.0.2.10");
  EXPECT_EQ(arg(sc, "addr").sockaddr().port(), 51000u);
  EXPECT_EQ(arg(sc, "flags").decoded(), "SOCK_NONBLOCK|SOCK_CLOEXEC");

  // A failed accept fills nothing in: no chunk, and that is not a read failure.
  Record failed("accept");
  failed.args({3, 0x1000, 0x2000}).ret(-11);
  const auto& addr = arg(decodeOk(failed), "addr");
  EXPECT_FALSE(addr.unreadable());
  EXPECT_EQ(addr.value_case(), v1::SyscallArg::VALUE_NOT_SET);

  // The kernel side sends an empty chunk read at exit for a failed call.
  Record empty("accept");
  empty.args({3, 0x1000, 0x2000}).ret(-11).chunk(1, VIGIL_ARG_SOCKADDR_OUT, "", VIGIL_CHUNK_F_AT_EXIT);
  const auto& addr2 = arg(decodeOk(empty), "addr");
  EXPECT_FALSE(addr2.unreadable());
  EXPECT_EQ(addr2.value_case(), v1::SyscallArg::VALUE_NOT_SET);

  // accept(fd, NULL, NULL): read at enter and again at exit, both faulting.
  Record null("accept");
  null.args({3, 0, 0})
      .ret(8)
      .fault(1, VIGIL_ARG_SOCKADDR_OUT)
      .chunk(1, VIGIL_ARG_SOCKADDR_OUT, "", VIGIL_CHUNK_F_FAULT | VIGIL_CHUNK_F_AT_EXIT);
  EXPECT_EQ(arg(decodeOk(null), "addr").decoded(), "NULL");
  EXPECT_FALSE(arg(decodeOk(null), "addr").unreadable());

  // accept(fd, NULL, NULL) with no chunk at all.
  Record bare("accept");
  bare.args({3, 0, 0}).ret(8);
  EXPECT_EQ(arg(decodeOk(bare), "addr").decoded(), "NULL");
}

TEST_F(SyscallDecoderTest, SocketFamilyAndType) {
  Record rec("socket");
  rec.args({AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 6}).ret(3);
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "domain").int_(), AF_INET6);
  EXPECT_EQ(arg(sc, "domain").decoded(), "AF_INET6");
  EXPECT_EQ(arg(sc, "type").decoded(), "SOCK_STREAM|SOCK_CLOEXEC");
  EXPECT_EQ(arg(sc, "protocol").int_(), 6);

  for (auto [family, want] : {std::pair<int, std::string>{AF_UNIX, "AF_UNIX"},
                              {AF_INET, "AF_INET"},
                              {AF_NETLINK, "AF_NETLINK"},
                              {AF_PACKET, "AF_PACKET"},
                              {AF_VSOCK, "AF_VSOCK"},
                              {AF_ALG, "AF_ALG"}}) {
    Record r("socket");
    r.args({uint64_t(family), SOCK_RAW | SOCK_NONBLOCK, 0});
    const auto& s = decodeOk(r);
    EXPECT_EQ(arg(s, "domain").decoded(), want);
    EXPECT_EQ(arg(s, "type").decoded(), "SOCK_RAW|SOCK_NONBLOCK");
  }
  Record dgram("socket");
  dgram.args({AF_INET, SOCK_DGRAM, 0});
  EXPECT_EQ(arg(decodeOk(dgram), "type").decoded(), "SOCK_DGRAM");
  Record seq("socket");
  seq.args({AF_UNIX, SOCK_SEQPACKET, 0});
  EXPECT_EQ(arg(decodeOk(seq), "type").decoded(), "SOCK_SEQPACKET");
}

// --- processes, credentials, kernel ---------------------------------------------------

TEST_F(SyscallDecoderTest, KillSignalAndNegativePid) {
  Record rec("kill");
  rec.args({1234, SIGKILL});
  const auto& sc = decodeOk(rec);
  ASSERT_EQ(sc.args_size(), 2);
  EXPECT_EQ(arg(sc, "pid").int_(), 1234);
  EXPECT_EQ(arg(sc, "sig").int_(), 9);
  EXPECT_EQ(arg(sc, "sig").decoded(), "SIGKILL");

  // kill(-1, SIGTERM), whether the register holds -1 sign-extended or only
  // its low 32 bits.
  for (uint64_t reg : {uint64_t(-1), uint64_t(0xffffffff)}) {
    Record all("kill");
    all.args({reg, SIGTERM});
    const auto& s = decodeOk(all);
    EXPECT_EQ(arg(s, "pid").int_(), -1);
    EXPECT_EQ(arg(s, "sig").decoded(), "SIGTERM");
  }

  Record probe("kill");
  probe.args({1, 0});
  EXPECT_THAT(arg(decodeOk(probe), "sig").decoded(), IsEmpty());
}

TEST_F(SyscallDecoderTest, TgkillSignal) {
  Record rec("tgkill");
  rec.args({100, 101, SIGSTOP});
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "tgid").int_(), 100);
  EXPECT_EQ(arg(sc, "tid").int_(), 101);
  EXPECT_EQ(arg(sc, "sig").decoded(), "SIGSTOP");
}

TEST_F(SyscallDecoderTest, UidMinusOneMeansUnchanged) {
  Record rec("setresuid");
  rec.args({0xffffffff, 0, uint64_t(-1)});
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "ruid").int_(), -1);
  EXPECT_EQ(arg(sc, "ruid").decoded(), "-1");
  EXPECT_EQ(arg(sc, "euid").int_(), 0);
  EXPECT_THAT(arg(sc, "euid").decoded(), IsEmpty());
  EXPECT_EQ(arg(sc, "suid").int_(), -1);

  // uid_t is unsigned: large uids (user namespaces) stay positive.
  Record big("setuid");
  big.args({0x80000000});
  EXPECT_EQ(arg(decodeOk(big), "uid").int_(), 0x80000000);

  Record chown("chown");
  chown.args({0x1000, 1000, 0xffffffff}).text(0, VIGIL_ARG_PATH, "/etc/x");
  const auto& c = decodeOk(chown);
  EXPECT_EQ(arg(c, "owner").int_(), 1000);
  EXPECT_EQ(arg(c, "group").decoded(), "-1");
}

TEST_F(SyscallDecoderTest, CapsetHeaderAndData) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  data[0].effective = 1u << 21;  // CAP_SYS_ADMIN
  data[1].effective = 1u << 7;   // CAP_BPF (39)
  data[0].permitted = (1u << 21) | (1u << 0);
  data[1].permitted = 1u << 7;
  Record rec("capset");
  rec.args({0x1000, 0x2000})
      .chunk(0, VIGIL_ARG_BUF, bytesOf(&hdr, sizeof(hdr)))
      .chunk(1, VIGIL_ARG_BUF, bytesOf(data, sizeof(data)));
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "hdrp").decoded(), "version=0x20080522 pid=0");
  const auto& d = arg(sc, "datap");
  EXPECT_EQ(d.uint(), (uint64_t(1) << 21) | (uint64_t(1) << 39));
  EXPECT_EQ(d.decoded(), "effective=CAP_SYS_ADMIN|CAP_BPF permitted=CAP_CHOWN|CAP_SYS_ADMIN|CAP_BPF inheritable=0");
}

TEST_F(SyscallDecoderTest, CapsetVersion1ReadsOneDataStruct) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_1, 77};
  __user_cap_data_struct data[2] = {};
  data[0].effective = 1u << 5; // CAP_KILL
  data[1].effective = 0xffffffff; // not the caller's: v1 passes one struct
  Record rec("capset");
  rec.args({0x1000, 0x2000})
      .chunk(0, VIGIL_ARG_BUF, bytesOf(&hdr, sizeof(hdr)))
      .chunk(1, VIGIL_ARG_BUF, bytesOf(data, sizeof(data)));
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "hdrp").decoded(), "version=0x19980330 pid=77");
  EXPECT_EQ(arg(sc, "datap").uint(), uint64_t(1) << 5);
  EXPECT_EQ(arg(sc, "datap").decoded(), "effective=CAP_KILL permitted=0 inheritable=0");
}

TEST_F(SyscallDecoderTest, Openat2How) {
  struct {
    uint64_t flags, mode, resolve;
  } how{O_RDONLY | O_CLOEXEC, 0, 0x04 | 0x08}; // RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH
  Record rec("openat2");
  rec.args({uint64_t(int64_t(AT_FDCWD)), 0x1000, 0x2000, 24})
      .ret(3)
      .text(1, VIGIL_ARG_PATH, "/etc/ssh/sshd_config")
      .chunk(2, VIGIL_ARG_BUF, bytesOf(&how, sizeof(how)))
      .text(VIGIL_CHUNK_RESOLVED, VIGIL_ARG_PATH, "/etc/ssh/sshd_config");
  rec.ev().access = VIGIL_ACCESS_READ;
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "how").uint(), uint64_t(O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(arg(sc, "how").decoded(), "flags=O_RDONLY|O_CLOEXEC mode=0 resolve=RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH");
  EXPECT_EQ(arg(sc, "size").uint(), 24u);
  EXPECT_EQ(sc.file().path(), "/etc/ssh/sshd_config");
  EXPECT_EQ(sc.file().resolved_path(), "/etc/ssh/sshd_config");

  how = {O_WRONLY | O_CREAT, 0600, 0};
  Record create("openat2");
  create.args({3, 0x1000, 0x2000, 24})
      .text(1, VIGIL_ARG_PATH, "/tmp/x")
      .chunk(2, VIGIL_ARG_BUF, bytesOf(&how, sizeof(how)));
  EXPECT_EQ(arg(decodeOk(create), "how").decoded(), "flags=O_WRONLY|O_CREAT mode=0600 resolve=0");
}

TEST_F(SyscallDecoderTest, MountAndUmountFlags) {
  Record rec("mount");
  rec.args({0x1000, 0x2000, 0x3000, MS_BIND | MS_REC, 0})
      .text(0, VIGIL_ARG_STR, "/host")
      .text(1, VIGIL_ARG_PATH, "/mnt/host")
      .fault(2, VIGIL_ARG_STR);
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "source").str(), "/host");
  EXPECT_EQ(arg(sc, "target").str(), "/mnt/host");
  EXPECT_TRUE(arg(sc, "filesystemtype").unreadable());
  EXPECT_EQ(arg(sc, "mountflags").decoded(), "MS_BIND|MS_REC");
  EXPECT_EQ(arg(sc, "data").uint(), 0u);
  EXPECT_FALSE(sc.has_file());

  Record magic("mount");
  magic.args({0, 0x2000, 0, 0xc0ed0000 | MS_RDONLY | MS_NOSUID | MS_REMOUNT, 0})
      .text(1, VIGIL_ARG_PATH, "/")
      .fault(0, VIGIL_ARG_STR)
      .fault(2, VIGIL_ARG_STR);
  const auto& m = decodeOk(magic);
  EXPECT_EQ(arg(m, "mountflags").decoded(), "MS_MGC_VAL|MS_RDONLY|MS_NOSUID|MS_REMOUNT");
  EXPECT_EQ(arg(m, "source").decoded(), "NULL");

  Record priv("mount");
  priv.args({0x1000, 0x2000, 0x3000, uint64_t(MS_PRIVATE) | uint64_t(MS_REC), 0})
      .text(0, VIGIL_ARG_STR, "none")
      .text(1, VIGIL_ARG_PATH, "/")
      .text(2, VIGIL_ARG_STR, "none");
  EXPECT_EQ(arg(decodeOk(priv), "mountflags").decoded(), "MS_REC|MS_PRIVATE");

  Record um("umount2");
  um.args({0x1000, 2 | 8}).text(0, VIGIL_ARG_PATH, "/mnt/x"); // MNT_DETACH | UMOUNT_NOFOLLOW
  EXPECT_EQ(arg(decodeOk(um), "flags").decoded(), "MNT_DETACH|UMOUNT_NOFOLLOW");
}

TEST_F(SyscallDecoderTest, NamespaceFlags) {
  Record rec("unshare");
  rec.args({0x00020000 | 0x10000000 | 0x20000000}); // CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID
  EXPECT_EQ(arg(decodeOk(rec), "flags").decoded(), "CLONE_NEWNS|CLONE_NEWUSER|CLONE_NEWPID");

  Record all("unshare");
  all.args({0x80 | 0x02000000 | 0x04000000 | 0x08000000 | 0x40000000 | 0x200 | 0x400 | 0x40000});
  EXPECT_EQ(arg(decodeOk(all), "flags").decoded(),
            "CLONE_NEWTIME|CLONE_FS|CLONE_FILES|CLONE_SYSVSEM|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|"
            "CLONE_NEWNET");

  Record setns("setns");
  setns.args({4, 0x40000000});
  const auto& s = decodeOk(setns);
  EXPECT_EQ(arg(s, "fd").int_(), 4);
  EXPECT_EQ(arg(s, "nstype").decoded(), "CLONE_NEWNET");

  Record any("setns");
  any.args({4, 0});
  EXPECT_THAT(arg(decodeOk(any), "nstype").decoded(), IsEmpty());
}

TEST_F(SyscallDecoderTest, PtraceRequests) {
  struct Row {
    uint64_t request;
    std::string want;
  };
  for (const auto& [request, want] :
       {Row{0, "PTRACE_TRACEME"}, Row{2, "PTRACE_PEEKDATA"}, Row{3, "PTRACE_PEEKUSER"}, Row{5, "PTRACE_POKEDATA"},
        Row{12, "PTRACE_GETREGS"}, Row{16, "PTRACE_ATTACH"}, Row{17, "PTRACE_DETACH"}, Row{24, "PTRACE_SYSCALL"},
        Row{0x4200, "PTRACE_SETOPTIONS"}, Row{0x4206, "PTRACE_SEIZE"}, Row{0x420e, "PTRACE_GET_SYSCALL_INFO"},
        Row{0x4212, "PTRACE_SET_SYSCALL_INFO"}, Row{0x7777, ""}}) {
    Record rec("ptrace");
    rec.args({request, 1234, 0x1000, 0});
    const auto& sc = decodeOk(rec);
    EXPECT_EQ(arg(sc, "request").int_(), int64_t(request));
    EXPECT_EQ(arg(sc, "request").decoded(), want);
    EXPECT_EQ(arg(sc, "pid").int_(), 1234);
    EXPECT_EQ(arg(sc, "addr").uint(), 0x1000u);
  }
}

TEST_F(SyscallDecoderTest, BpfCommands) {
  for (auto [cmd, want] : {std::pair<uint64_t, std::string>{0, "BPF_MAP_CREATE"},
                           {5, "BPF_PROG_LOAD"},
                           {18, "BPF_BTF_LOAD"},
                           {28, "BPF_LINK_CREATE"},
                           {35, "BPF_PROG_BIND_MAP"},
                           {36, "BPF_TOKEN_CREATE"},
                           {1000, ""}}) {
    Record rec("bpf");
    rec.args({cmd, 0x1000, 128});
    const auto& sc = decodeOk(rec);
    EXPECT_EQ(arg(sc, "cmd").decoded(), want) << cmd;
    EXPECT_EQ(arg(sc, "size").uint(), 128u);
  }
}

TEST_F(SyscallDecoderTest, PrctlOptions) {
  for (auto [option, want] : {std::pair<uint64_t, std::string>{1, "PR_SET_PDEATHSIG"},
                              {4, "PR_SET_DUMPABLE"},
                              {15, "PR_SET_NAME"},
                              {22, "PR_SET_SECCOMP"},
                              {24, "PR_CAPBSET_DROP"},
                              {38, "PR_SET_NO_NEW_PRIVS"},
                              {47, "PR_CAP_AMBIENT"},
                              {0x59616d61, "PR_SET_PTRACER"},
                              {65, "PR_SET_MDWE"},
                              {9999, ""}}) {
    Record rec("prctl");
    rec.args({option, 1, 0, 0, 0});
    const auto& sc = decodeOk(rec);
    EXPECT_EQ(arg(sc, "option").decoded(), want) << option;
    EXPECT_EQ(sc.args_size(), 5);
  }
}

TEST_F(SyscallDecoderTest, MemfdFlags) {
  Record rec("memfd_create");
  rec.args({0x1000, 0x1 | 0x2 | 0x8}).text(0, VIGIL_ARG_STR, "payload");
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "name").str(), "payload");
  EXPECT_EQ(arg(sc, "flags").decoded(), "MFD_CLOEXEC|MFD_ALLOW_SEALING|MFD_NOEXEC_SEAL");

  Record exec("memfd_create");
  exec.args({0x1000, 0x10}).text(0, VIGIL_ARG_STR, "x");
  EXPECT_EQ(arg(decodeOk(exec), "flags").decoded(), "MFD_EXEC");

  Record huge("memfd_create");
  huge.args({0x1000, 0x4 | (21u << 26)}).text(0, VIGIL_ARG_STR, "x"); // MFD_HUGETLB | MFD_HUGE_2MB
  EXPECT_EQ(arg(decodeOk(huge), "flags").decoded(), "MFD_HUGETLB|MFD_HUGE_2MB");
}

TEST_F(SyscallDecoderTest, ModuleFlags) {
  Record rec("finit_module");
  rec.args({3, 0x1000, 1 | 2}).text(1, VIGIL_ARG_STR, "");
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(arg(sc, "fd").int_(), 3);
  EXPECT_EQ(arg(sc, "flags").decoded(), "MODULE_INIT_IGNORE_MODVERSIONS|MODULE_INIT_IGNORE_VERMAGIC");

  Record del("delete_module");
  del.args({0x1000, O_NONBLOCK | O_TRUNC}).text(0, VIGIL_ARG_STR, "rootkit");
  const auto& d = decodeOk(del);
  EXPECT_EQ(arg(d, "name").str(), "rootkit");
  EXPECT_EQ(arg(d, "flags").decoded(), "O_NONBLOCK|O_TRUNC");

  Record init("init_module");
  init.args({0x7f0000, 4096, 0x1000}).text(2, VIGIL_ARG_STR, "debug=1");
  const auto& i = decodeOk(init);
  EXPECT_EQ(arg(i, "len").uint(), 4096u);
  EXPECT_EQ(arg(i, "param_values").str(), "debug=1");
}

TEST_F(SyscallDecoderTest, FailedExecve) {
  Record rec("execve");
  rec.args({0x1000, 0x2000, 0x3000}).ret(-13).text(0, VIGIL_ARG_PATH, "/tmp/evil");
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(sc.error(), "EACCES");
  EXPECT_EQ(arg(sc, "pathname").str(), "/tmp/evil");
  EXPECT_EQ(arg(sc, "argv").uint(), 0x2000u);
}

TEST_F(SyscallDecoderTest, UnknownSyscallHasSixRawArguments) {
  Record rec("getpid");
  rec.args({1, 2, 3, 4, 5, uint64_t(-1)}).ret(kPid);
  const auto& sc = decodeOk(rec);
  EXPECT_EQ(sc.name(), "getpid");
  EXPECT_EQ(sc.nr(), 39u);
  ASSERT_EQ(sc.args_size(), 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(sc.args(i).name(), "arg" + std::to_string(i));
    EXPECT_EQ(sc.args(i).value_case(), v1::SyscallArg::kUint);
    EXPECT_THAT(sc.args(i).decoded(), IsEmpty());
  }
  EXPECT_EQ(sc.args(0).uint(), 1u);
  EXPECT_EQ(sc.args(5).uint(), UINT64_MAX);
  EXPECT_FALSE(sc.has_file());

  Record unnamed("getpid");
  unnamed.ev().nr = 511; // below VIGIL_SYS_NR_MAX, no name
  const auto& u = decodeOk(unnamed);
  EXPECT_EQ(u.name(), "syscall_511");
  EXPECT_EQ(u.args_size(), 6);
}

// --- malformed records ------------------------------------------------------------------

TEST_F(SyscallDecoderTest, RecordShorterThanHeader) {
  auto rec = Record("kill").build();
  rec.resize(10);
  EXPECT_THAT(decodeError(rec), HasSubstr("shorter than the 24-byte header"));
  EXPECT_THAT(decodeError({}), HasSubstr("0 bytes"));
}

TEST_F(SyscallDecoderTest, RecordShorterThanFixedPart) {
  auto rec = Record("kill").build();
  rec.resize(100);
  patch<uint32_t>(rec, offsetof(vigil_event_header, size), 100);
  EXPECT_THAT(decodeError(rec), HasSubstr(fmt::format("shorter than its {}-byte fixed part", sizeof(vigil_sys_event))));
}

TEST_F(SyscallDecoderTest, WrongKind) {
  auto rec = Record("kill").build();
  patch<uint16_t>(rec, offsetof(vigil_event_header, kind), VIGIL_EV_EXEC);
  EXPECT_THAT(decodeError(rec), HasSubstr("record kind 1 at byte 0 is not a syscall record"));
}

TEST_F(SyscallDecoderTest, WrongVersion) {
  auto rec = Record("kill").build();
  patch<uint16_t>(rec, offsetof(vigil_event_header, version), VIGIL_SYSCALL_VERSION + 1);
  EXPECT_THAT(decodeError(rec), HasSubstr(fmt::format("layout version {} at byte 2", VIGIL_SYSCALL_VERSION + 1)));
}

TEST_F(SyscallDecoderTest, HeaderSizeMismatch) {
  auto rec = Record("kill").build();
  patch<uint32_t>(rec, offsetof(vigil_event_header, size), uint32_t(rec.size() + 8));
  EXPECT_THAT(decodeError(rec), HasSubstr(fmt::format("header says {} bytes at byte 4 but {} arrived",
                                                      rec.size() + 8, rec.size())));
}

TEST_F(SyscallDecoderTest, DataLenMismatch) {
  Record r("unlink");
  r.args({0x1000}).text(0, VIGIL_ARG_PATH, "/etc/x");
  auto rec = r.build();
  uint32_t data_len = uint32_t(rec.size() - sizeof(vigil_sys_event));
  patch<uint32_t>(rec, offsetof(vigil_sys_event, data_len), data_len + 1);
  EXPECT_THAT(decodeError(rec),
              HasSubstr(fmt::format("data_len {} at byte {} does not match the {} bytes", data_len + 1,
                                    offsetof(vigil_sys_event, data_len), data_len)));
}

TEST_F(SyscallDecoderTest, ChunkHeaderPastTheEnd) {
  Record r("unlink");
  r.args({0x1000}).text(0, VIGIL_ARG_PATH, "/etc/x").raw("abc");
  size_t at = r.build().size() - 3;
  EXPECT_THAT(decodeError(r.build()),
              HasSubstr(fmt::format("chunk header at byte {} needs 8 bytes but only 3 remain", at)));
}

TEST_F(SyscallDecoderTest, ChunkBodyPastTheEnd) {
  Record r("unlink");
  r.args({0x1000}).text(0, VIGIL_ARG_PATH, "/etc/x");
  auto rec = r.build();
  size_t at = sizeof(vigil_sys_event);
  patch<uint16_t>(rec, at + offsetof(vigil_sys_chunk, len), 200);
  EXPECT_THAT(decodeError(rec),
              HasSubstr(fmt::format("chunk at byte {} (argument 0) says 200 bytes follow but only 7 remain", at)));
}

TEST_F(SyscallDecoderTest, ChunkArgumentOutOfRange) {
  Record r("unlink");
  r.args({0x1000}).text(7, VIGIL_ARG_PATH, "/etc/x");
  EXPECT_THAT(decodeError(r.build()),
              HasSubstr(fmt::format("chunk at byte {} names argument 7", sizeof(vigil_sys_event))));
}

TEST_F(SyscallDecoderTest, ChunkTypeUnknown) {
  for (uint8_t type : {uint8_t(VIGIL_ARG_NONE), uint8_t(VIGIL_ARG_INT), uint8_t(7), uint8_t(200)}) {
    Record r("unlink");
    r.args({0x1000}).text(0, type, "/etc/x");
    EXPECT_THAT(decodeError(r.build()),
                HasSubstr(fmt::format("chunk at byte {} (argument 0) has unknown type {}", sizeof(vigil_sys_event),
                                      type)));
  }
}

TEST_F(SyscallDecoderTest, ChunkTypeNotWhatTheSpecCaptures) {
  Record r("unlink");
  r.args({0x1000}).text(0, VIGIL_ARG_STR, "/etc/x");
  EXPECT_THAT(decodeError(r.build()), HasSubstr("argument 0 has type STR, but unlink captures that argument as PATH"));

  Record raw("getpid");
  raw.text(0, VIGIL_ARG_STR, "x");
  EXPECT_THAT(decodeError(raw.build()), HasSubstr("getpid captures that argument as INT"));

  Record resolved("unlink"); // not an open
  resolved.args({0x1000}).text(0, VIGIL_ARG_PATH, "/etc/x").text(VIGIL_CHUNK_RESOLVED, VIGIL_ARG_PATH, "/etc/x");
  EXPECT_THAT(decodeError(resolved.build()), HasSubstr("resolved-path chunk"));

  Record resolved_str("openat");
  resolved_str.args({3, 0x1000, 0, 0}).text(VIGIL_CHUNK_RESOLVED, VIGIL_ARG_STR, "/etc/x");
  EXPECT_THAT(decodeError(resolved_str.build()), HasSubstr("has type STR, not PATH"));
}

TEST_F(SyscallDecoderTest, BaseLenLargerThanLen) {
  Record r("unlink");
  r.args({0x1000}).text(0, VIGIL_ARG_PATH, "/etc/x", VIGIL_CHUNK_F_RELATIVE, 8);
  EXPECT_THAT(decodeError(r.build()), HasSubstr("base_len 8 larger than its len 7"));
}

TEST_F(SyscallDecoderTest, RepeatedChunkAndFaultWithBytes) {
  Record r("rename");
  r.args({0x1000, 0x2000}).text(0, VIGIL_ARG_PATH, "/etc/a").text(0, VIGIL_ARG_PATH, "/etc/b");
  EXPECT_THAT(decodeError(r.build()), HasSubstr(fmt::format("repeats argument 0 (first at byte {})",
                                                            sizeof(vigil_sys_event))));

  Record f("unlink");
  f.args({0x1000}).chunk(0, VIGIL_ARG_PATH, "x", VIGIL_CHUNK_F_FAULT);
  EXPECT_THAT(decodeError(f.build()), HasSubstr("unreadable (FAULT) but carries 1 bytes"));
}

TEST_F(SyscallDecoderTest, BufferShorterThanItsFormat) {
  Record r("capset");
  r.args({0x1000, 0x2000}).chunk(0, VIGIL_ARG_BUF, "1234");
  EXPECT_THAT(decodeError(r.build()), HasSubstr("(argument 0, hdrp) has 4 bytes, shorter than the 8"));
}

TEST_F(SyscallDecoderTest, SyscallNumberOutOfRange) {
  auto rec = Record("kill").build();
  patch<uint32_t>(rec, offsetof(vigil_sys_event, nr), VIGIL_SYS_NR_MAX);
  EXPECT_THAT(decodeError(rec), HasSubstr(fmt::format("syscall number {} at byte {} is not below VIGIL_SYS_NR_MAX",
                                                      VIGIL_SYS_NR_MAX, offsetof(vigil_sys_event, nr))));
}

TEST_F(SyscallDecoderTest, PrefixOutOfRange) {
  Record r("unlink");
  r.args({0x1000}).text(0, VIGIL_ARG_PATH, "/etc/x");
  r.ev().prefix = 3; // two prefixes configured
  EXPECT_THAT(decodeError(r.build()), HasSubstr(fmt::format("prefix 3 at byte {} is out of range: 2 watched prefixes",
                                                            offsetof(vigil_sys_event, prefix))));

  Decoder unfiltered(runtime::BootClock(0), {});
  r.ev().prefix = 1;
  Event e;
  auto st = unfiltered.decode(r.build(), e);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("0 watched prefixes"));
}

TEST_F(SyscallDecoderTest, UnknownAccessBits) {
  Record r("unlink");
  r.args({0x1000}).text(0, VIGIL_ARG_PATH, "/etc/x");
  r.ev().access = 4;
  EXPECT_THAT(decodeError(r.build()), HasSubstr(fmt::format("access 0x4 at byte {} has unknown bits",
                                                            offsetof(vigil_sys_event, access))));
}

TEST_F(SyscallDecoderTest, ChunkErrorsNameTheSyscallAndPid) {
  Record r("unlink");
  r.args({0x1000}).raw("x");
  EXPECT_THAT(decodeError(r.build()), HasSubstr(fmt::format("unlink record of pid {}: ", kPid)));
}

// --- robustness: cut and corrupted records -----------------------------------------------

// Whatever the bytes, decode either fills event.syscall consistently with the
// record (its number, name, pid, error and valid UTF-8 throughout), or
// returns an error that names the part of the record that is wrong and the
// byte. Returns whether it decoded.
bool expectEventOrNamedError(const Decoder& decoder, const std::vector<uint8_t>& record) {
  Event e;
  auto st = decoder.decode(record, e);
  if (!st.ok()) {
    EXPECT_THAT(st.error().message(),
                ::testing::ContainsRegex("syscall record|record kind [0-9]+|syscall number|chunk"));
    EXPECT_THAT(st.error().message(), HasSubstr("byte"));
    return false;
  }
  vigil_sys_event ev;
  EXPECT_GE(record.size(), sizeof(ev));
  if (record.size() < sizeof(ev)) {
    return true;
  }
  std::memcpy(&ev, record.data(), sizeof(ev));
  EXPECT_EQ(ev.hdr.kind, VIGIL_EV_SYSCALL);
  EXPECT_EQ(ev.hdr.size, record.size());
  EXPECT_EQ(e.body_case(), Event::kSyscall);
  EXPECT_EQ(e.ktime_ns(), ev.hdr.ktime_ns);
  const auto& sc = e.syscall();
  EXPECT_EQ(sc.nr(), ev.nr);
  EXPECT_EQ(sc.name(), syscallName(ev.nr));
  EXPECT_EQ(sc.ret(), ev.ret);
  EXPECT_EQ(sc.error().empty(), !(ev.ret < 0 && ev.ret >= -4095));
  EXPECT_EQ(sc.process().pid(), ev.pid);
  EXPECT_LE(sc.args_size(), VIGIL_SYS_ARGS);
  for (const auto& a : sc.args()) {
    EXPECT_FALSE(a.name().empty());
  }
  EXPECT_GE(sc.duration().nanos(), 0);
  EXPECT_LT(sc.duration().nanos(), 1'000'000'000);
  std::string wire;
  EXPECT_TRUE(e.SerializeToString(&wire));
  Event parsed;
  EXPECT_TRUE(parsed.ParseFromString(wire)) << "not valid UTF-8: " << e.ShortDebugString();
  return true;
}

std::vector<uint8_t> flipped(std::vector<uint8_t> record, size_t bit) {
  record[bit / 8] ^= uint8_t(1u << (bit % 8));
  return record;
}

std::vector<uint8_t> robustnessRecord() {
  Record r("openat");
  r.args({uint64_t(int64_t(AT_FDCWD)), 0x1000, O_RDONLY, 0})
      .ret(3)
      .text(1, VIGIL_ARG_PATH, "/home/u/x", VIGIL_CHUNK_F_RELATIVE, 8)
      .text(VIGIL_CHUNK_RESOLVED, VIGIL_ARG_PATH, "/home/u/x");
  return r.build();
}

TEST_F(SyscallDecoderTest, EveryCutIsANamedError) {
  const auto full = robustnessRecord();
  ASSERT_TRUE(expectEventOrNamedError(decoder_, full));
  for (size_t n = 0; n < full.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_FALSE(expectEventOrNamedError(decoder_, std::vector<uint8_t>(full.begin(), full.begin() + long(n))));
  }
}

// Every bit of kind, version and size is checked.
TEST_F(SyscallDecoderTest, EveryHeaderBitFlipIsANamedError) {
  const auto full = robustnessRecord();
  for (size_t bit = 0; bit < 8 * offsetof(vigil_event_header, ktime_ns); ++bit) {
    SCOPED_TRACE(bit);
    EXPECT_FALSE(expectEventOrNamedError(decoder_, flipped(full, bit)));
  }
}

// The identity fields (pid, tid, exec_id, cgroup, uid, gid, enter time) are
// taken as they come: any value decodes, and shows.
TEST_F(SyscallDecoderTest, EveryIdentityBitFlipDecodes) {
  const auto full = robustnessRecord();
  for (size_t bit = 8 * offsetof(vigil_sys_event, pid); bit < 8 * offsetof(vigil_sys_event, ret); ++bit) {
    SCOPED_TRACE(bit);
    const auto record = flipped(full, bit);
    ASSERT_TRUE(expectEventOrNamedError(decoder_, record));
    vigil_sys_event ev;
    std::memcpy(&ev, record.data(), sizeof(ev));
    Event e;
    ASSERT_TRUE(decoder_.decode(record, e).ok());
    const auto& p = e.syscall().process();
    EXPECT_EQ(p.tid(), ev.tid);
    EXPECT_EQ(p.exec_id(), process::formatExecId(ev.pid, ev.exec_id));
    EXPECT_EQ(p.cgroup_id(), ev.cgroup_id);
    EXPECT_EQ(p.creds().uid(), ev.uid);
    EXPECT_EQ(p.creds().gid(), ev.gid);
  }
}

// One to four random bit flips anywhere; run under ASan (scripts/sanitize.sh)
// this also checks that no corruption reads out of bounds.
TEST_F(SyscallDecoderTest, RandomBitFlipsDecodeOrNameTheError) {
  const auto full = robustnessRecord();
  std::mt19937 rng(7);
  size_t ok = 0;
  size_t errors = 0;
  for (int round = 0; round < 5000; ++round) {
    SCOPED_TRACE(round);
    auto rec = full;
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      rec[rng() % rec.size()] ^= uint8_t(1u << (rng() % 8));
    }
    if (expectEventOrNamedError(decoder_, rec)) {
      ++ok;
    } else {
      ++errors;
    }
  }
  // Identity fields, registers and path text take any value; the header,
  // sizes, chunk headers and checked fields do not.
  EXPECT_GT(ok, 500u);
  EXPECT_GT(errors, 500u);
}

// --- the syscall table ---------------------------------------------------------------------

TEST(SyscallTableTest, NamesAndNumbersRoundTrip) {
  EXPECT_EQ(syscallNumber("openat"), 257u);
  EXPECT_EQ(syscallNumber("fchmodat2"), 452u);
  EXPECT_EQ(syscallNumber("read"), 0u);
  EXPECT_EQ(syscallNumber("no_such_syscall"), std::nullopt);
  EXPECT_EQ(syscallName(257), "openat");
  EXPECT_EQ(syscallName(452), "fchmodat2");
  EXPECT_EQ(syscallName(0), "read");
  EXPECT_EQ(syscallName(VIGIL_SYS_NR_MAX - 1), fmt::format("syscall_{}", VIGIL_SYS_NR_MAX - 1));
  EXPECT_EQ(syscallName(100000), "syscall_100000");
  for (uint32_t nr = 0; nr < VIGIL_SYS_NR_MAX; ++nr) {
    std::string name = syscallName(nr);
    if (name.rfind("syscall_", 0) != 0) {
      EXPECT_EQ(syscallNumber(name), nr) << name;
    }
  }
}

TEST(SyscallTableTest, EveryDecodedSyscallIsConsistent) {
  ASSERT_FALSE(decodedSyscalls().empty());
  for (const auto& spec : decodedSyscalls()) {
    SCOPED_TRACE(spec.name);
    auto nr = syscallNumber(spec.name);
    ASSERT_TRUE(nr.has_value());
    EXPECT_LT(*nr, uint32_t(VIGIL_SYS_NR_MAX));
    EXPECT_EQ(findSpec(spec.name), &spec);
    EXPECT_LE(spec.cls, VIGIL_SYS_CLASS_OPEN);

    // Named arguments are contiguous from index 0.
    size_t named = 0;
    while (named < spec.args.size() && spec.args[named].name) {
      ++named;
    }
    for (size_t i = named; i < spec.args.size(); ++i) {
      EXPECT_EQ(spec.args[i].name, nullptr) << "argument " << i << " follows an unnamed one";
    }

    int paths = 0;
    for (size_t i = 0; i < named; ++i) {
      const ArgSpec& a = spec.args[i];
      SCOPED_TRACE(a.name);
      switch (a.capture) {
      case VIGIL_ARG_INT:
        EXPECT_NE(a.format, ArgFormat::Str);
        EXPECT_NE(a.format, ArgFormat::Path);
        EXPECT_NE(a.format, ArgFormat::Sockaddr);
        EXPECT_NE(a.format, ArgFormat::CapHeader);
        EXPECT_NE(a.format, ArgFormat::CapData);
        EXPECT_NE(a.format, ArgFormat::OpenHow);
        break;
      case VIGIL_ARG_STR:
        EXPECT_EQ(a.format, ArgFormat::Str);
        break;
      case VIGIL_ARG_PATH:
        ++paths;
        EXPECT_EQ(a.format, ArgFormat::Path);
        if (a.aux != VIGIL_ARG_AUX_CWD) {
          ASSERT_LT(a.aux, named) << "dirfd index";
          EXPECT_EQ(spec.args[a.aux].format, ArgFormat::Dirfd);
          EXPECT_EQ(spec.args[a.aux].capture, VIGIL_ARG_INT);
        }
        break;
      case VIGIL_ARG_BUF:
        EXPECT_GT(a.aux, 0);
        EXPECT_LE(a.aux, VIGIL_SYS_BUF_CAP);
        if (a.format == ArgFormat::CapHeader) {
          EXPECT_EQ(a.aux, sizeof(__user_cap_header_struct));
        } else if (a.format == ArgFormat::CapData) {
          EXPECT_EQ(a.aux, 2 * sizeof(__user_cap_data_struct));
        } else {
          EXPECT_EQ(a.format, ArgFormat::OpenHow);
          EXPECT_EQ(a.aux, 3 * sizeof(uint64_t));
        }
        break;
      case VIGIL_ARG_SOCKADDR:
        EXPECT_EQ(a.format, ArgFormat::Sockaddr);
        ASSERT_LT(a.aux, named) << "length index";
        EXPECT_NE(a.aux, i);
        EXPECT_EQ(spec.args[a.aux].capture, VIGIL_ARG_INT);
        break;
      case VIGIL_ARG_SOCKADDR_OUT:
        EXPECT_EQ(a.format, ArgFormat::Sockaddr);
        ASSERT_LT(a.aux, named) << "length pointer index";
        EXPECT_NE(a.aux, i);
        EXPECT_EQ(spec.args[a.aux].capture, VIGIL_ARG_INT);
        break;
      default:
        ADD_FAILURE() << "capture " << int(a.capture);
      }
    }
    if (spec.cls != VIGIL_SYS_CLASS_GENERIC) {
      EXPECT_GE(paths, 1) << "a file syscall needs a path to filter on";
    }
  }
}

// A syscall without a decoded spec takes its argument names and count from
// its tracepoint's format (getppid has none, read has three).
TEST_F(SyscallDecoderTest, UnknownSyscallTakesTheKernelsArgumentNames) {
  decoder_.setArgNames(uint32_t(SYS_getppid), {});
  decoder_.setArgNames(uint32_t(SYS_read), {"fd", "buf", "count"});
  Record getppid("getppid");
  getppid.args({7, 7, 7}).ret(1);
  EXPECT_EQ(decodeOk(getppid).args_size(), 0);

  Record read("read");
  read.args({3, 0x7fff0000, 4096, 9, 9, 9}).ret(12);
  const auto& sc = decodeOk(read);
  ASSERT_EQ(sc.args_size(), 3);
  EXPECT_EQ(arg(sc, "fd").uint(), 3u);
  EXPECT_EQ(arg(sc, "buf").uint(), 0x7fff0000u);
  EXPECT_EQ(arg(sc, "count").uint(), 4096u);

  // Names not given: six raw registers, as before.
  Record getpid("getpid");
  EXPECT_EQ(decodeOk(getpid).args_size(), 6);
}

TEST(SyscallTableTest, ParsesEnterFormats) {
  constexpr std::string_view kRead = "name: sys_enter_read\nID: 842\nformat:\n"
                                     "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
                                     "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
                                     "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
                                     "\tfield:unsigned int fd;\toffset:16;\tsize:8;\tsigned:0;\n"
                                     "\tfield:char * buf;\toffset:24;\tsize:8;\tsigned:0;\n"
                                     "\tfield:size_t count;\toffset:32;\tsize:8;\tsigned:0;\n\n"
                                     "print fmt: \"fd: 0x%08lx, buf: 0x%08lx\", ...\n";
  auto names = parseEnterFormat(kRead);
  ASSERT_TRUE(names);
  EXPECT_THAT(*names, ElementsAre("fd", "buf", "count"));

  auto none = parseEnterFormat("name: sys_enter_getppid\nformat:\n"
                               "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\nprint fmt: \"\"\n");
  ASSERT_TRUE(none);
  EXPECT_THAT(*none, IsEmpty());

  // Not a syscall's enter format: no __syscall_nr, or more than six arguments.
  EXPECT_FALSE(parseEnterFormat("name: sched_switch\n\tfield:char prev_comm[16];\toffset:8;\n"));
  EXPECT_FALSE(parseEnterFormat(""));
  std::string seven = "\tfield:int __syscall_nr;\toffset:8;\n";
  for (int i = 0; i < 7; ++i) {
    seven += "\tfield:long a" + std::to_string(i) + ";\toffset:16;\n";
  }
  EXPECT_FALSE(parseEnterFormat(seven));
}

TEST(SyscallTableTest, UnknownNamesHaveNoSpec) {
  EXPECT_EQ(findSpec("getpid"), nullptr);
  EXPECT_EQ(findSpec(""), nullptr);
  ASSERT_NE(findSpec("openat"), nullptr);
  EXPECT_EQ(findSpec("openat")->cls, VIGIL_SYS_CLASS_OPEN);
}

// What a rate limit dropped: one summary record, counted.
TEST(SyscallSuppressedTest, DecodesASummaryAndRejectsBadOnes) {
  Decoder decoder(runtime::BootClock(0), {});
  vigil_suppressed_event ev{};
  ev.hdr.kind = VIGIL_EV_SUPPRESSED;
  ev.hdr.version = VIGIL_SUPPRESSED_VERSION;
  ev.hdr.size = sizeof(ev);
  ev.hdr.ktime_ns = 5000000000ULL;
  ev.cgroup_id = 4242;
  ev.count = 2980;
  ev.first_ns = 4000000000ULL;
  ev.kind = VIGIL_EV_SYSCALL;
  auto bytes = [](const vigil_suppressed_event& e) {
    return std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(&e), reinterpret_cast<const uint8_t*>(&e) + sizeof(e));
  };
  Event event;
  auto record = bytes(ev);
  ASSERT_TRUE(decoder.decodeSuppressed(record, event));
  EXPECT_EQ(event.suppressed().kind(), "syscall");
  EXPECT_EQ(event.suppressed().cgroup_id(), 4242u);
  EXPECT_EQ(event.suppressed().count(), 2980u);
  EXPECT_EQ(event.suppressed().reason(), "rate_limit");
  EXPECT_EQ(event.suppressed().first_time().seconds(), 4);
  EXPECT_EQ(event.time().seconds(), 5);

  record.pop_back();
  EXPECT_THAT(decoder.decodeSuppressed(record, event).error().message(), HasSubstr("55 bytes, expected 56"));
  ev.count = 0;
  EXPECT_THAT(decoder.decodeSuppressed(bytes(ev), event).error().message(), HasSubstr("a count of 0"));
  ev.count = 1;
  ev.hdr.version = 9;
  EXPECT_THAT(decoder.decodeSuppressed(bytes(ev), event).error().message(), HasSubstr("version 9"));
}

} // namespace
} // namespace vigil::syscall
