#pragma once

// Sleep/wake between two threads around a lock-free queue, without a lock on
// the fast path: the waker pays one load while the sleeper is awake, and a
// futex wake only when it really sleeps.
//
// The protocol is the store-fence-load pair on both sides:
//   waker:   publish (queue push/pop); ring()  -> fence; load sleeping
//   sleeper: wait(ready):  sleeping = 1; fence; ready()? -> futex wait
// so either the waker sees the sleeper's flag, or the sleeper sees the
// published change before it sleeps.

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace vigil::pipeline {

class Doorbell {
public:
  // After publishing a change the sleeper may be waiting for.
  void ring() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_relaxed) != 0) {
      word_.fetch_add(1, std::memory_order_relaxed);
      futex(FUTEX_WAKE_PRIVATE, INT_MAX, nullptr);
      wakeups_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Sleeps until rung or timeout_ms passed, unless ready() is already true.
  template <typename Ready>
  void wait(Ready&& ready, int timeout_ms) {
    const uint32_t seen = word_.load(std::memory_order_relaxed);
    sleeping_.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!ready()) {
      timespec ts{timeout_ms / 1000, long(timeout_ms % 1000) * 1000000L};
      futex(FUTEX_WAIT_PRIVATE, seen, &ts);
    }
    sleeping_.store(0, std::memory_order_relaxed);
  }

  bool asleep() const { return sleeping_.load(std::memory_order_relaxed) != 0; }

  // Futex wakes issued (the cost of a mostly idle stream).
  uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

private:
  long futex(int op, uint32_t val, const timespec* ts) {
    return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), op, val, ts, nullptr, 0);
  }

  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  std::atomic<uint32_t> word_{0};
  std::atomic<uint32_t> sleeping_{0};
  std::atomic<uint64_t> wakeups_{0};
};

} // namespace vigil::pipeline
