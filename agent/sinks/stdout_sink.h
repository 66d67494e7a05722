#pragma once

// Writes each event as one JSON line to a file descriptor (stdout by
// default), buffered; flushed when its queue goes idle, every 200 ms under
// load, and when 64 KiB are waiting. The descriptor is not closed.

#include "vigil/sink.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

namespace vigil {

class StdoutSink : public EventSink {
public:
  explicit StdoutSink(int fd = 1) : fd_(fd) {}
  ~StdoutSink() override;

  std::string_view name() const override { return "stdout"; }
  Status write(const Event& event) override;
  // Blocks while the reader does not read (a pipe): only this sink's thread
  // waits.
  Status flush() override;
  // Writes what is buffered until the deadline, waiting for the reader with
  // poll() so that a stuck reader cannot hold it past the deadline; the rest
  // is discarded and counted.
  Status close(std::chrono::steady_clock::time_point deadline) override;
  uint64_t discarded() const override { return discarded_; }
  uint64_t buffered() const override { return buffered_.load(std::memory_order_relaxed); }

  uint64_t written() const { return written_; }

private:
  Status writeBuffer(std::optional<std::chrono::steady_clock::time_point> deadline);

  int fd_;
  std::string buffer_;
  std::string line_;
  uint64_t written_ = 0;
  uint64_t discarded_ = 0;
  std::atomic<uint64_t> buffered_{0}; // lines in buffer_
  bool closed_ = false;
};

} // namespace vigil
