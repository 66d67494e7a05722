#include "agent/enrich/pod_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

namespace vigil::cri {
namespace {

// Fetches per worker pass, so stop() and probes are not held up by a burst.
constexpr size_t kFetchBatch = 64;
constexpr std::chrono::seconds kSweepInterval{1};

class SteadyPodCacheClock : public PodCacheClock {
public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lk, TimePoint deadline,
                 const std::function<bool()>& wake) const override {
    cv.wait_until(lk, deadline, wake);
  }
};

} // namespace

const PodCacheClockPtr& steadyPodCacheClock() {
  static const PodCacheClockPtr clock = std::make_shared<SteadyPodCacheClock>();
  return clock;
}

PodCache::PodCache(RuntimePtr runtime, PodCacheOptions options, ReadyCallback on_ready)
    : runtime_(std::move(runtime)), options_(std::move(options)), on_ready_(std::move(on_ready)),
      clock_(options_.clock ? *options_.clock : *steadyPodCacheClock()) {}

PodCache::~PodCache() { stop(); }

void PodCache::start() {
  std::lock_guard lk(mu_);
  if (worker_.joinable() || stop_) {
    return;
  }
  worker_ = std::thread([this] { run(); });
}

void PodCache::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) {
    worker_.join();
  }
}

ContainerMetaPtr PodCache::lookup(const std::string& id, bool* pending) {
  if (pending != nullptr) {
    *pending = false;
  }
  if (id.empty()) {
    return nullptr;
  }
  std::unique_lock lk(mu_);
  Clock::time_point now = clock_.now();
  if (auto it = entries_.find(id); it != entries_.end()) {
    Entry& e = it->second;
    if (now < e.expires) {
      lru_.splice(lru_.begin(), lru_, e.lru);
      if (e.meta) {
        ++stats_.hits;
        return e.meta;
      }
      ++stats_.negative_hits;
      return nullptr;
    }
    eraseLocked(it);
    ++stats_.expired;
  }
  ++stats_.misses;
  if (pending_.contains(id)) {
    if (pending != nullptr) {
      *pending = true;
    }
    return nullptr;
  }
  if (pending_.size() >= options_.max_pending) {
    ++stats_.dropped;
    return nullptr;
  }
  pending_.emplace(id, Pending{now, now, std::chrono::milliseconds(0)});
  if (pending != nullptr) {
    *pending = true;
  }
  kick_ = true;
  lk.unlock();
  cv_.notify_one();
  return nullptr;
}

uint64_t PodCache::generation() const { return generation_.load(std::memory_order_acquire); }

PodCacheStats PodCache::stats() const {
  std::lock_guard lk(mu_);
  PodCacheStats s = stats_;
  s.entries = entries_.size();
  s.pending = pending_.size();
  s.runtime_up = runtime_up_;
  return s;
}

// --- worker --------------------------------------------------------------------

void PodCache::run() {
  for (;;) {
    Clock::time_point now = clock_.now();
    bool up;
    {
      std::lock_guard lk(mu_);
      if (stop_) {
        return;
      }
      kick_ = false;
      up = runtime_up_;
    }
    std::vector<Resolved> resolved;
    if (!up && now >= next_probe_) {
      probe(now, resolved);
      std::lock_guard lk(mu_);
      up = runtime_up_;
    }
    if (up) {
      if (now >= next_resync_) {
        resync(now, resolved);
      }
      fetchDue(clock_.now(), resolved);
    } else {
      giveUpExpiredPending(now, resolved);
    }
    if (now >= next_sweep_) {
      sweep(now);
      next_sweep_ = now + kSweepInterval;
    }
    notify(resolved);

    std::unique_lock lk(mu_);
    if (stop_) {
      return;
    }
    if (kick_) {
      continue;
    }
    clock_.waitUntil(cv_, lk, nextWakeLocked(clock_.now()), [this] { return stop_ || kick_; });
  }
}

void PodCache::probe(Clock::time_point now, std::vector<Resolved>& resolved) {
  auto version = runtime_->version();
  if (!version) {
    markDown(version.error());
    if (!warned_down_) {
      spdlog::warn("pod identity: {}; events go without pod labels until the runtime answers (retrying)",
                   version.error().message());
      warned_down_ = true;
    }
    confirmed_down_ = true;
    probe_backoff_ = probe_backoff_.count() == 0 ? options_.retry_initial
                                                 : std::min(probe_backoff_ * 2, options_.runtime_retry_max);
    next_probe_ = now + probe_backoff_;
    return;
  }
  probe_backoff_ = std::chrono::milliseconds(0);
  if (warned_down_) {
    spdlog::info("pod identity: container runtime {} {} answers again", version->runtime_name,
                 version->runtime_version);
  } else if (confirmed_down_) {
    spdlog::info("pod identity: container runtime {} {} (CRI {})", version->runtime_name, version->runtime_version,
                 version->runtime_api_version);
  }
  warned_down_ = false;
  {
    std::lock_guard lk(mu_);
    runtime_up_ = true;
    if (confirmed_down_) {
      // Ids given up on because the runtime was away are worth asking again.
      for (auto it = entries_.begin(); it != entries_.end();) {
        auto next = std::next(it);
        if (!it->second.meta && it->second.error_negative) {
          eraseLocked(it);
        }
        it = next;
      }
    }
  }
  if (confirmed_down_) {
    // Back from an outage (or the first connection): relist now.
    confirmed_down_ = false;
    next_resync_ = now;
  }
}

void PodCache::resync(Clock::time_point now, std::vector<Resolved>& resolved) {
  auto list = runtime_->listContainers();
  if (!list) {
    markDown(list.error());
    next_probe_ = clock_.now();
    next_resync_ = now + options_.retry_max; // soon, not a whole interval later
    return;
  }
  std::lock_guard lk(mu_);
  Clock::time_point t = clock_.now();
  std::unordered_set<std::string> listed;
  for (auto& meta : *list) {
    std::string id = meta.id;
    listed.insert(id);
    auto ptr = std::make_shared<const ContainerMeta>(std::move(meta));
    putLocked(id, ptr, t, Clock::time_point::max());
    if (auto pit = pending_.find(id); pit != pending_.end()) {
      pending_.erase(pit);
      resolved.push_back({id, ptr});
    }
  }
  // Gone from the runtime: keep for late events, then expire. An entry
  // fetched after the list was asked for may be newer than the list.
  for (auto& [id, e] : entries_) {
    if (e.meta && e.expires == Clock::time_point::max() && e.fetched < now && !listed.contains(e.meta->id)) {
      e.expires = t + options_.removed_ttl;
    }
  }
  ++stats_.resyncs;
  next_resync_ = now + options_.resync_interval;
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

void PodCache::fetchDue(Clock::time_point now, std::vector<Resolved>& resolved) {
  std::vector<std::string> due;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, p] : pending_) {
      if (p.next <= now) {
        due.push_back(id);
        if (due.size() == kFetchBatch) {
          break;
        }
      }
    }
  }
  bool changed = false;
  for (const auto& id : due) {
    {
      std::lock_guard lk(mu_);
      if (stop_) {
        break;
      }
      ++stats_.fetches;
    }
    auto info = runtime_->containerInfo(id);
    Clock::time_point t = clock_.now();
    if (!info) {
      markDown(info.error());
      next_probe_ = t;
    }
    std::lock_guard lk(mu_);
    auto pit = pending_.find(id);
    if (pit == pending_.end()) {
      continue;
    }
    if (info && *info) {
      auto ptr = std::make_shared<const ContainerMeta>(std::move(**info));
      putLocked(id, ptr, t, Clock::time_point::max());
      pending_.erase(pit);
      resolved.push_back({id, ptr});
      changed = true;
      continue;
    }
    if (info) {
      ++stats_.not_found;
    }
    Pending& p = pit->second;
    if (t - p.first >= options_.not_found_retry_for) {
      // Given up: not a container the runtime knows (or it cannot say).
      putLocked(id, nullptr, t, t + (info ? options_.negative_ttl : options_.error_negative_ttl), !info);
      ++stats_.negatives;
      pending_.erase(pit);
      resolved.push_back({id, nullptr});
      changed = true;
    } else {
      p.backoff = p.backoff.count() == 0 ? options_.retry_initial : std::min(p.backoff * 2, options_.retry_max);
      p.next = t + p.backoff;
    }
    if (!info) {
      break; // the runtime failed: probe it before asking more
    }
  }
  if (changed) {
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void PodCache::giveUpExpiredPending(Clock::time_point now, std::vector<Resolved>& resolved) {
  std::lock_guard lk(mu_);
  bool changed = false;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->second.first >= options_.not_found_retry_for) {
      putLocked(it->first, nullptr, now, now + options_.error_negative_ttl, true);
      ++stats_.negatives;
      resolved.push_back({it->first, nullptr});
      it = pending_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) {
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void PodCache::sweep(Clock::time_point now) {
  std::lock_guard lk(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.expires <= now) {
      eraseLocked(it);
      ++stats_.expired;
    }
    it = next;
  }
}

void PodCache::markDown(const Error& error) {
  {
    std::lock_guard lk(mu_);
    runtime_up_ = false;
    ++stats_.fetch_errors;
  }
  // A failed fetch only triggers a probe; the probe's failure is what says
  // the runtime is away, once per outage.
  spdlog::debug("pod identity: {}", error.message());
}

void PodCache::notify(std::vector<Resolved>& resolved) {
  if (!on_ready_) {
    return;
  }
  for (const auto& r : resolved) {
    on_ready_(r.id, r.meta);
  }
}

// --- with mu_ held ---------------------------------------------------------------

void PodCache::putLocked(const std::string& id, ContainerMetaPtr meta, Clock::time_point now,
                         Clock::time_point expires, bool error_negative) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    lru_.push_front(id);
    it = entries_.emplace(id, Entry{}).first;
    it->second.lru = lru_.begin();
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Entry& e = it->second;
  e.meta = std::move(meta);
  e.expires = expires;
  e.fetched = now;
  e.error_negative = error_negative;
  size_t cap = std::max<size_t>(options_.max_entries, 1);
  while (entries_.size() > cap) {
    eraseLocked(entries_.find(lru_.back()));
    ++stats_.evictions;
  }
}

void PodCache::eraseLocked(std::unordered_map<std::string, Entry>::iterator it) {
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

PodCache::Clock::time_point PodCache::nextWakeLocked(Clock::time_point now) const {
  Clock::time_point wake = next_sweep_;
  if (runtime_up_) {
    wake = std::min(wake, next_resync_);
    for (const auto& [id, p] : pending_) {
      wake = std::min(wake, p.next);
    }
  } else {
    wake = std::min(wake, next_probe_);
    for (const auto& [id, p] : pending_) {
      wake = std::min(wake, p.first + options_.not_found_retry_for);
    }
  }
  return std::max(wake, now);
}

} // namespace vigil::cri
