#pragma once

// RAII wrapper around a libbpf BPF_MAP_TYPE_RINGBUF consumer.

#include "vigil/status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

struct ring_buffer;

namespace vigil::loader {

class RingBuffer {
public:
  // Called once per record, on the polling thread. The bytes are valid only
  // during the call.
  using Callback = std::function<void(std::span<const uint8_t>)>;

  static Result<std::unique_ptr<RingBuffer>> create(int map_fd, Callback callback);
  ~RingBuffer();
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;

  // Waits up to timeout_ms for a wakeup, then consumes every available
  // record, woken or not. Returns the number consumed. EINTR is not an error.
  Result<int> poll(int timeout_ms);
  // Consumes what is available now without waiting.
  Result<int> drain();
  int epollFd() const;

private:
  explicit RingBuffer(Callback callback) : callback_(std::move(callback)) {}
  static int onRecord(void* ctx, void* data, size_t size);

  Callback callback_;
  ring_buffer* rb_ = nullptr;
};

} // namespace vigil::loader
