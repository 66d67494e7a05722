#pragma once

// Writes each event as one JSON line to a file descriptor (stdout by
// default), buffered and flushed when the pipeline goes idle.

#include "vigil/sink.h"

#include <string>

namespace vigil {

class StdoutSink : public EventSink {
public:
  explicit StdoutSink(int fd = 1) : fd_(fd) {}
  ~StdoutSink() override;

  std::string_view name() const override { return "stdout"; }
  Status write(const Event& event) override;
  Status flush() override;

  uint64_t written() const { return written_; }

private:
  int fd_;
  std::string buffer_;
  std::string line_;
  uint64_t written_ = 0;
};

} // namespace vigil
