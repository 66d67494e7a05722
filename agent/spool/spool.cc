#include "agent/spool/spool.h"

#include "agent/spool/format.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vigil {
namespace spool {

// SHA-256(prev || seq as 8 bytes LE || event) with one reused digest context.
class ChainHasher {
public:
  ChainHasher() : ctx_(EVP_MD_CTX_new()), md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {}
  ~ChainHasher() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  ChainHasher(const ChainHasher&) = delete;
  ChainHasher& operator=(const ChainHasher&) = delete;

  bool valid() const { return ctx_ != nullptr && md_ != nullptr; }

  Hash next(const Hash& prev, uint64_t seq, std::string_view event) {
    uint8_t le[8];
    for (int i = 0; i < 8; ++i) {
      le[i] = uint8_t(seq >> (8 * i));
    }
    Hash out{};
    unsigned int len = 0;
    EVP_DigestInit_ex(ctx_, md_, nullptr);
    EVP_DigestUpdate(ctx_, prev.data(), prev.size());
    EVP_DigestUpdate(ctx_, le, sizeof(le));
    EVP_DigestUpdate(ctx_, event.data(), event.size());
    EVP_DigestFinal_ex(ctx_, out.data(), &len);
    return out;
  }

private:
  EVP_MD_CTX* ctx_;
  EVP_MD* md_;
};

namespace {

constexpr size_t kReadChunk = 256u << 10;
constexpr mode_t kFileMode = 0640;
constexpr mode_t kDirMode = 0750;
constexpr std::string_view kAckFile = "ack";
constexpr std::string_view kAckTmpFile = "ack.tmp";
constexpr std::string_view kLockFile = "lock";

std::string errnoText(int err) { return std::strerror(err); }

bool isDiskFull(int err) { return err == ENOSPC || err == EDQUOT; }

std::string instanceText(const InstanceKey& key) { return fmt::format("{}/{}", key.first, key.second); }

std::string hashString(const Hash& h) { return std::string(reinterpret_cast<const char*>(h.data()), h.size()); }

Hash toHash(std::string_view s) {
  Hash h{};
  std::memcpy(h.data(), s.data(), std::min(s.size(), h.size()));
  return h;
}

// A window over a file read with pread, so that frames are parsed from memory
// with one system call per chunk rather than per frame.
class FileWindow {
public:
  void reset(int fd) {
    fd_ = fd;
    buf_.clear();
    off_ = 0;
  }
  // The bytes from `offset` on, at least min(need, end - offset) of them.
  Result<std::string_view> get(uint64_t offset, size_t need, uint64_t end) {
    need = size_t(std::min<uint64_t>(need, end - offset));
    if (offset >= off_ && offset + need <= off_ + buf_.size()) {
      return std::string_view(buf_).substr(size_t(offset - off_));
    }
    const size_t want = size_t(std::min<uint64_t>(end - offset, std::max(need, kReadChunk)));
    buf_.resize(want);
    size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(fd_, buf_.data() + got, want - got, off_t(offset + got));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        const int err = errno;
        buf_.clear();
        return makeError("read: {}", errnoText(err));
      }
      if (n == 0) {
        break;
      }
      got += size_t(n);
    }
    buf_.resize(got);
    off_ = offset;
    return std::string_view(buf_);
  }

private:
  int fd_ = -1;
  std::string buf_;
  uint64_t off_ = 0; // file offset of buf_[0]
};

uint64_t instanceHash(const v1::AgentInstance& instance) {
  uint64_t h = 1469598103934665603ull; // FNV-1a
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (char c : instance.boot_id()) {
    mix(uint8_t(c));
  }
  for (int i = 0; i < 8; ++i) {
    mix(uint8_t(instance.start_unix_ns() >> (8 * i)));
  }
  return h;
}

Status fsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return makeError("open {}: {}", dir, errnoText(errno));
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    return makeError("fsync {}: {}", dir, errnoText(err));
  }
  return okStatus();
}

} // namespace

// The reader thread's position and what it last read.
struct ReaderState {
  ~ReaderState() { closeFile(); }
  void closeFile() {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
    window.reset(-1);
  }

  bool in_segment = false;
  uint64_t segment_id = 0; // the segment being read (in_segment), else the id to start at
  int fd = -1;
  uint64_t offset = 0;     // of the next frame in the segment
  InstanceKey instance;
  std::string node;
  FileWindow window;
  // The last record in spool order whose hash is known (the prev_chain_hash
  // of a batch that starts right after it).
  bool known = false;
  InstanceKey known_instance;
  uint64_t known_seq = 0;
  Hash known_hash{};
  // Batches handed out and not yet acknowledged: instance, last seq, records.
  struct Outstanding {
    InstanceKey instance;
    uint64_t last_seq;
    uint64_t records;
  };
  std::deque<Outstanding> outstanding;
};

} // namespace spool

using spool::FrameResult;
using spool::FrameView;
using spool::Hash;

std::string Spool::segmentName(uint64_t id, uint64_t first_seq, const v1::AgentInstance& instance) {
  return fmt::format("seg-{:020}-{:020}-{:016x}.vsp", id, first_seq, spool::instanceHash(instance));
}

Spool::Spool(SpoolOptions options, metrics::Registry& registry)
    : options_(std::move(options)), instance_(options_.instance.boot_id(), options_.instance.start_unix_ns()),
      registry_(registry), hasher_(std::make_unique<spool::ChainHasher>()),
      reader_(std::make_unique<spool::ReaderState>()) {}

Result<std::unique_ptr<Spool>> Spool::open(SpoolOptions options, metrics::Registry& registry) {
  if (options.dir.empty()) {
    return makeError("spool: dir is required");
  }
  if (options.node.empty() || options.node.size() > spool::kMaxNodeBytes) {
    return makeError("spool {}: node name must have 1 to {} bytes", options.dir, spool::kMaxNodeBytes);
  }
  if (options.instance.boot_id().empty() || options.instance.boot_id().size() > spool::kMaxBootIdBytes) {
    return makeError("spool {}: instance boot id must have 1 to {} bytes", options.dir, spool::kMaxBootIdBytes);
  }
  if (options.segment_bytes < 4096) {
    return makeError("spool {}: segment_bytes {} is below 4096", options.dir, options.segment_bytes);
  }
  if (options.max_bytes / 2 < options.segment_bytes) {
    return makeError("spool {}: max_bytes {} must be at least twice segment_bytes {}", options.dir,
                     options.max_bytes, options.segment_bytes);
  }
  std::unique_ptr<Spool> spool(new Spool(std::move(options), registry));
  if (!spool->hasher_->valid()) {
    return makeError("spool: OpenSSL has no SHA-256");
  }
  if (auto st = spool->doOpen(); !st) {
    return st.error().wrap(fmt::format("spool {}", spool->options_.dir));
  }
  return spool;
}

Spool::~Spool() {
  callbacks_.clear(); // no metric reads past this point
  if (!closed_) {
    if (auto st = close(); !st) {
      spdlog::warn("spool {}: close: {}", options_.dir, st.error().message());
    }
  }
}

// ---- open and recovery -----------------------------------------------------------

Status Spool::doOpen() {
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) {
    return makeError("create directory: {}", ec.message());
  }
  (void)::chmod(options_.dir.c_str(), spool::kDirMode);
  const std::string lock_path = fmt::format("{}/{}", options_.dir, spool::kLockFile);
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, spool::kFileMode);
  if (lock_fd_ < 0) {
    return makeError("open {}: {}", lock_path, spool::errnoText(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      return makeError("in use by another spool (lock file {} is held)", lock_path);
    }
    return makeError("lock {}: {}", lock_path, spool::errnoText(err));
  }

  std::vector<std::string> names;
  DIR* d = ::opendir(options_.dir.c_str());
  if (d == nullptr) {
    return makeError("opendir: {}", spool::errnoText(errno));
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.starts_with("seg-") && name.ends_with(".vsp")) {
      names.emplace_back(name);
    } else if (name == spool::kAckTmpFile) {
      (void)::unlink(fmt::format("{}/{}", options_.dir, name).c_str()); // an ack never renamed into place
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    if (auto st = doRecover(name); !st) {
      return st;
    }
  }
  std::sort(segments_.begin(), segments_.end(), [](const Segment& a, const Segment& b) { return a.id < b.id; });
  for (const auto& s : segments_) {
    total_bytes_ += s.bytes;
    next_segment_id_ = std::max(next_segment_id_, s.id + 1);
  }
  doLoadAcks();

  // The chain of this instance continues where its newest segment ends (a
  // spool reopened by the same run); a new instance starts a new chain.
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    if (it->instance == instance_) {
      if (it->records > 0) {
        last_seq_ = it->last_seq;
        last_hash_ = it->last_hash;
      } else {
        last_seq_ = it->prev_seq;
        last_hash_ = it->prev_hash;
      }
      break;
    }
  }
  if (auto it = acks_.find(instance_); it != acks_.end() && it->second > last_seq_) {
    spdlog::warn("spool {}: instance {} was acknowledged up to seq {} but its records are gone; its chain "
                 "restarts from a zero hash",
                 options_.dir, spool::instanceText(instance_), it->second);
    last_seq_ = it->second;
    last_hash_ = {};
  }

  {
    std::lock_guard lock(mu_);
    doDeleteAcked();
    doEnforceBudget();
    doPublishGauges();
  }
  last_write_out_ = last_sync_ = std::chrono::steady_clock::now();

  using metrics::Sample;
  using metrics::Type;
  auto one = [this](std::string_view name, std::string_view help, Type type, const std::atomic<uint64_t>& v) {
    callbacks_.push_back(registry_.addCallback(name, help, type, [&v] {
      return std::vector<Sample>{{{}, double(v.load(std::memory_order_relaxed))}};
    }));
  };
  one("spool_bytes", "Bytes in the spool's segment files", Type::kGauge, bytes_gauge_);
  one("spool_segments", "Segment files in the spool", Type::kGauge, segments_gauge_);
  one("spool_records_appended_total", "Records appended to the spool", Type::kCounter, appended_);
  one("spool_records_acked_total", "Spooled records the central collector acknowledged", Type::kCounter, acked_);
  one("spool_corrupt_segments_total", "Spool segments with an unreadable header, set aside as .corrupt",
      Type::kCounter, corrupt_segments_);
  one("spool_fsyncs_total", "fdatasync calls of the spool", Type::kCounter, fsyncs_);
  one("spool_write_errors_total", "Failed writes to the spool (each may drop several records)", Type::kCounter,
      write_errors_);
  callbacks_.push_back(registry_.addCallback(
      "drops_total", "Events lost, by the stage that lost them and why", Type::kCounter, [this] {
        auto row = [](const char* reason, const std::atomic<uint64_t>& v) {
          return Sample{{{"stage", "spool"}, {"reason", reason}, {"cpu", ""}, {"sink", ""}},
                        double(v.load(std::memory_order_relaxed))};
        };
        return std::vector<Sample>{row("spool_budget", budget_dropped_), row("disk_full", disk_full_dropped_),
                                   row("write_error", write_error_dropped_), row("too_large", too_large_dropped_),
                                   row("torn_tail", torn_tail_records_), row("corrupt", corrupt_records_)};
      }));
  callbacks_.push_back(registry_.addCallback(
      "spool_dropped_bytes_total", "Bytes of spooled records lost, by why", Type::kCounter, [this] {
        auto row = [](const char* reason, const std::atomic<uint64_t>& v) {
          return Sample{{{"reason", reason}}, double(v.load(std::memory_order_relaxed))};
        };
        return std::vector<Sample>{row("spool_budget", budget_dropped_bytes_),
                                   row("disk_full", disk_full_dropped_bytes_),
                                   row("write_error", write_error_dropped_bytes_),
                                   row("too_large", too_large_dropped_bytes_),
                                   row("torn_tail", torn_tail_bytes_), row("corrupt", corrupt_bytes_),
                                   row("corrupt_segment", corrupt_segment_bytes_)};
      }));
  return okStatus();
}

// Checks one segment: a header that does not decode sets the file aside; the
// frames are checked up to the first that is short, out of bounds, fails its
// CRC or goes back in seq, and the file is cut there.
Status Spool::doRecover(const std::string& name) {
  const std::string path = fmt::format("{}/{}", options_.dir, name);
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return makeError("open {}: {}", name, spool::errnoText(errno));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    return makeError("stat {}: {}", name, spool::errnoText(errno));
  }
  const uint64_t size = uint64_t(st.st_size);
  if (size == 0) {
    // Created, never written: it holds nothing.
    spdlog::info("spool {}: removing empty segment {}", options_.dir, name);
    (void)::unlink(path.c_str());
    return okStatus();
  }
  spool::FileWindow window;
  window.reset(fd);
  auto head = window.get(0, spool::kMaxHeaderBytes, size);
  if (!head) {
    return head.error().wrap(name);
  }
  auto header = spool::decodeHeader(*head);
  if (!header) {
    const std::string aside = path + ".corrupt";
    if (::rename(path.c_str(), aside.c_str()) != 0) {
      return makeError("{}: {}; rename to {}: {}", name, header.error().message(), aside, spool::errnoText(errno));
    }
    corrupt_segments_.fetch_add(1, std::memory_order_relaxed);
    corrupt_segment_bytes_.fetch_add(size, std::memory_order_relaxed);
    spdlog::error("spool {}: {}: {}; set aside as {} ({} bytes not replayed)", options_.dir, name,
                  header.error().message(), aside, size);
    return okStatus();
  }
  Segment seg;
  seg.id = header->segment_id;
  seg.path = path;
  seg.instance = {header->boot_id, header->start_unix_ns};
  seg.node = header->node;
  seg.first_seq = header->first_seq;
  seg.prev_seq = header->prev_seq;
  seg.prev_hash = header->prev_hash;
  seg.header_bytes = header->header_bytes;

  uint64_t off = header->header_bytes;
  std::string why;
  while (off < size) {
    auto view = window.get(off, spool::kFrameHeadBytes, size);
    if (!view) {
      return view.error().wrap(name);
    }
    FrameView frame;
    FrameResult res = spool::decodeFrame(*view, frame);
    if (res == FrameResult::kShort) {
      const size_t claimed = spool::claimedFrameBytes(*view);
      if (claimed > 0 && claimed <= size - off) {
        view = window.get(off, claimed, size);
        if (!view) {
          return view.error().wrap(name);
        }
        res = spool::decodeFrame(*view, frame);
      }
    }
    if (res != FrameResult::kOk) {
      why = spool::frameResultName(res);
      break;
    }
    if (frame.seq < seg.first_seq || (seg.records > 0 && frame.seq <= seg.last_seq)) {
      why = fmt::format("seq {} out of order", frame.seq);
      break;
    }
    ++seg.records;
    seg.last_seq = frame.seq;
    seg.last_hash = spool::toHash(frame.chain_hash);
    off += frame.frame_bytes;
  }
  if (off < size) {
    // Count the frames the cut bytes seem to hold, at least one.
    uint64_t records = 0;
    for (uint64_t p = off; p < size;) {
      auto view = window.get(p, spool::kFrameHeadBytes, size);
      ++records;
      const size_t claimed = view ? spool::claimedFrameBytes(*view) : 0;
      if (claimed == 0) {
        break;
      }
      p += claimed;
    }
    if (::ftruncate(fd, off_t(off)) != 0 || ::fdatasync(fd) != 0) {
      return makeError("{}: cut torn tail at byte {}: {}", name, off, spool::errnoText(errno));
    }
    torn_tail_records_.fetch_add(records, std::memory_order_relaxed);
    torn_tail_bytes_.fetch_add(size - off, std::memory_order_relaxed);
    spdlog::warn("spool {}: {}: torn tail at byte {} ({}): cut {} bytes, about {} records lost after seq {}",
                 options_.dir, name, off, why, size - off, records,
                 seg.records > 0 ? seg.last_seq : seg.first_seq - 1);
  }
  seg.bytes = off;
  segments_.push_back(std::move(seg));
  return okStatus();
}

void Spool::doLoadAcks() {
  const std::string path = fmt::format("{}/{}", options_.dir, spool::kAckFile);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) {
      spdlog::warn("spool {}: open {}: {}; every spooled record is sent again", options_.dir, path,
                   spool::errnoText(errno));
    }
    return;
  }
  std::string data;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0 && data.size() < (1u << 20)) {
    data.append(buf, size_t(n));
  }
  ::close(fd);
  auto entries = spool::decodeAcks(data);
  if (!entries) {
    const std::string aside = path + ".corrupt";
    (void)::rename(path.c_str(), aside.c_str());
    spdlog::warn("spool {}: {} (set aside as {}); every spooled record is sent again", options_.dir,
                 entries.error().message(), aside);
    return;
  }
  for (const auto& e : *entries) {
    uint64_t& seq = acks_[{e.boot_id, e.start_unix_ns}];
    seq = std::max(seq, e.seq);
  }
}

// ---- shared state (mu_ held) ------------------------------------------------------

uint64_t Spool::doAckedSeq(const InstanceKey& instance) const {
  const auto it = acks_.find(instance);
  return it == acks_.end() ? 0 : it->second;
}

void Spool::doPublishGauges() {
  bytes_gauge_.store(total_bytes_, std::memory_order_relaxed);
  segments_gauge_.store(segments_.size(), std::memory_order_relaxed);
}

std::pair<uint64_t, uint64_t> Spool::doUnacked(const Segment& segment) const {
  const uint64_t acked = doAckedSeq(segment.instance);
  if (segment.records == 0 || acked >= segment.last_seq) {
    return {0, 0};
  }
  if (acked < segment.first_seq) {
    return {segment.records, segment.bytes - segment.header_bytes};
  }
  // Partly acknowledged (seqs may have gaps): count from the file.
  uint64_t records = 0;
  uint64_t bytes = 0;
  const int fd = ::open(segment.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return {segment.records, segment.bytes - segment.header_bytes}; // an upper bound
  }
  spool::FileWindow window;
  window.reset(fd);
  for (uint64_t off = segment.header_bytes; off < segment.bytes;) {
    auto view = window.get(off, spool::kFrameHeadBytes, segment.bytes);
    const size_t claimed = view ? spool::claimedFrameBytes(*view) : 0;
    if (claimed == 0 || claimed > segment.bytes - off) {
      break;
    }
    view = window.get(off, claimed, segment.bytes);
    FrameView frame;
    if (!view || spool::decodeFrame(*view, frame) != FrameResult::kOk) {
      break;
    }
    if (frame.seq > acked) {
      ++records;
      bytes += frame.frame_bytes;
    }
    off += claimed;
  }
  ::close(fd);
  return {records, bytes};
}

void Spool::doDeleteSegment(size_t index, bool budget) {
  const Segment& seg = segments_[index];
  if (budget) {
    const auto [records, bytes] = doUnacked(seg);
    budget_dropped_.fetch_add(records, std::memory_order_relaxed);
    budget_dropped_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    if (records > 0) {
      spdlog::warn("spool {}: over its budget of {} bytes: deleted segment {} with {} unacknowledged records "
                   "({} bytes): seq {}..{} of instance {} are lost",
                   options_.dir, options_.max_bytes, seg.id, records, bytes,
                   std::max(seg.first_seq, doAckedSeq(seg.instance) + 1), seg.last_seq,
                   spool::instanceText(seg.instance));
    } else {
      spdlog::info("spool {}: over its budget of {} bytes: deleted segment {} (acknowledged)", options_.dir,
                   options_.max_bytes, seg.id);
    }
  }
  if (::unlink(seg.path.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("spool {}: unlink {}: {}", options_.dir, seg.path, spool::errnoText(errno));
  }
  total_bytes_ -= std::min(total_bytes_, seg.bytes);
  space_freed_.store(true, std::memory_order_relaxed);
  segments_.erase(segments_.begin() + std::ptrdiff_t(index));
}

void Spool::doDeleteAcked() {
  for (size_t i = 0; i < segments_.size();) {
    const Segment& seg = segments_[i];
    if (seg.id != current_id_ && seg.last_seq <= doAckedSeq(seg.instance)) {
      doDeleteSegment(i, false);
    } else {
      ++i;
    }
  }
}

void Spool::doEnforceBudget() {
  while (total_bytes_ > options_.max_bytes) {
    size_t i = 0;
    while (i < segments_.size() && segments_[i].id == current_id_) {
      ++i;
    }
    if (i == segments_.size()) {
      return;
    }
    doDeleteSegment(i, true);
  }
}

std::string Spool::doEncodeAcks() const {
  std::vector<spool::AckEntry> entries;
  for (const auto& [key, seq] : acks_) {
    const bool needed = key == instance_ || std::any_of(segments_.begin(), segments_.end(), [&](const Segment& s) {
                          return s.instance == key;
                        });
    if (needed && entries.size() < spool::kMaxAckEntries) {
      entries.push_back({key.first, key.second, seq});
    }
  }
  return spool::encodeAcks(entries);
}

Status Spool::doWriteAcks(const std::string& bytes) {
  const std::string tmp = fmt::format("{}/{}", options_.dir, spool::kAckTmpFile);
  const std::string path = fmt::format("{}/{}", options_.dir, spool::kAckFile);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, spool::kFileMode);
  if (fd < 0) {
    return makeError("spool {}: open {}: {}", options_.dir, tmp, spool::errnoText(errno));
  }
  size_t off = 0;
  int err = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      err = errno;
      break;
    }
    off += size_t(n);
  }
  if (err == 0 && ::fdatasync(fd) != 0) {
    err = errno;
  }
  ::close(fd);
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
  }
  if (err != 0) {
    (void)::unlink(tmp.c_str());
    return makeError("spool {}: write {}: {} (the acknowledgement holds in memory)", options_.dir, path,
                     spool::errnoText(err));
  }
  return okStatus();
}

// ---- writer -------------------------------------------------------------------

Result<std::string> Spool::append(uint64_t seq, std::string_view event_bytes) {
  if (closed_) {
    return makeError("spool {}: append after close", options_.dir);
  }
  if (seq <= last_seq_) {
    return makeError("spool {}: seq {} is not after {}, the last of this instance", options_.dir, seq, last_seq_);
  }
  const uint64_t prev_seq = last_seq_;
  const Hash prev = last_hash_;
  const Hash hash = hasher_->next(prev, seq, event_bytes);
  last_seq_ = seq;
  last_hash_ = hash;
  if (event_bytes.size() > spool::kMaxEventBytes) {
    too_large_dropped_.fetch_add(1, std::memory_order_relaxed);
    too_large_dropped_bytes_.fetch_add(spool::kFrameOverhead + event_bytes.size(), std::memory_order_relaxed);
    return makeError("spool {}: event seq {} of {} bytes is over the {} a record may hold; dropped", options_.dir,
                     seq, event_bytes.size(), spool::kMaxEventBytes);
  }
  const auto now = std::chrono::steady_clock::now();
  const uint64_t frame_bytes = spool::kFrameOverhead + event_bytes.size();
  const uint64_t pending = fd_bytes_ + buffer_.size();
  if (fd_ >= 0 && pending > fd_header_bytes_ && pending + frame_bytes > options_.segment_bytes) {
    if (auto st = doCloseSegment(); !st) {
      spdlog::warn("spool {}: {}", options_.dir, st.error().message());
    }
  }
  if (fd_ < 0) {
    int err = 0;
    if (now < retry_after_ && !space_freed_.exchange(false, std::memory_order_relaxed)) {
      err = last_open_errno_;
    } else {
      err = doOpenSegment(seq, prev_seq, prev); // the header names the chain state before this record
    }
    if (err != 0) {
      last_open_errno_ = err;
      retry_after_ = now + std::chrono::milliseconds(options_.write_interval_ms);
      doCountWriteDrop(err, 1, frame_bytes, seq, seq);
      return makeError("spool {}: no segment to write to ({}): seq {} dropped", options_.dir, spool::errnoText(err),
                       seq);
    }
  }
  spool::encodeFrame(seq, hash, event_bytes, buffer_);
  ++buffer_records_;
  buffer_last_seq_ = seq;
  appended_.store(appended_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (buffer_.size() >= options_.write_buffer_bytes ||
      now - last_write_out_ >= std::chrono::milliseconds(options_.write_interval_ms)) {
    (void)doWriteOut(); // counted and logged there; the record was accepted
    doMaybeSync(now);
  }
  return spool::hashString(hash);
}

Status Spool::flush() {
  Status st = doWriteOut();
  doMaybeSync(std::chrono::steady_clock::now());
  return st;
}

Status Spool::sync() {
  Status st = doWriteOut();
  Status synced = doSync();
  return st ? synced : st;
}

Status Spool::close() {
  if (closed_) {
    return okStatus();
  }
  Status st = doCloseSegment();
  reader_->closeFile();
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
  closed_ = true;
  return st;
}

int Spool::doOpenSegment(uint64_t first_seq, uint64_t prev_seq, const spool::Hash& prev_hash) {
  const uint64_t id = next_segment_id_;
  const std::string path = fmt::format("{}/{}", options_.dir, segmentName(id, first_seq, options_.instance));
  spool::SegmentHeader header;
  header.segment_id = id;
  header.first_seq = first_seq;
  header.prev_seq = prev_seq;
  header.prev_hash = prev_hash;
  header.boot_id = instance_.first;
  header.start_unix_ns = instance_.second;
  header.node = options_.node;
  std::string bytes;
  spool::encodeHeader(header, bytes);

  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, spool::kFileMode);
  if (fd < 0) {
    const int err = errno;
    if (!failing_) {
      spdlog::warn("spool {}: create {}: {}", options_.dir, path, spool::errnoText(err));
    }
    return err;
  }
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      (void)::unlink(path.c_str());
      if (!failing_) {
        spdlog::warn("spool {}: write header of {}: {}", options_.dir, path, spool::errnoText(err));
      }
      return err;
    }
    off += size_t(n);
  }
  ++next_segment_id_;
  if (auto st = spool::fsyncDir(options_.dir); !st) {
    spdlog::warn("spool {}: {}", options_.dir, st.error().message());
  } else {
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
  }
  Segment seg;
  seg.id = id;
  seg.path = path;
  seg.instance = instance_;
  seg.node = options_.node;
  seg.first_seq = first_seq;
  seg.prev_seq = header.prev_seq;
  seg.prev_hash = header.prev_hash;
  seg.header_bytes = header.header_bytes;
  seg.bytes = bytes.size();
  {
    std::lock_guard lock(mu_);
    segments_.push_back(std::move(seg));
    current_id_ = id;
    total_bytes_ += bytes.size();
    doEnforceBudget();
    doPublishGauges();
  }
  fd_ = fd;
  fd_id_ = id;
  fd_bytes_ = bytes.size();
  fd_header_bytes_ = header.header_bytes;
  unsynced_bytes_ = bytes.size();
  return 0;
}

Status Spool::doCloseSegment() {
  if (fd_ < 0) {
    return okStatus();
  }
  Status st = doWriteOut();
  Status synced = doSync();
  ::close(fd_);
  fd_ = -1;
  fd_bytes_ = 0;
  {
    std::lock_guard lock(mu_);
    current_id_ = 0;
  }
  return st ? synced : st;
}

// Writes the buffer to the segment. On a failure the frames written whole
// stay, a frame written in part is cut off again, and the rest are dropped
// and counted; the next write-out starts clean.
Status Spool::doWriteOut() {
  last_write_out_ = std::chrono::steady_clock::now();
  if (buffer_.empty()) {
    return okStatus();
  }
  size_t off = 0;
  int err = 0;
  while (off < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      err = errno;
      break;
    }
    if (n == 0) {
      err = EIO;
      break;
    }
    off += size_t(n);
  }
  // The whole frames written.
  size_t keep = buffer_.size();
  uint64_t kept_records = buffer_records_;
  uint64_t kept_last = buffer_last_seq_;
  uint64_t dropped_first = 0;
  if (err != 0) {
    keep = 0;
    kept_records = 0;
    kept_last = 0;
    while (keep < buffer_.size()) {
      const size_t frame = spool::claimedFrameBytes(std::string_view(buffer_).substr(keep));
      const uint64_t seq = spool::getU64(buffer_.data() + keep + spool::kFrameHeadBytes);
      if (keep + frame > off) {
        dropped_first = seq;
        break;
      }
      keep += frame;
      ++kept_records;
      kept_last = seq;
    }
    if (keep < off && ::ftruncate(fd_, off_t(fd_bytes_ + keep)) != 0) {
      // A partial frame stays at the end of the file: write no more there
      // (the next open cuts it as a torn tail); the next append opens a new
      // segment.
      spdlog::warn("spool {}: cut segment {} back to byte {}: {}; closing it", options_.dir, fd_id_,
                   fd_bytes_ + keep, spool::errnoText(errno));
      ::close(fd_);
      fd_ = -1;
      std::lock_guard lock(mu_);
      current_id_ = 0;
    }
  }
  fd_bytes_ += keep;
  unsynced_bytes_ += keep;
  {
    std::lock_guard lock(mu_);
    for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
      if (it->id == fd_id_) {
        it->bytes += keep;
        it->records += kept_records;
        if (kept_records > 0) {
          it->last_seq = kept_last;
          // last_hash is only needed at open, where it is read back.
        }
        break;
      }
    }
    total_bytes_ += keep;
    doEnforceBudget();
    doPublishGauges();
  }
  const uint64_t dropped = buffer_records_ - kept_records;
  const uint64_t dropped_bytes = buffer_.size() - keep;
  const uint64_t dropped_last = buffer_last_seq_;
  buffer_.clear();
  buffer_records_ = 0;
  buffer_last_seq_ = 0;
  if (err == 0) {
    if (failing_) {
      spdlog::info("spool {}: writing again; {} records were dropped while writes failed", options_.dir,
                   failing_dropped_);
      failing_ = false;
      failing_dropped_ = 0;
    }
    return okStatus();
  }
  doCountWriteDrop(err, dropped, dropped_bytes, dropped_first, dropped_last);
  return makeError("spool {}: write: {}: {} records dropped (seq {}..{})", options_.dir, spool::errnoText(err),
                   dropped, dropped_first, dropped_last);
}

void Spool::doCountWriteDrop(int err, uint64_t records, uint64_t bytes, uint64_t first_seq, uint64_t last_seq) {
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  if (spool::isDiskFull(err)) {
    disk_full_dropped_.fetch_add(records, std::memory_order_relaxed);
    disk_full_dropped_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  } else {
    write_error_dropped_.fetch_add(records, std::memory_order_relaxed);
    write_error_dropped_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  if (!failing_) {
    spdlog::warn("spool {}: write failed ({}): dropping records (first seq {}..{}) and counting them until "
                 "writes succeed again",
                 options_.dir, spool::errnoText(err), first_seq, last_seq);
  }
  failing_ = true;
  failing_dropped_ += records;
}

void Spool::doMaybeSync(std::chrono::steady_clock::time_point now) {
  if (unsynced_bytes_ == 0) {
    return;
  }
  if (unsynced_bytes_ >= options_.fsync_bytes ||
      now - last_sync_ >= std::chrono::milliseconds(options_.fsync_interval_ms)) {
    (void)doSync();
  }
}

Status Spool::doSync() {
  if (fd_ < 0 || unsynced_bytes_ == 0) {
    return okStatus();
  }
  last_sync_ = std::chrono::steady_clock::now();
  unsynced_bytes_ = 0;
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  if (::fdatasync(fd_) != 0) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    return makeError("spool {}: fdatasync segment {}: {}", options_.dir, fd_id_, spool::errnoText(errno));
  }
  return okStatus();
}

// ---- reader -------------------------------------------------------------------

Result<std::optional<Spool::Batch>> Spool::readNext(size_t max_records, size_t max_bytes) {
  auto& r = *reader_;
  std::optional<Batch> batch;
  size_t batch_bytes = 0;
  uint64_t batch_last = 0;
  max_records = std::max<size_t>(max_records, 1);
  while (!batch || batch->records.size() < max_records) {
    uint64_t end = 0;
    bool sealed = false;
    uint64_t acked = 0;
    {
      std::lock_guard lock(mu_);
      auto it = std::lower_bound(segments_.begin(), segments_.end(), r.segment_id,
                                 [](const Segment& s, uint64_t id) { return s.id < id; });
      if (it == segments_.end()) {
        if (r.in_segment) {
          // Its segment was deleted (budget) and no later one exists yet.
          r.closeFile();
          r.in_segment = false;
          r.known = false;
        }
        break;
      }
      if (!r.in_segment || it->id != r.segment_id) {
        if (r.in_segment) {
          // Its segment was deleted under us (budget): a gap.
          r.closeFile();
          r.in_segment = false;
          r.known = false;
          r.segment_id = it->id;
          if (batch) {
            break;
          }
        }
        if (batch && it->instance != r.instance) {
          break; // a batch never mixes instances: the next call starts there
        }
        r.closeFile();
        r.fd = ::open(it->path.c_str(), O_RDONLY | O_CLOEXEC);
        if (r.fd < 0) {
          const int err = errno;
          r.in_segment = false;
          if (batch) {
            break; // what was read goes out; the next call reports the error
          }
          return makeError("spool {}: open {}: {}", options_.dir, it->path, spool::errnoText(err));
        }
        r.window.reset(r.fd);
        r.in_segment = true;
        r.segment_id = it->id;
        r.offset = it->header_bytes;
        r.instance = it->instance;
        r.node = it->node;
        r.known = it->prev_seq > 0;
        r.known_instance = it->instance;
        r.known_seq = it->prev_seq;
        r.known_hash = it->prev_hash;
      }
      end = it->bytes;
      sealed = std::next(it) != segments_.end();
      acked = doAckedSeq(it->instance);
    }
    if (r.offset >= end) {
      if (!sealed) {
        break;
      }
      // On to the next segment.
      r.closeFile();
      r.in_segment = false;
      r.segment_id = r.segment_id + 1;
      continue;
    }
    auto view = r.window.get(r.offset, spool::kFrameHeadBytes, end);
    FrameView frame;
    FrameResult res = FrameResult::kShort;
    if (view) {
      const size_t claimed = spool::claimedFrameBytes(*view);
      if (claimed > 0 && claimed <= end - r.offset) {
        view = r.window.get(r.offset, claimed, end);
        res = view ? spool::decodeFrame(*view, frame) : FrameResult::kShort;
      } else {
        res = claimed == 0 ? FrameResult::kBadLength : FrameResult::kShort;
      }
    }
    if (!view) {
      if (batch) {
        break;
      }
      return view.error().wrap(fmt::format("spool {}: segment {}", options_.dir, r.segment_id));
    }
    if (res != FrameResult::kOk) {
      // Changed on disk since it was checked: skip what is left of it.
      corrupt_records_.fetch_add(1, std::memory_order_relaxed);
      corrupt_bytes_.fetch_add(end - r.offset, std::memory_order_relaxed);
      spdlog::error("spool {}: segment {}: {} at byte {} while reading: skipping its {} remaining bytes",
                    options_.dir, r.segment_id, spool::frameResultName(res), r.offset, end - r.offset);
      r.offset = end;
      r.known = false;
      if (batch) {
        break;
      }
      continue;
    }
    if (frame.seq <= acked) {
      r.known = true;
      r.known_instance = r.instance;
      r.known_seq = frame.seq;
      r.known_hash = spool::toHash(frame.chain_hash);
      r.offset += frame.frame_bytes;
      continue;
    }
    const size_t record_bytes = frame.event.size() + spool::kFrameBodyMin;
    if (batch) {
      if (frame.seq != batch_last + 1 || batch_bytes + record_bytes > max_bytes) {
        break;
      }
    } else {
      batch.emplace();
      batch->node = r.node;
      batch->instance.set_boot_id(r.instance.first);
      batch->instance.set_start_unix_ns(r.instance.second);
      batch->first_seq = frame.seq;
      if (frame.seq > 1 && r.known && r.known_instance == r.instance && r.known_seq + 1 == frame.seq) {
        batch->prev_chain_hash = spool::hashString(r.known_hash);
      }
    }
    v1::Record& rec = batch->records.emplace_back();
    rec.set_seq(frame.seq);
    rec.set_event(std::string(frame.event));
    rec.set_chain_hash(std::string(frame.chain_hash));
    batch_bytes += record_bytes;
    batch_last = frame.seq;
    r.known = true;
    r.known_instance = r.instance;
    r.known_seq = frame.seq;
    r.known_hash = spool::toHash(frame.chain_hash);
    r.offset += frame.frame_bytes;
  }
  if (batch) {
    r.outstanding.push_back({r.instance, batch_last, batch->records.size()});
  }
  return batch;
}

void Spool::rewind() {
  auto& r = *reader_;
  r.closeFile();
  r.in_segment = false;
  r.segment_id = 0;
  r.offset = 0;
  r.known = false;
  r.outstanding.clear();
}

Status Spool::ack(const v1::AgentInstance& instance, uint64_t seq) {
  const InstanceKey key{instance.boot_id(), instance.start_unix_ns()};
  auto& out = reader_->outstanding;
  uint64_t acked = 0;
  std::erase_if(out, [&](const spool::ReaderState::Outstanding& o) {
    if (o.instance == key && o.last_seq <= seq) {
      acked += o.records;
      return true;
    }
    return false;
  });
  acked_.store(acked_.load(std::memory_order_relaxed) + acked, std::memory_order_relaxed);
  std::string bytes;
  {
    std::lock_guard lock(mu_);
    uint64_t& a = acks_[key];
    if (seq <= a && !acks_dirty_) {
      return okStatus();
    }
    a = std::max(a, seq);
    bytes = doEncodeAcks();
  }
  Status st = doWriteAcks(bytes);
  acks_dirty_ = !st.ok();
  std::lock_guard lock(mu_);
  doDeleteAcked();
  doPublishGauges();
  return st;
}

Spool::Stats Spool::stats() const {
  Stats s;
  s.bytes = bytes_gauge_.load(std::memory_order_relaxed);
  s.segments = segments_gauge_.load(std::memory_order_relaxed);
  s.appended = appended_.load(std::memory_order_relaxed);
  s.acked = acked_.load(std::memory_order_relaxed);
  s.budget_dropped = budget_dropped_.load(std::memory_order_relaxed);
  s.budget_dropped_bytes = budget_dropped_bytes_.load(std::memory_order_relaxed);
  s.disk_full_dropped = disk_full_dropped_.load(std::memory_order_relaxed);
  s.write_error_dropped = write_error_dropped_.load(std::memory_order_relaxed);
  s.too_large_dropped = too_large_dropped_.load(std::memory_order_relaxed);
  s.torn_tail_records = torn_tail_records_.load(std::memory_order_relaxed);
  s.torn_tail_bytes = torn_tail_bytes_.load(std::memory_order_relaxed);
  s.corrupt_records = corrupt_records_.load(std::memory_order_relaxed);
  s.corrupt_segments = corrupt_segments_.load(std::memory_order_relaxed);
  s.fsyncs = fsyncs_.load(std::memory_order_relaxed);
  return s;
}

} // namespace vigil
