#include "collectors/runtime/ring_buffer.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

namespace vigil::runtime {
namespace {

// Store the consumer position at least this often within a pass, so the
// producers see the room a long pass frees.
constexpr uint64_t kPublishBytes = 64 << 10;

uint64_t loadAcquire(const uint64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
uint32_t loadAcquire(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

} // namespace

Result<std::unique_ptr<RingBuffer>> RingBuffer::create(int map_fd, Callback callback, bool threshold_wakeups) {
  std::unique_ptr<RingBuffer> rb(new RingBuffer(std::move(callback), threshold_wakeups));
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map_fd, &info, &len) != 0) {
    return makeError("ring buffer fd {}: map info: {}", map_fd, strerror(errno));
  }
  if (info.type != BPF_MAP_TYPE_RINGBUF || info.max_entries == 0 ||
      (info.max_entries & (info.max_entries - 1)) != 0) {
    return makeError("map fd {} is not a ring buffer (type {}, size {})", map_fd, info.type, info.max_entries);
  }
  rb->page_size_ = size_t(sysconf(_SC_PAGESIZE));
  rb->data_size_ = info.max_entries;
  void* cons = mmap(nullptr, rb->page_size_, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (cons == MAP_FAILED) {
    return makeError("ring buffer fd {}: mapping the consumer page: {}", map_fd, strerror(errno));
  }
  rb->consumer_pos_ = static_cast<uint64_t*>(cons);
  // The producer page, then the data twice: a record that wraps around the
  // end reads as one piece.
  void* prod = mmap(nullptr, rb->page_size_ + 2 * rb->data_size_, PROT_READ, MAP_SHARED, map_fd,
                    off_t(rb->page_size_));
  if (prod == MAP_FAILED) {
    return makeError("ring buffer fd {}: mapping the data pages: {}", map_fd, strerror(errno));
  }
  rb->producer_pos_ = static_cast<const uint64_t*>(prod);
  rb->data_ = static_cast<const uint8_t*>(prod) + rb->page_size_;
  rb->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (rb->epoll_fd_ < 0) {
    return makeError("ring buffer: epoll_create1: {}", strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN | (threshold_wakeups ? EPOLLET : 0);
  if (epoll_ctl(rb->epoll_fd_, EPOLL_CTL_ADD, map_fd, &ev) != 0) {
    return makeError("ring buffer fd {}: epoll_ctl: {}", map_fd, strerror(errno));
  }
  return rb;
}

RingBuffer::~RingBuffer() {
  if (epoll_fd_ >= 0) {
    close(epoll_fd_);
  }
  if (consumer_pos_) {
    munmap(consumer_pos_, page_size_);
  }
  if (producer_pos_) {
    munmap(const_cast<uint64_t*>(producer_pos_), page_size_ + 2 * data_size_);
  }
}

int RingBuffer::consumePass(bool* advanced) {
  const uint64_t start = *consumer_pos_; // only this thread writes it
  uint64_t cons = start, published = start;
  const uint64_t prod = loadAcquire(producer_pos_);
  const uint64_t mask = data_size_ - 1;
  int n = 0;
  while (cons < prod) {
    const auto* hdr = reinterpret_cast<const uint32_t*>(data_ + (cons & mask));
    const uint32_t word = loadAcquire(hdr);
    if (word & BPF_RINGBUF_BUSY_BIT) {
      break; // reserved, not yet committed: the next pass takes it
    }
    const uint32_t size = word & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
    if (!(word & BPF_RINGBUF_DISCARD_BIT)) {
      callback_(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(hdr) + BPF_RINGBUF_HDR_SZ, size));
      ++n;
    }
    cons += (uint64_t(size) + BPF_RINGBUF_HDR_SZ + 7) & ~uint64_t(7);
    if (cons - published >= kPublishBytes) {
      __atomic_store_n(consumer_pos_, cons, __ATOMIC_RELEASE);
      published = cons;
    }
  }
  if (cons != published) {
    __atomic_store_n(consumer_pos_, cons, __ATOMIC_RELEASE);
  }
  *advanced = cons != start;
  return n;
}

Result<int> RingBuffer::poll(int timeout_ms) {
  epoll_event ev{};
  if (epoll_wait(epoll_fd_, &ev, 1, timeout_ms) < 0 && errno != EINTR) {
    return makeError("ring buffer poll: {}", strerror(errno));
  }
  // Woken or not: producers that suppress wakeups (BPF_RB_NO_WAKEUP) leave
  // records for the timeout.
  if (threshold_wakeups_) {
    bool advanced = false;
    return consumePass(&advanced);
  }
  return drain();
}

Result<int> RingBuffer::drain() {
  int total = 0;
  for (bool advanced = true; advanced;) {
    total += consumePass(&advanced);
  }
  return total;
}

} // namespace vigil::runtime
