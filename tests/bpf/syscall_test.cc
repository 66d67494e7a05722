// Syscall and file-activity capture against the real kernel: real BPF
// programs in an in-process agent, real calls with known arguments made by a
// forked child (the agent never reports its own process), every argument,
// return value and file field checked, failing calls included.
// Runs once per hook family (per-syscall tracepoints and the dispatcher).
//
// The child runs only async-signal-safe code (raw syscall(2), no allocation)
// and writes each call's raw result (-errno on failure) into a shared page;
// each event's ret must equal what the child saw. The child's process exit
// event is the "everything of this child has arrived" sentinel: its syscall
// records precede it in the one ring buffer.

#include "collectors/syscall/syscall_bpf.h"
#include "collectors/syscall/syscall_collector.h"
#include "collectors/syscall/syscall_table.h"
#include "collectors/runtime/bpf_env.h"
#include "support/agent_harness.h"
#include "support/cgroup.h"
#include "support/spawn.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <optional>
#include <type_traits>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <sched.h>
#include <set>
#include <sstream>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vigil::test {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAreArray;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using v1::FileAccess;
using v1::Syscall;
using v1::SyscallArg;

constexpr uint32_t kNobody = 65534;

// ---- the child ------------------------------------------------------------

// What the child reports to the test: each call's raw result, and values only
// it can learn (ports the kernel picked).
struct Results {
  long ret[32];
  long value[8];
};

template <typename T> long asLong(T v) {
  if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<long>(v);
  } else {
    return long(v); // sign-extended, as glibc's own wrappers pass ints
  }
}

// One raw syscall; the kernel's result, -errno on failure.
template <typename... Args> long sys(long nr, Args... args) {
  long r = ::syscall(nr, asLong(args)...);
  return r < 0 ? -errno : r;
}

// A page shared with the children, reset before each child runs.
Results* sharedResults() {
  static Results* r = [] {
    void* p = mmap(nullptr, sizeof(Results), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw std::runtime_error("mmap");
    }
    return static_cast<Results*>(p);
  }();
  return r;
}

using Body = std::function<void(Results&)>;

// Forks a child that runs body (async-signal-safe code only) and exits 0.
// With gate >= 0 the child first waits for one byte on it.
pid_t forkChild(const Body& body, int gate = -1) {
  Results* r = sharedResults();
  memset(r, 0, sizeof(*r));
  pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    if (gate >= 0) {
      char c;
      if (read(gate, &c, 1) != 1) {
        _exit(90);
      }
    }
    body(*r);
    _exit(0);
  }
  return pid;
}

// Runs body in a child to completion; the child's pid.
pid_t runChild(const Body& body) {
  pid_t pid = forkChild(body);
  int status = waitStatus(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return pid;
}

// A process that sleeps until killed (a target for signals and ptrace).
pid_t sleeper() {
  pid_t pid = fork();
  if (pid == 0) {
    for (;;) {
      pause();
    }
  }
  return pid;
}

// A pid that was just used and is now free.
pid_t deadPid() {
  pid_t pid = fork();
  if (pid == 0) {
    _exit(0);
  }
  waitStatus(pid);
  return pid;
}

// ---- files and cgroups ----------------------------------------------------

std::string selfComm() {
  std::string comm = readFile("/proc/self/comm");
  return comm.substr(0, comm.find('\n'));
}

// A fresh directory, symlinks resolved (the kernel reports real paths).
std::string freshDir() { return realPath(makeTempDir()); }

void touch(const std::string& path, mode_t mode = 0644) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  close(fd);
}

// Runs body in a child moved into cgroup before it starts; the child's pid.
pid_t runChildIn(const TestCgroup& cgroup, const Body& body) {
  int gate[2];
  if (pipe(gate) != 0) {
    throw std::runtime_error("pipe");
  }
  pid_t pid = forkChild(body, gate[0]);
  close(gate[0]);
  EXPECT_TRUE(cgroup.add(pid)) << "cannot move " << pid << " into " << cgroup.path();
  EXPECT_EQ(write(gate[1], "g", 1), 1);
  close(gate[1]);
  int status = waitStatus(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return pid;
}

// ---- events ---------------------------------------------------------------

std::function<bool(const Event&)> exitOf(pid_t pid) {
  return [pid](const Event& e) { return e.has_exit() && e.exit().process().pid() == uint32_t(pid); };
}

bool isCall(const Event& e, pid_t pid, std::string_view name) {
  return e.has_syscall() && e.syscall().process().pid() == uint32_t(pid) && e.syscall().name() == name;
}

// The calls of name by pid that have arrived, in capture order.
std::vector<Syscall> callsOf(CaptureSink& sink, pid_t pid, std::string_view name) {
  std::vector<Syscall> out;
  for (const auto& e : sink.snapshot()) {
    if (isCall(e, pid, name)) {
      out.push_back(e.syscall());
    }
  }
  return out;
}

// Every syscall event of pid that has arrived.
std::vector<Syscall> allCallsOf(CaptureSink& sink, pid_t pid) {
  std::vector<Syscall> out;
  for (const auto& e : sink.snapshot()) {
    if (e.has_syscall() && e.syscall().process().pid() == uint32_t(pid)) {
      out.push_back(e.syscall());
    }
  }
  return out;
}

std::string errnoText(long ret) {
  if (ret >= 0) {
    return "";
  }
  const char* name = strerrorname_np(int(-ret));
  return name ? name : fmt::format("E{}", -ret);
}

std::vector<std::string> tableArgNames(std::string_view name) {
  std::vector<std::string> names;
  if (const auto* spec = syscall::findSpec(name)) {
    for (const auto& a : spec->args) {
      if (a.name) {
        names.emplace_back(a.name);
      }
    }
  }
  return names;
}

// What every syscall event carries: identity, number, return value and
// errno name, the table's argument names in order, each read completely.
void expectCall(const Syscall& s, pid_t pid, std::string_view name, long ret) {
  SCOPED_TRACE(fmt::format("{} (expected ret {})", name, ret));
  EXPECT_EQ(s.name(), name);
  EXPECT_EQ(std::optional<uint32_t>(s.nr()), syscall::syscallNumber(name));
  EXPECT_EQ(s.process().pid(), uint32_t(pid));
  EXPECT_EQ(s.process().tid(), uint32_t(pid));
  EXPECT_EQ(s.process().exec_id().size(), 24u) << s.process().exec_id();
  EXPECT_TRUE(s.process().exec_id().ends_with(fmt::format("{:08x}", pid))) << s.process().exec_id();
  EXPECT_EQ(s.ret(), ret);
  EXPECT_EQ(s.error(), errnoText(ret));
  std::vector<std::string> names;
  for (const auto& a : s.args()) {
    names.push_back(a.name());
    EXPECT_FALSE(a.truncated()) << a.name();
    EXPECT_FALSE(a.unreadable()) << a.name();
  }
  EXPECT_THAT(names, ElementsAreArray(tableArgNames(name)));
  int64_t ns = s.duration().seconds() * 1000000000LL + s.duration().nanos();
  EXPECT_GE(ns, 0);
  EXPECT_LT(ns, 10'000'000'000LL);
}

const SyscallArg& argOf(const Syscall& s, std::string_view name) {
  static const SyscallArg kMissing;
  for (const auto& a : s.args()) {
    if (a.name() == name) {
      return a;
    }
  }
  ADD_FAILURE() << s.name() << ": no argument " << name;
  return kMissing;
}

// A numeric argument's value, whichever of int and uint carries it.
std::optional<int64_t> number(const SyscallArg& a) {
  if (a.value_case() == SyscallArg::kInt) {
    return a.int_();
  }
  if (a.value_case() == SyscallArg::kUint) {
    return int64_t(a.uint());
  }
  return std::nullopt;
}

// The flags of a "A|B|C" rendering, as a set.
std::set<std::string> flagSet(const std::string& decoded) {
  std::set<std::string> out;
  std::istringstream in(decoded);
  for (std::string f; std::getline(in, f, '|');) {
    out.insert(f);
  }
  return out;
}

// Everything an argument renders, for checks on structured buffers.
std::string rendered(const SyscallArg& a) { return a.str() + " " + a.decoded(); }

// Numeric argument: value, and its symbolic rendering when given ("" skips it;
// several flags joined by '|' compare as sets).
void expectNum(const Syscall& s, std::string_view name, int64_t value, const std::string& decoded = "") {
  const SyscallArg& a = argOf(s, name);
  auto v = number(a);
  ASSERT_TRUE(v) << s.name() << "." << name << " is not a number";
  EXPECT_EQ(*v, value) << s.name() << "." << name;
  if (!decoded.empty()) {
    EXPECT_EQ(flagSet(a.decoded()), flagSet(decoded)) << s.name() << "." << name << " decoded " << a.decoded();
  }
}

// A uid/gid (32 bits in the kernel; -1 means unchanged and renders "-1").
void expectId(const Syscall& s, std::string_view name, int32_t id) {
  const SyscallArg& a = argOf(s, name);
  auto v = number(a);
  ASSERT_TRUE(v) << s.name() << "." << name;
  EXPECT_EQ(int32_t(*v), id) << s.name() << "." << name;
  if (id == -1) {
    EXPECT_EQ(a.decoded(), "-1") << s.name() << "." << name;
  }
}

// open(2)-style flags: the access mode comes first, then the rest as a set.
void expectOpenFlags(const Syscall& s, std::string_view name, int64_t flags, const std::string& decoded) {
  expectNum(s, name, flags, decoded);
  std::string mode = decoded.substr(0, decoded.find('|'));
  EXPECT_THAT(argOf(s, name).decoded(), StartsWith(mode));
}

void expectStr(const Syscall& s, std::string_view name, const std::string& value) {
  const SyscallArg& a = argOf(s, name);
  EXPECT_EQ(a.value_case(), SyscallArg::kStr) << s.name() << "." << name;
  EXPECT_EQ(a.str(), value) << s.name() << "." << name;
}

// A path argument given relative: the event may show it as given or made
// absolute (file().path is the absolute one).
void expectPathArg(const Syscall& s, std::string_view name, const std::string& given, const std::string& absolute) {
  const SyscallArg& a = argOf(s, name);
  EXPECT_EQ(a.value_case(), SyscallArg::kStr) << s.name() << "." << name;
  EXPECT_THAT(a.str(), AnyOf(Eq(given), Eq(absolute))) << s.name() << "." << name;
}

void expectSockaddr(const Syscall& s, std::string_view name, const std::string& family, const std::string& address,
                    uint32_t port, const std::string& path = "") {
  const SyscallArg& a = argOf(s, name);
  ASSERT_EQ(a.value_case(), SyscallArg::kSockaddr) << s.name() << "." << name;
  EXPECT_EQ(a.sockaddr().family(), family) << s.name() << "." << name;
  EXPECT_EQ(a.sockaddr().address(), address) << s.name() << "." << name;
  EXPECT_EQ(a.sockaddr().port(), port) << s.name() << "." << name;
  EXPECT_EQ(a.sockaddr().path(), path) << s.name() << "." << name;
}

void expectFile(const Syscall& s, const std::string& path, FileAccess access, const std::string& prefix,
                const std::string& resolved = "", const std::string& target = "") {
  ASSERT_TRUE(s.has_file()) << s.name() << " has no file activity";
  EXPECT_EQ(s.file().path(), path) << s.name();
  EXPECT_FALSE(s.file().path_truncated()) << s.name();
  EXPECT_EQ(s.file().access(), access) << s.name() << " " << path;
  EXPECT_EQ(s.file().watched_prefix(), prefix) << s.name() << " " << path;
  EXPECT_EQ(s.file().resolved_path(), resolved) << s.name() << " " << path;
  EXPECT_EQ(s.file().target_path(), target) << s.name() << " " << path;
}

// ---- the fixture ------------------------------------------------------------

class SyscallTest : public ::testing::TestWithParam<syscall::HookMode> {
protected:
  void SetUp() override {
    if (!isRoot()) {
      GTEST_SKIP() << "needs root: loads BPF programs into the kernel and makes privileged syscalls";
    }
    dir_ = freshDir();
  }

  // Traces only names, and watches only the test's own directory (so the
  // machine's other file activity stays out).
  AgentConfig config(std::vector<std::string> trace) const {
    AgentConfig c;
    c.stats_interval_seconds = 0;
    c.syscalls.hooks = GetParam();
    c.syscalls.trace = std::move(trace);
    c.syscalls.count.clear();
    c.syscalls.watch = {{dir_, 3}};
    // Both pipeline modes: stage threads with the dispatcher, inline with tracepoints.
    c.pipeline.mode = GetParam() == syscall::HookMode::Dispatcher ? AgentConfig::Pipeline::Mode::kThreads
                                                                  : AgentConfig::Pipeline::Mode::kInline;
    return c;
  }

  // Waits until everything pid did has arrived (its exit follows its calls).
  static void settle(AgentHarness& h, pid_t pid) {
    ASSERT_TRUE(h.sink().waitFor(exitOf(pid))) << "no exit event for child " << pid;
  }

  // No syscall record was lost or failed in the kernel during the test.
  static void expectNoLoss(AgentHarness& h) {
    h.stop();
    auto counters = h.agent().runtime().kernelCounters();
    ASSERT_TRUE(counters);
    EXPECT_EQ((*counters)[VIGIL_CNT_RB_FULL_SYSCALL], 0u);
    EXPECT_EQ((*counters)[VIGIL_CNT_RB_FULL_FILE], 0u);
    EXPECT_EQ((*counters)[VIGIL_CNT_SYS_PENDING_FULL], 0u);
    EXPECT_EQ((*counters)[VIGIL_CNT_SYS_COUNT_FULL], 0u);
    EXPECT_EQ((*counters)[VIGIL_CNT_SCRATCH_MISS], 0u);
  }

  static uint64_t kernelCounter(AgentHarness& h, int counter) {
    auto counters = h.agent().runtime().kernelCounters();
    return counters ? (*counters)[size_t(counter)] : 0;
  }

  std::string dir_; // watched
};

// ---- files ----------------------------------------------------------------

TEST_P(SyscallTest, OpenFamilyPathsFlagsModesAndAccess) {
  AgentHarness h(config({"open", "openat", "openat2", "creat"}));
  const std::string other = freshDir(); // not watched
  ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
  touch(dir_ + "/sub/b");
  touch(dir_ + "/target");
  ASSERT_EQ(symlink((dir_ + "/target").c_str(), (other + "/link").c_str()), 0);
  int dirfd = ::open(dir_.c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(dirfd, 0);

  const std::string a = dir_ + "/a", d = dir_ + "/d", link = other + "/link", missing = dir_ + "/missing";
  open_how how{};
  how.flags = O_WRONLY | O_CREAT;
  how.mode = 0640;
  how.resolve = RESOLVE_NO_SYMLINKS;
  open_how how_ro{};
  how_ro.flags = O_RDONLY;
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_open, a.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    r.ret[1] = sys(SYS_openat, AT_FDCWD, a.c_str(), O_RDONLY, 0);
    sys(SYS_chdir, dir_.c_str());
    r.ret[2] = sys(SYS_openat, AT_FDCWD, "rel", O_RDWR | O_CREAT, 0644);
    r.ret[3] = sys(SYS_openat, dirfd, "sub/b", O_RDONLY | O_CLOEXEC, 0);
    r.ret[4] = sys(SYS_openat2, dirfd, "sub/c", &how, sizeof(how));
    r.ret[5] = sys(SYS_creat, d.c_str(), 0644);
    r.ret[6] = sys(SYS_openat, AT_FDCWD, link.c_str(), O_RDONLY, 0);
    r.ret[7] = sys(SYS_openat, AT_FDCWD, missing.c_str(), O_RDONLY, 0);
    r.ret[8] = sys(SYS_openat2, dirfd, "missing", &how_ro, sizeof(how_ro));
  });
  close(dirfd);
  const Results& r = *sharedResults();
  for (int i = 0; i < 7; ++i) {
    ASSERT_GE(r.ret[i], 0) << "call " << i;
  }
  ASSERT_EQ(r.ret[7], -ENOENT);
  ASSERT_EQ(r.ret[8], -ENOENT);
  settle(h, pid);

  auto open = callsOf(h.sink(), pid, "open");
  ASSERT_EQ(open.size(), 1u) << "open events";
  expectCall(open[0], pid, "open", r.ret[0]);
  expectStr(open[0], "pathname", a);
  expectOpenFlags(open[0], "flags", O_WRONLY | O_CREAT | O_TRUNC, "O_WRONLY|O_CREAT|O_TRUNC");
  expectNum(open[0], "mode", 0600, "0600");
  expectFile(open[0], a, v1::FILE_ACCESS_WRITE, dir_, a);

  // Who made the call, from the record (the agent's own fork of the child
  // is not reported, so the cache does not know it: see
  // CallerIsTheCachedImageAsAtTheCall).
  EXPECT_EQ(open[0].process().creds().uid(), 0u);
  EXPECT_EQ(open[0].process().comm(), selfComm());

  auto openat = callsOf(h.sink(), pid, "openat");
  ASSERT_EQ(openat.size(), 5u) << "openat events";
  expectCall(openat[0], pid, "openat", r.ret[1]);
  expectNum(openat[0], "dirfd", AT_FDCWD, "AT_FDCWD");
  expectStr(openat[0], "pathname", a);
  expectOpenFlags(openat[0], "flags", O_RDONLY, "O_RDONLY");
  expectFile(openat[0], a, v1::FILE_ACCESS_READ, dir_, a);

  // Relative to the working directory: the file path is absolute.
  expectCall(openat[1], pid, "openat", r.ret[2]);
  expectNum(openat[1], "dirfd", AT_FDCWD, "AT_FDCWD");
  expectPathArg(openat[1], "pathname", "rel", dir_ + "/rel");
  expectOpenFlags(openat[1], "flags", O_RDWR | O_CREAT, "O_RDWR|O_CREAT");
  expectNum(openat[1], "mode", 0644, "0644");
  expectFile(openat[1], dir_ + "/rel", v1::FILE_ACCESS_READ_WRITE, dir_, dir_ + "/rel");

  // Relative to a directory fd.
  expectCall(openat[2], pid, "openat", r.ret[3]);
  expectNum(openat[2], "dirfd", dirfd);
  expectPathArg(openat[2], "pathname", "sub/b", dir_ + "/sub/b");
  expectOpenFlags(openat[2], "flags", O_RDONLY | O_CLOEXEC, "O_RDONLY|O_CLOEXEC");
  expectFile(openat[2], dir_ + "/sub/b", v1::FILE_ACCESS_READ, dir_, dir_ + "/sub/b");

  // Through a symlink outside the watched directory into it: reported,
  // because the file actually opened is watched.
  expectCall(openat[3], pid, "openat", r.ret[6]);
  expectStr(openat[3], "pathname", link);
  expectFile(openat[3], link, v1::FILE_ACCESS_READ, dir_, dir_ + "/target");

  // The failing open: no resolved path.
  expectCall(openat[4], pid, "openat", -ENOENT);
  expectStr(openat[4], "pathname", missing);
  expectFile(openat[4], missing, v1::FILE_ACCESS_READ, dir_);

  auto openat2 = callsOf(h.sink(), pid, "openat2");
  ASSERT_EQ(openat2.size(), 2u) << "openat2 events";
  expectCall(openat2[0], pid, "openat2", r.ret[4]);
  expectNum(openat2[0], "dirfd", dirfd);
  expectPathArg(openat2[0], "pathname", "sub/c", dir_ + "/sub/c");
  expectNum(openat2[0], "size", sizeof(open_how));
  EXPECT_THAT(rendered(argOf(openat2[0], "how")), HasSubstr("O_WRONLY"));
  EXPECT_THAT(rendered(argOf(openat2[0], "how")), HasSubstr("O_CREAT"));
  EXPECT_THAT(rendered(argOf(openat2[0], "how")), HasSubstr("0640"));
  EXPECT_THAT(rendered(argOf(openat2[0], "how")), HasSubstr("RESOLVE_NO_SYMLINKS"));
  expectFile(openat2[0], dir_ + "/sub/c", v1::FILE_ACCESS_WRITE, dir_, dir_ + "/sub/c");
  expectCall(openat2[1], pid, "openat2", -ENOENT);
  expectPathArg(openat2[1], "pathname", "missing", missing);
  EXPECT_THAT(rendered(argOf(openat2[1], "how")), HasSubstr("O_RDONLY"));
  expectFile(openat2[1], missing, v1::FILE_ACCESS_READ, dir_);

  auto creat = callsOf(h.sink(), pid, "creat");
  ASSERT_EQ(creat.size(), 1u) << "creat events";
  expectCall(creat[0], pid, "creat", r.ret[5]);
  expectStr(creat[0], "pathname", d);
  expectNum(creat[0], "mode", 0644, "0644");
  expectFile(creat[0], d, v1::FILE_ACCESS_WRITE, dir_, d);

  EXPECT_EQ(allCallsOf(h.sink(), pid).size(), 9u);
  expectNoLoss(h);
}

// Decided in the kernel: opens outside the watched prefixes never reach user
// space (and are counted as filtered); "/x/w" does not watch "/x/wbar".
TEST_P(SyscallTest, OnlyWatchedPrefixesAreReported) {
  const std::string w = dir_ + "/w", wbar = dir_ + "/wbar", other = dir_ + "/other";
  for (const auto& d : {w, wbar, other}) {
    ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  }
  AgentConfig c = config({"openat"});
  c.syscalls.watch = {{w, 3}};
  AgentHarness h(c);
  const uint64_t filtered_before = kernelCounter(h, VIGIL_CNT_SYS_PATH_FILTERED);

  const std::string in_wbar = wbar + "/f", in_other = other + "/f", sentinel = w + "/sentinel";
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_openat, AT_FDCWD, in_wbar.c_str(), O_WRONLY | O_CREAT, 0644);
    r.ret[1] = sys(SYS_openat, AT_FDCWD, in_other.c_str(), O_WRONLY | O_CREAT, 0644);
    r.ret[2] = sys(SYS_openat, AT_FDCWD, dir_.c_str(), O_RDONLY | O_DIRECTORY, 0); // w's parent
    r.ret[3] = sys(SYS_openat, AT_FDCWD, w.c_str(), O_RDONLY | O_DIRECTORY, 0); // w itself
    r.ret[4] = sys(SYS_openat, AT_FDCWD, sentinel.c_str(), O_WRONLY | O_CREAT, 0644);
  });
  const Results& r = *sharedResults();
  for (int i = 0; i < 5; ++i) {
    ASSERT_GE(r.ret[i], 0) << "call " << i;
  }
  // The sentinel comes after the unwatched opens: once it is here, they
  // would be too.
  ASSERT_TRUE(h.sink().waitFor([&](const Event& e) {
    return isCall(e, pid, "openat") && e.syscall().file().path() == sentinel;
  })) << "no event for the watched sentinel";

  auto opens = callsOf(h.sink(), pid, "openat");
  ASSERT_EQ(opens.size(), 2u) << "only w and w/sentinel are watched";
  expectCall(opens[0], pid, "openat", r.ret[3]);
  expectOpenFlags(opens[0], "flags", O_RDONLY | O_DIRECTORY, "O_RDONLY|O_DIRECTORY");
  expectFile(opens[0], w, v1::FILE_ACCESS_READ, w, w);
  expectCall(opens[1], pid, "openat", r.ret[4]);
  expectFile(opens[1], sentinel, v1::FILE_ACCESS_WRITE, w, sentinel);
  for (const auto& e : h.sink().snapshot()) {
    if (e.has_syscall()) {
      EXPECT_THAT(e.syscall().file().path(), Not(AnyOf(StartsWith(wbar), StartsWith(other), Eq(dir_))))
          << "unwatched path reported";
    }
  }
  EXPECT_GE(kernelCounter(h, VIGIL_CNT_SYS_PATH_FILTERED), filtered_before + 3);
  expectNoLoss(h);
}

// A prefix watched for writing only: reading opens are not reported.
TEST_P(SyscallTest, WriteOnlyPrefixIgnoresReads) {
  AgentConfig c = config({"openat"});
  c.syscalls.watch = {{dir_, 2}};
  AgentHarness h(c);
  const std::string f = dir_ + "/f";
  touch(f);
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_openat, AT_FDCWD, f.c_str(), O_RDONLY, 0);
    r.ret[1] = sys(SYS_openat, AT_FDCWD, f.c_str(), O_WRONLY, 0);
    r.ret[2] = sys(SYS_openat, AT_FDCWD, f.c_str(), O_RDWR, 0);
    r.ret[3] = sys(SYS_openat, AT_FDCWD, f.c_str(), O_RDONLY | O_TRUNC, 0);
  });
  const Results& r = *sharedResults();
  for (int i = 0; i < 4; ++i) {
    ASSERT_GE(r.ret[i], 0) << "call " << i;
  }
  settle(h, pid);
  auto opens = callsOf(h.sink(), pid, "openat");
  ASSERT_EQ(opens.size(), 3u) << "openat events";
  expectCall(opens[0], pid, "openat", r.ret[1]);
  expectOpenFlags(opens[0], "flags", O_WRONLY, "O_WRONLY");
  expectFile(opens[0], f, v1::FILE_ACCESS_WRITE, dir_, f);
  expectCall(opens[1], pid, "openat", r.ret[2]);
  expectFile(opens[1], f, v1::FILE_ACCESS_READ_WRITE, dir_, f);
  expectCall(opens[2], pid, "openat", r.ret[3]); // truncating is writing
  expectOpenFlags(opens[2], "flags", O_RDONLY | O_TRUNC, "O_RDONLY|O_TRUNC");
  expectFile(opens[2], f, v1::FILE_ACCESS_READ_WRITE, dir_, f);
  expectNoLoss(h);
}

TEST_P(SyscallTest, UnlinkAndRename) {
  AgentHarness h(config({"unlink", "unlinkat", "rename", "renameat", "renameat2"}));
  touch(dir_ + "/u1");
  touch(dir_ + "/r1");
  touch(dir_ + "/exists");
  ASSERT_EQ(mkdir((dir_ + "/sd").c_str(), 0755), 0);
  int dirfd = ::open(dir_.c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(dirfd, 0);
  const std::string u1 = dir_ + "/u1", missing = dir_ + "/missing", r1 = dir_ + "/r1", r2 = dir_ + "/r2",
                    r3 = dir_ + "/r3";
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_unlink, u1.c_str());
    r.ret[1] = sys(SYS_unlink, missing.c_str());
    r.ret[2] = sys(SYS_unlinkat, dirfd, "sd", AT_REMOVEDIR);
    r.ret[3] = sys(SYS_rename, r1.c_str(), r2.c_str());
    r.ret[4] = sys(SYS_renameat, dirfd, "r2", AT_FDCWD, r3.c_str());
    r.ret[5] = sys(SYS_renameat2, dirfd, "r3", dirfd, "r4", RENAME_NOREPLACE);
    r.ret[6] = sys(SYS_renameat2, dirfd, "r4", dirfd, "exists", RENAME_NOREPLACE);
  });
  close(dirfd);
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], 0);
  EXPECT_EQ(r.ret[1], -ENOENT);
  EXPECT_EQ(r.ret[2], 0);
  EXPECT_EQ(r.ret[3], 0);
  EXPECT_EQ(r.ret[4], 0);
  EXPECT_EQ(r.ret[5], 0);
  EXPECT_EQ(r.ret[6], -EEXIST);
  settle(h, pid);

  auto unlink = callsOf(h.sink(), pid, "unlink");
  ASSERT_EQ(unlink.size(), 2u) << "unlink events";
  expectCall(unlink[0], pid, "unlink", 0);
  expectStr(unlink[0], "pathname", u1);
  expectFile(unlink[0], u1, v1::FILE_ACCESS_WRITE, dir_);
  expectCall(unlink[1], pid, "unlink", -ENOENT);
  expectStr(unlink[1], "pathname", missing);
  expectFile(unlink[1], missing, v1::FILE_ACCESS_WRITE, dir_);

  auto unlinkat = callsOf(h.sink(), pid, "unlinkat");
  ASSERT_EQ(unlinkat.size(), 1u) << "unlinkat events";
  expectCall(unlinkat[0], pid, "unlinkat", 0);
  expectNum(unlinkat[0], "dirfd", dirfd);
  expectPathArg(unlinkat[0], "pathname", "sd", dir_ + "/sd");
  expectNum(unlinkat[0], "flags", AT_REMOVEDIR, "AT_REMOVEDIR");
  expectFile(unlinkat[0], dir_ + "/sd", v1::FILE_ACCESS_WRITE, dir_);

  auto rename = callsOf(h.sink(), pid, "rename");
  ASSERT_EQ(rename.size(), 1u) << "rename events";
  expectCall(rename[0], pid, "rename", 0);
  expectStr(rename[0], "oldpath", r1);
  expectStr(rename[0], "newpath", r2);
  expectFile(rename[0], r1, v1::FILE_ACCESS_WRITE, dir_, "", r2);

  auto renameat = callsOf(h.sink(), pid, "renameat");
  ASSERT_EQ(renameat.size(), 1u) << "renameat events";
  expectCall(renameat[0], pid, "renameat", 0);
  expectNum(renameat[0], "olddirfd", dirfd);
  expectPathArg(renameat[0], "oldpath", "r2", r2);
  expectNum(renameat[0], "newdirfd", AT_FDCWD, "AT_FDCWD");
  expectStr(renameat[0], "newpath", r3);
  expectFile(renameat[0], r2, v1::FILE_ACCESS_WRITE, dir_, "", r3);

  auto renameat2 = callsOf(h.sink(), pid, "renameat2");
  ASSERT_EQ(renameat2.size(), 2u) << "renameat2 events";
  expectCall(renameat2[0], pid, "renameat2", 0);
  expectNum(renameat2[0], "olddirfd", dirfd);
  expectPathArg(renameat2[0], "oldpath", "r3", r3);
  expectNum(renameat2[0], "newdirfd", dirfd);
  expectPathArg(renameat2[0], "newpath", "r4", dir_ + "/r4");
  expectNum(renameat2[0], "flags", RENAME_NOREPLACE, "RENAME_NOREPLACE");
  expectFile(renameat2[0], r3, v1::FILE_ACCESS_WRITE, dir_, "", dir_ + "/r4");
  expectCall(renameat2[1], pid, "renameat2", -EEXIST);
  expectFile(renameat2[1], dir_ + "/r4", v1::FILE_ACCESS_WRITE, dir_, "", dir_ + "/exists");
  expectNoLoss(h);
}

TEST_P(SyscallTest, ChmodAndChown) {
  AgentHarness h(config({"chmod", "fchmodat", "chown", "fchownat"}));
  const std::string m = dir_ + "/m", missing = dir_ + "/missing";
  touch(m);
  int dirfd = ::open(dir_.c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(dirfd, 0);
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_chmod, m.c_str(), 0600);
    r.ret[1] = sys(SYS_chmod, missing.c_str(), 0755);
    r.ret[2] = sys(SYS_fchmodat, dirfd, "m", 04750);
    r.ret[3] = sys(SYS_chown, m.c_str(), kNobody, kNobody);
    r.ret[4] = sys(SYS_fchownat, dirfd, "m", -1, 0, AT_SYMLINK_NOFOLLOW);
    r.ret[5] = sys(SYS_fchownat, dirfd, "missing", 0, -1, 0);
    // Not the owner (root owns the directory) and not root: EPERM.
    sys(SYS_setgid, kNobody);
    sys(SYS_setuid, kNobody);
    r.ret[6] = sys(SYS_chmod, dir_.c_str(), 0777);
  });
  close(dirfd);
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], 0);
  EXPECT_EQ(r.ret[1], -ENOENT);
  EXPECT_EQ(r.ret[2], 0);
  EXPECT_EQ(r.ret[3], 0);
  EXPECT_EQ(r.ret[4], 0);
  EXPECT_EQ(r.ret[5], -ENOENT);
  EXPECT_EQ(r.ret[6], -EPERM);
  settle(h, pid);

  auto chmod = callsOf(h.sink(), pid, "chmod");
  ASSERT_EQ(chmod.size(), 3u) << "chmod events";
  expectCall(chmod[0], pid, "chmod", 0);
  expectStr(chmod[0], "pathname", m);
  expectNum(chmod[0], "mode", 0600, "0600");
  expectFile(chmod[0], m, v1::FILE_ACCESS_WRITE, dir_);
  expectCall(chmod[1], pid, "chmod", -ENOENT);
  expectNum(chmod[1], "mode", 0755, "0755");
  expectFile(chmod[1], missing, v1::FILE_ACCESS_WRITE, dir_);
  expectCall(chmod[2], pid, "chmod", -EPERM);
  expectStr(chmod[2], "pathname", dir_);
  expectNum(chmod[2], "mode", 0777, "0777");
  expectFile(chmod[2], dir_, v1::FILE_ACCESS_WRITE, dir_);
  EXPECT_EQ(chmod[2].process().creds().uid(), kNobody) << "the caller was nobody by then";

  auto fchmodat = callsOf(h.sink(), pid, "fchmodat");
  ASSERT_EQ(fchmodat.size(), 1u) << "fchmodat events";
  expectCall(fchmodat[0], pid, "fchmodat", 0);
  expectNum(fchmodat[0], "dirfd", dirfd);
  expectPathArg(fchmodat[0], "pathname", "m", m);
  expectNum(fchmodat[0], "mode", 04750, "04750");
  expectFile(fchmodat[0], m, v1::FILE_ACCESS_WRITE, dir_);

  auto chown = callsOf(h.sink(), pid, "chown");
  ASSERT_EQ(chown.size(), 1u) << "chown events";
  expectCall(chown[0], pid, "chown", 0);
  expectStr(chown[0], "pathname", m);
  expectId(chown[0], "owner", int32_t(kNobody));
  expectId(chown[0], "group", int32_t(kNobody));
  expectFile(chown[0], m, v1::FILE_ACCESS_WRITE, dir_);

  auto fchownat = callsOf(h.sink(), pid, "fchownat");
  ASSERT_EQ(fchownat.size(), 2u) << "fchownat events";
  expectCall(fchownat[0], pid, "fchownat", 0);
  expectNum(fchownat[0], "dirfd", dirfd);
  expectPathArg(fchownat[0], "pathname", "m", m);
  expectId(fchownat[0], "owner", -1);
  expectId(fchownat[0], "group", 0);
  expectNum(fchownat[0], "flags", AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW");
  expectFile(fchownat[0], m, v1::FILE_ACCESS_WRITE, dir_);
  expectCall(fchownat[1], pid, "fchownat", -ENOENT);
  expectId(fchownat[1], "owner", 0);
  expectId(fchownat[1], "group", -1);
  expectFile(fchownat[1], missing, v1::FILE_ACCESS_WRITE, dir_);
  expectNoLoss(h);
}

TEST_P(SyscallTest, LinksAndSymlinks) {
  AgentHarness h(config({"link", "linkat", "symlink", "symlinkat"}));
  const std::string m = dir_ + "/m", l1 = dir_ + "/l1", l2 = dir_ + "/l2", s1 = dir_ + "/s1",
                    missing = dir_ + "/missing", never = dir_ + "/never";
  touch(m);
  int dirfd = ::open(dir_.c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(dirfd, 0);
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_link, m.c_str(), l1.c_str());
    r.ret[1] = sys(SYS_link, missing.c_str(), never.c_str());
    r.ret[2] = sys(SYS_linkat, dirfd, "m", AT_FDCWD, l2.c_str(), 0);
    r.ret[3] = sys(SYS_symlink, "m", s1.c_str());
    r.ret[4] = sys(SYS_symlinkat, "/nowhere/at/all", dirfd, "s2");
    r.ret[5] = sys(SYS_symlinkat, "m", dirfd, "s2"); // exists now
  });
  close(dirfd);
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], 0);
  EXPECT_EQ(r.ret[1], -ENOENT);
  EXPECT_EQ(r.ret[2], 0);
  EXPECT_EQ(r.ret[3], 0);
  EXPECT_EQ(r.ret[4], 0);
  EXPECT_EQ(r.ret[5], -EEXIST);
  settle(h, pid);

  auto link = callsOf(h.sink(), pid, "link");
  ASSERT_EQ(link.size(), 2u) << "link events";
  expectCall(link[0], pid, "link", 0);
  expectStr(link[0], "oldpath", m);
  expectStr(link[0], "newpath", l1);
  expectFile(link[0], m, v1::FILE_ACCESS_WRITE, dir_, "", l1);
  expectCall(link[1], pid, "link", -ENOENT);
  expectFile(link[1], missing, v1::FILE_ACCESS_WRITE, dir_, "", never);

  auto linkat = callsOf(h.sink(), pid, "linkat");
  ASSERT_EQ(linkat.size(), 1u) << "linkat events";
  expectCall(linkat[0], pid, "linkat", 0);
  expectNum(linkat[0], "olddirfd", dirfd);
  expectPathArg(linkat[0], "oldpath", "m", m);
  expectNum(linkat[0], "newdirfd", AT_FDCWD, "AT_FDCWD");
  expectStr(linkat[0], "newpath", l2);
  expectNum(linkat[0], "flags", 0);
  expectFile(linkat[0], m, v1::FILE_ACCESS_WRITE, dir_, "", l2);

  // A symlink's target is its content, not a path: the file is the link.
  auto symlink = callsOf(h.sink(), pid, "symlink");
  ASSERT_EQ(symlink.size(), 1u) << "symlink events";
  expectCall(symlink[0], pid, "symlink", 0);
  expectStr(symlink[0], "target", "m");
  expectStr(symlink[0], "linkpath", s1);
  ASSERT_TRUE(symlink[0].has_file());
  EXPECT_EQ(symlink[0].file().path(), s1);
  EXPECT_EQ(symlink[0].file().access(), v1::FILE_ACCESS_WRITE);
  EXPECT_EQ(symlink[0].file().watched_prefix(), dir_);

  auto symlinkat = callsOf(h.sink(), pid, "symlinkat");
  ASSERT_EQ(symlinkat.size(), 2u) << "symlinkat events";
  expectCall(symlinkat[0], pid, "symlinkat", 0);
  expectStr(symlinkat[0], "target", "/nowhere/at/all");
  expectNum(symlinkat[0], "newdirfd", dirfd);
  expectPathArg(symlinkat[0], "linkpath", "s2", dir_ + "/s2");
  ASSERT_TRUE(symlinkat[0].has_file());
  EXPECT_EQ(symlinkat[0].file().path(), dir_ + "/s2");
  EXPECT_EQ(symlinkat[0].file().watched_prefix(), dir_);
  expectCall(symlinkat[1], pid, "symlinkat", -EEXIST);
  expectStr(symlinkat[1], "target", "m");
  ASSERT_TRUE(symlinkat[1].has_file());
  EXPECT_EQ(symlinkat[1].file().path(), dir_ + "/s2");
  expectNoLoss(h);
}

// ---- mounts and roots -----------------------------------------------------

TEST_P(SyscallTest, MountAndUmount) {
  AgentHarness h(config({"mount", "umount2"}));
  const std::string mnt = dir_ + "/mnt", missing = dir_ + "/missing";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_mount, "vigil-src", mnt.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m");
    r.ret[1] = sys(SYS_umount2, mnt.c_str(), 0);
    r.ret[2] = sys(SYS_umount2, mnt.c_str(), 0); // no longer a mount point
    r.ret[3] = sys(SYS_mount, "none", mnt.c_str(), "vigil-nofs", 0, nullptr);
    r.ret[4] = sys(SYS_umount2, missing.c_str(), MNT_DETACH);
  });
  umount2(mnt.c_str(), MNT_DETACH); // in case the child's umount failed
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], 0);
  EXPECT_EQ(r.ret[1], 0);
  EXPECT_EQ(r.ret[2], -EINVAL);
  EXPECT_EQ(r.ret[3], -ENODEV);
  EXPECT_EQ(r.ret[4], -ENOENT);
  settle(h, pid);

  auto mount = callsOf(h.sink(), pid, "mount");
  ASSERT_EQ(mount.size(), 2u) << "mount events";
  expectCall(mount[0], pid, "mount", 0);
  expectStr(mount[0], "source", "vigil-src");
  expectStr(mount[0], "target", mnt);
  expectStr(mount[0], "filesystemtype", "tmpfs");
  expectNum(mount[0], "mountflags", MS_NOSUID | MS_NODEV, "MS_NOSUID|MS_NODEV");
  EXPECT_NE(number(argOf(mount[0], "data")).value_or(0), 0);
  expectCall(mount[1], pid, "mount", -ENODEV);
  expectStr(mount[1], "filesystemtype", "vigil-nofs");
  expectNum(mount[1], "data", 0);

  auto umount = callsOf(h.sink(), pid, "umount2");
  ASSERT_EQ(umount.size(), 3u) << "umount2 events";
  expectCall(umount[0], pid, "umount2", 0);
  expectStr(umount[0], "target", mnt);
  expectNum(umount[0], "flags", 0);
  expectCall(umount[1], pid, "umount2", -EINVAL);
  expectStr(umount[1], "target", mnt);
  expectCall(umount[2], pid, "umount2", -ENOENT);
  expectStr(umount[2], "target", missing);
  expectNum(umount[2], "flags", MNT_DETACH, "MNT_DETACH");
  expectNoLoss(h);
}

// chroot in the child changes only the child's root.
TEST_P(SyscallTest, Chroot) {
  AgentHarness h(config({"chroot"}));
  const std::string missing = dir_ + "/missing";
  ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_chroot, missing.c_str());
    sys(SYS_chdir, dir_.c_str());
    r.ret[1] = sys(SYS_chroot, "sub");
  });
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], -ENOENT);
  EXPECT_EQ(r.ret[1], 0);
  settle(h, pid);
  auto chroot = callsOf(h.sink(), pid, "chroot");
  ASSERT_EQ(chroot.size(), 2u) << "chroot events";
  expectCall(chroot[0], pid, "chroot", -ENOENT);
  expectStr(chroot[0], "path", missing);
  expectCall(chroot[1], pid, "chroot", 0);
  expectPathArg(chroot[1], "path", "sub", dir_ + "/sub");
  EXPECT_EQ(realPath("/proc/self/root"), "/");
  expectNoLoss(h);
}

// ---- processes ------------------------------------------------------------

TEST_P(SyscallTest, Ptrace) {
  AgentHarness h(config({"ptrace"}));
  pid_t target = sleeper();
  pid_t dead = deadPid();
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_ptrace, PTRACE_ATTACH, target, 0, 0);
    int status;
    waitpid(target, &status, __WALL); // the attach stop
    r.ret[1] = sys(SYS_ptrace, PTRACE_ATTACH, target, 0, 0); // already traced
    r.ret[2] = sys(SYS_ptrace, PTRACE_DETACH, target, 0, 0);
    r.ret[3] = sys(SYS_ptrace, PTRACE_SEIZE, target, 0, PTRACE_O_TRACESYSGOOD);
    r.ret[4] = sys(SYS_ptrace, PTRACE_ATTACH, dead, 0, 0);
  }); // exiting detaches the target
  kill(target, SIGKILL);
  waitStatus(target);
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], 0);
  EXPECT_EQ(r.ret[1], -EPERM);
  EXPECT_EQ(r.ret[2], 0);
  EXPECT_EQ(r.ret[3], 0);
  EXPECT_EQ(r.ret[4], -ESRCH);
  settle(h, pid);

  auto ptrace = callsOf(h.sink(), pid, "ptrace");
  ASSERT_EQ(ptrace.size(), 5u) << "ptrace events";
  const std::pair<long, const char*> requests[] = {{PTRACE_ATTACH, "PTRACE_ATTACH"},
                                                   {PTRACE_ATTACH, "PTRACE_ATTACH"},
                                                   {PTRACE_DETACH, "PTRACE_DETACH"},
                                                   {PTRACE_SEIZE, "PTRACE_SEIZE"},
                                                   {PTRACE_ATTACH, "PTRACE_ATTACH"}};
  for (size_t i = 0; i < 5; ++i) {
    expectCall(ptrace[i], pid, "ptrace", r.ret[i]);
    expectNum(ptrace[i], "request", requests[i].first, requests[i].second);
    expectNum(ptrace[i], "pid", i == 4 ? dead : target);
    expectNum(ptrace[i], "addr", 0);
  }
  expectNum(ptrace[3], "data", PTRACE_O_TRACESYSGOOD);
  expectNoLoss(h);
}

TEST_P(SyscallTest, CredentialChanges) {
  AgentHarness h(config({"setuid", "setgid", "setreuid", "setresuid", "setresgid"}));
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_setgid, kNobody);
    r.ret[1] = sys(SYS_setresgid, kNobody, kNobody, -1);
    r.ret[2] = sys(SYS_setreuid, -1, 0);
    r.ret[3] = sys(SYS_setresuid, -1, -1, -1);
    r.ret[4] = sys(SYS_setuid, kNobody); // root: every uid, capabilities gone
    r.ret[5] = sys(SYS_setuid, 0);
    r.ret[6] = sys(SYS_setgid, 0);
    r.ret[7] = sys(SYS_setreuid, 0, 0);
    r.ret[8] = sys(SYS_setresuid, 0, 0, 0);
    r.ret[9] = sys(SYS_setresgid, 0, -1, 0);
  });
  const Results& r = *sharedResults();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(r.ret[i], 0) << "call " << i;
  }
  for (int i = 5; i < 10; ++i) {
    EXPECT_EQ(r.ret[i], -EPERM) << "call " << i;
  }
  settle(h, pid);

  auto setgid = callsOf(h.sink(), pid, "setgid");
  ASSERT_EQ(setgid.size(), 2u) << "setgid events";
  expectCall(setgid[0], pid, "setgid", 0);
  expectId(setgid[0], "gid", int32_t(kNobody));
  expectCall(setgid[1], pid, "setgid", -EPERM);
  expectId(setgid[1], "gid", 0);

  auto setresgid = callsOf(h.sink(), pid, "setresgid");
  ASSERT_EQ(setresgid.size(), 2u) << "setresgid events";
  expectCall(setresgid[0], pid, "setresgid", 0);
  expectId(setresgid[0], "rgid", int32_t(kNobody));
  expectId(setresgid[0], "egid", int32_t(kNobody));
  expectId(setresgid[0], "sgid", -1);
  expectCall(setresgid[1], pid, "setresgid", -EPERM);
  expectId(setresgid[1], "rgid", 0);
  expectId(setresgid[1], "egid", -1);
  expectId(setresgid[1], "sgid", 0);

  auto setreuid = callsOf(h.sink(), pid, "setreuid");
  ASSERT_EQ(setreuid.size(), 2u) << "setreuid events";
  expectCall(setreuid[0], pid, "setreuid", 0);
  expectId(setreuid[0], "ruid", -1);
  expectId(setreuid[0], "euid", 0);
  expectCall(setreuid[1], pid, "setreuid", -EPERM);
  expectId(setreuid[1], "ruid", 0);
  expectId(setreuid[1], "euid", 0);

  auto setresuid = callsOf(h.sink(), pid, "setresuid");
  ASSERT_EQ(setresuid.size(), 2u) << "setresuid events";
  expectCall(setresuid[0], pid, "setresuid", 0);
  expectId(setresuid[0], "ruid", -1);
  expectId(setresuid[0], "euid", -1);
  expectId(setresuid[0], "suid", -1);
  expectCall(setresuid[1], pid, "setresuid", -EPERM);
  expectId(setresuid[1], "ruid", 0);

  auto setuid = callsOf(h.sink(), pid, "setuid");
  ASSERT_EQ(setuid.size(), 2u) << "setuid events";
  expectCall(setuid[0], pid, "setuid", 0);
  expectId(setuid[0], "uid", int32_t(kNobody));
  expectCall(setuid[1], pid, "setuid", -EPERM);
  expectId(setuid[1], "uid", 0);
  // Who asked: nobody, by then.
  EXPECT_EQ(setuid[1].process().creds().uid(), kNobody);
  EXPECT_EQ(setuid[1].process().creds().gid(), kNobody);
  expectNoLoss(h);
}

TEST_P(SyscallTest, Capset) {
  AgentHarness h(config({"capset"}));
  const pid_t self = getpid();
  pid_t pid = runChild([&](Results& r) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    sys(SYS_capget, &hdr, data);
    r.ret[0] = sys(SYS_capset, &hdr, data);
    __user_cap_header_struct other{_LINUX_CAPABILITY_VERSION_3, self};
    r.ret[1] = sys(SYS_capset, &other, data); // only the caller's own
    __user_cap_header_struct bad{0x12345678, 0};
    r.ret[2] = sys(SYS_capset, &bad, data);
  });
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], 0);
  EXPECT_EQ(r.ret[1], -EPERM);
  EXPECT_EQ(r.ret[2], -EINVAL);
  settle(h, pid);
  auto capset = callsOf(h.sink(), pid, "capset");
  ASSERT_EQ(capset.size(), 3u) << "capset events";
  expectCall(capset[0], pid, "capset", 0);
  EXPECT_THAT(rendered(argOf(capset[0], "hdrp")), AnyOf(HasSubstr("20080522"), HasSubstr("VERSION_3")));
  EXPECT_THAT(rendered(argOf(capset[0], "datap")), HasSubstr("CAP_SYS_ADMIN")); // root's effective set
  expectCall(capset[1], pid, "capset", -EPERM);
  EXPECT_THAT(rendered(argOf(capset[1], "hdrp")), HasSubstr(std::to_string(self)));
  expectCall(capset[2], pid, "capset", -EINVAL);
  EXPECT_THAT(rendered(argOf(capset[2], "hdrp")), HasSubstr("12345678"));
  expectNoLoss(h);
}

TEST_P(SyscallTest, SetnsAndUnshare) {
  AgentHarness h(config({"setns", "unshare"}));
  int netfd = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(netfd, 0);
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_setns, netfd, CLONE_NEWNET);
    r.ret[1] = sys(SYS_setns, netfd, CLONE_NEWUTS); // not a UTS namespace
    r.ret[2] = sys(SYS_setns, -1, 0);
    r.ret[3] = sys(SYS_unshare, CLONE_NEWNS);
    r.ret[4] = sys(SYS_unshare, CLONE_NEWNS | CLONE_NEWUTS);
    r.ret[5] = sys(SYS_unshare, CLONE_VFORK); // not an unshare flag
  });
  close(netfd);
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], 0);
  EXPECT_EQ(r.ret[1], -EINVAL);
  EXPECT_EQ(r.ret[2], -EBADF);
  EXPECT_EQ(r.ret[3], 0);
  EXPECT_EQ(r.ret[4], 0);
  EXPECT_EQ(r.ret[5], -EINVAL);
  settle(h, pid);

  auto setns = callsOf(h.sink(), pid, "setns");
  ASSERT_EQ(setns.size(), 3u) << "setns events";
  expectCall(setns[0], pid, "setns", 0);
  expectNum(setns[0], "fd", netfd);
  expectNum(setns[0], "nstype", CLONE_NEWNET, "CLONE_NEWNET");
  expectCall(setns[1], pid, "setns", -EINVAL);
  expectNum(setns[1], "nstype", CLONE_NEWUTS, "CLONE_NEWUTS");
  expectCall(setns[2], pid, "setns", -EBADF);
  expectNum(setns[2], "fd", -1);
  expectNum(setns[2], "nstype", 0);

  auto unshare = callsOf(h.sink(), pid, "unshare");
  ASSERT_EQ(unshare.size(), 3u) << "unshare events";
  expectCall(unshare[0], pid, "unshare", 0);
  expectNum(unshare[0], "flags", CLONE_NEWNS, "CLONE_NEWNS");
  expectCall(unshare[1], pid, "unshare", 0);
  expectNum(unshare[1], "flags", CLONE_NEWNS | CLONE_NEWUTS, "CLONE_NEWNS|CLONE_NEWUTS");
  expectCall(unshare[2], pid, "unshare", -EINVAL);
  expectNum(unshare[2], "flags", CLONE_VFORK, "CLONE_VFORK");
  expectNoLoss(h);
}

// Modules: every call here fails (a garbage image, a file that is no
// module, a module that does not exist); on a kernel without module support
// they fail with ENOSYS and have no per-syscall tracepoints.
TEST_P(SyscallTest, ModuleCallsFail) {
  struct stat st {};
  const bool have_tracepoints = stat("/sys/kernel/tracing/events/syscalls/sys_enter_init_module", &st) == 0 ||
                                stat("/sys/kernel/debug/tracing/events/syscalls/sys_enter_init_module", &st) == 0;
  if (GetParam() == syscall::HookMode::Tracepoint && !have_tracepoints) {
    GTEST_SKIP() << "kernel without module syscalls (CONFIG_MODULES=n): no syscalls:sys_enter_init_module "
                    "tracepoint; covered by the dispatcher";
  }
  AgentHarness h(config({"init_module", "finit_module", "delete_module"}));
  const std::string plain = dir_ + "/not-a-module.ko";
  {
    std::ofstream(plain) << "this is not an ELF file\n";
  }
  int fd = ::open(plain.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  static char image[64] = "garbage, not a module image";
  pid_t pid = runChild([&](Results& r) {
    // The strings on the stack: a syscall that fails with ENOSYS reads none
    // of its arguments, so a string in a page nobody touched yet (a literal
    // in .rodata) stays unreadable to BPF at enter and at exit alike.
    char params[] = "vigil=1";
    char empty[] = "";
    char name[] = "vigil_no_such_module";
    r.ret[0] = sys(SYS_init_module, image, sizeof(image), params);
    r.ret[1] = sys(SYS_finit_module, fd, empty, 0);
    r.ret[2] = sys(SYS_delete_module, name, O_NONBLOCK);
  });
  close(fd);
  const Results& r = *sharedResults();
  EXPECT_LT(r.ret[0], 0);
  EXPECT_LT(r.ret[1], 0);
  EXPECT_TRUE(r.ret[2] == -ENOENT || r.ret[2] == -ENOSYS) << r.ret[2];
  settle(h, pid);

  auto init = callsOf(h.sink(), pid, "init_module");
  ASSERT_EQ(init.size(), 1u) << "init_module events";
  expectCall(init[0], pid, "init_module", r.ret[0]);
  expectNum(init[0], "module_image", int64_t(reinterpret_cast<uintptr_t>(image)));
  expectNum(init[0], "len", sizeof(image));
  expectStr(init[0], "param_values", "vigil=1");

  auto finit = callsOf(h.sink(), pid, "finit_module");
  ASSERT_EQ(finit.size(), 1u) << "finit_module events";
  expectCall(finit[0], pid, "finit_module", r.ret[1]);
  expectNum(finit[0], "fd", fd);
  expectStr(finit[0], "param_values", "");
  expectNum(finit[0], "flags", 0);

  auto del = callsOf(h.sink(), pid, "delete_module");
  ASSERT_EQ(del.size(), 1u) << "delete_module events";
  expectCall(del[0], pid, "delete_module", r.ret[2]);
  expectStr(del[0], "name", "vigil_no_such_module");
  expectNum(del[0], "flags", O_NONBLOCK, "O_NONBLOCK");
  expectNoLoss(h);
}

TEST_P(SyscallTest, BpfMemfdAndPrctl) {
  AgentHarness h(config({"bpf", "memfd_create", "prctl"}));
  bpf_attr bad{}; // map type 0: invalid
  bpf_attr good{};
  good.map_type = BPF_MAP_TYPE_ARRAY;
  good.key_size = 4;
  good.value_size = 4;
  good.max_entries = 1;
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_bpf, BPF_MAP_CREATE, &bad, sizeof(bad));
    r.ret[1] = sys(SYS_bpf, BPF_MAP_CREATE, &good, sizeof(good));
    r.ret[2] = sys(SYS_memfd_create, "vigil-test", MFD_CLOEXEC);
    r.ret[3] = sys(SYS_memfd_create, "vigil-bad", 0x100); // unknown flag
    r.ret[4] = sys(SYS_prctl, PR_SET_NAME, "vigil-prctl", 0, 0, 0);
    r.ret[5] = sys(SYS_prctl, 0x7fff, 0, 0, 0, 0); // unknown option
  });
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], -EINVAL);
  EXPECT_GE(r.ret[1], 0);
  EXPECT_GE(r.ret[2], 0);
  EXPECT_EQ(r.ret[3], -EINVAL);
  EXPECT_EQ(r.ret[4], 0);
  EXPECT_EQ(r.ret[5], -EINVAL);
  settle(h, pid);

  auto bpf = callsOf(h.sink(), pid, "bpf");
  ASSERT_EQ(bpf.size(), 2u) << "bpf events";
  expectCall(bpf[0], pid, "bpf", -EINVAL);
  expectNum(bpf[0], "cmd", BPF_MAP_CREATE, "BPF_MAP_CREATE");
  expectNum(bpf[0], "attr", int64_t(reinterpret_cast<uintptr_t>(&bad)));
  expectNum(bpf[0], "size", sizeof(bad));
  expectCall(bpf[1], pid, "bpf", r.ret[1]);
  expectNum(bpf[1], "cmd", BPF_MAP_CREATE, "BPF_MAP_CREATE");
  expectNum(bpf[1], "attr", int64_t(reinterpret_cast<uintptr_t>(&good)));

  auto memfd = callsOf(h.sink(), pid, "memfd_create");
  ASSERT_EQ(memfd.size(), 2u) << "memfd_create events";
  expectCall(memfd[0], pid, "memfd_create", r.ret[2]);
  expectStr(memfd[0], "name", "vigil-test");
  expectNum(memfd[0], "flags", MFD_CLOEXEC, "MFD_CLOEXEC");
  expectCall(memfd[1], pid, "memfd_create", -EINVAL);
  expectStr(memfd[1], "name", "vigil-bad");
  expectNum(memfd[1], "flags", 0x100);

  auto prctl = callsOf(h.sink(), pid, "prctl");
  ASSERT_EQ(prctl.size(), 2u) << "prctl events";
  expectCall(prctl[0], pid, "prctl", 0);
  expectNum(prctl[0], "option", PR_SET_NAME, "PR_SET_NAME");
  EXPECT_NE(number(argOf(prctl[0], "arg2")).value_or(0), 0);
  expectCall(prctl[1], pid, "prctl", -EINVAL);
  expectNum(prctl[1], "option", 0x7fff);
  expectNoLoss(h);
}

TEST_P(SyscallTest, Signals) {
  AgentHarness h(config({"kill", "tkill", "tgkill"}));
  // The target has SIGUSR1 blocked from birth: the signals stay pending.
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, &old);
  pid_t target = sleeper();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pid_t dead = deadPid();
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_kill, target, SIGUSR1);
    r.ret[1] = sys(SYS_tkill, target, SIGUSR1);
    r.ret[2] = sys(SYS_tgkill, target, target, SIGUSR1);
    r.ret[3] = sys(SYS_kill, target, 0);
    r.ret[4] = sys(SYS_kill, dead, SIGTERM);
    r.ret[5] = sys(SYS_tkill, dead, SIGUSR1);
    r.ret[6] = sys(SYS_tgkill, target, dead, SIGUSR1); // not one of target's threads
    r.ret[7] = sys(SYS_kill, target, 1000); // no such signal
  });
  kill(target, SIGKILL);
  waitStatus(target);
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], 0);
  EXPECT_EQ(r.ret[1], 0);
  EXPECT_EQ(r.ret[2], 0);
  EXPECT_EQ(r.ret[3], 0);
  EXPECT_EQ(r.ret[4], -ESRCH);
  EXPECT_EQ(r.ret[5], -ESRCH);
  EXPECT_EQ(r.ret[6], -ESRCH);
  EXPECT_EQ(r.ret[7], -EINVAL);
  settle(h, pid);

  auto kill = callsOf(h.sink(), pid, "kill");
  ASSERT_EQ(kill.size(), 4u) << "kill events";
  expectCall(kill[0], pid, "kill", 0);
  expectNum(kill[0], "pid", target);
  expectNum(kill[0], "sig", SIGUSR1, "SIGUSR1");
  expectCall(kill[1], pid, "kill", 0);
  expectNum(kill[1], "sig", 0);
  expectCall(kill[2], pid, "kill", -ESRCH);
  expectNum(kill[2], "pid", dead);
  expectNum(kill[2], "sig", SIGTERM, "SIGTERM");
  expectCall(kill[3], pid, "kill", -EINVAL);
  expectNum(kill[3], "sig", 1000);

  auto tkill = callsOf(h.sink(), pid, "tkill");
  ASSERT_EQ(tkill.size(), 2u) << "tkill events";
  expectCall(tkill[0], pid, "tkill", 0);
  expectNum(tkill[0], "tid", target);
  expectNum(tkill[0], "sig", SIGUSR1, "SIGUSR1");
  expectCall(tkill[1], pid, "tkill", -ESRCH);
  expectNum(tkill[1], "tid", dead);

  auto tgkill = callsOf(h.sink(), pid, "tgkill");
  ASSERT_EQ(tgkill.size(), 2u) << "tgkill events";
  expectCall(tgkill[0], pid, "tgkill", 0);
  expectNum(tgkill[0], "tgid", target);
  expectNum(tgkill[0], "tid", target);
  expectNum(tgkill[0], "sig", SIGUSR1, "SIGUSR1");
  expectCall(tgkill[1], pid, "tgkill", -ESRCH);
  expectNum(tgkill[1], "tgid", target);
  expectNum(tgkill[1], "tid", dead);
  expectNoLoss(h);
}

// ---- sockets ----------------------------------------------------------------

sockaddr_in ipv4(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// The port a socket is bound to (raw syscall: safe in the child).
long boundPort(long fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if (::syscall(SYS_getsockname, fd, &a, &len) != 0) {
    return -1;
  }
  return ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(a).sin6_port
                                       : reinterpret_cast<sockaddr_in&>(a).sin_port);
}

TEST_P(SyscallTest, SocketsIpv4) {
  AgentHarness h(config({"socket", "bind", "listen", "connect", "accept", "accept4"}));
  pid_t pid = runChild([&](Results& r) {
    long l = r.ret[0] = sys(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in any = ipv4(0);
    r.ret[1] = sys(SYS_bind, l, &any, sizeof(any));
    sockaddr_in server = ipv4(uint16_t(r.value[0] = boundPort(l)));
    r.ret[2] = sys(SYS_listen, l, 7);
    long c1 = r.ret[3] = sys(SYS_socket, AF_INET, SOCK_STREAM, 0);
    r.ret[4] = sys(SYS_connect, c1, &server, sizeof(server));
    r.value[1] = boundPort(c1);
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    r.ret[5] = sys(SYS_accept, l, &peer, &len);
    long c2 = r.ret[6] = sys(SYS_socket, AF_INET, SOCK_STREAM, 0);
    r.ret[7] = sys(SYS_connect, c2, &server, sizeof(server));
    r.value[2] = boundPort(c2);
    len = sizeof(peer);
    r.ret[8] = sys(SYS_accept4, l, &peer, &len, SOCK_CLOEXEC);
    // Bound but not listening: refused.
    long d = r.ret[9] = sys(SYS_socket, AF_INET, SOCK_STREAM, 0);
    r.ret[10] = sys(SYS_bind, d, &any, sizeof(any));
    sockaddr_in closed = ipv4(uint16_t(r.value[3] = boundPort(d)));
    long c3 = r.ret[11] = sys(SYS_socket, AF_INET, SOCK_STREAM, 0);
    r.ret[12] = sys(SYS_connect, c3, &closed, sizeof(closed));
    r.ret[13] = sys(SYS_listen, 999, 1);
    r.ret[14] = sys(SYS_socket, 12345, SOCK_STREAM, 0);
  });
  const Results& r = *sharedResults();
  for (int i : {0, 3, 5, 6, 8, 9, 11}) {
    ASSERT_GE(r.ret[i], 0) << "call " << i;
  }
  for (int i : {1, 2, 4, 7, 10}) {
    ASSERT_EQ(r.ret[i], 0) << "call " << i;
  }
  ASSERT_EQ(r.ret[12], -ECONNREFUSED);
  ASSERT_EQ(r.ret[13], -EBADF);
  ASSERT_EQ(r.ret[14], -EAFNOSUPPORT);
  const uint32_t port = uint32_t(r.value[0]), c1_port = uint32_t(r.value[1]), c2_port = uint32_t(r.value[2]),
                 closed_port = uint32_t(r.value[3]);
  settle(h, pid);

  auto socket = callsOf(h.sink(), pid, "socket");
  ASSERT_EQ(socket.size(), 6u) << "socket events";
  expectCall(socket[0], pid, "socket", r.ret[0]);
  expectNum(socket[0], "domain", AF_INET, "AF_INET");
  expectNum(socket[0], "type", SOCK_STREAM | SOCK_CLOEXEC, "SOCK_STREAM|SOCK_CLOEXEC");
  expectNum(socket[0], "protocol", 0);
  expectCall(socket[1], pid, "socket", r.ret[3]);
  expectNum(socket[1], "type", SOCK_STREAM, "SOCK_STREAM");
  expectCall(socket[5], pid, "socket", -EAFNOSUPPORT);
  expectNum(socket[5], "domain", 12345);

  auto bind = callsOf(h.sink(), pid, "bind");
  ASSERT_EQ(bind.size(), 2u) << "bind events";
  expectCall(bind[0], pid, "bind", 0);
  expectNum(bind[0], "sockfd", r.ret[0]);
  expectSockaddr(bind[0], "addr", "AF_INET", "127.0.0.1", 0);
  expectNum(bind[0], "addrlen", sizeof(sockaddr_in));

  auto listen = callsOf(h.sink(), pid, "listen");
  ASSERT_EQ(listen.size(), 2u) << "listen events";
  expectCall(listen[0], pid, "listen", 0);
  expectNum(listen[0], "sockfd", r.ret[0]);
  expectNum(listen[0], "backlog", 7);
  expectCall(listen[1], pid, "listen", -EBADF);
  expectNum(listen[1], "sockfd", 999);

  auto connect = callsOf(h.sink(), pid, "connect");
  ASSERT_EQ(connect.size(), 3u) << "connect events";
  expectCall(connect[0], pid, "connect", 0);
  expectNum(connect[0], "sockfd", r.ret[3]);
  expectSockaddr(connect[0], "addr", "AF_INET", "127.0.0.1", port);
  expectNum(connect[0], "addrlen", sizeof(sockaddr_in));
  expectCall(connect[1], pid, "connect", 0);
  expectSockaddr(connect[1], "addr", "AF_INET", "127.0.0.1", port);
  expectCall(connect[2], pid, "connect", -ECONNREFUSED);
  expectNum(connect[2], "sockfd", r.ret[11]);
  expectSockaddr(connect[2], "addr", "AF_INET", "127.0.0.1", closed_port);

  // accept's address is an OUT argument: the peer, read at exit.
  auto accept = callsOf(h.sink(), pid, "accept");
  ASSERT_EQ(accept.size(), 1u) << "accept events";
  expectCall(accept[0], pid, "accept", r.ret[5]);
  expectNum(accept[0], "sockfd", r.ret[0]);
  expectSockaddr(accept[0], "addr", "AF_INET", "127.0.0.1", c1_port);
  EXPECT_NE(number(argOf(accept[0], "addrlen")).value_or(0), 0);

  auto accept4 = callsOf(h.sink(), pid, "accept4");
  ASSERT_EQ(accept4.size(), 1u) << "accept4 events";
  expectCall(accept4[0], pid, "accept4", r.ret[8]);
  expectNum(accept4[0], "sockfd", r.ret[0]);
  expectSockaddr(accept4[0], "addr", "AF_INET", "127.0.0.1", c2_port);
  expectNum(accept4[0], "flags", SOCK_CLOEXEC, "SOCK_CLOEXEC");
  expectNoLoss(h);
}

TEST_P(SyscallTest, SocketsIpv6AndUnix) {
  AgentHarness h(config({"socket", "bind", "listen", "connect", "accept", "accept4"}));
  const std::string path = dir_ + "/sock", missing = dir_ + "/missing-sock";
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  snprintf(un.sun_path, sizeof(un.sun_path), "%s", path.c_str());
  sockaddr_un un_missing{};
  un_missing.sun_family = AF_UNIX;
  snprintf(un_missing.sun_path, sizeof(un_missing.sun_path), "%s", missing.c_str());
  const socklen_t un_len = socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  const socklen_t un_missing_len = socklen_t(offsetof(sockaddr_un, sun_path) + missing.size() + 1);
  pid_t pid = runChild([&](Results& r) {
    long l = r.ret[0] = sys(SYS_socket, AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 any{};
    any.sin6_family = AF_INET6;
    any.sin6_addr = in6addr_loopback;
    r.ret[1] = sys(SYS_bind, l, &any, sizeof(any));
    sockaddr_in6 server = any;
    server.sin6_port = htons(uint16_t(r.value[0] = boundPort(l)));
    r.ret[2] = sys(SYS_listen, l, 3);
    long c = r.ret[3] = sys(SYS_socket, AF_INET6, SOCK_STREAM, 0);
    r.ret[4] = sys(SYS_connect, c, &server, sizeof(server));
    r.value[1] = boundPort(c);
    sockaddr_in6 peer{};
    socklen_t len = sizeof(peer);
    r.ret[5] = sys(SYS_accept, l, &peer, &len);

    long lu = r.ret[6] = sys(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    r.ret[7] = sys(SYS_bind, lu, &un, un_len);
    r.ret[8] = sys(SYS_listen, lu, 2);
    long cu = r.ret[9] = sys(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    r.ret[10] = sys(SYS_connect, cu, &un, un_len);
    sockaddr_un upeer{};
    len = sizeof(upeer);
    r.ret[11] = sys(SYS_accept4, lu, &upeer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    long cu2 = r.ret[12] = sys(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    r.ret[13] = sys(SYS_connect, cu2, &un_missing, un_missing_len);
  });
  const Results& r = *sharedResults();
  for (int i : {0, 3, 5, 6, 9, 11, 12}) {
    ASSERT_GE(r.ret[i], 0) << "call " << i;
  }
  for (int i : {1, 2, 4, 7, 8, 10}) {
    ASSERT_EQ(r.ret[i], 0) << "call " << i;
  }
  ASSERT_EQ(r.ret[13], -ENOENT);
  settle(h, pid);

  auto socket = callsOf(h.sink(), pid, "socket");
  ASSERT_EQ(socket.size(), 5u) << "socket events";
  expectCall(socket[0], pid, "socket", r.ret[0]);
  expectNum(socket[0], "domain", AF_INET6, "AF_INET6");
  expectCall(socket[2], pid, "socket", r.ret[6]);
  expectNum(socket[2], "domain", AF_UNIX, "AF_UNIX");
  expectNum(socket[2], "type", SOCK_STREAM, "SOCK_STREAM");

  auto bind = callsOf(h.sink(), pid, "bind");
  ASSERT_EQ(bind.size(), 2u) << "bind events";
  expectCall(bind[0], pid, "bind", 0);
  expectSockaddr(bind[0], "addr", "AF_INET6", "::1", 0);
  expectNum(bind[0], "addrlen", sizeof(sockaddr_in6));
  expectCall(bind[1], pid, "bind", 0);
  expectSockaddr(bind[1], "addr", "AF_UNIX", "", 0, path);
  expectNum(bind[1], "addrlen", un_len);

  auto connect = callsOf(h.sink(), pid, "connect");
  ASSERT_EQ(connect.size(), 3u) << "connect events";
  expectCall(connect[0], pid, "connect", 0);
  expectSockaddr(connect[0], "addr", "AF_INET6", "::1", uint32_t(r.value[0]));
  expectCall(connect[1], pid, "connect", 0);
  expectSockaddr(connect[1], "addr", "AF_UNIX", "", 0, path);
  expectCall(connect[2], pid, "connect", -ENOENT);
  expectSockaddr(connect[2], "addr", "AF_UNIX", "", 0, missing);

  auto listen = callsOf(h.sink(), pid, "listen");
  ASSERT_EQ(listen.size(), 2u) << "listen events";
  expectCall(listen[0], pid, "listen", 0);
  expectNum(listen[0], "backlog", 3);
  expectCall(listen[1], pid, "listen", 0);
  expectNum(listen[1], "sockfd", r.ret[6]);

  auto accept = callsOf(h.sink(), pid, "accept");
  ASSERT_EQ(accept.size(), 1u) << "accept events";
  expectCall(accept[0], pid, "accept", r.ret[5]);
  expectSockaddr(accept[0], "addr", "AF_INET6", "::1", uint32_t(r.value[1]));

  // The peer of a unix connection from an unbound socket has no path.
  auto accept4 = callsOf(h.sink(), pid, "accept4");
  ASSERT_EQ(accept4.size(), 1u) << "accept4 events";
  expectCall(accept4[0], pid, "accept4", r.ret[11]);
  expectNum(accept4[0], "sockfd", r.ret[6]);
  expectSockaddr(accept4[0], "addr", "AF_UNIX", "", 0, "");
  expectNum(accept4[0], "flags", SOCK_NONBLOCK | SOCK_CLOEXEC, "SOCK_NONBLOCK|SOCK_CLOEXEC");
  expectNoLoss(h);
}

// ---- exec -------------------------------------------------------------------

// Failed execs are syscall events; a successful one is the exec event only.
TEST_P(SyscallTest, OnlyFailedExecsAreSyscallEvents) {
  AgentHarness h(config({"execve", "execveat"}));
  const std::string missing = dir_ + "/missing", plain = dir_ + "/plain";
  touch(plain, 0644);
  int dirfd = ::open(dir_.c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(dirfd, 0);
  static const char* argv[] = {"vigil-exec", "arg", nullptr};
  static const char* envp[] = {"VIGIL=1", nullptr};
  static const char* true_argv[] = {"/bin/true", "vigil-exec-ok", nullptr};
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_execve, missing.c_str(), argv, envp);
    r.ret[1] = sys(SYS_execveat, dirfd, "missing", argv, envp, 0);
    r.ret[2] = sys(SYS_execveat, dirfd, "plain", argv, envp, 0); // not executable
    r.ret[3] = sys(SYS_execve, "/bin/true", true_argv, envp);
    _exit(99); // the exec failed
  });
  close(dirfd);
  const Results& r = *sharedResults();
  EXPECT_EQ(r.ret[0], -ENOENT);
  EXPECT_EQ(r.ret[1], -ENOENT);
  EXPECT_EQ(r.ret[2], -EACCES);
  settle(h, pid);
  ASSERT_TRUE(h.sink().waitFor(
      [pid](const Event& e) { return e.has_exec() && e.exec().process().pid() == uint32_t(pid); },
      std::chrono::milliseconds(0)))
      << "the successful exec is an exec event";

  auto execve = callsOf(h.sink(), pid, "execve");
  ASSERT_EQ(execve.size(), 1u) << "execve events";
  expectCall(execve[0], pid, "execve", -ENOENT);
  expectStr(execve[0], "pathname", missing);
  expectNum(execve[0], "argv", int64_t(reinterpret_cast<uintptr_t>(argv)));
  expectNum(execve[0], "envp", int64_t(reinterpret_cast<uintptr_t>(envp)));

  auto execveat = callsOf(h.sink(), pid, "execveat");
  ASSERT_EQ(execveat.size(), 2u) << "execveat events";
  expectCall(execveat[0], pid, "execveat", -ENOENT);
  expectNum(execveat[0], "dirfd", dirfd);
  expectPathArg(execveat[0], "pathname", "missing", missing);
  expectNum(execveat[0], "flags", 0);
  expectCall(execveat[1], pid, "execveat", -EACCES);
  expectPathArg(execveat[1], "pathname", "plain", plain);
  expectNoLoss(h);
}

// ---- counters and cgroup filters -------------------------------------------

class SyscallCgroupTest : public SyscallTest {
protected:
  void SetUp() override {
    SyscallTest::SetUp();
    if (IsSkipped()) {
      return;
    }
    if (std::string mount = runtime::cgroup2Mount(); !mount.empty()) {
      root_ = mount;
    }
    if (!root_) {
      GTEST_SKIP() << "no cgroup v2 hierarchy mounted";
    }
  }
  std::optional<std::string> root_;
};

TEST_P(SyscallCgroupTest, CountsPerCgroupAndSyscall) {
  constexpr int kCalls = 100;
  TestCgroup cg(*root_);
  AgentConfig c = config({});
  c.syscalls.count = {"getppid"};
  AgentHarness h(c);
  ASSERT_NE(h.agent().collector<syscall::SyscallCollector>("syscall"), nullptr);

  pid_t pid = runChildIn(cg, [](Results& r) {
    for (int i = 0; i < kCalls; ++i) {
      r.ret[0] += sys(SYS_getppid) > 0 ? 1 : 0;
    }
  });
  ASSERT_EQ(sharedResults()->ret[0], kCalls);
  settle(h, pid);
  auto counts = h.agent().collector<syscall::SyscallCollector>("syscall")->counts();
  ASSERT_TRUE(counts) << counts.error().message();
  const uint32_t nr = syscall::syscallNumber("getppid").value();
  ASSERT_EQ(nr, uint32_t(SYS_getppid));
  auto it = counts->find({cg.id(), nr});
  ASSERT_NE(it, counts->end()) << "no count for cgroup " << cg.id();
  EXPECT_EQ(it->second, uint64_t(kCalls));
  // Counted only: no syscall events.
  EXPECT_THAT(allCallsOf(h.sink(), pid), IsEmpty());
  // Nothing else was counted in that cgroup.
  for (const auto& [key, n] : *counts) {
    if (key.first == cg.id()) {
      EXPECT_EQ(key.second, nr) << "counted " << syscall::syscallName(key.second);
    }
  }
  expectNoLoss(h);
}

// A traced call is counted as well as reported: records recorded whole at
// exit are counted by the agent as it reads them, the rest by the kernel.
TEST_P(SyscallCgroupTest, TracedCallsAreCountedOnce) {
  constexpr int kCalls = 100;
  TestCgroup cg(*root_);
  AgentHarness h(config({"getppid", "memfd_create"}));

  pid_t pid = runChildIn(cg, [](Results& r) {
    for (int i = 0; i < kCalls; ++i) {
      r.ret[0] += sys(SYS_getppid) > 0 ? 1 : 0;
    }
    int fd = int(sys(SYS_memfd_create, "vigil-counted", 0));
    r.ret[1] = fd;
    close(fd);
  });
  ASSERT_EQ(sharedResults()->ret[0], kCalls);
  ASSERT_GE(sharedResults()->ret[1], 0);
  settle(h, pid);
  size_t getppids = 0;
  for (const auto& call : allCallsOf(h.sink(), pid)) {
    if (call.name() == "getppid") {
      ++getppids;
      // No decoded spec: named and counted as its tracepoint format says (none).
      EXPECT_EQ(call.args_size(), 0);
    }
  }
  EXPECT_EQ(getppids, size_t(kCalls));
  auto counts = h.agent().collector<syscall::SyscallCollector>("syscall")->counts();
  ASSERT_TRUE(counts) << counts.error().message();
  auto it = counts->find({cg.id(), uint32_t(SYS_getppid)});
  ASSERT_NE(it, counts->end());
  EXPECT_EQ(it->second, uint64_t(kCalls));
  it = counts->find({cg.id(), uint32_t(SYS_memfd_create)});
  ASSERT_NE(it, counts->end());
  EXPECT_EQ(it->second, 1u);
  expectNoLoss(h);
}

// Load shedding: a cgroup over the rate limit loses records on purpose, and
// says how many, so delivered + suppressed is exactly what it made.
TEST_P(SyscallCgroupTest, RateLimitDropsAreCountedInSummaries) {
  constexpr int kCalls = 3000;
  constexpr uint32_t kBurst = 20;
  TestCgroup cg(*root_);
  AgentConfig c = config({"getppid"});
  c.syscalls.rate_limit_per_second = 100;
  c.syscalls.rate_limit_burst = kBurst;
  AgentHarness h(c);

  pid_t pid = runChildIn(cg, [](Results& r) {
    for (int i = 0; i < kCalls; ++i) {
      r.ret[0] += sys(SYS_getppid) > 0 ? 1 : 0;
    }
  });
  ASSERT_EQ(sharedResults()->ret[0], kCalls);

  // The cgroup has gone quiet: the agent's sweep reports what the limit
  // dropped once the cgroup has been idle for a second.
  uint64_t delivered = 0, suppressed = 0, summaries = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    delivered = suppressed = summaries = 0;
    for (const auto& e : h.sink().snapshot()) {
      if (e.has_syscall() && e.syscall().process().pid() == uint32_t(pid) && e.syscall().name() == "getppid") {
        ++delivered;
      }
      if (e.has_suppressed() && e.suppressed().cgroup_id() == cg.id()) {
        EXPECT_EQ(e.suppressed().kind(), "syscall");
        EXPECT_EQ(e.suppressed().reason(), "rate_limit");
        EXPECT_GT(e.suppressed().count(), 0u);
        suppressed += e.suppressed().count();
        ++summaries;
      }
    }
    if (delivered + suppressed >= uint64_t(kCalls)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(delivered + suppressed, uint64_t(kCalls)) << "delivered " << delivered << ", suppressed " << suppressed;
  EXPECT_GE(delivered, uint64_t(kBurst)) << "the burst passes";
  EXPECT_LT(delivered, uint64_t(kCalls) / 2) << "the limit held";
  EXPECT_GE(summaries, 1u);
  EXPECT_GE(kernelCounter(h, VIGIL_CNT_RATE_LIMITED), suppressed);
  // Every call is counted once: the suppressed ones by the kernel, the
  // delivered ones (recorded whole at exit) by the agent.
  auto counts = h.agent().collector<syscall::SyscallCollector>("syscall")->counts();
  ASSERT_TRUE(counts) << counts.error().message();
  auto it = counts->find({cg.id(), uint32_t(SYS_getppid)});
  ASSERT_NE(it, counts->end());
  EXPECT_EQ(it->second, uint64_t(kCalls));
  expectNoLoss(h);
}

TEST_P(SyscallCgroupTest, IncludeCgroupReportsOnlyThatCgroup) {
  TestCgroup cg(*root_);
  AgentConfig c = config({"memfd_create"});
  c.syscalls.include_cgroups = {cg.path()};
  AgentHarness h(c);
  const uint64_t filtered_before = kernelCounter(h, VIGIL_CNT_SYS_CGROUP_FILTERED);

  pid_t inside = runChildIn(cg, [](Results& r) { r.ret[0] = sys(SYS_memfd_create, "vigil-inside", 0); });
  const long inside_ret = sharedResults()->ret[0];
  ASSERT_GE(inside_ret, 0);
  pid_t outside = runChild([](Results& r) { r.ret[0] = sys(SYS_memfd_create, "vigil-outside", 0); });
  pid_t sentinel = runChildIn(cg, [](Results& r) { r.ret[0] = sys(SYS_memfd_create, "vigil-sentinel", 0); });
  ASSERT_TRUE(h.sink().waitFor([&](const Event& e) { return isCall(e, sentinel, "memfd_create"); }))
      << "no event from the included cgroup";

  auto in = callsOf(h.sink(), inside, "memfd_create");
  ASSERT_EQ(in.size(), 1u);
  expectCall(in[0], inside, "memfd_create", inside_ret);
  expectStr(in[0], "name", "vigil-inside");
  EXPECT_EQ(in[0].process().cgroup_id(), cg.id());
  EXPECT_THAT(callsOf(h.sink(), outside, "memfd_create"), IsEmpty()) << "a process outside the cgroup was reported";
  EXPECT_GE(kernelCounter(h, VIGIL_CNT_SYS_CGROUP_FILTERED), filtered_before + 1);
  expectNoLoss(h);
}

TEST_P(SyscallCgroupTest, ExcludeCgroupHidesThatCgroup) {
  TestCgroup cg(*root_);
  AgentConfig c = config({"memfd_create"});
  c.syscalls.exclude_cgroups = {cg.path()};
  AgentHarness h(c);

  pid_t inside = runChildIn(cg, [](Results& r) { r.ret[0] = sys(SYS_memfd_create, "vigil-inside", 0); });
  pid_t outside = runChild([](Results& r) { r.ret[0] = sys(SYS_memfd_create, "vigil-outside", 0); });
  const long outside_ret = sharedResults()->ret[0];
  auto ev = h.sink().waitFor([&](const Event& e) { return isCall(e, outside, "memfd_create"); });
  ASSERT_TRUE(ev) << "no event from outside the excluded cgroup";
  expectCall(ev->syscall(), outside, "memfd_create", outside_ret);
  expectStr(ev->syscall(), "name", "vigil-outside");
  EXPECT_NE(ev->syscall().process().cgroup_id(), cg.id());
  EXPECT_THAT(callsOf(h.sink(), inside, "memfd_create"), IsEmpty()) << "the excluded cgroup was reported";
  EXPECT_GE(kernelCounter(h, VIGIL_CNT_SYS_CGROUP_FILTERED), 1u);
  expectNoLoss(h);
}

// ---- the agent itself ------------------------------------------------------

// With the agent's own forks reported, the child is in the process cache: its
// events carry the cached image (binary, parent) with the thread, ids, comm
// and cgroup as they were at the call.
TEST_P(SyscallTest, CallerIsTheCachedImageAsAtTheCall) {
  AgentConfig c = config({"openat"});
  c.report_self = true;
  AgentHarness h(c);
  const std::string f = dir_ + "/f";
  touch(f);
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0); // nobody opens f too
  touch(dir_ + "/own"); // reported too: the counterpart of AgentsOwnSyscallsAreNotReported
  pid_t pid = runChild([&](Results& r) {
    r.ret[0] = sys(SYS_openat, AT_FDCWD, f.c_str(), O_RDONLY, 0);
    sys(SYS_prctl, PR_SET_NAME, "vigil-renamed", 0, 0, 0);
    sys(SYS_setgid, kNobody);
    sys(SYS_setuid, kNobody);
    r.ret[1] = sys(SYS_openat, AT_FDCWD, f.c_str(), O_RDONLY, 0);
  });
  const Results& r = *sharedResults();
  ASSERT_GE(r.ret[0], 0);
  ASSERT_GE(r.ret[1], 0);
  settle(h, pid);
  auto fork = h.sink().waitFor(
      [pid](const Event& e) { return e.has_fork() && e.fork().process().pid() == uint32_t(pid); },
      std::chrono::milliseconds(0));
  ASSERT_TRUE(fork) << "no fork event for the child";
  EXPECT_TRUE(h.sink().waitFor(
      [&](const Event& e) { return isCall(e, getpid(), "openat") && e.syscall().file().path() == dir_ + "/own"; },
      std::chrono::milliseconds(0)))
      << "with report_self the agent's own open is reported";

  auto opens = callsOf(h.sink(), pid, "openat");
  ASSERT_EQ(opens.size(), 2u) << "openat events";
  for (const auto& s : opens) {
    expectCall(s, pid, "openat", s.ret());
    const v1::Process& p = s.process();
    EXPECT_EQ(p.exec_id(), fork->fork().process().exec_id());
    EXPECT_EQ(p.binary(), realPath("/proc/self/exe"));
    EXPECT_EQ(p.ppid(), uint32_t(getpid()));
    ASSERT_TRUE(s.has_parent());
    EXPECT_EQ(s.parent().pid(), uint32_t(getpid()));
    EXPECT_EQ(s.parent().exec_id(), p.parent_exec_id());
  }
  EXPECT_EQ(opens[0].ret(), r.ret[0]);
  EXPECT_EQ(opens[0].process().comm(), selfComm());
  EXPECT_EQ(opens[0].process().creds().uid(), 0u);
  EXPECT_EQ(opens[1].ret(), r.ret[1]);
  EXPECT_EQ(opens[1].process().comm(), "vigil-renamed");
  EXPECT_EQ(opens[1].process().creds().uid(), kNobody);
  EXPECT_EQ(opens[1].process().creds().gid(), kNobody);
  expectNoLoss(h);
}

TEST_P(SyscallTest, AgentsOwnSyscallsAreNotReported) {
  AgentHarness h(config({"openat", "memfd_create"}));
  const std::string own = dir_ + "/own", sentinel = dir_ + "/sentinel";
  touch(own); // this process: the agent's
  int fd = memfd_create("vigil-own", 0);
  ASSERT_GE(fd, 0);
  close(fd);
  pid_t pid = runChild([&](Results& r) { r.ret[0] = sys(SYS_openat, AT_FDCWD, sentinel.c_str(), O_RDONLY, 0); });
  EXPECT_EQ(sharedResults()->ret[0], -ENOENT);
  settle(h, pid);
  ASSERT_EQ(callsOf(h.sink(), pid, "openat").size(), 1u);
  EXPECT_THAT(allCallsOf(h.sink(), getpid()), IsEmpty());
  expectNoLoss(h);
}

} // namespace
} // namespace vigil::test

namespace vigil::syscall {
// Test parameters print as their names.
void PrintTo(HookMode mode, std::ostream* os) { *os << hookModeName(mode); }
} // namespace vigil::syscall

namespace vigil::test {
namespace {

auto hookName = [](const auto& info) { return std::string(syscall::hookModeName(info.param)); };

INSTANTIATE_TEST_SUITE_P(Hooks, SyscallTest,
                         ::testing::Values(syscall::HookMode::Tracepoint, syscall::HookMode::Dispatcher), hookName);
INSTANTIATE_TEST_SUITE_P(Hooks, SyscallCgroupTest,
                         ::testing::Values(syscall::HookMode::Tracepoint, syscall::HookMode::Dispatcher), hookName);

} // namespace
} // namespace vigil::test
