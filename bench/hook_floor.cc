// The floor under a traced syscall on this kernel: getppid in a tight loop
// with no program, with an empty program on its exit tracepoint, and with a
// minimal record per call drained by a consumer thread (hook_floor.bpf.c).
// bench/syscall_overhead.sh runs it next to the agent, so Vigil's traced cost
// can be read as floor + Vigil's own work.
//   hook_floor none|empty|record CALLS [REPS]
// Output: "mode=M calls=N ns_min=X records=R" (the loop's fastest repetition;
// records: what the consumer drained, for "record").

#include "hook_floor.skel.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace {

std::atomic<bool> stop{false};
std::atomic<long> records{0};

int onRecord(void*, void*, size_t) {
  records.fetch_add(1, std::memory_order_relaxed);
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
    ring = ring_buffer__new(bpf_map__fd(skel->maps.floor_ring), onRecord, nullptr, nullptr);
    if (!ring) {
      std::fprintf(stderr, "ring buffer failed\n");
      return 1;
    }
    // Like the agent: one consumer thread, woken by the threshold or its
    // 50 ms poll.
    consumer = std::thread([ring] {
      while (!stop.load()) {
        ring_buffer__poll(ring, 50);
      }
      ring_buffer__consume(ring);
    });
  }
  double ns = fastestLoop(calls, reps);
  stop = true;
  if (consumer.joinable()) {
    consumer.join();
  }
  std::printf("mode=%.*s calls=%ld ns_min=%.1f records=%ld\n", int(mode.size()), mode.data(), calls, ns,
              records.load());
  ring_buffer__free(ring);
  hook_floor_bpf__destroy(skel);
  return 0;
}
