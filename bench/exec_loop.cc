// Exec storm generator: fork+exec a program N times as fast as one core
// allows, waiting for each, and print execs per second. Used by
// bench/exec_storm.sh with and without the agent running.
//   exec_loop N MARKER [PROGRAM]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

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
    pid_t pid = fork();
    if (pid == 0) {
      execl(program, program, marker, index.c_str(), static_cast<char*>(nullptr));
      _exit(127);
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
