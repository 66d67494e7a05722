#include "central/sqlite_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>

namespace vigil::central {

const char* const kSqliteSchema = R"sql(
CREATE TABLE IF NOT EXISTS events (
  node TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  instance_start INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  time_ns INTEGER NOT NULL,
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL DEFAULT '',
  pod TEXT NOT NULL DEFAULT '',
  container TEXT NOT NULL DEFAULT '',
  exec_id TEXT NOT NULL DEFAULT '',
  parent_exec_id TEXT NOT NULL DEFAULT '',
  binary TEXT NOT NULL DEFAULT '',
  rule TEXT NOT NULL DEFAULT '',
  severity TEXT NOT NULL DEFAULT '',
  chain_break INTEGER NOT NULL DEFAULT 0,
  event BLOB NOT NULL,
  UNIQUE (node, boot_id, instance_start, seq)
);
CREATE INDEX IF NOT EXISTS events_time ON events (time_ns);
CREATE INDEX IF NOT EXISTS events_node_time ON events (node, time_ns);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind);
CREATE INDEX IF NOT EXISTS events_pod ON events (namespace, pod);
CREATE INDEX IF NOT EXISTS events_exec_id ON events (exec_id);
CREATE INDEX IF NOT EXISTS events_parent_exec_id ON events (parent_exec_id);
CREATE INDEX IF NOT EXISTS events_binary ON events (binary);
CREATE TABLE IF NOT EXISTS instances (
  node TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  instance_start INTEGER NOT NULL,
  committed_seq INTEGER NOT NULL,
  last_chain_hash BLOB NOT NULL,
  last_seen_ns INTEGER NOT NULL,
  PRIMARY KEY (node, boot_id, instance_start)
);
CREATE TABLE IF NOT EXISTS chain_events (
  node TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  instance_start INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  time_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chain_events_node ON chain_events (node, boot_id, instance_start, seq);
)sql";

namespace {

// Finalizes a statement at scope exit and resets a cached one.
class Reset {
public:
  explicit Reset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

private:
  sqlite3_stmt* stmt_;
};

void bindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

void bindBlob(sqlite3_stmt* stmt, int index, const std::string& bytes) {
  sqlite3_bind_blob(stmt, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
}

void bindInstance(sqlite3_stmt* stmt, const InstanceKey& key) {
  bindText(stmt, 1, key.node);
  bindText(stmt, 2, key.boot_id);
  sqlite3_bind_int64(stmt, 3, static_cast<int64_t>(key.start_unix_ns));
}

} // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return makeError("store: cannot create {}: {}", dir.string(), ec.message());
    }
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return makeError("store: cannot open {}: {}", path, msg);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  sqlite3_busy_timeout(db, 5000);
  // auto_vacuum must be chosen before the first table exists; on an existing
  // database it stays what it was.
  for (const char* sql : {"PRAGMA auto_vacuum=INCREMENTAL", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                          "PRAGMA foreign_keys=OFF", "PRAGMA cache_size=-65536", "PRAGMA temp_store=MEMORY"}) {
    if (auto st = store->doExec(sql); !st) {
      return st.error().wrap(path);
    }
  }
  if (auto st = store->doExec(kSqliteSchema); !st) {
    return st.error().wrap(path);
  }
  struct {
    const char* sql;
    sqlite3_stmt** stmt;
  } statements[] = {
      {"INSERT OR IGNORE INTO events (node, boot_id, instance_start, seq, time_ns, kind, namespace, pod, container, "
       "exec_id, parent_exec_id, binary, chain_break, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
       "?12, ?13, ?14)",
       &store->insert_event_},
      {"INSERT INTO instances (node, boot_id, instance_start, committed_seq, last_chain_hash, last_seen_ns) VALUES "
       "(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (node, boot_id, instance_start) DO UPDATE SET committed_seq = "
       "excluded.committed_seq, last_chain_hash = excluded.last_chain_hash, last_seen_ns = excluded.last_seen_ns",
       &store->upsert_instance_},
      {"INSERT INTO chain_events (node, boot_id, instance_start, seq, kind, detail, time_ns) VALUES (?1, ?2, ?3, ?4, "
       "?5, ?6, ?7)",
       &store->insert_chain_event_},
      {"SELECT committed_seq, last_chain_hash, last_seen_ns FROM instances WHERE node = ?1 AND boot_id = ?2 AND "
       "instance_start = ?3",
       &store->select_instance_},
  };
  for (auto& s : statements) {
    if (auto st = store->doPrepare(s.sql, s.stmt); !st) {
      return st.error().wrap(path);
    }
  }
  return store;
}

SqliteStore::~SqliteStore() {
  for (sqlite3_stmt* stmt : {insert_event_, upsert_instance_, insert_chain_event_, select_instance_}) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db_);
}

Error SqliteStore::doError(std::string_view what) const {
  return makeError("store: {}: {}", what, sqlite3_errmsg(db_));
}

Status SqliteStore::doExec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Error e = makeError("store: {}", err != nullptr ? err : "error");
    sqlite3_free(err);
    return e;
  }
  return okStatus();
}

Status SqliteStore::doPrepare(const char* sql, sqlite3_stmt** stmt) {
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
    return doError("prepare");
  }
  return okStatus();
}

Result<std::optional<InstanceState>> SqliteStore::loadInstance(const InstanceKey& key) {
  Reset reset(select_instance_);
  bindInstance(select_instance_, key);
  int rc = sqlite3_step(select_instance_);
  if (rc == SQLITE_DONE) {
    return std::optional<InstanceState>();
  }
  if (rc != SQLITE_ROW) {
    return doError("load instance");
  }
  InstanceState state;
  state.committed_seq = static_cast<uint64_t>(sqlite3_column_int64(select_instance_, 0));
  const void* hash = sqlite3_column_blob(select_instance_, 1);
  state.last_chain_hash.assign(static_cast<const char*>(hash),
                               static_cast<std::size_t>(sqlite3_column_bytes(select_instance_, 1)));
  state.last_seen_ns = static_cast<uint64_t>(sqlite3_column_int64(select_instance_, 2));
  return std::optional<InstanceState>(std::move(state));
}

Status SqliteStore::doWrite(const std::vector<BatchWrite>& batches, WriteResult& result) {
  for (const auto& batch : batches) {
    for (const auto& row : batch.events) {
      Reset reset(insert_event_);
      bindInstance(insert_event_, batch.instance);
      sqlite3_bind_int64(insert_event_, 4, static_cast<int64_t>(row.seq));
      sqlite3_bind_int64(insert_event_, 5, row.time_ns);
      bindText(insert_event_, 6, row.kind);
      bindText(insert_event_, 7, row.pod_namespace);
      bindText(insert_event_, 8, row.pod);
      bindText(insert_event_, 9, row.container);
      bindText(insert_event_, 10, row.exec_id);
      bindText(insert_event_, 11, row.parent_exec_id);
      bindText(insert_event_, 12, row.binary);
      sqlite3_bind_int(insert_event_, 13, row.chain_break ? 1 : 0);
      bindBlob(insert_event_, 14, row.event);
      if (sqlite3_step(insert_event_) != SQLITE_DONE) {
        return doError("insert event");
      }
      if (sqlite3_changes(db_) > 0) {
        ++result.inserted;
      } else {
        ++result.duplicates;
      }
    }
    for (const auto& ce : batch.chain_events) {
      Reset reset(insert_chain_event_);
      bindInstance(insert_chain_event_, batch.instance);
      sqlite3_bind_int64(insert_chain_event_, 4, static_cast<int64_t>(ce.seq));
      bindText(insert_chain_event_, 5, ce.kind);
      bindText(insert_chain_event_, 6, ce.detail);
      sqlite3_bind_int64(insert_chain_event_, 7, ce.time_ns);
      if (sqlite3_step(insert_chain_event_) != SQLITE_DONE) {
        return doError("insert chain event");
      }
    }
    Reset reset(upsert_instance_);
    bindInstance(upsert_instance_, batch.instance);
    sqlite3_bind_int64(upsert_instance_, 4, static_cast<int64_t>(batch.state.committed_seq));
    bindBlob(upsert_instance_, 5, batch.state.last_chain_hash);
    sqlite3_bind_int64(upsert_instance_, 6, static_cast<int64_t>(batch.state.last_seen_ns));
    if (sqlite3_step(upsert_instance_) != SQLITE_DONE) {
      return doError("update instance");
    }
  }
  return okStatus();
}

Result<WriteResult> SqliteStore::write(const std::vector<BatchWrite>& batches) {
  if (auto st = doExec("BEGIN IMMEDIATE"); !st) {
    return st.error();
  }
  WriteResult result;
  if (auto st = doWrite(batches, result); !st) {
    (void)doExec("ROLLBACK");
    return st.error();
  }
  if (auto st = doExec("COMMIT"); !st) {
    (void)doExec("ROLLBACK");
    return st.error();
  }
  return result;
}

Result<uint64_t> SqliteStore::usedBytes() {
  auto pragma = [this](const char* sql) -> Result<int64_t> {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      return doError(sql);
    }
    int64_t v = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      v = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return v;
  };
  auto pages = pragma("PRAGMA page_count");
  auto free_pages = pragma("PRAGMA freelist_count");
  auto page_size = pragma("PRAGMA page_size");
  if (!pages || !free_pages || !page_size) {
    return !pages ? pages.error() : !free_pages ? free_pages.error() : page_size.error();
  }
  return static_cast<uint64_t>((*pages - *free_pages) * *page_size);
}

Result<RetentionResult> SqliteStore::enforceRetention(int64_t now_ns, int64_t max_age_ns, uint64_t max_bytes) {
  RetentionResult result;
  auto deleteWhere = [this](const char* sql, int64_t arg) -> Result<uint64_t> {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      return doError("retention");
    }
    sqlite3_bind_int64(stmt, 1, arg);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
      return doError("retention");
    }
    return static_cast<uint64_t>(sqlite3_changes(db_));
  };
  if (max_age_ns > 0) {
    auto n = deleteWhere("DELETE FROM events WHERE time_ns < ?1", now_ns - max_age_ns);
    if (!n) {
      return n.error();
    }
    result.deleted_by_age = *n;
  }
  if (max_bytes > 0) {
    // Oldest first, a chunk at a time, until the pages in use fit.
    for (;;) {
      auto used = usedBytes();
      if (!used) {
        return used.error();
      }
      if (*used <= max_bytes) {
        break;
      }
      auto rows = countEvents();
      if (!rows) {
        return rows.error();
      }
      if (*rows == 0) {
        break; // the schema alone is over the budget
      }
      int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>(*rows / 10));
      auto n = deleteWhere("DELETE FROM events WHERE rowid IN (SELECT rowid FROM events ORDER BY time_ns LIMIT ?1)",
                           chunk);
      if (!n) {
        return n.error();
      }
      result.deleted_by_size += *n;
    }
  }
  if (result.deleted_by_age + result.deleted_by_size > 0) {
    if (auto st = doExec("PRAGMA incremental_vacuum"); !st) {
      return st.error();
    }
  }
  return result;
}

Result<uint64_t> SqliteStore::countEvents() {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM events", -1, &stmt, nullptr) != SQLITE_OK) {
    return doError("count");
  }
  uint64_t n = 0;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    n = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
  }
  sqlite3_finalize(stmt);
  return n;
}

} // namespace vigil::central
