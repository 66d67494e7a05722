// Syscall cost generator: N calls of one syscall in a tight loop, split into
// REPS equal repetitions timed separately, and one line with the nanoseconds
// per call: the fastest repetition (ns_min, what bench/syscall_overhead.sh
// reports: interference only ever adds time) and the median one (ns_median).
// Used with and without the agent.
//   syscall_loop getppid N [REPS]
//   syscall_loop openat N PATH [REPS]    (one openat(O_RDONLY) + close per call)
// Output: "mode=getppid calls=N reps=K ns_min=X ns_median=Y cpu=C"
// cpu is the CPU every repetition started and ended on, or "mixed": on the
// 2-vCPU bench VM one vCPU is often 10-15% slower than the other (which one
// changes over minutes), so figures compare best between runs on one CPU.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <string>
#include <string_view>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Raw syscall(2), so libc neither caches nor wraps anything.
bool callGetppid() { return syscall(SYS_getppid) > 0; }

bool callOpenat(const char* path) {
  long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  syscall(SYS_close, fd);
  return true;
}

} // namespace

int main(int argc, char** argv) {
  std::string_view mode = argc > 1 ? argv[1] : "";
  bool open_mode = mode == "openat";
  int needed = open_mode ? 4 : 3;
  if ((mode != "getppid" && !open_mode) || argc < needed) {
    std::fprintf(stderr, "usage: %s getppid N [REPS] | %s openat N PATH [REPS]\n", argv[0], argv[0]);
    return 2;
  }
  long n = std::strtol(argv[2], nullptr, 10);
  const char* path = open_mode ? argv[3] : nullptr;
  long reps = argc > needed ? std::strtol(argv[needed], nullptr, 10) : 5;
  if (n <= 0 || reps <= 0 || n < reps) {
    std::fprintf(stderr, "N and REPS must be positive, N >= REPS\n");
    return 2;
  }
  long per_rep = n / reps;
  auto call = [&] { return open_mode ? callOpenat(path) : callGetppid(); };

  // Warm up (page in, fill caches) with a tenth of one repetition.
  for (long i = 0; i < per_rep / 10; ++i) {
    if (!call()) {
      std::fprintf(stderr, "%s failed: %s\n", argv[1], std::strerror(errno));
      return 1;
    }
  }
  std::vector<double> ns(size_t(reps), 0.0);
  int cpu = sched_getcpu();
  bool one_cpu = true;
  for (long r = 0; r < reps; ++r) {
    one_cpu = one_cpu && sched_getcpu() == cpu;
    auto start = Clock::now();
    for (long i = 0; i < per_rep; ++i) {
      if (!call()) {
        std::fprintf(stderr, "%s failed: %s\n", argv[1], std::strerror(errno));
        return 1;
      }
    }
    ns[size_t(r)] = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / double(per_rep);
    one_cpu = one_cpu && sched_getcpu() == cpu;
  }
  std::sort(ns.begin(), ns.end());
  // Even REPS: the lower middle, so the figure is always one measured repetition.
  double median = ns[size_t((reps - 1) / 2)];
  std::string where = one_cpu ? std::to_string(cpu) : "mixed";
  std::printf("mode=%s calls=%ld reps=%ld ns_min=%.1f ns_median=%.1f cpu=%s\n", argv[1], per_rep * reps, reps,
              ns.front(), median, where.c_str());
  return 0;
}
