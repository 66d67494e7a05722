#pragma once

// Event memory reuse. Each pooled event lives on its own protobuf arena whose
// first block is kept: building an event (strings, nested messages) is a
// pointer bump in memory that was warm a moment ago, and freeing it is a
// push onto a lock-free free list, from whichever thread finished with it;
// the arena is reset when it is next taken. bench/decode_bench.cc (BM_Decode against
// BM_DecodePooled) measures what that saves per record.
//
// Bounded: at most max_slots arenas of block_bytes each exist; past that,
// events come from the heap (counted as heap_events), so the pool never
// blocks and never loses an event. A large event grows its arena past the
// block; the excess is returned at the reset (at the next acquire, or by
// trim when the stream is quiet).

#include "vigil/event.h"

#include <boost/lockfree/stack.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace vigil::pipeline {

struct EventPoolStats {
  uint64_t slots = 0; // arenas created (each block_bytes)
  uint64_t free = 0; // arenas waiting for reuse (approximate)
  uint64_t reused = 0; // events built in a recycled arena
  uint64_t heap_events = 0; // events built on the heap: every slot was in use
};

class EventPool {
public:
  EventPool(size_t max_slots, size_t block_bytes);
  ~EventPool();
  EventPool(const EventPool&) = delete;
  EventPool& operator=(const EventPool&) = delete;

  // A fresh, empty event. Any thread; never blocks. The arena it comes in
  // is reset here, not when the event is released: the thread that builds
  // events also frees their memory (glibc's malloc serializes frees of
  // another thread's memory on that thread's arena lock; with the sinks on
  // their own thread that was ~40% of the agent's time, pipeline.md).
  EventPtr acquire();
  // Resets every idle arena, so a burst's memory does not stay with the
  // pool while nothing is built. Call it on the thread that acquires, when
  // the stream is quiet.
  void trim();

  EventPoolStats stats() const;

private:
  struct Slot;
  void giveBack(Slot* slot);

  const size_t max_slots_;
  const size_t block_bytes_;
  boost::lockfree::stack<Slot*> free_;
  std::mutex slots_mu_; // creation of slots only
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<uint64_t> slot_count_{0}, free_count_{0}, reused_{0}, heap_events_{0};
};

} // namespace vigil::pipeline
