// Pod cache: asynchronous fill, deduplicated fetches, retries of ids the
// runtime does not know yet, negative entries and their expiry, the start-up
// list, runtime outages, the size cap and removed containers, against a fake
// runtime. No timing is asserted: every wait is for a condition, with a
// generous timeout, and the tests of expiry move a fake clock instead of
// waiting for it.

#include "agent/enrich/pod_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::cri {
namespace {

using namespace std::chrono_literals;

// What the fake runtime knows and how it has been asked; shared between the
// test and the Runtime the cache owns.
struct FakeState {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, ContainerMeta> containers;
  bool up = true;
  bool hold = false; // containerInfo waits while set
  int info_waiting = 0;
  std::map<std::string, int> info_calls;
  int list_calls = 0;

  void add(const std::string& id, const std::string& name) {
    ContainerMeta m;
    m.id = id;
    m.name = name;
    m.image = "registry.example/" + name + ":1";
    m.image_id = "sha256:" + std::string(64, 'a');
    m.pod_sandbox_id = "sandbox-" + name;
    m.pod_name = name + "-pod";
    m.pod_namespace = "default";
    m.pod_uid = "uid-" + name;
    m.pod_labels = {{"app", name}};
    m.state = ContainerState::Running;
    std::lock_guard lk(mu);
    containers[id] = m;
  }
  void remove(const std::string& id) {
    std::lock_guard lk(mu);
    containers.erase(id);
  }
  void setUp(bool value) {
    std::lock_guard lk(mu);
    up = value;
  }
  void setHold(bool value) {
    std::lock_guard lk(mu);
    hold = value;
    cv.notify_all();
  }
  int calls(const std::string& id) {
    std::lock_guard lk(mu);
    return info_calls[id];
  }
  int waiting() {
    std::lock_guard lk(mu);
    return info_waiting;
  }
};

class FakeRuntime : public Runtime {
public:
  explicit FakeRuntime(std::shared_ptr<FakeState> state) : state_(std::move(state)) {}

  Result<RuntimeVersion> version() override {
    std::lock_guard lk(state_->mu);
    if (!state_->up) {
      return makeError("CRI Version on unix:///fake.sock: UNAVAILABLE: down");
    }
    return RuntimeVersion{"fake", "1.0", "v1"};
  }

  Result<std::optional<ContainerMeta>> containerInfo(const std::string& id) override {
    std::unique_lock lk(state_->mu);
    ++state_->info_calls[id];
    ++state_->info_waiting;
    state_->cv.wait(lk, [&] { return !state_->hold; });
    --state_->info_waiting;
    if (!state_->up) {
      return makeError("CRI ContainerStatus on unix:///fake.sock: UNAVAILABLE: down");
    }
    auto it = state_->containers.find(id);
    if (it == state_->containers.end()) {
      return std::optional<ContainerMeta>();
    }
    return std::optional<ContainerMeta>(it->second);
  }

  Result<std::vector<ContainerMeta>> listContainers() override {
    std::lock_guard lk(state_->mu);
    ++state_->list_calls;
    if (!state_->up) {
      return makeError("CRI ListPodSandbox on unix:///fake.sock: UNAVAILABLE: down");
    }
    std::vector<ContainerMeta> out;
    for (const auto& [id, m] : state_->containers) {
      out.push_back(m);
    }
    return out;
  }

private:
  std::shared_ptr<FakeState> state_;
};

bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The ready notifications, by id.
class ReadyLog {
public:
  PodCache::ReadyCallback callback() {
    return [this](const std::string& id, const ContainerMetaPtr& meta) {
      std::lock_guard lk(mu_);
      ready_[id].push_back(meta);
      cv_.notify_all();
    };
  }
  // The first notification about id; nullopt when none came in time.
  std::optional<ContainerMetaPtr> waitFor(const std::string& id, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return ready_.contains(id); })) {
      return std::nullopt;
    }
    return ready_[id].front();
  }
  size_t count(const std::string& id) {
    std::lock_guard lk(mu_);
    return ready_.contains(id) ? ready_[id].size() : 0;
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<ContainerMetaPtr>> ready_;
};

// A clock the test moves by hand; real time does not move it.
class FakeClock : public PodCacheClock {
public:
  TimePoint now() const override {
    std::lock_guard lk(mu_);
    return now_;
  }
  void advance(std::chrono::milliseconds by) {
    std::lock_guard lk(mu_);
    now_ += by;
  }
  // advance() cannot notify the cache's condition variable under the cache's
  // lock, so the worker re-reads this clock every millisecond instead.
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lk, TimePoint deadline,
                 const std::function<bool()>& wake) const override {
    while (!wake() && now() < deadline) {
      cv.wait_for(lk, 1ms);
    }
  }

private:
  mutable std::mutex mu_;
  TimePoint now_ = TimePoint(std::chrono::hours(1));
};

// Short backoffs so that retries and give-ups happen within a test.
PodCacheOptions fastOptions() {
  PodCacheOptions o;
  o.not_found_retry_for = 100ms;
  o.retry_initial = 2ms;
  o.retry_max = 10ms;
  o.runtime_retry_max = 10ms;
  return o;
}

class PodCacheTest : public ::testing::Test {
protected:
  std::unique_ptr<PodCache> makeCache(PodCacheOptions options = fastOptions()) {
    auto cache = std::make_unique<PodCache>(std::make_unique<FakeRuntime>(state_), options, ready_.callback());
    cache->start();
    return cache;
  }
  // Starts the cache and waits for its start-up list.
  std::unique_ptr<PodCache> startedCache(PodCacheOptions options = fastOptions()) {
    auto cache = makeCache(options);
    EXPECT_TRUE(waitFor([&] { return cache->stats().resyncs >= 1; })) << "no start-up list";
    return cache;
  }

  std::shared_ptr<FakeState> state_ = std::make_shared<FakeState>();
  ReadyLog ready_;
};

const std::string kA = std::string(64, '1');
const std::string kB = std::string(64, '2');
const std::string kC = std::string(64, '3');
const std::string kD = std::string(64, '4');

TEST_F(PodCacheTest, StartListsTheRuntimeSoKnownContainersHitWithoutAFetch) {
  state_->add(kA, "a");
  state_->add(kB, "b");
  auto cache = startedCache();

  auto a = cache->lookup(kA);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "a");
  EXPECT_EQ(a->pod_name, "a-pod");
  EXPECT_EQ(a->pod_labels.at("app"), "a");
  ASSERT_NE(cache->lookup(kB), nullptr);

  auto s = cache->stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 0u);
  EXPECT_EQ(s.fetches, 0u);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_TRUE(s.runtime_up);
}

TEST_F(PodCacheTest, UnknownIdReturnsNullQueuesAFetchAndAnnouncesTheResult) {
  auto cache = startedCache();
  state_->add(kA, "a"); // after the start-up list
  uint64_t generation = cache->generation();

  EXPECT_EQ(cache->lookup(kA), nullptr);
  auto notified = ready_.waitFor(kA);
  ASSERT_TRUE(notified.has_value());
  ASSERT_NE(*notified, nullptr);
  EXPECT_EQ((*notified)->name, "a");
  EXPECT_GT(cache->generation(), generation);

  auto a = cache->lookup(kA);
  EXPECT_EQ(a, *notified);
  auto s = cache->stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.fetches, 1u);
  EXPECT_EQ(state_->calls(kA), 1);
}

TEST_F(PodCacheTest, ConcurrentLookupsOfOneIdShareOneFetch) {
  auto cache = startedCache();
  state_->add(kA, "a");
  state_->setHold(true);

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(cache->lookup(kA), nullptr); // the fetch is held: never answered yet
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  ASSERT_TRUE(waitFor([&] { return state_->waiting() == 1; }));
  state_->setHold(false);
  ASSERT_TRUE(ready_.waitFor(kA).has_value());

  EXPECT_EQ(state_->calls(kA), 1);
  EXPECT_EQ(ready_.count(kA), 1u);
  auto s = cache->stats();
  EXPECT_EQ(s.misses, 400u);
  EXPECT_EQ(s.fetches, 1u);
  EXPECT_NE(cache->lookup(kA), nullptr);
}

TEST_F(PodCacheTest, IdTheRuntimeDoesNotKnowIsRetriedThenNegativeUntilItExpires) {
  auto clock = std::make_shared<FakeClock>();
  auto options = fastOptions();
  options.not_found_retry_for = 100ms;
  options.negative_ttl = 60s;
  options.clock = clock;
  auto cache = startedCache(options);

  bool pending = false;
  EXPECT_EQ(cache->lookup(kA, &pending), nullptr);
  EXPECT_TRUE(pending) << "a fetch is on its way: worth waiting for";
  // Asked at once and not found; while the clock stands, nothing is given up.
  ASSERT_TRUE(waitFor([&] { return state_->calls(kA) == 1; }));
  EXPECT_EQ(ready_.count(kA), 0u);

  // The retry window passes: the next ask is the last.
  clock->advance(options.not_found_retry_for);
  auto notified = ready_.waitFor(kA);
  ASSERT_TRUE(notified.has_value());
  EXPECT_EQ(*notified, nullptr); // given up: the caller stops holding events
  EXPECT_EQ(state_->calls(kA), 2);

  // Negative: answered from memory, the runtime is not asked again, and
  // nothing is on its way, up to the last moment of negative_ttl.
  EXPECT_EQ(cache->lookup(kA, &pending), nullptr);
  EXPECT_FALSE(pending);
  clock->advance(options.negative_ttl - 1ms);
  EXPECT_EQ(cache->lookup(kA, &pending), nullptr);
  EXPECT_FALSE(pending);
  auto s = cache->stats();
  EXPECT_EQ(s.negative_hits, 2u);
  EXPECT_EQ(s.negatives, 1u);
  EXPECT_EQ(s.not_found, 2u);
  EXPECT_EQ(s.fetch_errors, 0u);
  EXPECT_EQ(s.expired, 0u);
  EXPECT_EQ(state_->calls(kA), 2);

  // Expired: a lookup asks again.
  clock->advance(1ms);
  EXPECT_EQ(cache->lookup(kA, &pending), nullptr);
  EXPECT_TRUE(pending);
  ASSERT_TRUE(waitFor([&] { return state_->calls(kA) == 3; }));
  EXPECT_EQ(cache->stats().expired, 1u);
}

TEST_F(PodCacheTest, ContainerThatAppearsWithinTheRetryWindowIsResolved) {
  auto options = fastOptions();
  options.not_found_retry_for = 10s; // the test adds the container well before
  auto cache = startedCache(options);

  EXPECT_EQ(cache->lookup(kA), nullptr);
  ASSERT_TRUE(waitFor([&] { return state_->calls(kA) >= 2; })); // not found, retried
  state_->add(kA, "late");
  auto notified = ready_.waitFor(kA);
  ASSERT_TRUE(notified.has_value());
  ASSERT_NE(*notified, nullptr);
  EXPECT_EQ((*notified)->name, "late");
  auto s = cache->stats();
  EXPECT_GE(s.not_found, 1u);
  EXPECT_EQ(s.negatives, 0u);
  EXPECT_NE(cache->lookup(kA), nullptr);
}

TEST_F(PodCacheTest, RuntimeDownIsNotFatalHeldIdsAreReleasedAndRecoveryRelists) {
  state_->setUp(false);
  auto cache = makeCache();

  EXPECT_EQ(cache->lookup(kA), nullptr);
  ASSERT_TRUE(waitFor([&] { return cache->stats().fetch_errors > 0; }));
  EXPECT_FALSE(cache->stats().runtime_up);
  auto released = ready_.waitFor(kA);
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(*released, nullptr);
  EXPECT_EQ(cache->stats().resyncs, 0u);

  // Back, with the container: the relist finds it, and the id given up on
  // while the runtime was away is not held against it.
  state_->add(kA, "a");
  state_->setUp(true);
  ASSERT_TRUE(waitFor([&] { return cache->stats().resyncs >= 1; }));
  EXPECT_TRUE(cache->stats().runtime_up);
  auto a = cache->lookup(kA);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "a");
}

TEST_F(PodCacheTest, FetchFailureWhileUpProbesAndRetries) {
  auto options = fastOptions();
  options.not_found_retry_for = 10s;
  auto cache = startedCache(options);
  state_->setUp(false);
  EXPECT_EQ(cache->lookup(kA), nullptr);
  ASSERT_TRUE(waitFor([&] { return cache->stats().fetch_errors >= 2; })); // the fetch, then a probe
  state_->add(kA, "a");
  state_->setUp(true);
  auto notified = ready_.waitFor(kA);
  ASSERT_TRUE(notified.has_value());
  ASSERT_NE(*notified, nullptr);
  EXPECT_TRUE(cache->stats().runtime_up);
}

TEST_F(PodCacheTest, EvictsTheLeastRecentlyUsedBeyondMaxEntries) {
  state_->add(kA, "a");
  state_->add(kB, "b");
  state_->add(kC, "c");
  auto options = fastOptions();
  options.max_entries = 3;
  auto cache = startedCache(options);
  ASSERT_EQ(cache->stats().entries, 3u);

  ASSERT_NE(cache->lookup(kA), nullptr);
  ASSERT_NE(cache->lookup(kC), nullptr);
  // b is now the least recently used.
  state_->add(kD, "d");
  EXPECT_EQ(cache->lookup(kD), nullptr);
  ASSERT_TRUE(ready_.waitFor(kD).has_value());

  auto s = cache->stats();
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_NE(cache->lookup(kA), nullptr);
  EXPECT_NE(cache->lookup(kC), nullptr);
  EXPECT_NE(cache->lookup(kD), nullptr);
  EXPECT_EQ(cache->lookup(kB), nullptr); // evicted: a miss again
}

TEST_F(PodCacheTest, RemovedContainerStaysForLateEventsThenExpires) {
  state_->add(kA, "a");
  state_->add(kB, "b");
  auto clock = std::make_shared<FakeClock>();
  auto options = fastOptions();
  options.resync_interval = 30s;
  options.removed_ttl = 60s;
  options.clock = clock;
  auto cache = startedCache(options);
  ASSERT_EQ(cache->stats().entries, 2u);

  // The next relist finds b gone.
  state_->remove(kB);
  clock->advance(options.resync_interval);
  ASSERT_TRUE(waitFor([&] { return cache->stats().resyncs >= 2; }));

  // Late events still resolve, up to the last moment of removed_ttl (the
  // relists on the way do not change that).
  clock->advance(options.removed_ttl - 1ms);
  ASSERT_TRUE(waitFor([&] { return cache->stats().resyncs >= 3; }));
  EXPECT_NE(cache->lookup(kB), nullptr);
  EXPECT_EQ(cache->stats().expired, 0u);

  // Past it, at the worker's next sweep (once a second) it goes without
  // a lookup; a stays.
  clock->advance(1s);
  ASSERT_TRUE(waitFor([&] { return cache->stats().expired >= 1; }));
  auto s = cache->stats();
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.evictions, 0u);
  EXPECT_NE(cache->lookup(kA), nullptr);
  EXPECT_EQ(cache->lookup(kB), nullptr);
}

TEST_F(PodCacheTest, LookupsBeyondMaxPendingAreDroppedAndCounted) {
  state_->setUp(false);
  auto options = fastOptions();
  options.max_pending = 2;
  options.not_found_retry_for = 10s;
  auto cache = makeCache(options);
  EXPECT_EQ(cache->lookup(kA), nullptr);
  EXPECT_EQ(cache->lookup(kB), nullptr);
  EXPECT_EQ(cache->lookup(kC), nullptr);
  auto s = cache->stats();
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.pending, 2u);
}

TEST_F(PodCacheTest, StopJoinsTheWorkerAndIsIdempotent) {
  state_->add(kA, "a");
  auto cache = startedCache();
  cache->stop();
  cache->stop();
  state_->add(kB, "b");
  EXPECT_EQ(cache->lookup(kB), nullptr); // queued, never fetched
  EXPECT_EQ(state_->calls(kB), 0);
  EXPECT_NE(cache->lookup(kA), nullptr); // what is cached stays readable
  cache.reset();

  // Never started: the destructor has nothing to join.
  PodCache idle(std::make_unique<FakeRuntime>(state_));
  EXPECT_EQ(idle.lookup(kA), nullptr);
}

} // namespace
} // namespace vigil::cri
