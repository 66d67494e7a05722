// Load generator at a set rate: getppid RATE times per second for SECONDS,
// split over THREADS threads (default: one per CPU, so one thread's speed is
// not the ceiling), each in 1 ms ticks (a tick catches up to where the
// schedule says it should be, so a late tick does not lower the rate).
// Prints the calls made and the rate achieved; when the machine cannot keep
// up, the achieved rate says so.
//   rate_loop RATE SECONDS [THREADS]
// Output: "target=R seconds=S calls=N achieved=A threads=T"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// One thread's share: rate calls per second until end.
long run(double rate, Clock::time_point start, Clock::time_point end) {
  long calls = 0;
  for (auto tick = start; tick < end; tick += std::chrono::milliseconds(1)) {
    std::this_thread::sleep_until(tick);
    auto now = Clock::now();
    if (now >= end) {
      break; // behind schedule: the achieved rate shows it
    }
    long due = long(std::chrono::duration<double>(now - start).count() * rate);
    // At most one tick's worth beyond the schedule's pace, so a machine that
    // cannot keep up still stops on time.
    long cap = calls + long(rate / 1000.0) + 1;
    for (; calls < due && calls < cap; ++calls) {
      syscall(SYS_getppid);
    }
  }
  return calls;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s RATE SECONDS [THREADS]\n", argv[0]);
    return 2;
  }
  double rate = std::strtod(argv[1], nullptr);
  double seconds = std::strtod(argv[2], nullptr);
  long threads = argc == 4 ? std::strtol(argv[3], nullptr, 10) : long(std::thread::hardware_concurrency());
  if (rate <= 0 || seconds <= 0 || threads <= 0) {
    std::fprintf(stderr, "RATE, SECONDS and THREADS must be positive\n");
    return 2;
  }
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::atomic<long> calls{0};
  std::vector<std::thread> pool;
  for (long t = 0; t < threads; ++t) {
    pool.emplace_back([&] { calls += run(rate / double(threads), start, end); });
  }
  for (auto& t : pool) {
    t.join();
  }
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("target=%.0f seconds=%.3f calls=%ld achieved=%.0f threads=%ld\n", rate, took, calls.load(),
              double(calls.load()) / took, threads);
  return 0;
}
