// The pod sandbox's init process for the test images: holds the pod's
// namespaces open, reaps any child re-parented to it, and exits on SIGTERM or
// SIGINT. Built with `gcc -static` so the image needs nothing else.

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  // Blocked signals stay pending until sigwait takes them, so none is lost.
  if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
    return 1;
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) {
      continue;
    }
    if (sig == SIGCHLD) {
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
      continue;
    }
    return 0; // SIGTERM or SIGINT
  }
}
