// Load generator at a set rate: getppid RATE times per second for SECONDS,
// in 1 ms ticks (each tick catches up to where the schedule says it should
// be, so a late tick does not lower the rate). Prints the calls made and the
// rate achieved; when the machine cannot keep up, the achieved rate says so.
//   rate_loop RATE SECONDS
// Output: "target=R seconds=S calls=N achieved=A"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s RATE SECONDS\n", argv[0]);
    return 2;
  }
  double rate = std::strtod(argv[1], nullptr);
  double seconds = std::strtod(argv[2], nullptr);
  if (rate <= 0 || seconds <= 0) {
    std::fprintf(stderr, "RATE and SECONDS must be positive\n");
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  long calls = 0;
  for (auto tick = start; tick < end; tick += std::chrono::milliseconds(1)) {
    std::this_thread::sleep_until(tick);
    auto now = Clock::now();
    if (now >= end) {
      break; // behind schedule: the achieved rate below shows it
    }
    long due = long(std::chrono::duration<double>(now - start).count() * rate);
    // At most one tick's worth beyond the schedule's pace, so a machine that
    // cannot keep up still stops on time.
    long cap = calls + long(rate / 1000.0) + 1;
    for (; calls < due && calls < cap; ++calls) {
      syscall(SYS_getppid);
    }
  }
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("target=%.0f seconds=%.3f calls=%ld achieved=%.0f\n", rate, took, calls, double(calls) / took);
  return 0;
}
