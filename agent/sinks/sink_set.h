#pragma once

// The sink stage: every sink on a thread of its own, behind a bounded queue
// of its own (docs/sinks.md).
//
//   deliver() ──► [queue: stdout] ──► stdout thread: write, flush
//             ├─► [queue: file]   ──► file thread:   write, flush, rotate
//             └─► ...
//
// The pipeline thread hands each event to every sink's queue and goes on;
// a sink that is slow or stuck holds up only itself. When a sink's queue is
// full its policy decides (OutputConfig::when_full): drop refuses the event
// for that sink only, counted (reason queue_full); block makes the pipeline
// wait (lossless for that sink; pressure travels upstream to the kernel
// ring, where losses are counted too).
//
// Events are shared, not copied: each carries a reference count (one per
// sink that took it) and the last sink thread to finish with it frees it
// through its EventPtr deleter (the pool's recycle is thread-safe). With a
// single sink there is no count: that sink owns the event.
//
// Per event and sink: one lock-free push; no allocation, no system call.
// Consumers are woken once per batch (publish()).

#include "agent/pipeline/stage_queue.h"
#include "agent/sinks/output_config.h"
#include "vigil/sink.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigil {

// A sink and the entry it was built from.
struct ConfiguredSink {
  OutputConfig config;
  EventSinkPtr sink;
};

// One sink's counters and gauges; read from any thread.
struct SinkStats {
  std::string name; // OutputConfig::name, or the sink's own name
  std::string type;
  pipeline::FullPolicy when_full = pipeline::FullPolicy::kDrop;
  uint64_t accepted = 0; // events its queue took
  uint64_t written = 0; // events its write() accepted
  uint64_t write_errors = 0; // failed write(), flush() and close() calls
  uint64_t flushes = 0;
  uint64_t dropped_queue_full = 0; // refused: its queue was full (drop policy)
  uint64_t dropped_write_error = 0; // write() failed, or the sink lost them after (EventSink::discarded)
  uint64_t dropped_shutdown_deadline = 0; // still queued or unwritten when close() gave up on it
  uint64_t queue_depth = 0;
  uint64_t queue_capacity = 0;
  uint64_t queue_max_depth = 0;
  bool abandoned = false; // close() gave up on it: its thread was left behind
};

// One loss counter, for the metrics registry: {sink, "sink", reason, count}.
struct SinkDrop {
  std::string sink;
  std::string stage; // "sink"
  std::string reason; // queue_full, write_error, shutdown_deadline
  uint64_t count = 0;
};

class SinkSet {
public:
  // Checks the entries (names unique, queue capacity) and builds the queues;
  // no thread runs yet. Errors name OutputConfig::source.
  static Result<std::unique_ptr<SinkSet>> create(std::vector<ConfiguredSink> sinks);
  // Closes with a 5 s deadline unless close() ran.
  ~SinkSet();
  SinkSet(const SinkSet&) = delete;
  SinkSet& operator=(const SinkSet&) = delete;

  // Starts one thread per sink.
  Status start();

  // The pipeline thread (one thread, the same every time; after start()):
  // hands event to every sink's queue. Never blocks on a sink whose policy
  // is drop. The consumers are not woken: call publish() after a batch.
  void deliver(EventPtr event);
  // Wakes the sink threads that sleep, once per batch of deliver().
  void publish();

  // On the pipeline thread, after its last deliver(): each sink writes what
  // its queue holds, then closes (EventSink::close) by the deadline. A sink
  // that has not finished by then is abandoned: what it still had is
  // counted (reason shutdown_deadline) and freed where that is safe, and
  // its thread is left behind, detached. Returns by the deadline; the error
  // names the sinks that failed to close or were abandoned. Idempotent.
  Status close(std::chrono::milliseconds deadline);

  size_t size() const { return workers_.size(); }
  // Per sink, in configuration order. Any thread.
  std::vector<SinkStats> stats() const;
  // Every loss counter of every sink (zero counts included). Any thread.
  std::vector<SinkDrop> drops() const;

private:
  // An event in a sink's queue: the EventPtr taken apart, and the shared
  // count (nullptr: this sink is its only owner).
  struct Delivery {
    Event* event;
    EventRecycler* owner;
    std::atomic<uint32_t>* refs;
  };
  class Worker;

  SinkSet() = default;
  static void release(const Delivery& d);
  std::atomic<uint32_t>* takeRefSlot();

  std::vector<std::shared_ptr<Worker>> workers_; // shared with their threads
  // Reference counts of events shared by several sinks: a slot is free at
  // 0. More slots than events can be in flight (every queue full, every
  // sink thread holding a batch), twice over so that the search for a free
  // one is short.
  std::unique_ptr<std::atomic<uint32_t>[]> refs_;
  size_t ref_slots_ = 0;
  size_t next_ref_ = 0; // pipeline thread
  bool started_ = false;
  bool closed_ = false;
  bool closing_ = false; // pipeline thread: deliver() refuses from here on
};

} // namespace vigil
