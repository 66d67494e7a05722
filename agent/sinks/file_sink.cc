#include "agent/sinks/file_sink.h"

#include "proto/json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace vigil {
namespace {
constexpr size_t kFlushAt = 64 * 1024;
constexpr mode_t kMode = 0640;

uint64_t countLines(const std::string& s, size_t from) {
  return uint64_t(std::count(s.begin() + std::ptrdiff_t(from), s.end(), '\n'));
}
} // namespace

Result<std::unique_ptr<FileSink>> FileSink::open(FileSinkOptions options) {
  if (options.path.empty()) {
    return makeError("file sink: path is required");
  }
  if (options.max_bytes == 0) {
    return makeError("file sink {}: max_bytes must be greater than 0", options.path);
  }
  std::filesystem::path dir = std::filesystem::path(options.path).parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) {
    return makeError("file sink {}: directory {}: {}{}", options.path, dir.string(), strerror(errno),
                     errno == ENOENT ? " (the agent does not create it)" : "");
  }
  if (!S_ISDIR(st.st_mode)) {
    return makeError("file sink {}: {} is not a directory", options.path, dir.string());
  }
  std::unique_ptr<FileSink> sink(new FileSink(std::move(options)));
  if (auto opened = sink->openFile(); !opened) {
    return opened.error();
  }
  return sink;
}

FileSink::~FileSink() {
  if (!closed_) {
    (void)close(std::chrono::steady_clock::now());
  }
}

std::string FileSink::rotatedPath(uint32_t k) const { return fmt::format("{}.{}", options_.path, k); }

Status FileSink::openFile() {
  // O_EXCL first, to know whether we created it (and so own its mode).
  int fd = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, kMode);
  const bool created = fd >= 0;
  if (fd < 0 && errno == EEXIST) {
    fd = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) {
    ++stats_.write_errors;
    return makeError("file sink {}: open: {}", options_.path, strerror(errno));
  }
  if (created) {
    (void)::fchmod(fd, kMode); // whatever the umask took away
  }
  struct stat st{};
  size_ = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0;
  fd_ = fd;
  return okStatus();
}

void FileSink::defer(Status status) {
  if (!status && !deferred_) {
    deferred_ = status.error();
  }
}

Status FileSink::write(const Event& event) {
  if (auto st = renderJson(event, line_); !st) {
    return st;
  }
  const uint64_t pending = size_ + buffer_.size();
  if (pending > 0 && pending + line_.size() + 1 > options_.max_bytes) {
    defer(writeBuffer());
    defer(rotate());
  }
  buffer_ += line_;
  buffer_ += '\n';
  ++stats_.written;
  buffered_.store(buffered_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (buffer_.size() >= kFlushAt) {
    defer(writeBuffer());
  }
  return okStatus();
}

Status FileSink::flush() {
  Status st = writeBuffer();
  if (deferred_) {
    Error first = std::move(*deferred_);
    deferred_.reset();
    if (!st) {
      return makeError("{}; {}", first.message(), st.error().message());
    }
    return first;
  }
  return st;
}

// Writes the buffer to the open file. On an error the lines written whole
// stay, a partly written line is cut off again, and the rest is counted
// as discarded.
Status FileSink::writeBuffer() {
  if (buffer_.empty()) {
    return okStatus();
  }
  if (fd_ < 0) {
    if (auto st = openFile(); !st) {
      const uint64_t lost = countLines(buffer_, 0);
      stats_.discarded += lost;
      buffer_.clear();
      buffered_.store(0, std::memory_order_relaxed);
      return makeError("{}: {} events lost", st.error().message(), lost);
    }
  }
  size_t off = 0;
  int err = 0;
  while (off < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      err = errno;
      break;
    }
    off += size_t(n);
  }
  if (err == 0) {
    size_ += buffer_.size();
    buffer_.clear();
    buffered_.store(0, std::memory_order_relaxed);
    return okStatus();
  }
  const size_t nl = off == 0 ? std::string::npos : buffer_.rfind('\n', off - 1);
  const size_t keep = nl == std::string::npos ? 0 : nl + 1;
  if (keep < off) {
    (void)::ftruncate(fd_, off_t(size_ + keep)); // O_APPEND: the next write starts there
  }
  size_ += keep;
  const uint64_t lost = countLines(buffer_, keep);
  stats_.discarded += lost;
  ++stats_.write_errors;
  buffer_.clear();
  buffered_.store(0, std::memory_order_relaxed);
  return makeError("file sink {}: write: {}: {} events lost", options_.path, strerror(err), lost);
}

// path.N is deleted, path.k becomes path.k+1, path becomes path.1, and a new
// path is opened. A missing rotated file is fine (fewer rotations so far).
Status FileSink::rotate() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  size_ = 0;
  ++stats_.rotations;
  std::string failure;
  auto note = [&](const char* what, const std::string& path) {
    if (errno != ENOENT && failure.empty()) {
      failure = fmt::format("{} {}: {}", what, path, strerror(errno));
    }
  };
  if (options_.max_files == 0) {
    if (::unlink(options_.path.c_str()) != 0) {
      note("unlink", options_.path);
    }
  } else {
    if (::unlink(rotatedPath(options_.max_files).c_str()) != 0) {
      note("unlink", rotatedPath(options_.max_files));
    }
    for (uint32_t k = options_.max_files - 1; k >= 1; --k) {
      if (::rename(rotatedPath(k).c_str(), rotatedPath(k + 1).c_str()) != 0) {
        note("rename", rotatedPath(k));
      }
    }
    if (::rename(options_.path.c_str(), rotatedPath(1).c_str()) != 0) {
      note("rename", options_.path);
    }
  }
  Status opened = openFile(); // counts its own failure
  if (!failure.empty()) {
    ++stats_.write_errors;
    return makeError("file sink {}: rotate: {}", options_.path, failure);
  }
  return opened;
}

Status FileSink::close(std::chrono::steady_clock::time_point deadline) {
  (void)deadline;
  Status st = flush();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  closed_ = true;
  return st;
}

} // namespace vigil
