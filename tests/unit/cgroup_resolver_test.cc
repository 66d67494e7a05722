// Cgroup id -> path -> container over a directory tree standing in for the
// cgroup2 mount (a directory's inode number is its id): misses and the
// rescan throttle, ids known gone, vanished directories, the size cap, scan
// bounds, the /proc fallback, and one look at the real cgroup2 mount.

#include "agent/enrich/cgroup_resolver.h"
#include "collectors/runtime/bpf_env.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace vigil::enrich {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kSecond = 1'000'000'000;

const std::string kC1 = "54226bf88af0d06b5708c4bf43575ab3623ee8606c55331412dadd9f8ffc8ef4";
const std::string kC2 = "a9920ae05ca958ed7a6736ef05b82ef270de01071bedefc8d97bc4b9ef476159";
const std::string kU1 = "4ec278d9-5319-47f3-b8dd-092c8cdcfdbd";
const std::string kPodSlice =
    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod4ec278d9_5319_47f3_b8dd_092c8cdcfdbd.slice";
const std::string kContainer1 = kPodSlice + "/cri-containerd-" + kC1 + ".scope";
const std::string kContainer2 = kPodSlice + "/cri-containerd-" + kC2 + ".scope";

// A throwaway directory tree.
class TempTree {
public:
  TempTree() {
    std::string pattern = (fs::temp_directory_path() / "vigil-cgroup-XXXXXX").string();
    root_ = mkdtemp(pattern.data());
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  const std::string& root() const { return root_; }
  // Creates rel (a path like "/a/b", parents too) and returns its id.
  uint64_t mkdir(const std::string& rel) {
    fs::create_directories(root_ + rel);
    return id(rel);
  }
  uint64_t id(const std::string& rel) const {
    struct stat st;
    EXPECT_EQ(stat((root_ + rel).c_str(), &st), 0) << rel;
    return st.st_ino;
  }
  void rmdir(const std::string& rel) { fs::remove_all(root_ + rel); }
  void file(const std::string& rel, const std::string& content) { std::ofstream(root_ + rel) << content; }

private:
  std::string root_;
};

// Options with a hand-driven clock.
struct Clock {
  uint64_t now = 1000 * kSecond;
};

CgroupResolverOptions optionsWith(Clock& clock) {
  CgroupResolverOptions options;
  options.now_ns = [&clock] { return clock.now; };
  options.monotonic_ids = false; // ext4 and tmpfs reuse inode numbers
  return options;
}

// An id no directory has.
constexpr uint64_t kUnknownId = ~0ULL - 7;

TEST(CgroupResolverTest, ResolvesPathsAndContainers) {
  TempTree tree;
  uint64_t c1 = tree.mkdir(kContainer1);
  uint64_t ssh = tree.mkdir("/system.slice/ssh.service");
  tree.file("/system.slice/cgroup.procs", "1\n"); // interface files are not cgroups
  fs::create_directory_symlink(tree.root(), tree.root() + "/system.slice/loop"); // never followed
  Clock clock;
  CgroupResolver resolver(tree.root(), optionsWith(clock));

  EXPECT_EQ(resolver.path(tree.id("")), "/");
  EXPECT_EQ(resolver.path(c1), kContainer1);
  EXPECT_EQ(resolver.path(tree.id("/kubepods.slice")), "/kubepods.slice");
  EXPECT_EQ(resolver.path(ssh), "/system.slice/ssh.service");

  auto ref = resolver.container(c1);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(*ref, (ContainerRef{"containerd", kC1, kU1, "burstable", false}));
  EXPECT_FALSE(resolver.container(ssh).has_value());
  EXPECT_FALSE(resolver.container(tree.id("")).has_value());
  EXPECT_EQ(resolver.container(c1), ref); // from the cache

  CgroupResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.rescans, 1u);
  EXPECT_EQ(stats.misses, 1u); // only the very first lookup
  EXPECT_EQ(stats.hits, 7u);
  // Root, kubepods.slice, burstable slice, pod slice, container, system.slice, ssh.service.
  EXPECT_EQ(stats.entries, 7u);
  EXPECT_EQ(stats.scan_truncated, 0u);
}

TEST(CgroupResolverTest, MissesRescanAtMostOncePerInterval) {
  TempTree tree;
  tree.mkdir(kContainer1);
  Clock clock;
  CgroupResolver resolver(tree.root(), optionsWith(clock));

  // A flood of unknown ids: one scan, the rest throttled.
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(resolver.path(kUnknownId - static_cast<uint64_t>(i % 10)).has_value());
  }
  CgroupResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.rescans, 1u);
  EXPECT_EQ(stats.misses, 1000u);
  EXPECT_EQ(stats.throttled, 999u);
  EXPECT_EQ(stats.unresolved, 1000u);

  // A container created after the scan stays unknown until the interval has passed.
  uint64_t c2 = tree.mkdir(kContainer2);
  clock.now += kSecond / 2;
  EXPECT_FALSE(resolver.container(c2).has_value());
  EXPECT_EQ(resolver.stats().rescans, 1u);
  clock.now += kSecond / 2;
  auto ref = resolver.container(c2);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->id, kC2);
  EXPECT_EQ(resolver.stats().rescans, 2u);

  // Known ids never wait for the throttle.
  EXPECT_EQ(resolver.path(tree.id(kContainer1)), kContainer1);
  EXPECT_EQ(resolver.stats().rescans, 2u);
}

TEST(CgroupResolverTest, IntervalIsConfigurable) {
  TempTree tree;
  Clock clock;
  CgroupResolverOptions options = optionsWith(clock);
  options.rescan_interval_ns = 10 * kSecond;
  CgroupResolver resolver(tree.root(), options);
  EXPECT_FALSE(resolver.path(kUnknownId).has_value());
  clock.now += 9 * kSecond;
  EXPECT_FALSE(resolver.path(kUnknownId).has_value());
  EXPECT_EQ(resolver.stats().rescans, 1u);
  clock.now += kSecond;
  EXPECT_FALSE(resolver.path(kUnknownId).has_value());
  EXPECT_EQ(resolver.stats().rescans, 2u);
}

TEST(CgroupResolverTest, VanishedDirectoriesAreDropped) {
  TempTree tree;
  uint64_t c1 = tree.mkdir(kContainer1);
  uint64_t c2 = tree.mkdir(kContainer2);
  Clock clock;
  CgroupResolver resolver(tree.root(), optionsWith(clock));
  ASSERT_TRUE(resolver.container(c1).has_value());
  ASSERT_TRUE(resolver.container(c2).has_value());
  uint64_t before = resolver.stats().entries;

  tree.rmdir(kContainer1);
  // Still cached until a rescan notices.
  EXPECT_EQ(resolver.path(c1), kContainer1);

  clock.now += kSecond;
  EXPECT_TRUE(resolver.rescan());
  CgroupResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.vanished, 1u);
  EXPECT_EQ(stats.entries, before - 1);
  EXPECT_EQ(resolver.path(c2), kContainer2);
  clock.now += kSecond;
  EXPECT_FALSE(resolver.path(c1).has_value());
}

TEST(CgroupResolverTest, IdsBelowTheLastCompleteScanAreGoneWithoutRescan) {
  TempTree tree;
  uint64_t c1 = tree.mkdir(kContainer1);
  tree.mkdir(kContainer2);
  Clock clock;
  CgroupResolverOptions options = optionsWith(clock);
  options.monotonic_ids = true;
  CgroupResolver resolver(tree.root(), options);
  ASSERT_TRUE(resolver.rescan()); // the largest id seen now bounds c1 from above

  tree.rmdir(kContainer1);
  clock.now += kSecond;
  ASSERT_TRUE(resolver.rescan()); // sees c1 gone: every id up to that bound not cached is gone
  EXPECT_EQ(resolver.stats().vanished, 1u);

  // Late events of the removed container: no rescan, however long after.
  for (int i = 0; i < 5; ++i) {
    clock.now += 10 * kSecond;
    EXPECT_FALSE(resolver.container(c1).has_value());
  }
  CgroupResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.rescans, 2u);
  EXPECT_EQ(stats.gone, 5u);
  EXPECT_EQ(stats.throttled, 0u);

  // An id above every one seen may be a new cgroup: it rescans.
  EXPECT_FALSE(resolver.path(kUnknownId).has_value());
  EXPECT_EQ(resolver.stats().rescans, 3u);
}

TEST(CgroupResolverTest, CapEvictsLeastRecentlyUsed) {
  TempTree tree;
  uint64_t a = tree.mkdir("/a/x/y/z");
  uint64_t b = tree.mkdir("/b");
  tree.mkdir("/c/d/e");
  Clock clock;
  CgroupResolverOptions options = optionsWith(clock);
  options.max_entries = 3;
  CgroupResolver resolver(tree.root(), options);

  // 9 directories (root included), 3 kept: the one asked for among them.
  EXPECT_EQ(resolver.path(a), "/a/x/y/z");
  CgroupResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.entries, 3u);
  EXPECT_EQ(stats.evicted, 6u);

  // b is cached by chance or found by a rescan; either way a, used
  // before, stays through the cap.
  clock.now += kSecond;
  EXPECT_EQ(resolver.path(b), "/b");
  uint64_t hits = resolver.stats().hits;
  EXPECT_EQ(resolver.path(a), "/a/x/y/z");
  EXPECT_EQ(resolver.stats().hits, hits + 1);
  EXPECT_EQ(resolver.stats().entries, 3u);
}

TEST(CgroupResolverTest, ScanDepthIsBounded) {
  TempTree tree;
  uint64_t shallow = tree.mkdir("/a/b");
  uint64_t deep = tree.mkdir("/a/b/c/d");
  Clock clock;
  CgroupResolverOptions options = optionsWith(clock);
  options.max_depth = 2;
  CgroupResolver resolver(tree.root(), options);
  EXPECT_EQ(resolver.path(shallow), "/a/b");
  clock.now += kSecond;
  EXPECT_FALSE(resolver.path(deep).has_value());
  CgroupResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.scan_truncated, 2u);
  EXPECT_EQ(stats.entries, 3u); // root, /a, /a/b
}

TEST(CgroupResolverTest, ScanSizeIsBoundedAndTruncatedScansDropNothing) {
  TempTree tree;
  for (int i = 0; i < 10; ++i) {
    tree.mkdir("/dir" + std::to_string(i));
  }
  Clock clock;
  CgroupResolverOptions options = optionsWith(clock);
  options.max_scan_dirs = 4;
  CgroupResolver resolver(tree.root(), options);
  ASSERT_TRUE(resolver.rescan());
  CgroupResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.entries, 4u);
  EXPECT_EQ(stats.scan_truncated, 1u);

  // Whatever the next truncated scan misses stays cached.
  for (int i = 0; i < 10; ++i) {
    tree.rmdir("/dir" + std::to_string(i));
  }
  for (int i = 0; i < 10; ++i) {
    tree.mkdir("/new" + std::to_string(i));
  }
  ASSERT_TRUE(resolver.rescan());
  EXPECT_EQ(resolver.stats().vanished, 0u);
}

TEST(CgroupResolverTest, UnreadableMountIsCountedAndThrottled) {
  Clock clock;
  CgroupResolver resolver("/nonexistent/vigil-cgroup", optionsWith(clock));
  EXPECT_FALSE(resolver.path(1).has_value());
  EXPECT_FALSE(resolver.container(1).has_value());
  EXPECT_FALSE(resolver.rescan());
  CgroupResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.scan_errors, 2u);
  EXPECT_EQ(stats.rescans, 2u);
  EXPECT_EQ(stats.throttled, 1u);
  EXPECT_EQ(stats.entries, 0u);
}

TEST(CgroupResolverTest, ContainerOfPidReadsProc) {
  TempTree proc;
  proc.mkdir("/42");
  proc.file("/42/cgroup", "4:memory:/kubepods/burstable/pod" + kU1 + "/" + kC1 + "\n3:cpuset:/\n0::/\n");
  proc.mkdir("/43");
  proc.file("/43/cgroup", "0::/system.slice/ssh.service\n");
  Clock clock;
  CgroupResolverOptions options = optionsWith(clock);
  options.proc_root = proc.root();
  CgroupResolver resolver("/nonexistent", options);

  auto ref = resolver.containerOfPid(42);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(*ref, (ContainerRef{"kubepods", kC1, kU1, "burstable", false}));
  EXPECT_FALSE(resolver.containerOfPid(43).has_value());
  EXPECT_FALSE(resolver.containerOfPid(44).has_value());
  CgroupResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.pid_lookups, 3u);
  EXPECT_EQ(stats.pid_errors, 1u);
  EXPECT_EQ(stats.rescans, 0u);
}

TEST(Cgroup2MountPointTest, FindsTheCgroup2Mount) {
  const std::string hybrid = "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                             "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory\n"
                             "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(runtime::cgroup2MountPoint(hybrid), "/sys/fs/cgroup/unified");
  EXPECT_EQ(runtime::cgroup2MountPoint("35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 "
                              "cgroup2 rw,nsdelegate,memory_recursiveprot\n"),
            "/sys/fs/cgroup");
  EXPECT_EQ(runtime::cgroup2MountPoint("50 1 0:40 / /mnt/my\\040cgroup rw - cgroup2 none rw\n"), "/mnt/my cgroup");
  EXPECT_FALSE(runtime::cgroup2MountPoint("34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n").has_value());
  EXPECT_FALSE(runtime::cgroup2MountPoint("").has_value());
  EXPECT_FALSE(runtime::cgroup2MountPoint("garbage\n").has_value());
}

// The real thing, unprivileged: this process's own cgroup v2 id resolves to
// the path /proc/self/cgroup names.
TEST(CgroupResolverTest, ResolvesOwnCgroupOnTheRealMount) {
  std::stringstream mountinfo;
  mountinfo << std::ifstream("/proc/self/mountinfo").rdbuf();
  auto mount = runtime::cgroup2MountPoint(mountinfo.str());
  if (!mount) {
    GTEST_SKIP() << "no cgroup2 mount here";
  }
  std::ifstream cgroup_file("/proc/self/cgroup");
  std::string line, own;
  while (std::getline(cgroup_file, line)) {
    if (line.rfind("0::", 0) == 0) {
      own = line.substr(3);
    }
  }
  if (own.empty()) {
    GTEST_SKIP() << "no cgroup v2 line in /proc/self/cgroup";
  }
  struct stat st;
  std::string dir = *mount + (own == "/" ? "" : own);
  if (stat(dir.c_str(), &st) != 0) {
    GTEST_SKIP() << dir << " is not visible (cgroup namespace)";
  }
  CgroupResolver resolver(*mount);
  EXPECT_EQ(resolver.path(st.st_ino), own);
  EXPECT_EQ(resolver.stats().scan_errors, 0u);
}

} // namespace
} // namespace vigil::enrich
