#pragma once

// Where the central collector keeps events: a small interface (the ingest
// path and retention use only this) and its SQLite implementation
// (central/sqlite_store.h). docs/central.md describes the schema.

#include "vigil/status.h"

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vigil::central {

// One agent instance of one node: the unit a hash chain and a sequence
// belong to.
struct InstanceKey {
  std::string node;
  std::string boot_id;
  uint64_t start_unix_ns = 0;

  auto operator<=>(const InstanceKey&) const = default;
};

// What the collector knows of an instance: everything up to committed_seq is
// stored (or recorded as a gap); last_chain_hash is the hash of the record
// committed_seq as the agent sent it.
struct InstanceState {
  uint64_t committed_seq = 0;
  std::string last_chain_hash;
  uint64_t last_seen_ns = 0;
};

// One event row, with the columns queries filter on.
struct EventRow {
  uint64_t seq = 0;
  int64_t time_ns = 0;
  std::string kind; // exec, fork, exit, syscall, flow, dns, suppressed
  std::string pod_namespace;
  std::string pod;
  std::string container;
  std::string exec_id;
  std::string parent_exec_id;
  std::string binary;
  bool chain_break = false; // the record's hash did not follow from the previous one
  std::string event;        // the serialized vigil.v1.Event, as received
};

// A gap or a break in an instance's chain.
struct ChainEventRow {
  uint64_t seq = 0;
  std::string kind; // "gap" or "break"
  std::string detail;
  int64_t time_ns = 0;
};

// Everything one accepted batch changes, written atomically with the other
// batches of the same write().
struct BatchWrite {
  InstanceKey instance;
  std::vector<EventRow> events;
  std::vector<ChainEventRow> chain_events;
  InstanceState state; // the instance's state after the batch
};

struct WriteResult {
  uint64_t inserted = 0;   // rows added
  uint64_t duplicates = 0; // rows already stored (left as they were)
};

struct RetentionResult {
  uint64_t deleted_by_age = 0;
  uint64_t deleted_by_size = 0;
};

class EventStore {
public:
  virtual ~EventStore() = default;

  // The instance's state, nullopt when never seen.
  virtual Result<std::optional<InstanceState>> loadInstance(const InstanceKey& key) = 0;
  // Writes the batches in one transaction: all of them or none.
  virtual Result<WriteResult> write(const std::vector<BatchWrite>& batches) = 0;
  // Deletes events older than max_age_ns before now_ns (0: no age limit),
  // then the oldest events until the store uses at most max_bytes (0: no
  // size limit).
  virtual Result<RetentionResult> enforceRetention(int64_t now_ns, int64_t max_age_ns, uint64_t max_bytes) = 0;
  // Rows in the events table.
  virtual Result<uint64_t> countEvents() = 0;
};

using EventStorePtr = std::unique_ptr<EventStore>;

} // namespace vigil::central
