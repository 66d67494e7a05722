#pragma once

// The bounded queue between two pipeline stages: one producer thread, one
// consumer thread, lock-free (boost::lockfree::spsc_queue, chosen by
// bench/results/queue.md), carrying small trivially copyable items (owned
// pointers) in order.
//
// When it is full, the stage's policy decides:
//   block - the producer waits for space. Pressure travels upstream; at the
//           head of the pipeline the kernel ring buffer fills, and the kernel
//           counts what it cannot store, per kind.
//   drop  - the newest item is refused and counted (stage, reason
//           "queue_full"); the producer frees it.
// Nothing is lost without a count either way.

#include "agent/pipeline/doorbell.h"

#include <boost/lockfree/spsc_queue.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace vigil::pipeline {

enum class FullPolicy { kBlock, kDrop };

inline std::string_view fullPolicyName(FullPolicy p) { return p == FullPolicy::kBlock ? "block" : "drop"; }

struct StageQueueStats {
  uint64_t pushed = 0; // accepted
  uint64_t popped = 0;
  uint64_t dropped_full = 0; // refused: full under the drop policy
  uint64_t producer_waits = 0; // times the producer found it full and waited (block policy)
  uint64_t wakeups = 0; // futex wakes of the consumer
  uint64_t depth = 0; // items queued now (approximate while running)
  uint64_t max_depth = 0; // high-water mark
  uint64_t capacity = 0;
};

template <typename T>
class StageQueue {
  static_assert(std::is_trivially_copyable_v<T>);

public:
  StageQueue(size_t capacity, FullPolicy policy) : queue_(capacity), capacity_(capacity), policy_(policy) {}
  StageQueue(const StageQueue&) = delete;
  StageQueue& operator=(const StageQueue&) = delete;

  // Producer. True when the queue took item; false when it was refused (full
  // under the drop policy, or closed): the caller still owns it. A sleeping
  // consumer is not woken: call publish() after a batch of pushes.
  bool push(const T& item) {
    while (!queue_.push(item)) {
      if (policy_ == FullPolicy::kDrop || closed_.load(std::memory_order_acquire)) {
        dropped_full_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      producer_waits_.fetch_add(1, std::memory_order_relaxed);
      data_.ring(); // the consumer must be awake to make room
      space_.wait([&] { return queue_.write_available() > 0 || closed_.load(std::memory_order_acquire); }, 20);
    }
    pushed_.fetch_add(1, std::memory_order_relaxed);
    const uint64_t depth = capacity_ - queue_.write_available();
    if (depth > max_depth_.load(std::memory_order_relaxed)) {
      max_depth_.store(depth, std::memory_order_relaxed);
    }
    return true;
  }

  // Wakes the consumer if it sleeps. The producer calls it once per batch of
  // pushes, so a stream pays one wakeup per batch, not one per item; any
  // other thread may call it to make the consumer look around (e.g. at
  // events it holds) although nothing new is queued.
  void publish() { data_.ring(); }

  // Consumer: moves up to n items into out, oldest first; returns how many.
  size_t popBatch(T* out, size_t n) {
    size_t got = queue_.pop(out, n);
    if (got > 0) {
      popped_.fetch_add(got, std::memory_order_relaxed);
      space_.ring();
    }
    return got;
  }

  // Consumer: sleeps until there is something to pop, the queue is closed, or
  // timeout_ms passed.
  void waitForData(int timeout_ms) {
    data_.wait([&] { return queue_.read_available() > 0 || closed_.load(std::memory_order_acquire); }, timeout_ms);
  }

  // Producer: no more items will come. The consumer drains what is queued
  // and then sees drained() true. Also releases a producer blocked on a
  // consumer that is gone.
  void close() {
    closed_.store(true, std::memory_order_release);
    data_.ring();
    space_.ring();
  }
  // Consumer: closed and empty.
  bool drained() const { return closed_.load(std::memory_order_acquire) && queue_.read_available() == 0; }

  FullPolicy policy() const { return policy_; }
  // The consumer is inside waitForData (for tests).
  bool consumerAsleep() const { return data_.asleep(); }

  StageQueueStats stats() const {
    StageQueueStats s;
    s.pushed = pushed_.load(std::memory_order_relaxed);
    s.popped = popped_.load(std::memory_order_relaxed);
    s.dropped_full = dropped_full_.load(std::memory_order_relaxed);
    s.producer_waits = producer_waits_.load(std::memory_order_relaxed);
    s.wakeups = data_.wakeups();
    s.depth = s.pushed >= s.popped ? s.pushed - s.popped : 0;
    s.max_depth = max_depth_.load(std::memory_order_relaxed);
    s.capacity = capacity_;
    return s;
  }

private:
  boost::lockfree::spsc_queue<T> queue_;
  const uint64_t capacity_;
  const FullPolicy policy_;
  std::atomic<bool> closed_{false};
  Doorbell data_; // rung by the producer for a sleeping consumer
  Doorbell space_; // rung by the consumer for a producer waiting on a full queue
  std::atomic<uint64_t> pushed_{0}, popped_{0}, dropped_full_{0}, producer_waits_{0}, max_depth_{0};
};

} // namespace vigil::pipeline
