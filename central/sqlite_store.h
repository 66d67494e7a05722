#pragma once

// The embedded store: one SQLite database in WAL mode (readers such as
// vigilctl run beside the collector), synchronous=NORMAL, one transaction
// per write() of a group of batches. Used from one thread.

#include "central/store.h"

#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace vigil::central {

class SqliteStore : public EventStore {
public:
  // Opens (creating the file, its directory and the schema when missing).
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  ~SqliteStore() override;

  Result<std::optional<InstanceState>> loadInstance(const InstanceKey& key) override;
  Result<WriteResult> write(const std::vector<BatchWrite>& batches) override;
  Result<RetentionResult> enforceRetention(int64_t now_ns, int64_t max_age_ns, uint64_t max_bytes) override;
  Result<uint64_t> countEvents() override;

  // Bytes the database's pages in use take (page_count - freelist_count).
  Result<uint64_t> usedBytes();

private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  Status doExec(const char* sql);
  Status doPrepare(const char* sql, sqlite3_stmt** stmt);
  Status doWrite(const std::vector<BatchWrite>& batches, WriteResult& result);
  Error doError(std::string_view what) const;

  sqlite3* db_;
  sqlite3_stmt* insert_event_ = nullptr;
  sqlite3_stmt* upsert_instance_ = nullptr;
  sqlite3_stmt* insert_chain_event_ = nullptr;
  sqlite3_stmt* select_instance_ = nullptr;
};

// The schema, also read by vigilctl's tests and docs/central.md.
extern const char* const kSqliteSchema;

} // namespace vigil::central
