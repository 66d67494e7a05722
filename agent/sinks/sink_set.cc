#include "agent/sinks/sink_set.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <set>
#include <system_error>
#include <thread>

namespace vigil {
namespace {

constexpr size_t kBatch = 256; // events a sink thread takes at once
constexpr auto kFlushEvery = std::chrono::milliseconds(200); // under load
constexpr int kIdleWaitMs = 500; // close() and publish() wake it sooner
constexpr auto kLogEvery = std::chrono::seconds(10); // per sink, for its errors
constexpr auto kDestructorDeadline = std::chrono::seconds(5);

std::string where(const OutputConfig& config) {
  const std::string& name = config.name.empty() ? config.type : config.name;
  return config.source.empty() ? fmt::format("output {}", name) : fmt::format("{}: output {}", config.source, name);
}

// A counter written by one thread and read by others: no read-modify-write.
void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

} // namespace

// One sink, its queue, and the thread that drains the one into the other.
// Shared between the set and that thread, so that a thread left behind at
// close() still has what it touches.
class SinkSet::Worker {
public:
  Worker(OutputConfig config, EventSinkPtr sink, std::string name)
      : config_(std::move(config)), name_(std::move(name)), sink_(std::move(sink)),
        queue_(config_.queue_capacity, config_.when_full) {}

  void run();
  bool doFlush();
  void report(const Status& status);
  // close(), under mu_: stop this thread's work and free what it holds.
  void abandon();
  SinkStats stats() const;

  const OutputConfig config_;
  const std::string name_;
  const EventSinkPtr sink_; // called on the sink thread only (but buffered())
  pipeline::StageQueue<Delivery> queue_;
  std::thread thread_;
  std::chrono::steady_clock::time_point close_deadline_; // set before queue_.close()

  // The consumer's side of queue_ and the events taken from it: the sink
  // thread's, until close() gives up on it and takes them over.
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false; // closed in time (under mu_)
  std::optional<Error> close_error_; // under mu_
  Delivery batch_[kBatch]; // taken from the queue: [0, held_) are not released yet
  size_t held_ = 0; // under mu_
  // The batch entry the thread writes now (or kReadingNone). With
  // abandoned_, a Dekker pair: the thread publishes its cursor, then
  // checks abandoned_; close() sets abandoned_, then reads the cursor. So
  // every entry but the cursor's is safe for close() to free.
  static constexpr size_t kReadingNone = SIZE_MAX;
  std::atomic<size_t> cursor_{kReadingNone};
  std::atomic<bool> abandoned_{false};
  uint64_t abandoned_buffered_ = 0; // what the sink held when given up on (set once, before abandoned_)

  // Written by the sink thread only.
  std::atomic<uint64_t> written_{0}, write_failed_{0}, errors_{0}, flushes_{0}, discarded_{0}, close_lost_{0};
  std::chrono::steady_clock::time_point last_log_{};
  uint64_t unlogged_ = 0;
};

void SinkSet::Worker::run() {
  bool dirty = false; // written since the last flush
  auto last_flush = std::chrono::steady_clock::now();
  for (;;) {
    size_t n = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (abandoned_.load(std::memory_order_relaxed)) {
        return;
      }
      n = held_ = queue_.popBatch(batch_, kBatch);
      cursor_.store(kReadingNone, std::memory_order_relaxed);
    }
    for (size_t i = 0; i < n; ++i) {
      cursor_.store(i, std::memory_order_seq_cst);
      if (abandoned_.load(std::memory_order_seq_cst)) {
        return;
      }
      Status st = sink_->write(*batch_[i].event);
      if (abandoned_.load(std::memory_order_acquire)) {
        return; // not counted: close() counted it as not written
      }
      if (st) {
        bump(written_);
      } else {
        bump(write_failed_);
        bump(errors_);
        report(st);
      }
    }
    cursor_.store(kReadingNone, std::memory_order_release);
    if (n > 0) {
      // Done with them: the last sink out frees each.
      std::lock_guard<std::mutex> lock(mu_);
      if (abandoned_.load(std::memory_order_relaxed)) {
        return;
      }
      for (size_t i = 0; i < n; ++i) {
        release(batch_[i]);
      }
      held_ = 0;
    }
    if (n > 0) { // the lock is not held across a flush
      discarded_.store(sink_->discarded(), std::memory_order_relaxed);
      dirty = true;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_flush >= kFlushEvery) {
        if (!doFlush()) {
          return;
        }
        last_flush = now;
        dirty = false;
      }
      continue;
    }
    // The queue went idle.
    if (dirty) {
      if (!doFlush()) {
        return;
      }
      last_flush = std::chrono::steady_clock::now();
      dirty = false;
    }
    if (queue_.drained()) {
      break;
    }
    queue_.waitForData(kIdleWaitMs);
  }
  // close(): the queue is closed and empty, and nothing is held.
  const uint64_t before = sink_->discarded();
  discarded_.store(before, std::memory_order_relaxed);
  Status st = sink_->close(close_deadline_);
  if (abandoned_.load(std::memory_order_acquire)) {
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (abandoned_.load(std::memory_order_relaxed)) {
    return;
  }
  close_lost_.store(sink_->discarded() - before, std::memory_order_relaxed); // lost to the deadline
  if (!st) {
    bump(errors_);
    close_error_ = st.error();
  }
  done_ = true;
  done_cv_.notify_all();
}

void SinkSet::Worker::abandon() {
  abandoned_buffered_ = sink_->buffered();
  abandoned_.store(true, std::memory_order_seq_cst);
  const size_t reading = cursor_.load(std::memory_order_seq_cst);
  // Its batch, but the event its thread may be reading right now: that one
  // stays with the thread (never freed).
  for (size_t i = 0; i < held_; ++i) {
    if (i != reading) {
      release(batch_[i]);
    }
  }
  held_ = 0;
  // Its queue: close() is the consumer now.
  Delivery rest[64];
  while (size_t n = queue_.popBatch(rest, 64)) {
    for (size_t i = 0; i < n; ++i) {
      release(rest[i]);
    }
  }
}

// False when close() gave up on this sink meanwhile.
bool SinkSet::Worker::doFlush() {
  Status st = sink_->flush();
  if (abandoned_.load(std::memory_order_acquire)) {
    return false;
  }
  bump(flushes_);
  discarded_.store(sink_->discarded(), std::memory_order_relaxed);
  if (!st) {
    bump(errors_);
    report(st);
  }
  return true;
}

// At most one log line per sink every kLogEvery; the counters have the rest.
void SinkSet::Worker::report(const Status& status) {
  const auto now = std::chrono::steady_clock::now();
  if (last_log_ != std::chrono::steady_clock::time_point{} && now - last_log_ < kLogEvery) {
    ++unlogged_;
    return;
  }
  if (unlogged_ > 0) {
    spdlog::warn("sink {}: {} (and {} more errors since the last report)", name_, status.error().message(), unlogged_);
  } else {
    spdlog::warn("sink {}: {}", name_, status.error().message());
  }
  last_log_ = now;
  unlogged_ = 0;
}

SinkStats SinkSet::Worker::stats() const {
  SinkStats s;
  s.name = name_;
  s.type = config_.type;
  s.when_full = config_.when_full;
  const auto q = queue_.stats();
  s.accepted = q.pushed;
  s.dropped_queue_full = q.dropped_full;
  s.queue_depth = q.depth;
  s.queue_capacity = q.capacity;
  s.queue_max_depth = q.max_depth;
  s.written = written_.load(std::memory_order_relaxed);
  const uint64_t failed = write_failed_.load(std::memory_order_relaxed);
  s.write_errors = errors_.load(std::memory_order_relaxed);
  s.flushes = flushes_.load(std::memory_order_relaxed);
  s.dropped_write_error = failed + discarded_.load(std::memory_order_relaxed);
  s.abandoned = abandoned_.load(std::memory_order_acquire);
  // What its close() could not write by the deadline.
  s.dropped_shutdown_deadline = close_lost_.load(std::memory_order_relaxed);
  if (s.abandoned) {
    // And, given up on: everything it took and did not get through write()
    // (queued, or in its thread's hands), plus what was still in its buffer.
    const uint64_t through = s.written + failed;
    s.dropped_shutdown_deadline += (s.accepted > through ? s.accepted - through : 0) + abandoned_buffered_;
  }
  return s;
}

Result<std::unique_ptr<SinkSet>> SinkSet::create(std::vector<ConfiguredSink> sinks) {
  std::unique_ptr<SinkSet> set(new SinkSet());
  std::set<std::string, std::less<>> names;
  size_t in_flight = 1; // the event deliver() is handing out
  for (auto& s : sinks) {
    const OutputConfig& c = s.config;
    if (s.sink == nullptr) {
      return makeError("{}: no sink was built", where(c));
    }
    std::string name = c.name.empty() ? std::string(s.sink->name()) : c.name;
    if (!names.insert(name).second) {
      return makeError("{}: another output is named {} (give each a unique name)", where(c), name);
    }
    if (c.queue_capacity == 0) {
      return makeError("{}: queue_capacity must be at least 1", where(c));
    }
    // In its queue (the ring may hold one more than asked) or in its thread's batch.
    in_flight += size_t(c.queue_capacity) + 1 + kBatch;
    set->workers_.push_back(std::make_shared<Worker>(c, std::move(s.sink), std::move(name)));
  }
  if (set->workers_.size() > 1) {
    set->ref_slots_ = 2 * in_flight;
    set->refs_ = std::make_unique<std::atomic<uint32_t>[]>(set->ref_slots_); // all 0: free
  }
  return set;
}

SinkSet::~SinkSet() {
  if (!closed_) {
    if (auto st = close(kDestructorDeadline); !st) {
      spdlog::warn("sinks: {}", st.error().message());
    }
  }
}

Status SinkSet::start() {
  if (started_) {
    return okStatus();
  }
  for (auto& w : workers_) {
    if (w->thread_.joinable()) {
      continue; // started by an earlier call that failed part way
    }
    try {
      w->thread_ = std::thread([w] { w->run(); }); // the thread holds its own reference
    } catch (const std::system_error& e) {
      return makeError("{}: cannot start its thread: {}", where(w->config_), e.what());
    }
    const std::string thread_name = ("sink:" + w->name_).substr(0, 15); // the kernel's limit
    (void)pthread_setname_np(w->thread_.native_handle(), thread_name.c_str());
  }
  started_ = true;
  return okStatus();
}

void SinkSet::release(const Delivery& d) {
  // acq_rel: the last one out sees every other sink's reads of the event
  // before it frees it.
  if (d.refs == nullptr || d.refs->fetch_sub(1, std::memory_order_acq_rel) == 1) {
    EventDeleter(d.owner)(d.event);
  }
}

// A free reference count. One exists: there are twice as many as events can
// be in flight (create()).
std::atomic<uint32_t>* SinkSet::takeRefSlot() {
  for (;;) {
    std::atomic<uint32_t>& slot = refs_[next_ref_];
    next_ref_ = next_ref_ + 1 == ref_slots_ ? 0 : next_ref_ + 1;
    if (slot.load(std::memory_order_acquire) == 0) {
      return &slot;
    }
  }
}

void SinkSet::deliver(EventPtr event) {
  if (closing_ || workers_.empty() || event == nullptr) {
    return; // freed here
  }
  if (workers_.size() == 1) {
    // The one sink owns it: no count to keep.
    if (workers_.front()->queue_.push({event.get(), event.get_deleter().owner, nullptr})) {
      (void)event.release();
    }
    return; // refused: freed here, counted by the queue
  }
  const auto sinks = uint32_t(workers_.size());
  std::atomic<uint32_t>* refs = takeRefSlot();
  // Published to the sink threads by each push (release).
  refs->store(sinks, std::memory_order_relaxed);
  const Delivery d{event.get(), event.get_deleter().owner, refs};
  uint32_t refused = 0;
  for (auto& w : workers_) {
    refused += w->queue_.push(d) ? 0 : 1;
  }
  if (refused == 0) {
    (void)event.release();
  } else if (refused == sinks) {
    refs->store(0, std::memory_order_relaxed); // nobody saw it; freed here
  } else if (refs->fetch_sub(refused, std::memory_order_acq_rel) != refused) {
    (void)event.release(); // sink threads still hold it; the last one frees it
  } // else every sink that took it is already done with it: freed here
}

void SinkSet::publish() {
  for (auto& w : workers_) {
    w->queue_.publish();
  }
}

Status SinkSet::close(std::chrono::milliseconds span) {
  if (closed_) {
    return okStatus();
  }
  if (!started_) {
    // Whatever was delivered still gets written.
    if (auto st = start(); !st) {
      return st;
    }
  }
  closing_ = true;
  closed_ = true;
  const auto deadline = std::chrono::steady_clock::now() + span;
  for (auto& w : workers_) {
    w->close_deadline_ = deadline;
    w->queue_.close(); // wakes it; it drains, then closes the sink
  }
  std::vector<std::string> problems;
  for (auto& w : workers_) {
    std::unique_lock<std::mutex> lock(w->mu_);
    if (w->done_cv_.wait_until(lock, deadline, [&] { return w->done_; })) {
      if (w->close_error_) {
        problems.push_back(fmt::format("{}: {}", w->name_, w->close_error_->message()));
      }
      lock.unlock();
      w->thread_.join();
      continue;
    }
    // Too late: free what it holds and leave its thread behind.
    w->abandon();
    lock.unlock();
    if (w->thread_.joinable()) {
      w->thread_.detach();
    }
    const SinkStats s = w->stats();
    spdlog::warn("sink {}: not done by the shutdown deadline; {} events dropped, its thread is left behind",
                 w->name_, s.dropped_shutdown_deadline);
    problems.push_back(fmt::format("{}: abandoned at the deadline ({} events not written)", w->name_,
                                   s.dropped_shutdown_deadline));
  }
  if (!problems.empty()) {
    return makeError("sinks: {}", fmt::join(problems, "; "));
  }
  return okStatus();
}

std::vector<SinkStats> SinkSet::stats() const {
  std::vector<SinkStats> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_) {
    out.push_back(w->stats());
  }
  return out;
}

std::vector<SinkDrop> SinkSet::drops() const {
  std::vector<SinkDrop> out;
  for (const auto& s : stats()) {
    out.push_back({s.name, "sink", "queue_full", s.dropped_queue_full});
    out.push_back({s.name, "sink", "write_error", s.dropped_write_error});
    out.push_back({s.name, "sink", "shutdown_deadline", s.dropped_shutdown_deadline});
  }
  return out;
}

} // namespace vigil
