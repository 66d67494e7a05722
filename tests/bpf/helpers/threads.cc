// Test helper: a multi-threaded process whose main thread leaves first
// (pthread_exit) while two others run; the last one exits the process with
// status 7. The kernel side must report one process, not threads, and one
// exit with the last thread's status.

#include <pthread.h>
#include <unistd.h>

namespace {

void* worker(void* arg) {
  usleep(100000);
  if (arg != nullptr) {
    usleep(100000);
    _exit(7); // ends the whole process from a non-leader thread
  }
  return nullptr;
}

} // namespace

int main() {
  pthread_t a, b;
  static int last = 1;
  pthread_create(&a, nullptr, worker, nullptr);
  pthread_create(&b, nullptr, worker, &last);
  pthread_exit(nullptr); // the leader goes first
}
