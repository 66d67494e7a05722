// Exec storm generator: spawn a program N times as fast as one core allows,
// waiting for each, and print execs per second. Used by bench/exec_storm.sh
// with and without the agent running. posix_spawn (a vfork: the child
// borrows this process's memory until it execs) does twice the rate of
// fork+exec here; with the static no-libc vigil_exec_target, ~1,400/s.
//   exec_loop N MARKER [PROGRAM]

#include <chrono>
#include <spawn.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s N MARKER [PROGRAM]\n", argv[0]);
    return 2;
  }
  long n = std::strtol(argv[1], nullptr, 10);
  const char* marker = argv[2];
  const char* program = argc > 3 ? argv[3] : "/bin/true";
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    std::string index = std::to_string(i);
    char* args[] = {const_cast<char*>(program), const_cast<char*>(marker), index.data(), nullptr};
    pid_t pid = 0;
    if (int err = posix_spawn(&pid, program, nullptr, nullptr, args, environ); err != 0) {
      std::fprintf(stderr, "spawning %s failed: error %d\n", program, err);
      return 1;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "exec %ld failed (status %d)\n", i, status);
      return 1;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%ld %.6f %.1f\n", n, secs, double(n) / secs);
  return 0;
}
