// Ring buffer transport benchmark: one shared BPF ring buffer against one
// ring per CPU, from a syscall tracepoint to a counting sink in user space
// (bench/ring_bench.bpf.c; bench/ring_bench.sh runs the matrix and prints the
// table; results in bench/results/ring.md).
//
// One generator thread per allowed CPU (or --generators N, on the first N),
// pinned, calls getppid for SECONDS
// (as fast as it can, or paced to --rate records/s in 1 ms ticks). Each call
// makes the BPF program emit K records of S bytes. The consumers are not
// pinned: they share the CPUs with the generators, as the agent would.
//
//   --mode shared            one ring, one consumer thread (as Vigil)
//   --mode per-cpu           a ring per CPU, one consumer thread over all
//                            rings (one libbpf ring_buffer, ring_buffer__add)
//   --mode per-cpu-threads   a ring per CPU, one consumer thread per ring
//   --mode per-cpu-merge     a ring per CPU, one consumer thread that hands
//                            records on in ktime order (MergeConsumer below)
//
// Every consumer pass is epoll_wait (up to --poll-ms, as the agent's 50 ms
// poll) then ring_buffer__consume over all of its rings, woken or not, since
// the producers suppress wakeups below --wakeup-bytes of unread data.
//
// The producer program's run time per call comes from bpf_stats (enabled
// for the run with BPF_ENABLE_STATS), so the kernel cost per record is
// measured, not inferred.
//
// Output: one line of key=value pairs (bench/ring_bench.sh reads it).
//   vigil_ring_bench --hold-floor [--seconds N]
// attaches only an empty program to a syscall tracepoint no benchmark calls
// (the kernel's floor for every other syscall), prints "attached" and waits
// for SIGTERM/SIGINT (or N seconds, 600 by default).

#include "ring_bench.skel.h"
#include "shared/common.h"

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <pthread.h>
#include <sched.h>
#include <string>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

// The record layout of bench/ring_bench.bpf.c (same assertions there).
struct RingBenchRecord {
  vigil_event_header hdr; // size, ktime_ns (CLOCK_BOOTTIME), cpu
  uint64_t seq;           // per-CPU sequence number, counting dropped records too
};
static_assert(sizeof(RingBenchRecord) == 32, "RingBenchRecord size");
static_assert(offsetof(RingBenchRecord, seq) == 24, "RingBenchRecord seq offset");

// struct ring_bench_stats of bench/ring_bench.bpf.c, one per possible CPU.
struct RingBenchStats {
  uint64_t produced;
  uint64_t dropped;
  uint64_t no_ring;
  uint64_t no_scratch;
};

constexpr uint32_t kMaxRecord = 1024; // RING_BENCH_MAX_RECORD
constexpr uint64_t kMinRing = 4096;   // a ring buffer is at least a page
constexpr uint64_t kDelaySampleEvery = 256;

enum class Mode { Shared, PerCpu, PerCpuThreads, PerCpuMerge };

struct Options {
  Mode mode = Mode::Shared;
  uint32_t records_per_call = 1;
  uint32_t record_size = 64;
  double seconds = 2;
  double rate = 0; // records/s over all generators; 0: as fast as they go
  uint32_t generators = 0; // generator threads, on the first allowed CPUs; 0: one per allowed CPU
  uint64_t ring_bytes = 8 << 20; // total over all rings, as Vigil's default ring
  uint64_t wakeup_bytes = 128 << 10; // per ring, as Vigil's default
  bool wakeup_every = false; // wake at every multiple of wakeup_bytes, not only the first
  int poll_ms = 50;
  double merge_slack_us = 1000;
  uint32_t merge_budget = 4096; // records read from one ring per merge pass
  bool hold_floor = false;
  bool libbpf_debug = false;
};

bool g_libbpf_debug = false;

int printLibbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !g_libbpf_debug) {
    return 0;
  }
  return std::vfprintf(stderr, format, args);
}

uint64_t bootNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

double threadCpuSeconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

uint64_t floorPow2(uint64_t v) {
  uint64_t p = 1;
  while (p * 2 <= v) {
    p *= 2;
  }
  return p;
}

// The counting sink: reads each record's length, CPU, sequence number and
// timestamp, checks per-CPU sequence continuity and the timestamp order of
// the stream it is handed, and counts. Owned by one consumer thread; the main
// thread reads delivered() while it runs.
class CountingSink {
public:
  CountingSink(uint32_t cpus, uint32_t record_size)
      : record_size_(record_size), next_seq_(cpus, 0), per_cpu_(cpus, 0) {}

  void onRecord(const uint8_t* data, size_t len) {
    RingBenchRecord rec;
    if (len != record_size_ || len < sizeof(rec)) {
      ++bad_;
      return;
    }
    std::memcpy(&rec, data, sizeof(rec));
    if (rec.hdr.size != len || rec.hdr.cpu >= next_seq_.size()) {
      ++bad_;
      return;
    }
    uint64_t& next = next_seq_[rec.hdr.cpu];
    if (rec.seq >= next) {
      skipped_ += rec.seq - next;
      next = rec.seq + 1;
    } else {
      ++backwards_; // was counted in skipped_ when a later record jumped over it
    }
    if (rec.hdr.ktime_ns < last_ktime_) {
      ++inversions_;
      max_inversion_ns_ = std::max<uint64_t>(max_inversion_ns_, last_ktime_ - rec.hdr.ktime_ns);
    } else {
      last_ktime_ = rec.hdr.ktime_ns;
    }
    ++per_cpu_[rec.hdr.cpu];
    uint64_t n = delivered_.load(std::memory_order_relaxed) + 1;
    delivered_.store(n, std::memory_order_relaxed);
    if (n % kDelaySampleEvery == 0) {
      uint64_t delay = bootNs() - uint64_t(rec.hdr.ktime_ns);
      ++delay_samples_;
      delay_sum_ns_ += delay;
      delay_max_ns_ = std::max(delay_max_ns_, delay);
    }
  }

  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t deliveredFrom(uint32_t cpu) const { return per_cpu_[cpu]; }
  // One past the highest sequence number seen from cpu.
  uint64_t nextSeq(uint32_t cpu) const { return next_seq_[cpu]; }
  // Records a sequence gap says were never delivered.
  uint64_t missing() const { return skipped_ - backwards_; }
  uint64_t backwards() const { return backwards_; }
  uint64_t bad() const { return bad_; }
  uint64_t inversions() const { return inversions_; }
  uint64_t maxInversionNs() const { return max_inversion_ns_; }
  uint64_t delaySamples() const { return delay_samples_; }
  uint64_t delaySumNs() const { return delay_sum_ns_; }
  uint64_t delayMaxNs() const { return delay_max_ns_; }

private:
  const uint32_t record_size_;
  std::atomic<uint64_t> delivered_{0};
  std::vector<uint64_t> next_seq_;
  std::vector<uint64_t> per_cpu_;
  uint64_t skipped_ = 0;
  uint64_t backwards_ = 0;
  uint64_t bad_ = 0;
  uint64_t inversions_ = 0;
  uint64_t max_inversion_ns_ = 0;
  uint64_t last_ktime_ = 0;
  uint64_t delay_samples_ = 0;
  uint64_t delay_sum_ns_ = 0;
  uint64_t delay_max_ns_ = 0;
};

// Records of one CPU, in arrival order, as fixed-size slots in a circular
// buffer (the ring's memory is given back as soon as the callback returns, so
// a record waiting for the merge is a copy). Sized up front to what the ring
// holds, so the merge does not fault pages in while it runs; doubles if that
// is ever not enough.
class RecordFifo {
public:
  RecordFifo(uint32_t slot_size, size_t slots) : slot_(slot_size), bytes_(size_t(slot_size) * slots) {}

  bool empty() const { return count_ == 0; }
  const uint8_t* front() const { return bytes_.data() + head_ * slot_; }
  uint64_t frontKtime() const { return ktimeOf(front()); }
  uint64_t backKtime() const { return ktimeOf(bytes_.data() + ((head_ + count_ - 1) % capacity()) * slot_); }
  void pop() {
    head_ = (head_ + 1) % capacity();
    --count_;
  }
  void push(const uint8_t* data) {
    if (count_ == capacity()) {
      grow();
    }
    std::memcpy(bytes_.data() + ((head_ + count_) % capacity()) * slot_, data, slot_);
    ++count_;
    high_water_ = std::max(high_water_, count_);
  }
  size_t highWater() const { return high_water_; }

private:
  static uint64_t ktimeOf(const uint8_t* rec) {
    uint64_t ktime;
    std::memcpy(&ktime, rec + offsetof(vigil_event_header, ktime_ns), sizeof(ktime));
    return ktime;
  }
  size_t capacity() const { return bytes_.size() / slot_; }
  void grow() {
    std::vector<uint8_t> bigger(bytes_.size() * 2);
    for (size_t i = 0; i < count_; ++i) {
      std::memcpy(bigger.data() + i * slot_, bytes_.data() + ((head_ + i) % capacity()) * slot_, slot_);
    }
    bytes_ = std::move(bigger);
    head_ = 0;
  }

  const size_t slot_;
  std::vector<uint8_t> bytes_;
  size_t head_ = 0;
  size_t count_ = 0;
  size_t high_water_ = 0;
};

// Merge by timestamp across per-CPU rings. Ring i holds CPU i's records in
// the order they were written, so the merge is a k-way merge of per-CPU
// FIFOs: the oldest head goes first, once the watermark has passed it.
class TimestampMerger {
public:
  TimestampMerger(uint32_t cpus, uint32_t record_size, size_t slots_per_cpu, CountingSink& sink)
      : record_size_(record_size), sink_(sink) {
    for (uint32_t c = 0; c < cpus; ++c) {
      fifos_.emplace_back(record_size, slots_per_cpu);
    }
  }

  void push(uint32_t ring, const uint8_t* data, size_t len) {
    if (ring >= fifos_.size() || len != record_size_) {
      sink_.onRecord(data, len); // counted as bad there
      return;
    }
    fifos_[ring].push(data);
  }
  // The newest ktime read from ring (0 if none is waiting).
  uint64_t newestKtime(uint32_t ring) const { return fifos_[ring].empty() ? 0 : fifos_[ring].backKtime(); }
  // Hands on, oldest first, every waiting record stamped at or before watermark.
  void release(uint64_t watermark) {
    for (;;) {
      RecordFifo* oldest = nullptr;
      uint64_t oldest_ktime = 0;
      for (auto& f : fifos_) {
        if (!f.empty() && (!oldest || f.frontKtime() < oldest_ktime)) {
          oldest = &f;
          oldest_ktime = f.frontKtime();
        }
      }
      if (!oldest || oldest_ktime > watermark) {
        return;
      }
      sink_.onRecord(oldest->front(), record_size_);
      oldest->pop();
    }
  }
  size_t bufferedHighWater() const {
    size_t total = 0;
    for (const auto& f : fifos_) {
      total += f.highWater();
    }
    return total;
  }

private:
  const uint32_t record_size_;
  CountingSink& sink_;
  std::vector<RecordFifo> fifos_;
};

// One consumer thread's loop, whatever it reads.
class ConsumerThread {
public:
  virtual ~ConsumerThread() = default;
  // Reads until stop, then drains what is left (the producers are done).
  virtual void run(const std::atomic<bool>& stop, int poll_ms) = 0;
  uint64_t wakeups() const { return wakeups_; }
  uint64_t timeouts() const { return timeouts_; }
  const std::string& error() const { return error_; }

protected:
  // epoll_wait on epfd; false on an error (set in error_).
  bool wait(int epfd, int poll_ms) {
    epoll_event events[8];
    int n = epoll_wait(epfd, events, 8, poll_ms);
    if (n < 0 && errno != EINTR) {
      error_ = std::string("epoll_wait: ") + std::strerror(errno);
      return false;
    }
    if (n > 0) {
      ++wakeups_;
    } else {
      ++timeouts_;
    }
    return true;
  }

  uint64_t wakeups_ = 0;
  uint64_t timeouts_ = 0;
  std::string error_;
};

// A libbpf ring_buffer over one or more rings, as the agent reads its ring:
// each pass is epoll_wait (up to poll_ms) then ring_buffer__consume over
// every ring, woken or not, since the producers suppress wakeups below the
// threshold. ring_buffer__consume reads each ring until it catches up.
class LibbpfConsumer : public ConsumerThread {
public:
  static std::unique_ptr<LibbpfConsumer> create(const std::vector<int>& ring_fds, CountingSink& sink,
                                                std::string& error) {
    std::unique_ptr<LibbpfConsumer> c(new LibbpfConsumer());
    for (int fd : ring_fds) {
      if (!c->rb_) {
        c->rb_ = ring_buffer__new(fd, &LibbpfConsumer::onRecord, &sink, nullptr);
        if (!c->rb_) {
          error = std::string("ring_buffer__new: ") + std::strerror(errno);
          return nullptr;
        }
      } else if (int err = ring_buffer__add(c->rb_, fd, &LibbpfConsumer::onRecord, &sink); err) {
        error = std::string("ring_buffer__add: ") + std::strerror(-err);
        return nullptr;
      }
    }
    return c;
  }
  ~LibbpfConsumer() override {
    if (rb_) {
      ring_buffer__free(rb_);
    }
  }

  void run(const std::atomic<bool>& stop, int poll_ms) override {
    int epfd = ring_buffer__epoll_fd(rb_);
    while (!stop.load(std::memory_order_relaxed)) {
      if (!wait(epfd, poll_ms) || !consume()) {
        return;
      }
    }
    consume();
  }

private:
  LibbpfConsumer() = default;
  static int onRecord(void* ctx, void* data, size_t size) {
    static_cast<CountingSink*>(ctx)->onRecord(static_cast<const uint8_t*>(data), size);
    return 0;
  }
  bool consume() {
    int n = ring_buffer__consume(rb_);
    if (n < 0) {
      error_ = std::string("ring_buffer__consume: ") + std::strerror(-n);
      return false;
    }
    return true;
  }

  ring_buffer* rb_ = nullptr;
};

// Per-CPU rings merged by timestamp. One libbpf ring_buffer per ring (under
// one epoll set), so a pass can read each ring up to a budget: libbpf reads a
// ring until it catches up, which never happens while its producer is
// faster, and then no other ring would be read and nothing released.
// After a pass that began at P, ring i has given every record stamped before
// P if it caught up, or before the last record read from it if the budget
// cut it short; the minimum of those over the rings, less a slack for the
// stamp-to-commit time of a producer, is the watermark up to which records
// are handed on.
class MergeConsumer : public ConsumerThread {
public:
  static std::unique_ptr<MergeConsumer> create(const std::vector<int>& ring_fds, TimestampMerger& merger,
                                               uint32_t budget, uint64_t slack_ns, std::string& error) {
    std::unique_ptr<MergeConsumer> c(new MergeConsumer(merger, budget, slack_ns));
    c->epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (c->epfd_ < 0) {
      error = std::string("epoll_create1: ") + std::strerror(errno);
      return nullptr;
    }
    c->rings_.reserve(ring_fds.size()); // the callbacks hold pointers into it
    for (size_t i = 0; i < ring_fds.size(); ++i) {
      Ring& r = c->rings_.emplace_back();
      r.owner = c.get();
      r.index = uint32_t(i);
      r.rb = ring_buffer__new(ring_fds[i], &MergeConsumer::onRecord, &r, nullptr);
      if (!r.rb) {
        error = std::string("ring_buffer__new: ") + std::strerror(errno);
        return nullptr;
      }
      epoll_event ev{};
      ev.events = EPOLLIN;
      if (epoll_ctl(c->epfd_, EPOLL_CTL_ADD, ring_buffer__epoll_fd(r.rb), &ev) != 0) {
        error = std::string("epoll_ctl: ") + std::strerror(errno);
        return nullptr;
      }
    }
    return c;
  }
  ~MergeConsumer() override {
    for (auto& r : rings_) {
      if (r.rb) {
        ring_buffer__free(r.rb);
      }
    }
    if (epfd_ >= 0) {
      close(epfd_);
    }
  }

  void run(const std::atomic<bool>& stop, int poll_ms) override {
    while (!stop.load(std::memory_order_relaxed)) {
      if (!wait(epfd_, poll_ms) || !pass()) {
        return;
      }
    }
    // The producers are done: read everything, then hand everything on.
    while (pass() && cut_) {
    }
    merger_.release(std::numeric_limits<uint64_t>::max());
  }

private:
  static constexpr int kBudgetSpent = -E2BIG; // returned by the callback: stop reading this ring

  struct Ring {
    MergeConsumer* owner = nullptr;
    uint32_t index = 0;
    ring_buffer* rb = nullptr;
    uint32_t left = 0;
  };

  MergeConsumer(TimestampMerger& merger, uint32_t budget, uint64_t slack_ns)
      : merger_(merger), budget_(budget), slack_ns_(slack_ns) {}

  static int onRecord(void* ctx, void* data, size_t size) {
    auto* r = static_cast<Ring*>(ctx);
    r->owner->merger_.push(r->index, static_cast<const uint8_t*>(data), size);
    // The record is consumed either way; a negative value ends this ring's turn.
    return --r->left == 0 ? kBudgetSpent : 0;
  }

  // One pass over every ring, then a release up to the watermark.
  bool pass() {
    uint64_t start = bootNs();
    uint64_t watermark = start;
    cut_ = false;
    for (auto& r : rings_) {
      r.left = budget_;
      int n = ring_buffer__consume(r.rb);
      if (n == kBudgetSpent) {
        cut_ = true;
        watermark = std::min(watermark, merger_.newestKtime(r.index));
      } else if (n < 0) {
        error_ = std::string("ring_buffer__consume: ") + std::strerror(-n);
        return false;
      }
    }
    merger_.release(watermark > slack_ns_ ? watermark - slack_ns_ : 0);
    return true;
  }

  TimestampMerger& merger_;
  const uint32_t budget_;
  const uint64_t slack_ns_;
  int epfd_ = -1;
  std::vector<Ring> rings_;
  bool cut_ = false;
};

// A generator: pinned to cpu, getppid until stop, paced to calls_per_s (0: free).
void generate(int cpu, double calls_per_s, const std::atomic<bool>& go, const std::atomic<bool>& stop,
              std::atomic<uint64_t>& calls, std::string& error) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    error = "sched_setaffinity(" + std::to_string(cpu) + "): " + std::strerror(errno);
  }
  while (!go.load(std::memory_order_acquire)) {
    std::this_thread::yield();
  }
  uint64_t n = 0;
  if (calls_per_s <= 0) {
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 16; ++i) {
        syscall(SYS_getppid);
      }
      n += 16;
    }
  } else {
    using Clock = std::chrono::steady_clock;
    auto start = Clock::now();
    uint64_t per_tick = uint64_t(calls_per_s / 1000.0) + 1;
    for (auto tick = start; !stop.load(std::memory_order_relaxed); tick += std::chrono::milliseconds(1)) {
      std::this_thread::sleep_until(tick);
      auto due = uint64_t(std::chrono::duration<double>(Clock::now() - start).count() * calls_per_s);
      // At most one tick beyond the schedule's pace, as bench/rate_loop.cc.
      for (uint64_t cap = n + per_tick; n < due && n < cap; ++n) {
        syscall(SYS_getppid);
      }
    }
  }
  calls.store(n, std::memory_order_relaxed);
}

const char* modeName(Mode mode) {
  switch (mode) {
  case Mode::Shared:
    return "shared";
  case Mode::PerCpu:
    return "per-cpu";
  case Mode::PerCpuThreads:
    return "per-cpu-threads";
  case Mode::PerCpuMerge:
    return "per-cpu-merge";
  }
  return "?";
}

struct SkeletonDeleter {
  void operator()(ring_bench_bpf* skel) const { ring_bench_bpf__destroy(skel); }
};
using SkeletonPtr = std::unique_ptr<ring_bench_bpf, SkeletonDeleter>;

// Holds a file descriptor it closes.
class Fd {
public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

private:
  int fd_;
};

const char* kTracefsHint = " (syscall tracepoints need tracefs: mount -t tracefs tracefs /sys/kernel/tracing)";

// Open → configure → load: bench_getppid, or only bench_floor.
SkeletonPtr openAndLoad(const Options& opt, uint32_t possible_cpus, bool floor_only) {
  SkeletonPtr skel(ring_bench_bpf__open());
  if (!skel) {
    std::fprintf(stderr, "ring_bench: open the BPF object: %s\n", std::strerror(errno));
    return nullptr;
  }
  bool per_cpu = opt.mode != Mode::Shared;
  skel->rodata->target_tgid = uint32_t(getpid());
  skel->rodata->per_cpu_rings = per_cpu ? 1 : 0;
  skel->rodata->records_per_call = opt.records_per_call;
  skel->rodata->record_size = opt.record_size;
  skel->rodata->wakeup_bytes = opt.wakeup_bytes;
  skel->rodata->wakeup_every = opt.wakeup_every ? 1 : 0;
  // The ring not in use shrinks to a page.
  bpf_map__set_max_entries(skel->maps.shared_ring, floor_only || per_cpu ? kMinRing : opt.ring_bytes);
  bpf_map__set_max_entries(skel->maps.per_cpu_ring, floor_only || !per_cpu ? 1 : possible_cpus);
  // The outer map is created from a template inner map. libbpf 1.1 cannot
  // resize the one it makes from the BTF definition (bpf_map__inner_map has
  // no object), so hand it a page-sized ring: rings of any size match it.
  Fd inner_template(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bench_ring_tmpl", 0, 0, uint32_t(kMinRing), nullptr));
  if (inner_template.get() < 0 || bpf_map__set_inner_map_fd(skel->maps.per_cpu_ring, inner_template.get()) != 0) {
    std::fprintf(stderr, "ring_bench: template ring for per_cpu_ring: %s\n", std::strerror(errno));
    return nullptr;
  }
  bpf_program__set_autoload(skel->progs.bench_getppid, !floor_only);
  bpf_program__set_autoload(skel->progs.bench_floor, floor_only);
  if (int err = ring_bench_bpf__load(skel.get()); err) {
    std::fprintf(stderr, "ring_bench: load the BPF object: %s (run as root; needs BPF ring buffers, bpf_loop)\n",
                 std::strerror(-err));
    return nullptr;
  }
  return skel;
}

int holdFloor(const Options& opt) {
  // Block the signals first, so one arriving early still ends the wait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  SkeletonPtr skel = openAndLoad(opt, 1, true);
  if (!skel) {
    return 1;
  }
  bpf_link* link = bpf_program__attach(skel->progs.bench_floor);
  if (!link) {
    std::fprintf(stderr, "ring_bench: attach bench_floor: %s%s\n", std::strerror(errno), kTracefsHint);
    return 1;
  }
  std::printf("attached bench_floor (empty program on syscalls:sys_enter_acct)\n");
  std::fflush(stdout);
  timespec limit{time_t(opt.seconds), 0};
  sigtimedwait(&set, nullptr, &limit);
  bpf_link__destroy(link);
  return 0;
}

int runBench(const Options& opt) {
  int possible = libbpf_num_possible_cpus();
  if (possible <= 0) {
    std::fprintf(stderr, "ring_bench: cannot read the possible CPUs: %s\n", std::strerror(-possible));
    return 1;
  }
  auto cpus = uint32_t(possible);
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
    std::fprintf(stderr, "ring_bench: sched_getaffinity: %s\n", std::strerror(errno));
    return 1;
  }
  std::vector<int> gen_cpus;
  for (int c = 0; c < CPU_SETSIZE && c < possible; ++c) {
    if (CPU_ISSET(c, &allowed)) {
      gen_cpus.push_back(c);
    }
  }
  if (opt.generators > gen_cpus.size()) {
    std::fprintf(stderr, "ring_bench: --generators %u, but only %zu CPUs are allowed\n", opt.generators,
                 gen_cpus.size());
    return 2;
  }
  if (opt.generators > 0) {
    gen_cpus.resize(opt.generators);
  }
  bool per_cpu = opt.mode != Mode::Shared;
  // Same total memory in every mode: the per-CPU rings split ring_bytes.
  uint64_t per_ring = per_cpu ? std::max(kMinRing, floorPow2(opt.ring_bytes / cpus)) : opt.ring_bytes;

  SkeletonPtr skel = openAndLoad(opt, cpus, false);
  if (!skel) {
    return 1;
  }
  std::vector<Fd> rings;
  if (per_cpu) {
    int outer = bpf_map__fd(skel->maps.per_cpu_ring);
    for (uint32_t c = 0; c < cpus; ++c) {
      std::string name = "bench_ring_" + std::to_string(c);
      Fd fd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, name.c_str(), 0, 0, uint32_t(per_ring), nullptr));
      if (fd.get() < 0) {
        std::fprintf(stderr, "ring_bench: create ring %u (%lu bytes): %s\n", c, (unsigned long)per_ring,
                     std::strerror(errno));
        return 1;
      }
      int inner = fd.get();
      if (bpf_map_update_elem(outer, &c, &inner, BPF_ANY) != 0) {
        std::fprintf(stderr, "ring_bench: insert ring %u: %s\n", c, std::strerror(errno));
        return 1;
      }
      rings.push_back(std::move(fd));
    }
  }

  // Consumers and where their records go.
  std::vector<std::unique_ptr<CountingSink>> sinks;
  std::unique_ptr<TimestampMerger> merger;
  std::vector<std::unique_ptr<ConsumerThread>> consumers;
  std::string error;
  std::vector<int> ring_fds;
  for (auto& r : rings) {
    ring_fds.push_back(r.get());
  }
  auto newSink = [&]() -> CountingSink& {
    sinks.push_back(std::make_unique<CountingSink>(cpus, opt.record_size));
    return *sinks.back();
  };
  switch (opt.mode) {
  case Mode::Shared:
    consumers.push_back(LibbpfConsumer::create({bpf_map__fd(skel->maps.shared_ring)}, newSink(), error));
    break;
  case Mode::PerCpu:
    consumers.push_back(LibbpfConsumer::create(ring_fds, newSink(), error));
    break;
  case Mode::PerCpuThreads:
    for (int fd : ring_fds) {
      consumers.push_back(LibbpfConsumer::create({fd}, newSink(), error));
    }
    break;
  case Mode::PerCpuMerge: {
    // A FIFO holds what its ring holds: 8-byte ring header, 8-byte aligned.
    size_t slots = per_ring / ((opt.record_size + 8 + 7) / 8 * 8);
    merger = std::make_unique<TimestampMerger>(cpus, opt.record_size, slots, newSink());
    consumers.push_back(MergeConsumer::create(ring_fds, *merger, opt.merge_budget,
                                              uint64_t(opt.merge_slack_us * 1000), error));
    break;
  }
  }
  if (std::any_of(consumers.begin(), consumers.end(), [](const auto& c) { return !c; })) {
    std::fprintf(stderr, "ring_bench: consumer: %s\n", error.c_str());
    return 1;
  }

  // The producer's own cost: run time per call from bpf_stats, while this fd
  // is open (two clock reads per call, the same in every mode).
  Fd stats_fd(bpf_enable_stats(BPF_STATS_RUN_TIME));
  bpf_link* link = bpf_program__attach(skel->progs.bench_getppid);
  if (!link) {
    std::fprintf(stderr, "ring_bench: attach bench_getppid: %s%s\n", std::strerror(errno), kTracefsHint);
    return 1;
  }

  std::atomic<bool> go{false}, gen_stop{false}, consumer_stop{false};
  std::vector<std::thread> consumer_threads;
  for (auto& c : consumers) {
    consumer_threads.emplace_back([&c, &consumer_stop, &opt] { c->run(consumer_stop, opt.poll_ms); });
  }
  std::vector<clockid_t> consumer_clocks;
  for (auto& t : consumer_threads) {
    clockid_t clock;
    pthread_getcpuclockid(t.native_handle(), &clock);
    consumer_clocks.push_back(clock);
  }
  double calls_per_s = opt.rate > 0 ? opt.rate / opt.records_per_call / double(gen_cpus.size()) : 0;
  std::vector<std::atomic<uint64_t>> calls(gen_cpus.size());
  std::vector<std::string> gen_errors(gen_cpus.size());
  std::vector<std::thread> generators;
  for (size_t i = 0; i < gen_cpus.size(); ++i) {
    generators.emplace_back(generate, gen_cpus[i], calls_per_s, std::cref(go), std::cref(gen_stop),
                            std::ref(calls[i]), std::ref(gen_errors[i]));
  }

  auto cpuNow = [&] {
    double total = 0;
    for (auto clock : consumer_clocks) {
      total += threadCpuSeconds(clock);
    }
    return total;
  };
  auto deliveredNow = [&] {
    uint64_t total = 0;
    for (auto& s : sinks) {
      total += s->delivered();
    }
    return total;
  };
  double cpu0 = cpuNow();
  uint64_t delivered0 = deliveredNow();
  auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(opt.seconds));
  gen_stop.store(true);
  for (auto& g : generators) {
    g.join();
  }
  double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double consumer_cpu = cpuNow() - cpu0;
  uint64_t delivered_window = deliveredNow() - delivered0;
  consumer_stop.store(true);
  for (auto& t : consumer_threads) {
    t.join();
  }
  bpf_link__destroy(link);

  for (auto& e : gen_errors) {
    if (!e.empty()) {
      std::fprintf(stderr, "ring_bench: generator: %s\n", e.c_str());
      return 1;
    }
  }
  for (auto& c : consumers) {
    if (!c->error().empty()) {
      std::fprintf(stderr, "ring_bench: consumer: %s\n", c->error().c_str());
      return 1;
    }
  }

  bpf_prog_info info{};
  uint32_t info_len = sizeof(info);
  double prog_ns_per_record = -1; // -1: bpf_stats not available
  if (stats_fd.get() >= 0 &&
      bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.bench_getppid), &info, &info_len) == 0 && info.run_cnt) {
    prog_ns_per_record = double(info.run_time_ns) / double(info.run_cnt) / opt.records_per_call;
  }
  std::vector<RingBenchStats> stats(cpus);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.bench_stats), &zero, stats.data()) != 0) {
    std::fprintf(stderr, "ring_bench: read bench_stats: %s\n", std::strerror(errno));
    return 1;
  }
  uint64_t produced = 0, dropped = 0, no_ring = 0, no_scratch = 0;
  for (const auto& s : stats) {
    produced += s.produced;
    dropped += s.dropped;
    no_ring += s.no_ring;
    no_scratch += s.no_scratch;
  }
  uint64_t delivered = 0, missing = 0, backwards = 0, bad = 0, inversions = 0, max_inversion = 0;
  uint64_t delay_samples = 0, delay_sum = 0, delay_max = 0, wakeups = 0, timeouts = 0, total_calls = 0;
  // Accounted: for every CPU, records produced = delivered + dropped, and the
  // sequence gaps the sinks saw (between records, and after a CPU's last
  // delivered record) are exactly the drops.
  bool accounted = no_ring == 0 && no_scratch == 0;
  uint64_t trailing = 0;
  for (uint32_t c = 0; c < cpus; ++c) {
    uint64_t from_cpu = 0, next = 0;
    for (auto& s : sinks) {
      from_cpu += s->deliveredFrom(c);
      next = std::max(next, s->nextSeq(c));
    }
    accounted = accounted && stats[c].produced == from_cpu + stats[c].dropped && next <= stats[c].produced;
    trailing += stats[c].produced - std::min(next, stats[c].produced);
  }
  for (auto& s : sinks) {
    delivered += s->delivered();
    missing += s->missing();
    backwards += s->backwards();
    bad += s->bad();
    inversions += s->inversions();
    max_inversion = std::max(max_inversion, s->maxInversionNs());
    delay_samples += s->delaySamples();
    delay_sum += s->delaySumNs();
    delay_max = std::max(delay_max, s->delayMaxNs());
  }
  missing += trailing;
  accounted = accounted && missing == dropped && bad == 0;
  for (auto& c : consumers) {
    wakeups += c->wakeups();
    timeouts += c->timeouts();
  }
  for (auto& n : calls) {
    total_calls += n.load();
  }
  std::printf("mode=%s k=%u size=%u cpus=%u generators=%zu consumers=%zu ring_bytes=%lu wakeup_bytes=%lu wakeup_rule=%s "
              "seconds=%.3f target_per_s=%.0f calls=%lu produced=%lu dropped=%lu delivered=%lu "
              "delivered_in_window=%lu produced_per_s=%.0f consumed_per_s=%.0f drop_share=%.6f "
              "consumer_cpu_pct=%.1f prog_ns_per_record=%.0f wakeups=%lu poll_timeouts=%lu records_per_wakeup=%.0f "
              "seq_missing=%lu seq_backwards=%lu bad_records=%lu ktime_inversions=%lu max_inversion_us=%.1f "
              "delay_ms_mean=%.2f delay_ms_max=%.2f merge_buffered_max=%zu accounted=%s\n",
              modeName(opt.mode), opt.records_per_call, opt.record_size, cpus, generators.size(),
              consumers.size(), (unsigned long)(per_cpu ? per_ring * cpus : per_ring),
              (unsigned long)opt.wakeup_bytes, opt.wakeup_every ? "every" : "once", window, opt.rate, (unsigned long)total_calls,
              (unsigned long)produced, (unsigned long)dropped, (unsigned long)delivered,
              (unsigned long)delivered_window, double(produced) / window, double(delivered_window) / window,
              produced ? double(dropped) / double(produced) : 0.0, 100.0 * consumer_cpu / window, prog_ns_per_record,
              (unsigned long)wakeups, (unsigned long)timeouts, wakeups ? double(delivered) / double(wakeups) : 0.0,
              (unsigned long)missing, (unsigned long)backwards, (unsigned long)bad, (unsigned long)inversions,
              double(max_inversion) / 1e3, delay_samples ? double(delay_sum) / double(delay_samples) / 1e6 : 0.0,
              double(delay_max) / 1e6, merger ? merger->bufferedHighWater() : size_t(0),
              accounted ? "yes" : "no");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigil_ring_bench: one shared BPF ring buffer against per-CPU rings (bench/results/ring.md)"};
  Options opt;
  std::map<std::string, Mode> modes{{"shared", Mode::Shared},
                                    {"per-cpu", Mode::PerCpu},
                                    {"per-cpu-threads", Mode::PerCpuThreads},
                                    {"per-cpu-merge", Mode::PerCpuMerge}};
  app.add_option("--mode", opt.mode, "shared, per-cpu, per-cpu-threads or per-cpu-merge")
      ->transform(CLI::CheckedTransformer(modes, CLI::ignore_case));
  app.add_option("-k,--records-per-call", opt.records_per_call, "records per getppid (K)")
      ->check(CLI::Range(1u, 1u << 16));
  app.add_option("-s,--size", opt.record_size, "bytes per record (S)")
      ->check(CLI::Range(uint32_t(sizeof(RingBenchRecord)), kMaxRecord));
  app.add_option("-t,--seconds", opt.seconds, "generation time (with --hold-floor: the longest hold)")
      ->check(CLI::PositiveNumber);
  app.add_option("--rate", opt.rate, "records/s over all generators (0: as fast as they go)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--generators", opt.generators, "generator threads on the first allowed CPUs (0: one per CPU)");
  app.add_option("--ring-bytes", opt.ring_bytes, "ring memory over all rings (per-CPU: split, power of two each)");
  app.add_option("--wakeup-bytes", opt.wakeup_bytes, "wake the consumer when a ring's unread data crosses this");
  std::map<std::string, bool> rules{{"once", false}, {"every", true}};
  app.add_option("--wakeup-rule", opt.wakeup_every,
                 "once: wake when unread data crosses --wakeup-bytes (Vigil's rule); every: at each multiple")
      ->transform(CLI::CheckedTransformer(rules, CLI::ignore_case));
  app.add_option("--poll-ms", opt.poll_ms, "consumer poll timeout")->check(CLI::Range(1, 10000));
  app.add_option("--merge-slack-us", opt.merge_slack_us, "per-cpu-merge: watermark slack")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--merge-budget", opt.merge_budget, "per-cpu-merge: records read from one ring per pass")
      ->check(CLI::Range(1u, 1u << 24));
  app.add_flag("--hold-floor", opt.hold_floor, "attach only an empty syscall tracepoint program and wait");
  app.add_flag("--libbpf-debug", opt.libbpf_debug, "libbpf's debug log (verifier output)");
  CLI11_PARSE(app, argc, argv);

  g_libbpf_debug = opt.libbpf_debug;
  libbpf_set_print(printLibbpf);
  if (opt.hold_floor) {
    if (app.count("--seconds") == 0) {
      opt.seconds = 600;
    }
    return holdFloor(opt);
  }
  if (opt.ring_bytes < kMinRing || floorPow2(opt.ring_bytes) != opt.ring_bytes) {
    std::fprintf(stderr, "ring_bench: --ring-bytes must be a power of two >= %lu\n", (unsigned long)kMinRing);
    return 2;
  }
  return runBench(opt);
}
