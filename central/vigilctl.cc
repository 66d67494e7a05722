// vigilctl: investigation from the central collector's store. The first cut
// reads the SQLite database directly, read-only (WAL lets it run beside the
// collector); a query API comes later.
//
//   vigilctl events --db PATH [filters] [--json] [--follow]
//   vigilctl verify --db PATH [--node N]     exit 1 when a chain break is recorded

#include "proto/json.h"
#include "vigil/event.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <charconv>
#include <chrono>
#include <ctime>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

namespace {

using vigil::Result;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "-1h", "-30m", "-10s", "-2d" (before now), or RFC 3339
// ("2026-12-06T03:12:00Z", fractions and ±hh:mm offsets allowed).
Result<int64_t> parseTime(const std::string& text) {
  if (!text.empty() && text[0] == '-') {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data() + 1, text.data() + text.size(), n);
    if (ec != std::errc() || end + 1 != text.data() + text.size()) {
      return vigil::makeError("\"{}\": expected -<n>s, -<n>m, -<n>h or -<n>d", text);
    }
    int64_t unit = 0;
    switch (*end) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return vigil::makeError("\"{}\": expected -<n>s, -<n>m, -<n>h or -<n>d", text);
    }
    return nowNs() - n * unit * 1000000000LL;
  }
  std::tm tm{};
  const char* p = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (p == nullptr) {
    return vigil::makeError("\"{}\": expected RFC 3339 (2026-12-06T03:12:00Z) or -1h", text);
  }
  int64_t ns = static_cast<int64_t>(timegm(&tm)) * 1000000000LL;
  if (*p == '.') {
    int64_t scale = 100000000;
    for (++p; *p >= '0' && *p <= '9'; ++p) {
      ns += (*p - '0') * scale;
      scale /= 10;
    }
  }
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '+' ? 1 : -1;
    int hh = 0, mm = 0;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) {
      return vigil::makeError("\"{}\": bad UTC offset", text);
    }
    ns -= sign * (hh * 3600LL + mm * 60LL) * 1000000000LL;
    p += 6;
  } else {
    return vigil::makeError("\"{}\": RFC 3339 needs a zone (Z or ±hh:mm)", text);
  }
  if (*p != '\0') {
    return vigil::makeError("\"{}\": unexpected text after the time", text);
  }
  return ns;
}

std::string formatTime(int64_t ns) {
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000LL);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, (ns % 1000000000LL) / 1000000);
}

class Db {
public:
  static Result<std::unique_ptr<Db>> open(const std::string& path) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      std::string msg = db != nullptr ? sqlite3_errmsg(db) : "cannot open";
      sqlite3_close(db);
      return vigil::makeError("{}: {}", path, msg);
    }
    sqlite3_busy_timeout(db, 5000);
    auto out = std::unique_ptr<Db>(new Db(db));
    // A file that is not a Vigil store fails here, not on the first query.
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM events, instances, chain_events LIMIT 0", -1, &stmt, nullptr) !=
        SQLITE_OK) {
      std::string msg = sqlite3_errmsg(db);
      return vigil::makeError("{}: not a Vigil store ({})", path, msg);
    }
    sqlite3_finalize(stmt);
    return out;
  }
  ~Db() { sqlite3_close(db_); }
  sqlite3* handle() { return db_; }

private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// A prepared statement with its text parameters, finalized at scope exit.
class Query {
public:
  Query(sqlite3* db, const std::string& sql, const std::vector<std::string>& text,
        const std::vector<std::pair<int, int64_t>>& ints = {}) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
      error_ = sqlite3_errmsg(db);
      return;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
      sqlite3_bind_text(stmt_, static_cast<int>(i + 1), text[i].c_str(), -1, SQLITE_TRANSIENT);
    }
    for (const auto& [index, v] : ints) {
      sqlite3_bind_int64(stmt_, index, v);
    }
  }
  ~Query() { sqlite3_finalize(stmt_); }
  const std::string& error() const { return error_; }
  sqlite3_stmt* stmt() { return stmt_; }
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      error_ = sqlite3_errmsg(sqlite3_db_handle(stmt_));
    }
    return rc == SQLITE_ROW;
  }
  std::string text(int col) {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t != nullptr ? reinterpret_cast<const char*>(t) : "";
  }
  int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string blob(int col) {
    return std::string(static_cast<const char*>(sqlite3_column_blob(stmt_, col)),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }

private:
  sqlite3_stmt* stmt_ = nullptr;
  std::string error_;
};

struct EventsOptions {
  std::string db;
  std::string node, ns, pod, kind, exec_id, binary, since, until;
  int64_t limit = 0;
  bool json = false;
  bool follow = false;
};

// Prints the rows of one query; returns the highest rowid printed.
Result<int64_t> printRows(Query& q, const EventsOptions& o, bool& header) {
  int64_t max_rowid = 0;
  std::string line;
  while (q.step()) {
    max_rowid = std::max(max_rowid, q.integer(0));
    if (o.json) {
      vigil::Event event;
      if (!event.ParseFromString(q.blob(9))) {
        std::cerr << fmt::format("vigilctl: {} seq {}: stored event does not parse\n", q.text(1), q.integer(2));
        continue;
      }
      if (auto st = vigil::renderJson(event, line); !st) {
        std::cerr << "vigilctl: " << st.error().message() << "\n";
        continue;
      }
      std::cout << line << "\n";
      continue;
    }
    if (!header) {
      std::cout << fmt::format("{:<24} {:<16} {:>8} {:<10} {:<32} {:<32} {}\n", "TIME", "NODE", "SEQ", "KIND",
                               "NAMESPACE/POD", "BINARY", "EXEC_ID");
      header = true;
    }
    std::string pod = q.text(5).empty() ? "-" : q.text(5) + "/" + q.text(6);
    std::string binary = q.text(7).empty() ? "-" : q.text(7);
    std::cout << fmt::format("{:<24} {:<16} {:>8} {:<10} {:<32} {:<32} {}{}\n", formatTime(q.integer(3)),
                             q.text(1), q.integer(2), q.text(4), pod, binary, q.text(8),
                             q.integer(10) != 0 ? "  CHAIN-BREAK" : "");
  }
  if (!q.error().empty()) {
    return vigil::makeError("query: {}", q.error());
  }
  std::cout.flush();
  return max_rowid;
}

int runEvents(const EventsOptions& o) {
  auto db = Db::open(o.db);
  if (!db) {
    std::cerr << "vigilctl: " << db.error().message() << "\n";
    return 2;
  }
  std::string where = "1";
  std::vector<std::string> params;
  auto add = [&](const char* column, const std::string& value) {
    if (!value.empty()) {
      params.push_back(value);
      where += fmt::format(" AND {} = ?{}", column, params.size());
    }
  };
  add("node", o.node);
  add("namespace", o.ns);
  add("pod", o.pod);
  add("kind", o.kind);
  add("exec_id", o.exec_id);
  add("binary", o.binary);
  std::vector<std::pair<int, int64_t>> ints;
  for (auto [text, op, index] : {std::tuple{&o.since, ">=", 100}, std::tuple{&o.until, "<", 101}}) {
    if (text->empty()) {
      continue;
    }
    auto t = parseTime(*text);
    if (!t) {
      std::cerr << "vigilctl: " << (index == 100 ? "--since" : "--until") << ": " << t.error().message() << "\n";
      return 2;
    }
    ints.emplace_back(index, *t);
    where += fmt::format(" AND time_ns {} ?{}", op, index);
  }
  const std::string columns =
      "SELECT rowid, node, seq, time_ns, kind, namespace, pod, binary, exec_id, event, chain_break FROM events";
  std::string sql = fmt::format("{} WHERE {} ORDER BY time_ns, node, seq", columns, where);
  if (o.limit > 0) {
    sql += fmt::format(" LIMIT {}", o.limit);
  }
  bool header = false;
  int64_t last_rowid = 0;
  {
    Query q((*db)->handle(), sql, params, ints);
    if (!q.error().empty()) {
      std::cerr << "vigilctl: query: " << q.error() << "\n";
      return 2;
    }
    auto printed = printRows(q, o, header);
    if (!printed) {
      std::cerr << "vigilctl: " << printed.error().message() << "\n";
      return 2;
    }
  }
  if (!o.follow) {
    return 0;
  }
  {
    Query q((*db)->handle(), "SELECT coalesce(max(rowid), 0) FROM events", {});
    if (q.step()) {
      last_rowid = q.integer(0);
    }
  }
  // New rows have higher rowids (retention deletes only the oldest).
  std::string follow_sql = fmt::format("{} WHERE {} AND rowid > ?102 ORDER BY rowid", columns, where);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto follow_ints = ints;
    follow_ints.emplace_back(102, last_rowid);
    Query q((*db)->handle(), follow_sql, params, follow_ints);
    auto printed = printRows(q, o, header);
    if (!printed) {
      std::cerr << "vigilctl: " << printed.error().message() << "\n";
      return 2;
    }
    Query m((*db)->handle(), "SELECT coalesce(max(rowid), 0) FROM events", {});
    if (m.step()) {
      last_rowid = std::max({last_rowid, *printed, m.integer(0)});
    }
  }
}

int runVerify(const std::string& path, const std::string& node) {
  auto db = Db::open(path);
  if (!db) {
    std::cerr << "vigilctl: " << db.error().message() << "\n";
    return 2;
  }
  std::vector<std::string> params;
  std::string where = "1";
  if (!node.empty()) {
    params.push_back(node);
    where = "node = ?1";
  }
  Query instances((*db)->handle(),
                  fmt::format("SELECT node, boot_id, instance_start, committed_seq, last_seen_ns FROM instances "
                              "WHERE {} ORDER BY node, instance_start, boot_id",
                              where),
                  params);
  uint64_t n_instances = 0, n_gaps = 0, n_breaks = 0;
  while (instances.step()) {
    ++n_instances;
    std::string inode = instances.text(0), boot = instances.text(1);
    int64_t start = instances.integer(2);
    std::cout << fmt::format("{} instance {}/{}: committed_seq {}, last seen {}\n", inode, boot, start,
                             instances.integer(3), formatTime(instances.integer(4)));
    Query ev((*db)->handle(),
             "SELECT seq, kind, detail FROM chain_events WHERE node = ?1 AND boot_id = ?2 AND instance_start = ?3 "
             "ORDER BY seq, rowid",
             {inode, boot}, {{3, start}});
    while (ev.step()) {
      std::string kind = ev.text(1);
      if (kind == "break") {
        ++n_breaks;
      } else {
        ++n_gaps;
      }
      std::cout << fmt::format("  {} node {} seq {}: {}\n", kind == "break" ? "BREAK" : "gap", inode,
                               ev.integer(0), ev.text(2));
    }
    if (!ev.error().empty()) {
      std::cerr << "vigilctl: query: " << ev.error() << "\n";
      return 2;
    }
  }
  if (!instances.error().empty()) {
    std::cerr << "vigilctl: query: " << instances.error() << "\n";
    return 2;
  }
  std::cout << fmt::format("{} instances, {} gaps, {} breaks{}\n", n_instances, n_gaps, n_breaks,
                           n_breaks > 0 ? ": the audit log was altered or lost records between agent and store"
                                        : "");
  return n_breaks > 0 ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigilctl: investigate what Vigil's central collector stored"};
  app.require_subcommand(1);

  EventsOptions eo;
  auto* events = app.add_subcommand("events", "list stored events (oldest first)");
  events->add_option("--db", eo.db, "the collector's SQLite store")->required();
  events->add_option("--node", eo.node, "only this node");
  events->add_option("--namespace", eo.ns, "only this pod namespace");
  events->add_option("--pod", eo.pod, "only this pod name");
  events->add_option("--kind", eo.kind, "exec, fork, exit, syscall, flow, dns or suppressed");
  events->add_option("--exec-id", eo.exec_id, "only this process image");
  events->add_option("--binary", eo.binary, "only this executable path");
  events->add_option("--since", eo.since, "from this time: RFC 3339 or -1h, -30m, -2d");
  events->add_option("--until", eo.until, "before this time: RFC 3339 or -1h, -30m, -2d");
  events->add_option("--limit", eo.limit, "at most this many events")->check(CLI::NonNegativeNumber);
  events->add_flag("--json", eo.json, "JSON lines (the event as the agent rendered it)");
  events->add_flag("--follow", eo.follow, "keep printing events as they are stored");

  std::string verify_db, verify_node;
  auto* verify = app.add_subcommand("verify", "each instance's committed sequence and recorded gaps and breaks; "
                                              "exit 1 if any break");
  verify->add_option("--db", verify_db, "the collector's SQLite store")->required();
  verify->add_option("--node", verify_node, "only this node");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return app.exit(e);
    }
    std::cerr << "vigilctl: " << e.what() << "\n";
    return 2;
  }
  if (events->parsed()) {
    return runEvents(eo);
  }
  return runVerify(verify_db, verify_node);
}
