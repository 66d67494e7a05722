// The floor under a traced syscall on this kernel: getppid in a tight loop
// with no program, with an empty program on its exit tracepoint, and with a
// minimal record per call drained by a consumer thread (hook_floor.bpf.c).
// bench/syscall_overhead.sh runs it next to the agent, so Vigil's traced cost
// can be read as floor + Vigil's own work.
//   hook_floor none|empty|record CALLS [REPS [CONSUMER [WORK_NS]]]
// CONSUMER (record only): libbpf (libbpf's ring_buffer, the default) or vigil
// (the agent's runtime::RingBuffer); WORK_NS: busy time per record in the
// consumer, as a stand-in for decoding it (0 by default). With bpf_stats on,
// prog_ns is the program's mean run time.
// Output: "mode=M calls=N ns_min=X records=R consumer=C work_ns=W prog_ns=P"
// (the loop's fastest repetition; records: what the consumer drained).

#include "collectors/runtime/ring_buffer.h"
#include "hook_floor.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sched.h>
#include <memory>
#include <span>
#include <string_view>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace {

std::atomic<bool> stop{false};
std::atomic<long> records{0};
long work_ns = 0;

void busy(long ns) {
  auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < until) {
  }
}

// The consumer runs where the scheduler puts it, like the agent: not pinned
// with the loop when the loop is (taskset), which would make them take turns.
void unpin() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; ++c) {
    CPU_SET(int(c), &all);
  }
  sched_setaffinity(0, sizeof(all), &all);
}

// One record drained, by either consumer.
void consumed() {
  records.fetch_add(1, std::memory_order_relaxed);
  busy(work_ns);
}

int onRecord(void*, void*, size_t) {
  consumed();
  return 0;
}

double fastestLoop(long calls, long reps) {
  using Clock = std::chrono::steady_clock;
  double best = 1e18;
  for (long r = 0; r < reps; ++r) {
    auto start = Clock::now();
    for (long i = 0; i < calls / reps; ++i) {
      syscall(SYS_getppid);
    }
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / double(calls / reps);
    best = std::min(best, ns);
  }
  return best;
}

} // namespace

int main(int argc, char** argv) {
  std::string_view mode = argc > 2 ? argv[1] : "";
  if (mode != "none" && mode != "empty" && mode != "record") {
    std::fprintf(stderr, "usage: %s none|empty|record CALLS [REPS]\n", argv[0]);
    return 2;
  }
  long calls = std::strtol(argv[2], nullptr, 10);
  long reps = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 20;
  std::string_view consumer_kind = argc > 4 ? argv[4] : "libbpf";
  work_ns = argc > 5 ? std::strtol(argv[5], nullptr, 10) : 0;
  if (consumer_kind != "libbpf" && consumer_kind != "vigil") {
    std::fprintf(stderr, "CONSUMER is libbpf or vigil\n");
    return 2;
  }
  if (calls <= 0 || reps <= 0 || calls < reps) {
    std::fprintf(stderr, "CALLS and REPS must be positive, CALLS >= REPS\n");
    return 2;
  }
  hook_floor_bpf* skel = nullptr;
  ring_buffer* ring = nullptr;
  std::thread consumer;
  if (mode != "none") {
    skel = hook_floor_bpf__open();
    if (!skel) {
      std::fprintf(stderr, "open failed\n");
      return 1;
    }
    skel->rodata->target_tgid = uint32_t(getpid());
    bpf_program__set_autoload(mode == "empty" ? skel->progs.floor_record : skel->progs.floor_empty, false);
    if (hook_floor_bpf__load(skel) != 0 || hook_floor_bpf__attach(skel) != 0) {
      std::fprintf(stderr, "load or attach failed: %s\n", std::strerror(errno));
      return 1;
    }
    // Like the agent: one consumer thread, woken by the threshold or its
    // 50 ms poll.
    if (consumer_kind == "vigil") {
      auto rb = vigil::runtime::RingBuffer::create(bpf_map__fd(skel->maps.floor_ring),
                                                  [](std::span<const uint8_t>) { consumed(); });
      if (!rb) {
        std::fprintf(stderr, "ring buffer failed: %s\n", rb.error().message().c_str());
        return 1;
      }
      consumer = std::thread([rb = std::shared_ptr<vigil::runtime::RingBuffer>(std::move(*rb))] {
        unpin();
        while (!stop.load()) {
          (void)rb->poll(50);
        }
        (void)rb->drain();
      });
    } else {
      ring = ring_buffer__new(bpf_map__fd(skel->maps.floor_ring), onRecord, nullptr, nullptr);
      if (!ring) {
        std::fprintf(stderr, "ring buffer failed\n");
        return 1;
      }
      consumer = std::thread([ring] {
        unpin();
        while (!stop.load()) {
          ring_buffer__poll(ring, 50);
        }
        ring_buffer__consume(ring);
      });
    }
  }
  double ns = fastestLoop(calls, reps);
  stop = true;
  if (consumer.joinable()) {
    consumer.join();
  }
  double prog_ns = 0;
  if (skel) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    bpf_program* prog = mode == "empty" ? skel->progs.floor_empty : skel->progs.floor_record;
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0 && info.run_cnt > 0) {
      prog_ns = double(info.run_time_ns) / double(info.run_cnt);
    }
  }
  std::printf("mode=%.*s calls=%ld ns_min=%.1f records=%ld consumer=%.*s work_ns=%ld prog_ns=%.0f\n",
              int(mode.size()), mode.data(), calls, ns, records.load(), int(consumer_kind.size()),
              consumer_kind.data(), work_ns, prog_ns);
  ring_buffer__free(ring);
  hook_floor_bpf__destroy(skel);
  return 0;
}
