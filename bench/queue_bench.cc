// The queue between the agent's stages (ring-buffer consumer/decoder thread ->
// enrichment/sinks thread): single producer, single consumer, 8-byte items
// (vigil::v1::Event*), bursts of thousands, consumer pops in batches. Project
// rule: use a Debian lock-free queue unless a hand-written ring is clearly
// faster for this pattern. This compares, at a capacity of 65536 pointers,
//   Rwq    moodycamel::ReaderWriterQueue<void*>  (libreaderwriterqueue-dev),
//          pre-sized, try_enqueue / try_dequeue (no batch API: a loop);
//   Boost  boost::lockfree::spsc_queue<void*, capacity<65536>> (libboost-dev),
//          push / pop / pop(buf, n);
//   Ring   SpscRing below: power-of-two ring, head and tail on separate cache
//          lines, acquire/release, each side caches the other's index.
// Results and reading: bench/results/queue.md.
//   build/bench/vigil_queue_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>
#include <boost/lockfree/spsc_queue.hpp>
#include <readerwriterqueue/readerwriterqueue.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

namespace {

constexpr size_t kCapacity = 65536;
constexpr size_t kBatch = 64;
// Items moved per iteration of the two-thread benchmarks.
constexpr size_t kTransfer = size_t{1} << 20;
// A fixed 64 rather than std::hardware_destructive_interference_size: GCC warns
// that the latter is not ABI-stable, and Boost's spsc_queue pads to 64 too.
constexpr size_t kCacheLine = 64;

// The same spin-wait hint for every queue, on full and on empty.
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Minimal SPSC ring. head_ and tail_ count up without wrapping (size_t), so
// full is tail - head == Capacity and every slot is usable. Each side reloads
// the other's index (an acquire, a cache-line transfer) only when its cached
// copy says full / empty.
template <size_t CapacityV> class SpscRing {
  static_assert(std::has_single_bit(CapacityV), "capacity must be a power of two");

public:
  SpscRing() : slots_(std::make_unique<void*[]>(CapacityV)) {}

  bool tryPush(void* item) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ == CapacityV) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ == CapacityV) {
        return false;
      }
    }
    slots_[tail & kMask] = item;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  bool tryPop(void*& item) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) {
        return false;
      }
    }
    item = slots_[head & kMask];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Pops up to max items into out; one index load and one store per batch.
  size_t popBatch(void** out, size_t max) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (tail_cache_ - head < max) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
    }
    const size_t n = std::min(tail_cache_ - head, max);
    for (size_t i = 0; i < n; ++i) {
      out[i] = slots_[(head + i) & kMask];
    }
    if (n != 0) {
      head_.store(head + n, std::memory_order_release);
    }
    return n;
  }

private:
  static constexpr size_t kMask = CapacityV - 1;

  // Consumer's line: what it writes, and its private copy of tail_.
  alignas(kCacheLine) std::atomic<size_t> head_{0};
  size_t tail_cache_{0};
  // Producer's line.
  alignas(kCacheLine) std::atomic<size_t> tail_{0};
  size_t head_cache_{0};
  // Read-only after construction; own line so it shares none with the indices.
  alignas(kCacheLine) std::unique_ptr<void*[]> slots_;
};

// One interface over the three queues, so each benchmark body is written once.
class RwqQueue {
public:
  // Pre-sized: try_enqueue never allocates (it fails instead when full).
  RwqQueue() : q_(kCapacity) {}
  bool tryPush(void* item) { return q_.try_enqueue(item); }
  bool tryPop(void*& item) { return q_.try_dequeue(item); }
  // ReaderWriterQueue has no bulk dequeue; this is what a caller would write.
  size_t popBatch(void** out, size_t max) {
    size_t n = 0;
    while (n < max && q_.try_dequeue(out[n])) {
      ++n;
    }
    return n;
  }

private:
  moodycamel::ReaderWriterQueue<void*> q_;
};

class BoostQueue {
public:
  bool tryPush(void* item) { return q_->push(item); }
  bool tryPop(void*& item) { return q_->pop(item); }
  size_t popBatch(void** out, size_t max) { return q_->pop(out, max); }

private:
  // Compile-time capacity keeps the 512 KB array inside the object: on the heap.
  using Queue = boost::lockfree::spsc_queue<void*, boost::lockfree::capacity<kCapacity>>;
  std::unique_ptr<Queue> q_ = std::make_unique<Queue>();
};

class RingQueue {
public:
  bool tryPush(void* item) { return ring_->tryPush(item); }
  bool tryPop(void*& item) { return ring_->tryPop(item); }
  size_t popBatch(void** out, size_t max) { return ring_->popBatch(out, max); }

private:
  std::unique_ptr<SpscRing<kCapacity>> ring_ = std::make_unique<SpscRing<kCapacity>>();
};

void* itemFor(uint64_t i) { return reinterpret_cast<void*>(static_cast<uintptr_t>(i + 1)); }

// (a) One thread, push then pop: the uncontended cost of the two calls.
template <class Q> void BM_PushPopPair(benchmark::State& state) {
  Q q;
  uint64_t i = 0;
  for (auto _ : state) {
    if (!q.tryPush(itemFor(i++))) {
      state.SkipWithError("push failed on an empty queue");
      break;
    }
    void* out = nullptr;
    if (!q.tryPop(out)) {
      state.SkipWithError("pop failed after a push");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
}

// (b) Two threads: a producer pushes kTransfer items one at a time, spinning
// while full; this thread pops them (one at a time, or kBatch at a time) and
// sums them, which also checks nothing was lost or duplicated.
template <class Q, bool BatchV> void BM_TwoThread(benchmark::State& state) {
  Q q;
  const uint64_t expected = uint64_t{kTransfer} * (kTransfer + 1) / 2;
  void* buf[kBatch];
  for (auto _ : state) {
    std::thread producer([&q] {
      for (uint64_t i = 0; i < kTransfer; ++i) {
        while (!q.tryPush(itemFor(i))) {
          cpuRelax();
        }
      }
    });
    uint64_t sum = 0;
    size_t got = 0;
    while (got < kTransfer) {
      if constexpr (BatchV) {
        const size_t n = q.popBatch(buf, kBatch);
        if (n == 0) {
          cpuRelax();
          continue;
        }
        for (size_t j = 0; j < n; ++j) {
          sum += reinterpret_cast<uintptr_t>(buf[j]);
        }
        got += n;
      } else {
        void* out = nullptr;
        if (!q.tryPop(out)) {
          cpuRelax();
          continue;
        }
        sum += reinterpret_cast<uintptr_t>(out);
        ++got;
      }
    }
    producer.join();
    if (sum != expected) {
      state.SkipWithError("consumer sum mismatch: items lost or duplicated");
      break;
    }
  }
  state.counters["items_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kTransfer), benchmark::Counter::kIsRate);
}

// Fixed iteration counts so the whole binary runs in a few seconds on 2 cores.
constexpr benchmark::IterationCount kPairIterations = 20'000'000;
constexpr benchmark::IterationCount kTransferIterations = 16;

BENCHMARK_TEMPLATE(BM_PushPopPair, RwqQueue)->Iterations(kPairIterations);
BENCHMARK_TEMPLATE(BM_PushPopPair, BoostQueue)->Iterations(kPairIterations);
BENCHMARK_TEMPLATE(BM_PushPopPair, RingQueue)->Iterations(kPairIterations);

BENCHMARK_TEMPLATE(BM_TwoThread, RwqQueue, false)->Iterations(kTransferIterations)->UseRealTime();
BENCHMARK_TEMPLATE(BM_TwoThread, BoostQueue, false)->Iterations(kTransferIterations)->UseRealTime();
BENCHMARK_TEMPLATE(BM_TwoThread, RingQueue, false)->Iterations(kTransferIterations)->UseRealTime();
BENCHMARK_TEMPLATE(BM_TwoThread, RwqQueue, true)->Iterations(kTransferIterations)->UseRealTime();
BENCHMARK_TEMPLATE(BM_TwoThread, BoostQueue, true)->Iterations(kTransferIterations)->UseRealTime();
BENCHMARK_TEMPLATE(BM_TwoThread, RingQueue, true)->Iterations(kTransferIterations)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
