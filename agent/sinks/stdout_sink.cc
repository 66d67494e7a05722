#include "agent/sinks/stdout_sink.h"

#include "proto/json.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <poll.h>
#include <unistd.h>

namespace vigil {
namespace {
constexpr size_t kFlushAt = 64 * 1024;
// Against a deadline, at most this much per write(2) after poll() said the
// descriptor is writable: a pipe with one free page takes it without
// blocking.
constexpr size_t kChunk = PIPE_BUF;

// Waits until fd is writable; false when the deadline passed first.
bool waitWritable(int fd, std::optional<std::chrono::steady_clock::time_point> deadline) {
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return false;
      }
      timeout_ms = int(std::min<int64_t>(left.count(), INT_MAX));
    }
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n > 0) {
      return true; // writable, or an error the next write(2) reports
    }
    if (n < 0 && errno != EINTR) {
      return true; // let write(2) report it
    }
  }
}
} // namespace

StdoutSink::~StdoutSink() {
  if (!closed_) {
    (void)flush();
  }
}

Status StdoutSink::write(const Event& event) {
  if (auto st = renderJson(event, line_); !st) {
    return st;
  }
  buffer_ += line_;
  buffer_ += '\n';
  ++written_;
  buffered_.store(buffered_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (buffer_.size() >= kFlushAt) {
    return flush();
  }
  return okStatus();
}

Status StdoutSink::flush() { return writeBuffer(std::nullopt); }

Status StdoutSink::close(std::chrono::steady_clock::time_point deadline) {
  closed_ = true;
  return writeBuffer(deadline);
}

// Writes the buffer out. On an error or at the deadline the rest is
// discarded (a reader that is gone or stuck would make it grow without
// bound), and every line not written whole is counted.
Status StdoutSink::writeBuffer(std::optional<std::chrono::steady_clock::time_point> deadline) {
  size_t off = 0;
  std::string failure;
  while (off < buffer_.size()) {
    if (deadline && !waitWritable(fd_, deadline)) {
      failure = "the reader did not take the output by the deadline";
      break;
    }
    const size_t len = deadline ? std::min(kChunk, buffer_.size() - off) : buffer_.size() - off;
    ssize_t n = ::write(fd_, buffer_.data() + off, len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN) { // a non-blocking descriptor handed to us
        if (!deadline) {
          (void)waitWritable(fd_, std::nullopt);
        }
        continue;
      }
      failure = fmt::format("write: {}", strerror(errno));
      break;
    }
    off += size_t(n);
  }
  if (failure.empty()) {
    buffer_.clear();
    buffered_.store(0, std::memory_order_relaxed);
    return okStatus();
  }
  const auto lost = uint64_t(std::count(buffer_.begin() + std::ptrdiff_t(off), buffer_.end(), '\n'));
  discarded_ += lost;
  buffer_.clear();
  buffered_.store(0, std::memory_order_relaxed);
  return makeError("stdout sink: {}: {} events not written", failure, lost);
}

} // namespace vigil
