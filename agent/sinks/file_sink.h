#pragma once

// Writes each event as one JSON line to a file, buffered, and rotates it by
// size: when the next line would take the file past max_bytes, the file is
// closed and renamed to path.1 (path.1 to path.2, ... up to path.N with N =
// max_files; the oldest is deleted) and a new one is opened. Files are
// created with mode 0640. A failed write (ENOSPC, EIO) loses the lines it
// could not write, counts them (discarded()) and reports the error; the
// sink carries on, and never leaves half a line in the file.

#include "vigil/sink.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace vigil {

struct FileSinkOptions {
  std::string path;
  uint64_t max_bytes = 100ull << 20; // a file never grows past this, unless one line is larger
  uint32_t max_files = 5; // rotated files kept; 0: none (the file starts over)
};

struct FileSinkStats {
  uint64_t written = 0; // lines accepted by write()
  uint64_t rotations = 0;
  uint64_t write_errors = 0; // failed writes, renames and opens
  uint64_t discarded = 0; // accepted lines lost to those errors
};

class FileSink : public EventSink {
public:
  // Opens (or creates) the file. The directory must exist: the agent does
  // not create directories on its own.
  static Result<std::unique_ptr<FileSink>> open(FileSinkOptions options);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  std::string_view name() const override { return "file"; }
  // Buffers the line; rotates first when it would not fit. An error while
  // writing or rotating for room is reported by the next flush(): the line
  // itself is kept, so write() still succeeds.
  Status write(const Event& event) override;
  Status flush() override;
  // Writes to a local file do not wait on anyone; the deadline is not needed.
  Status close(std::chrono::steady_clock::time_point deadline) override;
  uint64_t discarded() const override { return stats_.discarded; }
  uint64_t buffered() const override { return buffered_.load(std::memory_order_relaxed); }

  const FileSinkStats& stats() const { return stats_; }
  const std::string& path() const { return options_.path; }
  // path.k, the k-th most recent rotated file.
  std::string rotatedPath(uint32_t k) const;

private:
  explicit FileSink(FileSinkOptions options) : options_(std::move(options)) {}
  Status openFile();
  Status writeBuffer();
  Status rotate();
  void defer(Status status);

  FileSinkOptions options_;
  int fd_ = -1;
  uint64_t size_ = 0; // bytes in the open file
  std::string buffer_;
  std::string line_;
  std::atomic<uint64_t> buffered_{0}; // lines in buffer_
  std::optional<Error> deferred_; // from inside write(), for the next flush()
  FileSinkStats stats_;
  bool closed_ = false;
};

} // namespace vigil
