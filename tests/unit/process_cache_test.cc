// Process ancestry cache: parent resolution, what fork and exit events get
// from it, replaced images, ancestor chains, reaping and the size cap.

#include "agent/enrich/process_cache.h"

#include "collectors/process/decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::IsNull;
using ::testing::NotNull;

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kTtl = 10 * kSecond;

// The exec_id of the image of pid that started at start_ns.
std::string idOf(uint32_t pid, uint64_t start_ns) { return process::formatExecId(pid, start_ns); }

// A process image: identity and parent only.
Process bare(uint32_t pid, uint64_t start_ns, uint32_t ppid, uint64_t parent_start_ns) {
  Process p;
  p.set_pid(pid);
  p.set_tid(pid);
  p.set_ppid(ppid);
  p.set_exec_id(idOf(pid, start_ns));
  if (ppid != 0) {
    p.set_parent_exec_id(idOf(ppid, parent_start_ns));
  }
  p.set_start_boot_ns(start_ns);
  return p;
}

// An image with everything an exec record carries.
Process image(uint32_t pid, uint64_t start_ns, uint32_t ppid, uint64_t parent_start_ns, const std::string& binary,
              std::vector<std::string> args, const std::string& cwd = "/") {
  Process p = bare(pid, start_ns, ppid, parent_start_ns);
  p.set_binary(binary);
  for (auto& arg : args) {
    p.add_args(arg);
  }
  p.set_cwd(cwd);
  p.set_filename(binary);
  p.set_exe_inode(1000 + pid);
  p.set_exe_dev("254:1");
  p.set_source(v1::PROCESS_SOURCE_EXEC);
  return p;
}

Event execEvent(Process p, uint64_t now_ns) {
  Event e;
  e.set_ktime_ns(now_ns);
  *e.mutable_exec()->mutable_process() = std::move(p);
  return e;
}

Event forkEvent(uint32_t pid, uint64_t start_ns, uint32_t ppid, uint64_t parent_start_ns, uint64_t now_ns) {
  Event e;
  e.set_ktime_ns(now_ns);
  Process* child = e.mutable_fork()->mutable_process();
  *child = bare(pid, start_ns, ppid, parent_start_ns);
  child->set_source(v1::PROCESS_SOURCE_FORK);
  return e;
}

Event exitEvent(const Process& of, uint64_t now_ns) {
  Event e;
  e.set_ktime_ns(now_ns);
  auto* exit = e.mutable_exit();
  *exit->mutable_process() = bare(of.pid(), of.start_boot_ns(), of.ppid(), 0);
  exit->mutable_process()->set_exec_id(of.exec_id());
  exit->mutable_process()->set_parent_exec_id(of.parent_exec_id());
  return e;
}

void feed(ProcessCache& cache, Event event) { cache.enrich(event); }

class ProcessCacheTest : public ::testing::Test {
protected:
  ProcessCacheTest() : cache_(ProcessCacheOptions{.max_entries = 1000, .ended_ttl_ns = kTtl}) {}

  // init (pid 1) and a login shell (pid 100) running when the agent started.
  void seedSnapshot() {
    Process init = image(1, kInitStart, 0, 0, "/usr/lib/systemd/systemd", {"/sbin/init"});
    init.set_source(v1::PROCESS_SOURCE_SNAPSHOT_ITER);
    cache_.addExisting(std::move(init));
    cache_.addExisting(Process(shell_));
    cache_.finishSnapshot();
  }

  Event enriched(Event event) {
    cache_.enrich(event);
    return event;
  }

  void feed(Event event) { cache_.enrich(event); }

  static constexpr uint64_t kInitStart = 1 * kSecond;
  static constexpr uint64_t kShellStart = 2 * kSecond;

  Process shell_ = [] {
    Process p = image(100, kShellStart, 1, kInitStart, "/usr/bin/bash", {"bash", "-l"}, "/home/user");
    p.set_source(v1::PROCESS_SOURCE_SNAPSHOT_ITER);
    return p;
  }();
  ProcessCache cache_;
};

TEST_F(ProcessCacheTest, ExecGetsItsParentFromTheSnapshot) {
  seedSnapshot();
  Event e = enriched(execEvent(image(200, 50 * kSecond, 100, kShellStart, "/usr/bin/make", {"make", "-j4"}), 50 * kSecond));
  ASSERT_TRUE(e.exec().has_parent());
  const Process& parent = e.exec().parent();
  EXPECT_EQ(parent.pid(), 100u);
  EXPECT_EQ(parent.exec_id(), shell_.exec_id());
  EXPECT_EQ(parent.binary(), "/usr/bin/bash");
  EXPECT_THAT(parent.args(), ElementsAre("bash", "-l"));
  EXPECT_EQ(cache_.stats().parent_hits, 1u);
  EXPECT_EQ(cache_.stats().parent_misses, 0u);

  const Process* recorded = cache_.findByPid(200);
  ASSERT_THAT(recorded, NotNull());
  EXPECT_EQ(recorded->binary(), "/usr/bin/make");
  EXPECT_EQ(cache_.find(idOf(200, 50 * kSecond)), recorded);
}

// A syscall event gets the caller's cached image (capability masks, not the
// name lists) and its parent, with the thread, ids and comm of the call.
TEST_F(ProcessCacheTest, SyscallGetsTheCallersImageAsAtTheCall) {
  seedSnapshot();
  Process make = image(200, 50 * kSecond, 100, kShellStart, "/usr/bin/make", {"make", "-j4"});
  make.mutable_caps()->set_effective_mask(0x3);
  make.mutable_caps()->add_effective("CAP_CHOWN");
  make.mutable_caps()->add_effective("CAP_DAC_OVERRIDE");
  enriched(execEvent(make, 50 * kSecond));

  Event call;
  call.set_ktime_ns(51 * kSecond);
  Process* at_call = call.mutable_syscall()->mutable_process();
  at_call->set_pid(200);
  at_call->set_tid(201);
  at_call->set_exec_id(idOf(200, 50 * kSecond));
  at_call->mutable_creds()->set_uid(65534);
  at_call->set_comm("worker");
  Event e = enriched(std::move(call));
  const Process& p = e.syscall().process();
  EXPECT_EQ(p.binary(), "/usr/bin/make");
  EXPECT_THAT(p.args(), ElementsAre("make", "-j4"));
  EXPECT_EQ(p.tid(), 201u);
  EXPECT_EQ(p.creds().uid(), 65534u);
  EXPECT_EQ(p.comm(), "worker");
  EXPECT_EQ(p.caps().effective_mask(), 0x3u);
  EXPECT_EQ(p.caps().effective_size(), 0);
  EXPECT_EQ(e.syscall().parent().binary(), "/usr/bin/bash");
  EXPECT_EQ(e.syscall().parent().exec_id(), shell_.exec_id());

  // Unknown caller: counted, nothing invented.
  Event stray;
  stray.mutable_syscall()->mutable_process()->set_pid(999);
  Event s2 = enriched(std::move(stray));
  EXPECT_TRUE(s2.syscall().process().binary().empty());
  EXPECT_EQ(cache_.stats().process_misses, 1u);
}

TEST_F(ProcessCacheTest, ParentFallsBackToPpidWhenItsIdIsUnknown) {
  seedSnapshot();
  // The kernel lost the shell's id and derived another one.
  Event e = enriched(execEvent(image(200, 50 * kSecond, 100, 3 * kSecond, "/usr/bin/make", {"make"}), 50 * kSecond));
  ASSERT_TRUE(e.exec().has_parent());
  EXPECT_EQ(e.exec().parent().exec_id(), shell_.exec_id());
  EXPECT_EQ(e.exec().parent().binary(), "/usr/bin/bash");
  EXPECT_EQ(cache_.stats().parent_misses, 0u);
}

TEST_F(ProcessCacheTest, UnknownParentIsCountedAndNotAttached) {
  seedSnapshot();
  Event e = enriched(execEvent(image(200, 50 * kSecond, 999, 3 * kSecond, "/usr/bin/make", {"make"}), 50 * kSecond));
  EXPECT_FALSE(e.exec().has_parent());
  EXPECT_EQ(cache_.stats().parent_misses, 1u);
  EXPECT_EQ(cache_.stats().parent_hits, 0u);
  // The image itself is still recorded.
  EXPECT_THAT(cache_.findByPid(200), NotNull());
}

TEST_F(ProcessCacheTest, ForkChildInheritsTheImageButNotTheCwd) {
  seedSnapshot();
  Event e = enriched(forkEvent(300, 60 * kSecond, 100, kShellStart, 60 * kSecond));
  const Process& child = e.fork().process();
  EXPECT_EQ(child.pid(), 300u);
  EXPECT_EQ(child.exec_id(), idOf(300, 60 * kSecond));
  EXPECT_EQ(child.binary(), "/usr/bin/bash");
  EXPECT_THAT(child.args(), ElementsAre("bash", "-l"));
  EXPECT_EQ(child.filename(), "/usr/bin/bash");
  EXPECT_EQ(child.exe_inode(), shell_.exe_inode());
  EXPECT_EQ(child.exe_dev(), "254:1");
  EXPECT_EQ(child.cwd(), ""); // may have moved since the parent's exec
  EXPECT_FALSE(child.cwd_truncated());
  EXPECT_EQ(child.source(), v1::PROCESS_SOURCE_FORK);
  ASSERT_TRUE(e.fork().has_parent());
  EXPECT_EQ(e.fork().parent().pid(), 100u);
  EXPECT_EQ(e.fork().parent().cwd(), "/home/user");

  const Process* recorded = cache_.findByPid(300);
  ASSERT_THAT(recorded, NotNull());
  EXPECT_EQ(recorded->binary(), "/usr/bin/bash");
  EXPECT_EQ(recorded->cwd(), "");
}

TEST_F(ProcessCacheTest, ExitGetsTheImageFromTheCache) {
  seedSnapshot();
  Process make = image(200, 50 * kSecond, 100, kShellStart, "/usr/bin/make", {"make", "all"}, "/src");
  feed(execEvent(make, 50 * kSecond));
  Event e = enriched(exitEvent(make, 70 * kSecond));
  const Process& p = e.exit().process();
  EXPECT_EQ(p.binary(), "/usr/bin/make");
  EXPECT_THAT(p.args(), ElementsAre("make", "all"));
  EXPECT_EQ(p.cwd(), "/src");
  EXPECT_EQ(p.filename(), "/usr/bin/make");
  EXPECT_EQ(p.source(), v1::PROCESS_SOURCE_EXEC);
  ASSERT_TRUE(e.exit().has_parent());
  EXPECT_EQ(e.exit().parent().binary(), "/usr/bin/bash");
  EXPECT_EQ(cache_.stats().process_misses, 0u);

  // Ended: no longer the pid's image, still findable by id until swept.
  EXPECT_THAT(cache_.findByPid(200), IsNull());
  EXPECT_THAT(cache_.find(make.exec_id()), NotNull());
}

TEST_F(ProcessCacheTest, ExitWithAnUnknownIdUsesThePidsImage) {
  seedSnapshot();
  Process make = image(200, 50 * kSecond, 100, kShellStart, "/usr/bin/make", {"make"}, "/src");
  feed(execEvent(make, 50 * kSecond));
  Process other = make;
  other.set_exec_id(idOf(200, 49 * kSecond));
  Event e = enriched(exitEvent(other, 70 * kSecond));
  EXPECT_EQ(e.exit().process().binary(), "/usr/bin/make");
  EXPECT_EQ(e.exit().process().cwd(), "/src");
  EXPECT_EQ(cache_.stats().process_misses, 0u);
  EXPECT_THAT(cache_.findByPid(200), IsNull());
}

TEST_F(ProcessCacheTest, ExitOfAnImageNeverSeenIsAMiss) {
  seedSnapshot();
  Event e = enriched(exitEvent(bare(777, 5 * kSecond, 100, kShellStart), 70 * kSecond));
  EXPECT_EQ(e.exit().process().binary(), "");
  EXPECT_THAT(e.exit().process().args(), IsEmpty());
  EXPECT_EQ(cache_.stats().process_misses, 1u);
  // Its parent is still known.
  ASSERT_TRUE(e.exit().has_parent());
  EXPECT_EQ(e.exit().parent().pid(), 100u);
}

TEST_F(ProcessCacheTest, ExecReplacesThePidsImageAndKeepsTheOldOneUntilSwept) {
  seedSnapshot();
  Process first = image(300, 50 * kSecond, 100, kShellStart, "/usr/bin/env", {"env", "python3"});
  Process second = image(300, 51 * kSecond, 100, kShellStart, "/usr/bin/python3", {"python3"});
  feed(execEvent(first, 50 * kSecond));
  feed(execEvent(second, 51 * kSecond));

  const Process* current = cache_.findByPid(300);
  ASSERT_THAT(current, NotNull());
  EXPECT_EQ(current->binary(), "/usr/bin/python3");
  const Process* old = cache_.find(first.exec_id());
  ASSERT_THAT(old, NotNull());
  EXPECT_EQ(old->binary(), "/usr/bin/env");

  cache_.sweep(51 * kSecond + kTtl - 1);
  EXPECT_THAT(cache_.find(first.exec_id()), NotNull());
  cache_.sweep(51 * kSecond + kTtl);
  EXPECT_THAT(cache_.find(first.exec_id()), IsNull());
  EXPECT_THAT(cache_.find(second.exec_id()), NotNull());
  EXPECT_EQ(cache_.findByPid(300), cache_.find(second.exec_id()));
  EXPECT_EQ(cache_.stats().removed, 1u);
}

std::vector<uint32_t> pidsOf(const std::vector<const Process*>& chain) {
  std::vector<uint32_t> pids;
  for (const Process* p : chain) {
    pids.push_back(p->pid());
  }
  return pids;
}

TEST_F(ProcessCacheTest, AncestorsAreNearestFirst) {
  seedSnapshot();
  Process make = image(200, 50 * kSecond, 100, kShellStart, "/usr/bin/make", {"make"});
  Process cc = image(201, 51 * kSecond, 200, 50 * kSecond, "/usr/bin/cc", {"cc"});
  feed(execEvent(make, 50 * kSecond));
  feed(execEvent(cc, 51 * kSecond));

  EXPECT_THAT(pidsOf(cache_.ancestors(cc.exec_id())), ElementsAre(200, 100, 1));
  EXPECT_THAT(pidsOf(cache_.ancestors(cc.exec_id(), 2)), ElementsAre(200, 100));
  EXPECT_THAT(pidsOf(cache_.ancestors(shell_.exec_id())), ElementsAre(1));
  EXPECT_THAT(cache_.ancestors(idOf(1, kInitStart)), IsEmpty());
  EXPECT_THAT(cache_.ancestors("no-such-image"), IsEmpty());
}

TEST_F(ProcessCacheTest, AncestorsStopAtAnUnknownLink) {
  seedSnapshot();
  Process orphan = image(400, 50 * kSecond, 399, 40 * kSecond, "/bin/orphan", {"orphan"});
  Process child = image(401, 51 * kSecond, 400, 50 * kSecond, "/bin/child", {"child"});
  feed(execEvent(orphan, 50 * kSecond));
  feed(execEvent(child, 51 * kSecond));
  EXPECT_THAT(pidsOf(cache_.ancestors(child.exec_id())), ElementsAre(400));
  EXPECT_THAT(cache_.ancestors(orphan.exec_id()), IsEmpty());
}

TEST_F(ProcessCacheTest, EndedImagesAreReapedAfterTheirTtl) {
  seedSnapshot();
  Process job = image(200, 50 * kSecond, 100, kShellStart, "/bin/job", {"job"});
  feed(execEvent(job, 50 * kSecond));
  feed(exitEvent(job, 60 * kSecond));

  cache_.sweep(60 * kSecond + kTtl - 1);
  EXPECT_THAT(cache_.find(job.exec_id()), NotNull());
  EXPECT_EQ(cache_.stats().removed, 0u);
  cache_.sweep(60 * kSecond + kTtl);
  EXPECT_THAT(cache_.find(job.exec_id()), IsNull());
  EXPECT_EQ(cache_.stats().removed, 1u);
  EXPECT_EQ(cache_.stats().entries, 2u); // init and the shell
}

TEST_F(ProcessCacheTest, LiveImagesAreNeverReaped) {
  seedSnapshot();
  cache_.sweep(1'000'000 * kSecond);
  EXPECT_THAT(cache_.find(shell_.exec_id()), NotNull());
  EXPECT_THAT(cache_.findByPid(1), NotNull());
  EXPECT_EQ(cache_.stats().removed, 0u);
}

TEST_F(ProcessCacheTest, EndedParentStaysWhileALiveChildNamesIt) {
  seedSnapshot();
  Process daemon = image(500, 50 * kSecond, 100, kShellStart, "/usr/sbin/daemon", {"daemon"});
  feed(execEvent(daemon, 50 * kSecond));
  Event fork = enriched(forkEvent(501, 51 * kSecond, 500, 50 * kSecond, 51 * kSecond));
  Process worker = fork.fork().process();
  feed(exitEvent(daemon, 52 * kSecond));

  // Long past the daemon's TTL, but its worker is alive.
  cache_.sweep(1000 * kSecond);
  ASSERT_THAT(cache_.find(daemon.exec_id()), NotNull());
  EXPECT_THAT(pidsOf(cache_.ancestors(worker.exec_id())), ElementsAre(500, 100, 1));

  // The worker ends: the daemon goes at the next sweep, the worker after its own TTL.
  Event exit = enriched(exitEvent(worker, 2000 * kSecond));
  ASSERT_TRUE(exit.exit().has_parent());
  EXPECT_EQ(exit.exit().parent().binary(), "/usr/sbin/daemon");
  EXPECT_EQ(exit.exit().process().binary(), "/usr/sbin/daemon"); // inherited at fork
  cache_.sweep(2000 * kSecond);
  EXPECT_THAT(cache_.find(daemon.exec_id()), IsNull());
  EXPECT_THAT(cache_.find(worker.exec_id()), NotNull());
  cache_.sweep(2000 * kSecond + kTtl);
  EXPECT_THAT(cache_.find(worker.exec_id()), IsNull());
  EXPECT_EQ(cache_.stats().removed, 2u);
}

TEST_F(ProcessCacheTest, SnapshotChildrenSeenBeforeTheirParentPinIt) {
  // The iterator does not return parents first.
  Process child = image(601, 20 * kSecond, 600, 10 * kSecond, "/bin/child", {"child"});
  Process parent = image(600, 10 * kSecond, 1, kInitStart, "/bin/parent", {"parent"});
  cache_.addExisting(Process(child));
  cache_.addExisting(Process(parent));
  cache_.finishSnapshot();

  feed(exitEvent(parent, 30 * kSecond));
  cache_.sweep(30 * kSecond + 100 * kTtl);
  EXPECT_THAT(cache_.find(parent.exec_id()), NotNull());
  EXPECT_THAT(pidsOf(cache_.ancestors(child.exec_id())), ElementsAre(600));
}

TEST_F(ProcessCacheTest, SnapshotCountsEachChildOnce) {
  // Parent first this time: once its only child has ended, it can go.
  Process parent = image(600, 10 * kSecond, 1, kInitStart, "/bin/parent", {"parent"});
  Process child = image(601, 20 * kSecond, 600, 10 * kSecond, "/bin/child", {"child"});
  cache_.addExisting(Process(parent));
  cache_.addExisting(Process(child));
  cache_.finishSnapshot();

  feed(exitEvent(child, 30 * kSecond));
  feed(exitEvent(parent, 31 * kSecond));
  cache_.sweep(31 * kSecond + kTtl);
  EXPECT_THAT(cache_.find(parent.exec_id()), IsNull());
  EXPECT_THAT(cache_.find(child.exec_id()), IsNull());
  EXPECT_EQ(cache_.stats().entries, 0u);
}

TEST_F(ProcessCacheTest, TheSameImageTwiceIsOneEntry) {
  seedSnapshot();
  uint64_t inserts = cache_.stats().inserts;
  Process again = shell_;
  again.set_source(v1::PROCESS_SOURCE_EXEC);
  cache_.addExisting(std::move(again));
  EXPECT_EQ(cache_.stats().entries, 2u);
  EXPECT_EQ(cache_.stats().inserts, inserts);
  EXPECT_EQ(cache_.findByPid(100)->source(), v1::PROCESS_SOURCE_EXEC);
}

TEST(ProcessCacheCapTest, EvictsEndedImagesBeforeLiveOnes) {
  ProcessCache cache(ProcessCacheOptions{.max_entries = 10, .ended_ttl_ns = 1000 * kSecond});
  std::vector<Process> ended;
  for (uint32_t pid = 10; pid < 14; ++pid) {
    Process p = image(pid, pid * kSecond, 1, kSecond, "/bin/ended", {"ended"});
    feed(cache, execEvent(p, pid * kSecond));
    feed(cache, exitEvent(p, pid * kSecond + 1));
    ended.push_back(p);
  }
  std::vector<Process> live;
  for (uint32_t pid = 20; pid < 27; ++pid) {
    Process p = image(pid, pid * kSecond, 1, kSecond, "/bin/live", {"live"});
    feed(cache, execEvent(p, pid * kSecond));
    live.push_back(p);
  }
  // 11 images for 10 slots.
  EXPECT_GT(cache.stats().evicted, 0u);
  EXPECT_LE(cache.stats().entries, 10u);
  for (const Process& p : live) {
    EXPECT_THAT(cache.findByPid(p.pid()), NotNull()) << p.pid();
  }
  int ended_left = 0;
  for (const Process& p : ended) {
    ended_left += cache.find(p.exec_id()) != nullptr;
  }
  EXPECT_LT(ended_left, 4);
  // The oldest ended image went first.
  EXPECT_THAT(cache.find(ended.front().exec_id()), IsNull());
}

TEST(ProcessCacheCapTest, EntriesStayBoundedWhenAllAreLive) {
  ProcessCache cache(ProcessCacheOptions{.max_entries = 20, .ended_ttl_ns = kTtl});
  for (uint32_t pid = 100; pid < 300; ++pid) {
    feed(cache, execEvent(image(pid, pid * kSecond, 1, kSecond, "/bin/x", {"x"}), pid * kSecond));
    ASSERT_LE(cache.stats().entries, 20u) << "after pid " << pid;
  }
  EXPECT_GE(cache.stats().evicted, 180u);
  EXPECT_EQ(cache.stats().inserts, 200u);
  // The newest stays; the oldest went, and with it its pid's image.
  EXPECT_THAT(cache.findByPid(299), NotNull());
  EXPECT_THAT(cache.findByPid(100), IsNull());
  EXPECT_THAT(cache.find(idOf(100, 100 * kSecond)), IsNull());
}

} // namespace
} // namespace vigil

namespace vigil {
namespace {

TEST(ProcessCacheRegressionTest, ParentFoundByPpidIsAdoptedSoAncestryAndPinningWork) {
  ProcessCache cache(ProcessCacheOptions{.max_entries = 1000, .ended_ttl_ns = kTtl});
  // Parent exec'd at 1 s; the child's kernel-side parent id is wrong (99 s).
  Event parent_exec = execEvent(image(100, 1 * kSecond, 1, 0, "/usr/bin/bash", {"bash"}), 1 * kSecond);
  cache.enrich(parent_exec);
  Event fork = forkEvent(101, 2 * kSecond, 100, 99 * kSecond, 2 * kSecond);
  cache.enrich(fork);
  EXPECT_EQ(fork.fork().process().parent_exec_id(), idOf(100, 1 * kSecond));
  auto chain = cache.ancestors(idOf(101, 2 * kSecond));
  ASSERT_EQ(chain.size(), 1u);
  EXPECT_EQ(chain[0]->pid(), 100u);
  // The parent exits; the live child keeps it resolvable past its TTL.
  Event parent_exit = exitEvent(parent_exec.exec().process(), 3 * kSecond);
  cache.enrich(parent_exit);
  cache.sweep(13 * kSecond + 1);
  EXPECT_THAT(cache.find(idOf(100, 1 * kSecond)), NotNull());
}

TEST(ProcessCacheRegressionTest, ImageSeenAgainAfterEndingDoesNotUnpinItsParent) {
  ProcessCache cache(ProcessCacheOptions{.max_entries = 1000, .ended_ttl_ns = kTtl});
  Process g = image(10, 1 * kSecond, 1, 0, "/g", {"g"});
  Process a = image(11, 2 * kSecond, 10, 1 * kSecond, "/a", {"a"});
  Process b = image(12, 3 * kSecond, 10, 1 * kSecond, "/b", {"b"});
  cache.addExisting(Process(g));
  cache.addExisting(Process(a));
  cache.addExisting(Process(b));
  cache.finishSnapshot();
  Event a_exit = exitEvent(a, 4 * kSecond);
  cache.enrich(a_exit);
  cache.addExisting(Process(a));
  Event a_exit_again = exitEvent(a, 5 * kSecond);
  cache.enrich(a_exit_again);
  Event g_exit = exitEvent(g, 6 * kSecond);
  cache.enrich(g_exit);
  cache.sweep(100 * kSecond);
  // b is alive and names g as parent: g stays.
  EXPECT_THAT(cache.find(g.exec_id()), NotNull());
}

} // namespace
} // namespace vigil
