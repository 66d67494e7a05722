#pragma once

// container id -> pod identity, filled asynchronously from the container
// runtime so the event path never waits for it.
//
// lookup() answers from memory only. An id it does not know is queued
// (once) for ONE worker thread, the only user of the Runtime, which asks the
// runtime and then announces the result through the ready callback (and the
// generation counter), so a caller holding events for that container can
// re-check them.
//
// An id the runtime does not know yet (a container whose first events come
// before the runtime has recorded it) is asked again with backoff for
// not_found_retry_for, then recorded as a negative entry that expires after
// negative_ttl: cgroups that look like containers but are not (host
// services, other runtimes) cost one short burst of calls, not a stream.
//
// At start, after every runtime outage and every resync_interval the worker
// lists all containers: that fills the cache before the first events, and
// finds containers that are gone, which stay resolvable for removed_ttl
// (late events) and then expire. At most max_entries are kept, least
// recently used evicted first. A runtime that is absent or fails is a
// warning and a gauge (runtime_up), retried with backoff, never fatal.

#include "agent/enrich/cri_client.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace vigil::cri {

using ContainerMetaPtr = std::shared_ptr<const ContainerMeta>;

// Where the pod cache reads the time and how its worker sleeps until a
// deadline: steady_clock by default (steadyPodCacheClock()); a test
// substitutes a clock it moves by hand, so expiry needs no real waiting.
class PodCacheClock {
public:
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~PodCacheClock() = default;
  virtual TimePoint now() const = 0;
  // Blocks on cv with lk held, as condition_variable::wait_until does, until
  // wake() is true (cv is notified when it may have become true) or now()
  // reaches deadline.
  virtual void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lk, TimePoint deadline,
                         const std::function<bool()>& wake) const = 0;
};

using PodCacheClockPtr = std::shared_ptr<const PodCacheClock>;

// steady_clock and condition_variable::wait_until.
const PodCacheClockPtr& steadyPodCacheClock();

struct PodCacheOptions {
  size_t max_entries = 8192; // positive and negative entries together
  size_t max_pending = 1024; // ids waiting for a fetch; more lookups are dropped (counted)
  std::chrono::milliseconds not_found_retry_for{5000}; // keep asking for an unknown id this long
  std::chrono::milliseconds retry_initial{100}; // backoff between those asks, doubling...
  std::chrono::milliseconds retry_max{1000}; // ...up to this
  std::chrono::milliseconds negative_ttl{60000}; // an id the runtime does not know is not asked again for this long
  std::chrono::milliseconds error_negative_ttl{5000}; // same, when the runtime could not answer
  std::chrono::milliseconds removed_ttl{60000}; // a container gone from the runtime stays resolvable this long
  std::chrono::milliseconds resync_interval{30000}; // full relist
  std::chrono::milliseconds runtime_retry_max{10000}; // cap of the reconnect backoff while the runtime is down
  PodCacheClockPtr clock; // null: steadyPodCacheClock()
};

struct PodCacheStats {
  uint64_t hits = 0; // lookups answered with metadata
  uint64_t negative_hits = 0; // lookups of an id recorded as not a container
  uint64_t misses = 0; // lookups that returned nothing and queued (or joined) a fetch
  uint64_t dropped = 0; // misses not queued: max_pending ids already waiting
  uint64_t fetches = 0; // containerInfo calls to the runtime
  uint64_t fetch_errors = 0; // calls that failed (containerInfo, listContainers, version)
  uint64_t not_found = 0; // containerInfo calls that found nothing
  uint64_t negatives = 0; // ids given up on and recorded as negative entries
  uint64_t resyncs = 0; // successful full relists
  uint64_t evictions = 0; // entries dropped to respect max_entries
  uint64_t expired = 0; // negative and removed-container entries that timed out
  uint64_t entries = 0; // entries now (positive and negative)
  uint64_t pending = 0; // ids waiting for a fetch now
  bool runtime_up = false; // the last call to the runtime succeeded
};

class PodCache {
public:
  // Called on the worker thread, without the cache's lock, when a queued id
  // is resolved: meta is null when it was given up on (the caller can stop
  // holding events for it). Must not block for long.
  using ReadyCallback = std::function<void(const std::string& id, const ContainerMetaPtr& meta)>;

  PodCache(RuntimePtr runtime, PodCacheOptions options = {}, ReadyCallback on_ready = {});
  ~PodCache(); // stop()
  PodCache(const PodCache&) = delete;
  PodCache& operator=(const PodCache&) = delete;

  // Starts the worker: it connects, lists the runtime's containers, then
  // serves fetches. Returns at once.
  void start();
  // Stops and joins the worker; idempotent. Pending ids are dropped.
  void stop();

  // Never waits for the runtime. The metadata when known; nullptr when not
  // (yet), and then the id is queued unless it is already queued or known
  // not to be a container. id is the full container id, as the cgroup
  // path names it.
  // pending (when given) says whether a fetch for id is on its way, i.e.
  // whether waiting for it can pay: false for an id known not to be a
  // container, or not queued because max_pending ids already wait.
  ContainerMetaPtr lookup(const std::string& id, bool* pending = nullptr);

  // Bumped after every change the worker makes (fetch resolved, id given
  // up, relist); a caller without a callback can poll it.
  uint64_t generation() const;
  PodCacheStats stats() const;

private:
  using Clock = std::chrono::steady_clock; // the time points; read through clock_

  struct Entry {
    ContainerMetaPtr meta; // null: a negative entry
    Clock::time_point expires = Clock::time_point::max(); // max while the container exists
    Clock::time_point fetched; // when the runtime last reported it
    bool error_negative = false; // negative because the runtime failed, not because it said no
    std::list<std::string>::iterator lru; // position in lru_
  };
  struct Pending {
    Clock::time_point first; // first lookup
    Clock::time_point next; // next fetch
    std::chrono::milliseconds backoff{0};
  };
  struct Resolved {
    std::string id;
    ContainerMetaPtr meta;
  };

  void run();
  // Each returns what it resolved, for callbacks outside the lock.
  void probe(Clock::time_point now, std::vector<Resolved>& resolved);
  void resync(Clock::time_point now, std::vector<Resolved>& resolved);
  void fetchDue(Clock::time_point now, std::vector<Resolved>& resolved);
  void giveUpExpiredPending(Clock::time_point now, std::vector<Resolved>& resolved);
  void sweep(Clock::time_point now);
  void markDown(const Error& error);
  void notify(std::vector<Resolved>& resolved);

  // With mu_ held.
  void putLocked(const std::string& id, ContainerMetaPtr meta, Clock::time_point now, Clock::time_point expires,
                 bool error_negative = false);
  void eraseLocked(std::unordered_map<std::string, Entry>::iterator it);
  Clock::time_point nextWakeLocked(Clock::time_point now) const;

  RuntimePtr runtime_; // used by the worker only
  const PodCacheOptions options_;
  const ReadyCallback on_ready_;
  const PodCacheClock& clock_; // options_.clock, or the steady clock

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool kick_ = false; // a new id was queued
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_; // most recently used first
  std::unordered_map<std::string, Pending> pending_;
  PodCacheStats stats_; // entries, pending and runtime_up filled by stats()
  bool runtime_up_ = false;

  // Worker-only state.
  bool confirmed_down_ = true; // a version probe failed since the last relist (or none ran yet)
  bool warned_down_ = false;
  Clock::time_point next_probe_{};
  std::chrono::milliseconds probe_backoff_{0};
  Clock::time_point next_resync_{};
  Clock::time_point next_sweep_{};

  std::atomic<uint64_t> generation_{0};
  std::thread worker_;
};

} // namespace vigil::cri
