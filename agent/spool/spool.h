#pragma once

// The agent's durable spool (docs/spool.md). Every event the agent ships is
// first appended here and forgotten only when the central collector
// acknowledges it, so a collector outage or an agent restart loses nothing.
//
// On disk: a directory of append-only segment files, each holding records of
// ONE agent instance, in spool order (segment id), plus a small ack file. A
// record carries its seq, its event bytes and its chain hash
// (SHA-256(prev chain hash || seq as 8 bytes LE || event), prev of an
// instance's first record = 32 zero bytes; proto/vigil/v1/ingest.proto).
//
// Threads: one writer thread calls append(), flush(), sync() and close();
// one reader thread calls readNext(), rewind() and ack(). stats() may be
// called from any thread. The two sides share only the segment list and the
// acknowledged positions, under one mutex taken when a buffer is written out,
// a segment is opened or deleted, a batch is read or an ack arrives; append()
// itself only hashes and copies into a buffer.
//
// Losses are counted, never hidden (drops_total{stage="spool",reason=...}):
//   spool_budget  the spool exceeded max_bytes and its oldest segments were
//                 deleted with records not yet acknowledged;
//   disk_full     a write failed with ENOSPC/EDQUOT: the records not written
//                 whole are dropped, the segment is cut back to its last
//                 whole record, and the next write-out tries again;
//   write_error   any other write failure, counted the same way;
//   too_large     an event over kMaxEventBytes;
//   torn_tail     found at open(): the end of a segment that was not written
//                 whole (a crash), cut off;
//   corrupt       a record that failed its CRC while being read back.
// A segment whose header is unreadable is renamed aside (<name>.corrupt),
// logged and counted (spool_corrupt_segments_total), never deleted.

#include "vigil/metrics.h"
#include "vigil/status.h"
#include "vigil/v1/ingest.pb.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil {

namespace spool {
struct ReaderState;
class ChainHasher;
using InstanceKey = std::pair<std::string, uint64_t>; // boot id, start_unix_ns
} // namespace spool

struct SpoolOptions {
  std::string dir = "/var/lib/vigil/spool"; // created (0750) when missing
  std::string node;                         // the node name, stored in every segment header
  v1::AgentInstance instance;               // this run of the agent: new records belong to it
  uint64_t max_bytes = 1ull << 30;          // budget of all segments; at least 2 * segment_bytes
  uint64_t segment_bytes = 16ull << 20;     // a segment is closed when the next record would pass this
  uint32_t fsync_interval_ms = 1000;        // fdatasync written data at least this often (0: every write-out)
  uint64_t fsync_bytes = 4ull << 20;        // ... or when this much was written since the last one
  uint32_t write_interval_ms = 100;         // buffered records are written out at least this often
  size_t write_buffer_bytes = 64u << 10;    // ... or when the buffer holds this much
};

class Spool {
public:
  // Opens (or creates) the spool directory, takes its lock file (one spool
  // per directory), recovers every segment (torn tails cut, unreadable
  // headers set aside), loads the acknowledged positions, deletes segments
  // wholly acknowledged and enforces the budget. The reader starts at the
  // first unacknowledged record. Metrics go to `registry`, which must
  // outlive the spool.
  static Result<std::unique_ptr<Spool>> open(SpoolOptions options, metrics::Registry& registry);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // --- writer thread -----------------------------------------------------
  // Appends one event of this instance: `seq` must be greater than the last
  // one appended (gaps are allowed: what was lost before the spool is
  // counted there). Returns the record's chain hash (32 bytes). The record
  // is buffered; it reaches the file (and the reader) at the next
  // write-out, and the disk at the next fsync (fsync policy). An error means
  // the record is not in the spool (bad seq, too large, no segment could be
  // created); the spool has counted the loss, the caller must not count it
  // again. The chain advances over every accepted seq, even one a full disk
  // later drops: the collector sees a gap there.
  Result<std::string> append(uint64_t seq, std::string_view event_bytes);
  // Writes the buffer out (the reader sees it) and fsyncs when the policy
  // says so. Call it when the writer goes idle.
  Status flush();
  // Writes the buffer out and fdatasyncs now.
  Status sync();
  // flush() + fdatasync + closes the segment; the spool can only be
  // destroyed afterwards (the destructor calls it).
  Status close();

  // --- reader thread -----------------------------------------------------
  struct Batch {
    std::string node;
    v1::AgentInstance instance;
    uint64_t first_seq = 0;
    // The chain hash of record first_seq - 1 when the spool knows it, empty
    // at seq 1 or after a gap.
    std::string prev_chain_hash;
    std::vector<v1::Record> records; // consecutive seqs, one instance
  };
  // The next records not yet read and not acknowledged, in spool order: at
  // most max_records, at most about max_bytes of events (at least one
  // record), all of one instance and without gaps. nullopt when there is
  // nothing new written out.
  Result<std::optional<Batch>> readNext(size_t max_records, size_t max_bytes);
  // Goes back to the first unacknowledged record (after a reconnect).
  void rewind();
  // The collector committed every record of `instance` up to `seq`. Persists
  // it (the ack file, replaced atomically with rename) and deletes the
  // segments wholly acknowledged (never the one being written).
  Status ack(const v1::AgentInstance& instance, uint64_t seq);

  // --- any thread --------------------------------------------------------
  struct Stats {
    uint64_t bytes = 0;                // in segment files on disk
    uint64_t segments = 0;
    uint64_t appended = 0;             // records accepted by append()
    uint64_t acked = 0;                // records read and then acknowledged
    uint64_t budget_dropped = 0;       // records deleted unacknowledged (spool_budget)
    uint64_t budget_dropped_bytes = 0;
    uint64_t disk_full_dropped = 0;
    uint64_t write_error_dropped = 0;
    uint64_t too_large_dropped = 0;
    uint64_t torn_tail_records = 0;
    uint64_t torn_tail_bytes = 0;
    uint64_t corrupt_records = 0;      // failed their CRC when read back
    uint64_t corrupt_segments = 0;     // set aside at open
    uint64_t fsyncs = 0;
  };
  Stats stats() const;
  const SpoolOptions& options() const { return options_; }

  // The segment file name of a segment: seg-<id>-<first seq>-<instance>.vsp
  // (ids and seqs as 20 digits, the instance as 16 hex digits of a hash).
  static std::string segmentName(uint64_t id, uint64_t first_seq, const v1::AgentInstance& instance);

private:
  using InstanceKey = spool::InstanceKey;

  // A segment file, as both threads know it (under mu_).
  struct Segment {
    uint64_t id = 0;
    std::string path;
    InstanceKey instance;
    std::string node;
    uint64_t first_seq = 0;
    uint64_t prev_seq = 0;
    std::array<uint8_t, 32> prev_hash{};
    uint32_t header_bytes = 0;
    uint64_t bytes = 0;    // written whole records and header: what the reader may read
    uint64_t records = 0;
    uint64_t last_seq = 0; // 0 when it holds no record
    std::array<uint8_t, 32> last_hash{};
  };

  Spool(SpoolOptions options, metrics::Registry& registry);
  Status doOpen();
  Status doRecover(const std::string& name);
  void doLoadAcks();
  std::string doEncodeAcks() const;             // mu_ held
  Status doWriteAcks(const std::string& bytes);
  void doDeleteAcked();                         // mu_ held
  void doEnforceBudget();                       // mu_ held
  void doDeleteSegment(size_t index, bool budget); // mu_ held
  std::pair<uint64_t, uint64_t> doUnacked(const Segment& segment) const; // mu_ held: records, bytes
  uint64_t doAckedSeq(const InstanceKey& instance) const;                // mu_ held

  int doOpenSegment(uint64_t first_seq, uint64_t prev_seq, const std::array<uint8_t, 32>& prev_hash); // 0 or an errno
  Status doCloseSegment();
  Status doWriteOut();
  void doMaybeSync(std::chrono::steady_clock::time_point now);
  Status doSync();
  void doCountWriteDrop(int err, uint64_t records, uint64_t bytes, uint64_t first_seq, uint64_t last_seq);
  void doPublishGauges(); // mu_ held

  const SpoolOptions options_;
  const InstanceKey instance_;
  metrics::Registry& registry_;
  int lock_fd_ = -1;
  bool closed_ = false;

  // Shared by writer and reader.
  mutable std::mutex mu_;
  std::deque<Segment> segments_;          // by id
  std::map<InstanceKey, uint64_t> acks_;  // highest acknowledged seq per instance
  uint64_t total_bytes_ = 0;
  uint64_t current_id_ = 0;               // the segment the writer appends to, 0 when none

  // Writer.
  std::unique_ptr<spool::ChainHasher> hasher_;
  uint64_t next_segment_id_ = 1;
  uint64_t last_seq_ = 0;          // of this instance, 0 before the first
  std::array<uint8_t, 32> last_hash_{};
  int fd_ = -1;                    // the segment being written, -1 when none
  uint64_t fd_id_ = 0;
  uint64_t fd_bytes_ = 0;          // in the file
  uint32_t fd_header_bytes_ = 0;
  std::chrono::steady_clock::time_point retry_after_; // no new segment before (after a failed one)
  int last_open_errno_ = 0;
  std::string buffer_;             // whole frames not yet written
  uint64_t buffer_records_ = 0;
  uint64_t buffer_last_seq_ = 0;
  uint64_t unsynced_bytes_ = 0;
  bool failing_ = false;           // the last write-out failed
  uint64_t failing_dropped_ = 0;   // records dropped since
  std::chrono::steady_clock::time_point last_write_out_;
  std::chrono::steady_clock::time_point last_sync_;

  // Reader.
  std::unique_ptr<spool::ReaderState> reader_;
  bool acks_dirty_ = false; // the last ack file write failed: the next ack() writes it again

  // Set when a segment is deleted: the writer retries a failed segment
  // creation at once instead of waiting out write_interval_ms.
  std::atomic<bool> space_freed_{false};

  // Counts (atomics: written by one thread, read by stats() and metrics).
  std::atomic<uint64_t> appended_{0};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> budget_dropped_{0};
  std::atomic<uint64_t> budget_dropped_bytes_{0};
  std::atomic<uint64_t> disk_full_dropped_{0};
  std::atomic<uint64_t> disk_full_dropped_bytes_{0};
  std::atomic<uint64_t> write_error_dropped_{0};
  std::atomic<uint64_t> write_error_dropped_bytes_{0};
  std::atomic<uint64_t> too_large_dropped_{0};
  std::atomic<uint64_t> too_large_dropped_bytes_{0};
  std::atomic<uint64_t> torn_tail_records_{0};
  std::atomic<uint64_t> torn_tail_bytes_{0};
  std::atomic<uint64_t> corrupt_records_{0};
  std::atomic<uint64_t> corrupt_bytes_{0};
  std::atomic<uint64_t> corrupt_segments_{0};
  std::atomic<uint64_t> corrupt_segment_bytes_{0};
  std::atomic<uint64_t> fsyncs_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> bytes_gauge_{0};
  std::atomic<uint64_t> segments_gauge_{0};

  std::vector<metrics::CallbackHandle> callbacks_;
};

} // namespace vigil
