#include "agent/loader/ring_buffer.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace vigil::loader {

Result<std::unique_ptr<RingBuffer>> RingBuffer::create(int map_fd, Callback callback) {
  std::unique_ptr<RingBuffer> rb(new RingBuffer(std::move(callback)));
  rb->rb_ = ring_buffer__new(map_fd, &RingBuffer::onRecord, rb.get(), nullptr);
  if (!rb->rb_) {
    return makeError("ring_buffer__new(fd {}): {}", map_fd, strerror(errno));
  }
  return rb;
}

RingBuffer::~RingBuffer() {
  if (rb_) {
    ring_buffer__free(rb_);
  }
}

int RingBuffer::onRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingBuffer*>(ctx);
  self->callback_(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
  return 0;
}

Result<int> RingBuffer::poll(int timeout_ms) {
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n == 0 || n == -EINTR) {
    // ring_buffer__poll only reads rings that signalled; producers that
    // suppress wakeups (BPF_RB_NO_WAKEUP) leave records behind a timeout.
    n = ring_buffer__consume(rb_);
  }
  if (n < 0) {
    return makeError("ring buffer poll: {}", strerror(-n));
  }
  return n;
}

Result<int> RingBuffer::drain() {
  int n = ring_buffer__consume(rb_);
  if (n < 0) {
    return makeError("ring buffer consume: {}", strerror(-n));
  }
  return n;
}

int RingBuffer::epollFd() const { return ring_buffer__epoll_fd(rb_); }

} // namespace vigil::loader
