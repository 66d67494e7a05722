#include "agent/pipeline/event_pool.h"

#include <google/protobuf/arena.h>

namespace vigil::pipeline {

struct EventPool::Slot final : EventRecycler {
  Slot(EventPool& p, size_t block_bytes) : pool(p), block(new char[block_bytes]), arena(options(block.get(), block_bytes)) {}

  static google::protobuf::ArenaOptions options(char* block, size_t bytes) {
    google::protobuf::ArenaOptions o;
    o.initial_block = block;
    o.initial_block_size = bytes;
    return o;
  }

  // Any thread: the event lives in the arena, which the next acquire (or a
  // trim) resets on the thread that builds events, so the memory its strings
  // took from malloc goes back to the thread that took it.
  void recycle(Event* event) override {
    (void)event; // no destructor to run
    pool.giveBack(this);
  }

  // On the building thread: frees what the last event used beyond the block.
  void reset() {
    if (dirty) {
      arena.Reset();
      dirty = false;
    }
  }

  EventPool& pool;
  std::unique_ptr<char[]> block;
  google::protobuf::Arena arena;
  bool dirty = false; // holds a finished event's memory
};

EventPool::EventPool(size_t max_slots, size_t block_bytes)
    : max_slots_(max_slots), block_bytes_(block_bytes), free_(max_slots) {}

EventPool::~EventPool() = default;

EventPtr EventPool::acquire() {
  Slot* slot = nullptr;
  if (free_.pop(slot)) {
    free_count_.fetch_sub(1, std::memory_order_relaxed);
    reused_.fetch_add(1, std::memory_order_relaxed);
  } else if (slot_count_.load(std::memory_order_relaxed) < max_slots_) {
    std::lock_guard<std::mutex> lock(slots_mu_);
    if (slots_.size() < max_slots_) {
      slots_.push_back(std::make_unique<Slot>(*this, block_bytes_));
      slot = slots_.back().get();
      slot_count_.store(slots_.size(), std::memory_order_relaxed);
    }
  }
  if (slot == nullptr) {
    heap_events_.fetch_add(1, std::memory_order_relaxed);
    return EventPtr(new Event());
  }
  slot->reset();
  slot->dirty = true;
  return EventPtr(google::protobuf::Arena::CreateMessage<Event>(&slot->arena), EventDeleter(slot));
}

void EventPool::trim() {
  std::vector<Slot*> taken;
  Slot* slot = nullptr;
  while (free_.pop(slot)) {
    slot->reset();
    taken.push_back(slot);
  }
  for (auto it = taken.rbegin(); it != taken.rend(); ++it) {
    free_.bounded_push(*it); // the same order as before
  }
}

void EventPool::giveBack(Slot* slot) {
  // The stack holds max_slots_ nodes: every slot fits.
  free_.bounded_push(slot);
  free_count_.fetch_add(1, std::memory_order_relaxed);
}

EventPoolStats EventPool::stats() const {
  return {slot_count_.load(std::memory_order_relaxed), free_count_.load(std::memory_order_relaxed),
          reused_.load(std::memory_order_relaxed), heap_events_.load(std::memory_order_relaxed)};
}

} // namespace vigil::pipeline
