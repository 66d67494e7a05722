#include "agent/sinks/stdout_sink.h"

#include "proto/json.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace vigil {
namespace {
constexpr size_t kFlushAt = 64 * 1024;
}

StdoutSink::~StdoutSink() { (void)flush(); }

Status StdoutSink::write(const Event& event) {
  if (auto st = renderJson(event, line_); !st) {
    return st;
  }
  buffer_ += line_;
  buffer_ += '\n';
  ++written_;
  if (buffer_.size() >= kFlushAt) {
    return flush();
  }
  return okStatus();
}

Status StdoutSink::flush() {
  size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      buffer_.erase(0, off);
      return makeError("stdout sink: write: {}", strerror(err));
    }
    off += size_t(n);
  }
  buffer_.clear();
  return okStatus();
}

} // namespace vigil
