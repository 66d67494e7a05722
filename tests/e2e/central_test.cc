// vigil-central end to end: real collector processes on 127.0.0.1 ports the
// test picks, a test agent (support/ingest_client) streaming hash-chained
// batches, the SQLite store counted directly, and vigilctl run as users run
// it. Nothing here needs root.

#include "support/ingest_client.h"
#include "support/net.h"

#include "proto/json.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <random>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace vigil::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string makeDir() {
  char tmpl[] = "/tmp/vigil-central-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error("mkdtemp");
  }
  return tmpl;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int connectTo(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct Outcome {
  int status = -1;
  std::string out;
};

// Runs a shell command line, stdout (and stderr when merged) captured.
Outcome sh(const std::string& command) {
  Outcome o;
  FILE* p = popen(command.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
    o.out.append(buf, n);
  }
  int st = pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

// A vigil-central process with its own config, store and log in dir.
class Central {
public:
  Central(std::string dir, std::string extra_config = "") : dir_(std::move(dir)), port_(freePort()) {
    // extra_config lines indented by two spaces land under store:.
    config_ = fmt::format("listen: 127.0.0.1:{}\nlog_level: debug\nstore:\n  path: {}/events.db\n{}", port_, dir_,
                          extra_config);
    std::ofstream(dir_ + "/central.yaml") << config_;
  }
  ~Central() { kill(SIGKILL); }

  std::string target() const { return fmt::format("127.0.0.1:{}", port_); }
  uint16_t port() const { return port_; }
  std::string db() const { return dir_ + "/events.db"; }
  std::string log() const { return slurp(dir_ + "/central.log"); }

  // Starts it and waits until the port accepts connections.
  void start() {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open((dir_ + "/central.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 2);
      dup2(fd, 1);
      execl(VIGIL_CENTRAL_BIN, VIGIL_CENTRAL_BIN, "-c", (dir_ + "/central.yaml").c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      int fd = connectTo(port_);
      if (fd >= 0) {
        close(fd);
        return;
      }
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "vigil-central exited at start: " << log();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "vigil-central does not listen on " << port_ << ": " << log();
  }

  bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

  void kill(int sig) {
    if (pid_ > 0) {
      ::kill(pid_, sig);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

private:
  std::string dir_;
  uint16_t port_;
  std::string config_;
  pid_t pid_ = -1;
};

// One query's single integer.
int64_t queryInt(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  sqlite3_stmt* stmt = nullptr;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    v = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return v;
}

int64_t rows(const std::string& db) { return queryInt(db, "SELECT count(*) FROM events"); }
int64_t distinctRows(const std::string& db) {
  return queryInt(db, "SELECT count(*) FROM (SELECT DISTINCT node, boot_id, instance_start, seq FROM events)");
}

Outcome vigilctl(const std::string& args) { return sh(fmt::format("{} {} 2>&1", VIGILCTL_BIN, args)); }

class CentralTest : public ::testing::Test {
protected:
  std::string dir_ = makeDir();
  void TearDown() override {
    if (getenv("VIGIL_KEEP_TEST_DIR") == nullptr) {
      std::filesystem::remove_all(dir_);
    }
  }

  // Sends batches first..first+n*size-1 of chain on one stream; every ack
  // error-free and covering its batch.
  void sendAll(Central& central, ChainBuilder& chain, uint64_t first, int n, uint64_t size) {
    IngestClient client(central.target());
    for (int i = 0; i < n; ++i) {
      uint64_t from = first + static_cast<uint64_t>(i) * size;
      auto ack = client.send(chain.batch(from, size));
      ASSERT_TRUE(ack.ok()) << ack.error().message();
      ASSERT_EQ(ack->error(), "");
      ASSERT_GE(ack->committed_seq(), from + size - 1);
      EXPECT_EQ(ack->node(), chain.node());
    }
    EXPECT_TRUE(client.finish().ok());
  }
};

TEST_F(CentralTest, StoresEveryEventExactlyOnce) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 1, 10, 50));
  EXPECT_EQ(rows(central.db()), 500);
  EXPECT_EQ(distinctRows(central.db()), 500);
  EXPECT_EQ(queryInt(central.db(), "SELECT committed_seq FROM instances WHERE node = 'node-a'"), 500);
  EXPECT_EQ(queryInt(central.db(), "SELECT count(*) FROM chain_events"), 0);
  // The columns come from the event.
  EXPECT_EQ(queryInt(central.db(), "SELECT count(*) FROM events WHERE kind = 'exec'"), 166);
  EXPECT_EQ(queryInt(central.db(),
                     "SELECT count(*) FROM events WHERE seq = 7 AND namespace = 'ns-1' AND pod = 'pod-1' AND "
                     "binary = '/usr/bin/tool-2' AND exec_id = 'exec-7' AND parent_exec_id = 'exec-6' AND "
                     "kind = 'fork' AND container = '" +
                         fmt::format("{:064x}", 2) + "'"),
            1);

  // Two instances of one node and a second node, in one stream each, at once.
  ChainBuilder restarted("node-a", "boot-1", 2000);
  ChainBuilder other("node-b", "boot-9", 1000);
  std::thread t1([&] { sendAll(central, restarted, 1, 5, 20); });
  std::thread t2([&] { sendAll(central, other, 1, 5, 20); });
  t1.join();
  t2.join();
  EXPECT_EQ(rows(central.db()), 700);
  EXPECT_EQ(vigilctl("verify --db " + central.db()).status, 0);
  central.kill(SIGTERM);
  EXPECT_THAT(central.log(), HasSubstr("stopped cleanly"));
  EXPECT_THAT(central.log(), HasSubstr("events_stored_total=700"));
}

TEST_F(CentralTest, BatchesInFlightAreAckedInOrder) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  {
    // 60 batches written before any ack is read (more than the collector's
    // read-ahead window): every ack comes, in order.
    IngestClient client(central.target());
    std::thread writer([&] {
      for (uint64_t i = 0; i < 60; ++i) {
        ASSERT_TRUE(client.write(chain.batch(1 + i * 10, 10)).ok());
      }
    });
    for (uint64_t i = 0; i < 60; ++i) {
      auto ack = client.readAck();
      ASSERT_TRUE(ack.ok()) << ack.error().message();
      EXPECT_EQ(ack->error(), "");
      EXPECT_EQ(ack->committed_seq(), (i + 1) * 10);
    }
    writer.join();
    EXPECT_TRUE(client.finish().ok());
  }
  EXPECT_EQ(rows(central.db()), 600);
  // A client that goes away with batches in flight harms nothing.
  for (int round = 0; round < 5; ++round) {
    IngestClient client(central.target());
    for (uint64_t i = 0; i < 30; ++i) {
      (void)client.write(chain.batch(601 + i * 10, 10));
    }
  }
  ASSERT_TRUE(central.alive());
  // Whatever of it was committed, resending from the last ack completes it.
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 601, 31, 10));
  EXPECT_EQ(rows(central.db()), 910);
  EXPECT_EQ(queryInt(central.db(), "SELECT count(*) FROM chain_events"), 0);
  central.kill(SIGTERM);
  EXPECT_THAT(central.log(), HasSubstr("stopped cleanly"));
}

TEST_F(CentralTest, DuplicatesAreStoredOnceAndAcknowledged) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 1, 10, 50));
  // The same batches again, on a new stream: each ack covers everything.
  IngestClient client(central.target());
  for (int i = 0; i < 10; ++i) {
    auto ack = client.send(chain.batch(1 + i * 50, 50));
    ASSERT_TRUE(ack.ok()) << ack.error().message();
    EXPECT_EQ(ack->error(), "");
    EXPECT_EQ(ack->committed_seq(), 500u);
  }
  // A batch half old, half new stores the new half.
  auto ack = client.send(chain.batch(481, 40));
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->committed_seq(), 520u);
  EXPECT_EQ(rows(central.db()), 520);
  EXPECT_EQ(distinctRows(central.db()), 520);
  EXPECT_EQ(queryInt(central.db(), "SELECT count(*) FROM chain_events"), 0);
  EXPECT_TRUE(client.finish().ok());
  central.kill(SIGTERM);
  EXPECT_THAT(central.log(), HasSubstr("events_duplicate_total=520"));
}

TEST_F(CentralTest, KilledMidStreamAndRestartedStoresEverythingOnce) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  constexpr uint64_t kTotal = 6000, kBatch = 100;
  uint64_t acked = 0;
  {
    IngestClient client(central.target());
    // Acked batches, then batches in flight when the collector dies.
    for (uint64_t from = 1; from <= 2000; from += kBatch) {
      auto ack = client.send(chain.batch(from, kBatch));
      ASSERT_TRUE(ack.ok()) << ack.error().message();
      acked = ack->committed_seq();
    }
    for (uint64_t from = acked + 1; from <= acked + 10 * kBatch; from += kBatch) {
      (void)client.write(chain.batch(from, kBatch));
    }
    central.kill(SIGKILL);
  }
  EXPECT_EQ(acked, 2000u);
  ASSERT_NO_FATAL_FAILURE(central.start());
  // The agent resends from its last ack, whatever the collector committed.
  IngestClient client(central.target());
  for (uint64_t from = acked + 1; from <= kTotal; from += kBatch) {
    auto ack = client.send(chain.batch(from, kBatch));
    ASSERT_TRUE(ack.ok()) << ack.error().message();
    ASSERT_EQ(ack->error(), "");
    ASSERT_GE(ack->committed_seq(), from + kBatch - 1); // batches in flight at the kill may be committed
  }
  EXPECT_TRUE(client.finish().ok());
  EXPECT_EQ(rows(central.db()), static_cast<int64_t>(kTotal));
  EXPECT_EQ(distinctRows(central.db()), static_cast<int64_t>(kTotal));
  EXPECT_EQ(queryInt(central.db(), "SELECT min(seq) FROM events"), 1);
  EXPECT_EQ(queryInt(central.db(), "SELECT max(seq) FROM events"), static_cast<int64_t>(kTotal));
  // The chain survived the restart: no gap, no break.
  auto verify = vigilctl("verify --db " + central.db());
  EXPECT_EQ(verify.status, 0) << verify.out;
  EXPECT_THAT(verify.out, HasSubstr("committed_seq 6000"));
  EXPECT_THAT(verify.out, HasSubstr("0 gaps, 0 breaks"));
}

TEST_F(CentralTest, GapIsRecordedAndShownByVerify) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 1, 2, 50));
  IngestClient client(central.target());
  auto ack = client.send(chain.batch(151, 50)); // 101..150 never sent
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->error(), "");
  EXPECT_EQ(ack->committed_seq(), 200u);
  // The chain goes on after the gap (prev_chain_hash carried it across).
  ack = client.send(chain.batch(201, 50));
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->committed_seq(), 250u);
  EXPECT_EQ(rows(central.db()), 200);
  auto verify = vigilctl("verify --db " + central.db() + " --node node-a");
  EXPECT_EQ(verify.status, 0) << verify.out;
  EXPECT_THAT(verify.out, HasSubstr("gap node node-a seq 101: seq 101..150 missing (50 records)"));
  EXPECT_THAT(verify.out, HasSubstr("1 gaps, 0 breaks"));
}

TEST_F(CentralTest, AlteredRecordIsABreakAtItsSeq) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 1, 2, 50));
  // Record 120's event is changed on the way; its hash is the original one.
  v1::EventBatch batch = chain.batch(101, 50);
  v1::Event altered = chain.event(120);
  altered.mutable_fork()->mutable_process()->set_binary("/tmp/innocent");
  batch.mutable_records(19)->set_event(altered.SerializeAsString());
  IngestClient client(central.target());
  auto ack = client.send(batch);
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->error(), "");
  EXPECT_EQ(ack->committed_seq(), 150u);
  // Stored anyway, flagged; only that record breaks.
  EXPECT_EQ(rows(central.db()), 150);
  EXPECT_EQ(queryInt(central.db(), "SELECT seq FROM events WHERE chain_break = 1"), 120);
  EXPECT_EQ(queryInt(central.db(), "SELECT count(*) FROM events WHERE chain_break = 1"), 1);
  EXPECT_EQ(queryInt(central.db(), "SELECT count(*) FROM chain_events WHERE kind = 'break' AND seq = 120"), 1);
  auto verify = vigilctl("verify --db " + central.db());
  EXPECT_EQ(verify.status, 1) << verify.out;
  EXPECT_THAT(verify.out, HasSubstr("BREAK node node-a seq 120:"));
  EXPECT_THAT(verify.out, HasSubstr("0 gaps, 1 breaks"));
  // The table view flags it too.
  EXPECT_THAT(vigilctl("events --db " + central.db() + " --binary /tmp/innocent").out, HasSubstr("CHAIN-BREAK"));
  central.kill(SIGTERM);
  EXPECT_THAT(central.log(), HasSubstr("chain_breaks_total=1"));
}

TEST_F(CentralTest, MalformedBatchesAreRefusedAndCountedByReason) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  IngestClient client(central.target());
  auto refusedWith = [&](const v1::EventBatch& batch, const std::string& reason) {
    auto ack = client.send(batch);
    ASSERT_TRUE(ack.ok()) << ack.error().message();
    EXPECT_THAT(ack->error(), StartsWith(reason + ":"));
  };
  v1::EventBatch b = chain.batch(1, 10);
  b.clear_instance();
  refusedWith(b, "missing_instance");
  b = chain.batch(1, 10);
  b.mutable_records(4)->set_seq(6);
  refusedWith(b, "seq_not_consecutive");
  b = chain.batch(1, 10);
  b.mutable_records(3)->set_event("\xff\xff\xff\xff not an event");
  refusedWith(b, "bad_event");
  b = chain.batch(1, 10);
  v1::Event e = chain.event(3);
  e.set_seq(33);
  b.mutable_records(2)->set_event(e.SerializeAsString());
  refusedWith(b, "seq_mismatch");
  b = chain.batch(1, 1);
  b.set_first_seq(UINT64_MAX);
  b.mutable_records(0)->set_seq(UINT64_MAX);
  refusedWith(b, "bad_seq");
  EXPECT_EQ(rows(central.db()), 0);
  // The stream goes on: a good batch after them is stored.
  auto ack = client.send(chain.batch(1, 10));
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->error(), "");
  EXPECT_EQ(ack->committed_seq(), 10u);
  EXPECT_EQ(rows(central.db()), 10);
  EXPECT_TRUE(client.finish().ok());
  central.kill(SIGTERM);
  std::string log = central.log();
  for (const char* reason : {"missing_instance", "seq_not_consecutive", "bad_event", "seq_mismatch"}) {
    EXPECT_THAT(log, HasSubstr(fmt::format("batches_refused_total{{reason={}}}=1", reason)));
  }
}

TEST_F(CentralTest, VigilctlEventsJsonMatchesWhatWasSent) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 1, 3, 20));
  auto out = vigilctl("events --json --db " + central.db());
  ASSERT_EQ(out.status, 0) << out.out;
  std::istringstream lines(out.out);
  std::string line;
  uint64_t seq = 0;
  while (std::getline(lines, line)) {
    ++seq;
    Event parsed;
    ASSERT_TRUE(parseJson(line, parsed).ok()) << line;
    EXPECT_EQ(parsed.SerializeAsString(), chain.eventBytes(seq)) << line;
    std::string expected;
    ASSERT_TRUE(renderJson(chain.event(seq), expected).ok());
    EXPECT_EQ(line, expected);
  }
  EXPECT_EQ(seq, 60u);
  // Filters: pod ns-0/pod-1 is seq % 6 == 4; exec is seq % 3 == 0.
  auto count = [&](const std::string& args) {
    auto o = vigilctl("events --json --db " + central.db() + " " + args);
    EXPECT_EQ(o.status, 0) << o.out;
    return std::count(o.out.begin(), o.out.end(), '\n');
  };
  EXPECT_EQ(count("--namespace ns-0 --pod pod-1"), 10);
  EXPECT_EQ(count("--kind exec"), 20);
  EXPECT_EQ(count("--exec-id exec-42"), 1);
  EXPECT_EQ(count("--binary /usr/bin/tool-0"), 12);
  EXPECT_EQ(count("--node node-b"), 0);
  EXPECT_EQ(count("--limit 5"), 5);
  EXPECT_EQ(count("--since -1h"), 60);
  EXPECT_EQ(count("--until 2001-01-01T00:00:00Z"), 0);
  EXPECT_EQ(count("--since 2001-01-01T00:00:00.5+02:00"), 60);
  auto table = vigilctl("events --db " + central.db() + " --exec-id exec-42");
  EXPECT_THAT(table.out, HasSubstr("ns-0/pod-0"));
  EXPECT_THAT(table.out, HasSubstr("/usr/bin/tool-2"));
  EXPECT_EQ(vigilctl("events --db " + central.db() + " --since yesterday").status, 2);
  EXPECT_EQ(vigilctl("events --db " + dir_ + "/missing.db").status, 2);
}

TEST_F(CentralTest, GarbageOnThePortNeitherCrashesNorStopsIt) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    int fd = connectTo(central.port());
    ASSERT_GE(fd, 0);
    std::string bytes;
    if (round % 2 == 0) {
      for (int i = 0; i < 4096; ++i) {
        bytes.push_back(static_cast<char>(rng()));
      }
    } else {
      // The HTTP/2 preface, a SETTINGS frame, then a HEADERS frame cut short.
      bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
      bytes += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
      bytes += std::string("\x00\x10\x00\x01\x04\x00\x00\x00\x01\x83\x86", 11);
      bytes.resize(bytes.size() - static_cast<std::size_t>(round % 5));
    }
    (void)!write(fd, bytes.data(), bytes.size());
    close(fd);
  }
  ASSERT_TRUE(central.alive());
  ChainBuilder chain("node-a", "boot-1", 1000);
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 1, 2, 10));
  EXPECT_EQ(rows(central.db()), 20);
}

TEST_F(CentralTest, RetentionDeletesOldEvents) {
  Central central(dir_, "  retention_days: 30\n  retention_check_seconds: 1\n");
  ASSERT_NO_FATAL_FAILURE(central.start());
  int64_t forty_days_ago = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               (std::chrono::system_clock::now() - std::chrono::hours(24 * 40)).time_since_epoch())
                               .count();
  ChainBuilder old_chain("node-a", "boot-1", 1000, forty_days_ago);
  ChainBuilder new_chain("node-a", "boot-1", 2000);
  ASSERT_NO_FATAL_FAILURE(sendAll(central, old_chain, 1, 2, 50));
  ASSERT_NO_FATAL_FAILURE(sendAll(central, new_chain, 1, 1, 50));
  for (int i = 0; i < 100 && rows(central.db()) != 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(rows(central.db()), 50);
  EXPECT_EQ(queryInt(central.db(), "SELECT count(*) FROM events WHERE instance_start = 1000"), 0);
  // The instance's state stays: resending old records stores nothing.
  IngestClient client(central.target());
  auto ack = client.send(old_chain.batch(1, 50));
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->committed_seq(), 100u);
}

TEST_F(CentralTest, RetentionKeepsTheStoreUnderItsByteBudget) {
  Central central(dir_, "  max_bytes: 400000\n  retention_check_seconds: 1\n");
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 1, 20, 100)); // about 1.5 MB of rows and indexes
  auto used = [&] {
    return queryInt(central.db(), "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), "
                                  "pragma_freelist_count(), pragma_page_size()");
  };
  for (int i = 0; i < 100 && used() > 400000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LE(used(), 400000);
  int64_t kept = rows(central.db());
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 2000);
  // The oldest went: what is left is the newest, without holes.
  EXPECT_EQ(queryInt(central.db(), "SELECT max(seq) FROM events"), 2000);
  EXPECT_EQ(queryInt(central.db(), "SELECT min(seq) FROM events"), 2000 - kept + 1);
  central.kill(SIGTERM);
  EXPECT_THAT(central.log(), HasSubstr("retention_deleted_total{reason=size}="));
}

TEST_F(CentralTest, VigilctlFollowPrintsNewEvents) {
  Central central(dir_);
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 1, 1, 10));
  std::string out = dir_ + "/follow.out";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    execl(VIGILCTL_BIN, VIGILCTL_BIN, "events", "--db", central.db().c_str(), "--json", "--follow", "--kind", "exec",
          nullptr);
    _exit(127);
  }
  auto lines = [&] {
    std::string text = slurp(out);
    return std::count(text.begin(), text.end(), '\n');
  };
  for (int i = 0; i < 100 && lines() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(lines(), 3); // exec is seq % 3 == 0: 3, 6, 9
  ASSERT_NO_FATAL_FAILURE(sendAll(central, chain, 11, 1, 20));
  for (int i = 0; i < 100 && lines() < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(lines(), 10); // and 12 .. 30
  std::string text = slurp(out);
  std::string expected;
  ASSERT_TRUE(renderJson(chain.event(30), expected).ok());
  EXPECT_THAT(text, HasSubstr(expected + "\n"));
}

TEST(CentralCli, RefusesInsecureBeyondLoopbackAndBadConfig) {
  auto o = sh(fmt::format("{} --listen 0.0.0.0:{} 2>&1", VIGIL_CENTRAL_BIN, freePort()));
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.out, HasSubstr("is not a loopback address"));
  std::string dir = makeDir();
  std::ofstream(dir + "/c.yaml") << "listen: 127.0.0.1:7443\nstore:\n  retention_days: soon\n";
  o = sh(fmt::format("{} -c {}/c.yaml 2>&1", VIGIL_CENTRAL_BIN, dir));
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.out, HasSubstr(dir + "/c.yaml:3:19: store.retention_days: expected a whole number"));
  o = sh(fmt::format("{} --tls-cert x.pem --print-config 2>&1", VIGIL_CENTRAL_BIN));
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.out, HasSubstr("set all of tls.cert, tls.key and tls.client_ca"));
  o = sh(fmt::format("{} --store-max-bytes 1000000 --print-config 2>&1", VIGIL_CENTRAL_BIN));
  EXPECT_EQ(o.status, 0);
  EXPECT_THAT(o.out, HasSubstr("max_bytes: 1000000"));
  std::filesystem::remove_all(dir);
}

// Mutual TLS: a CA, the collector's certificate, node-a's, and the wrong ones,
// made with the openssl CLI.
class CentralTlsTest : public CentralTest {
protected:
  void SetUp() override {
    std::string script = fmt::format(R"sh(
set -e
cd {0}
key() {{ openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }}
ca() {{ key "$1.key"; openssl req -x509 -new -key "$1.key" -subj "/CN=$1" -days 30 -out "$1.crt"; }}
cert() {{ # name ca san
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
  printf 'subjectAltName=%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 30 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}}
ca ca
ca other-ca
cert server ca DNS:central.test
cert node-a ca DNS:node-a
cp node-a.key rogue.key
openssl req -new -key rogue.key -subj /CN=node-a -out rogue.csr
printf 'subjectAltName=DNS:node-a\n' > rogue.ext
openssl x509 -req -in rogue.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial -days 30 -extfile rogue.ext -out rogue.crt 2>/dev/null
# An expired certificate: openssl ca takes explicit dates.
mkdir -p newcerts; : > index.txt; echo 01 > serial
cat > ca.cnf <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = {0}/index.txt
new_certs_dir = {0}/newcerts
certificate = {0}/ca.crt
private_key = {0}/ca.key
serial = {0}/serial
default_md = sha256
policy = any
[ any ]
commonName = supplied
CNF
openssl ca -config ca.cnf -batch -notext -startdate 20200101000000Z -enddate 20200201000000Z -in node-a.csr -extfile node-a.ext -out expired.crt 2>/dev/null
# A certificate with only a CN.
key cn-only.key
openssl req -new -key cn-only.key -subj /CN=node-c -out cn-only.csr
openssl x509 -req -in cn-only.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out cn-only.crt 2>/dev/null
)sh",
                                     dir_);
    std::ofstream(dir_ + "/pki.sh") << script;
    auto o = sh("bash " + dir_ + "/pki.sh 2>&1");
    ASSERT_EQ(o.status, 0) << o.out;
  }

  std::string tlsConfig() const {
    return fmt::format("tls:\n  cert: {0}/server.crt\n  key: {0}/server.key\n  client_ca: {0}/ca.crt\n", dir_);
  }
  std::unique_ptr<IngestClient> client(const Central& central, const std::string& cert) {
    return std::make_unique<IngestClient>(
        central.target(),
        tlsCredentials(dir_ + "/ca.crt", cert.empty() ? "" : dir_ + "/" + cert + ".crt",
                       cert.empty() ? "" : dir_ + "/" + (cert == "expired" ? "node-a" : cert) + ".key"),
        "central.test", std::chrono::milliseconds(5000));
  }
};

TEST_F(CentralTlsTest, NodeCertificateStoresItsOwnNodeOnly) {
  Central central(dir_, tlsConfig());
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  auto c = client(central, "node-a");
  auto ack = c->send(chain.batch(1, 20));
  ASSERT_TRUE(ack.ok()) << ack.error().message();
  EXPECT_EQ(ack->error(), "");
  EXPECT_EQ(ack->committed_seq(), 20u);
  // node-a's certificate sending node-b's events: refused, nothing stored.
  ChainBuilder impostor("node-b", "boot-1", 1000);
  ack = c->send(impostor.batch(1, 20));
  ASSERT_TRUE(ack.ok()) << ack.error().message();
  EXPECT_THAT(ack->error(), StartsWith("identity_mismatch:"));
  EXPECT_EQ(rows(central.db()), 20);
  EXPECT_EQ(queryInt(central.db(), "SELECT count(*) FROM events WHERE node = 'node-b'"), 0);
  EXPECT_TRUE(c->finish().ok());
  // A CN-only certificate is its CN.
  auto cn = client(central, "cn-only");
  ChainBuilder node_c("node-c", "boot-1", 1000);
  ack = cn->send(node_c.batch(1, 5));
  ASSERT_TRUE(ack.ok()) << ack.error().message();
  EXPECT_EQ(ack->error(), "");
  EXPECT_TRUE(cn->finish().ok());
  EXPECT_EQ(rows(central.db()), 25);
  central.kill(SIGTERM);
  EXPECT_THAT(central.log(), HasSubstr("batches_refused_total{reason=identity_mismatch}=1"));
}

TEST_F(CentralTlsTest, WrongClientsAreRefused) {
  Central central(dir_, tlsConfig());
  ASSERT_NO_FATAL_FAILURE(central.start());
  ChainBuilder chain("node-a", "boot-1", 1000);
  for (const char* cert : {"", "rogue", "expired"}) {
    auto c = client(central, cert);
    auto ack = c->send(chain.batch(1, 20));
    EXPECT_FALSE(ack.ok()) << "client certificate \"" << cert << "\" was accepted";
  }
  // Insecure against a TLS port: refused as well.
  IngestClient plain(central.target(), nullptr, "", std::chrono::milliseconds(5000));
  EXPECT_FALSE(plain.send(chain.batch(1, 20)).ok());
  EXPECT_EQ(rows(central.db()), 0);
  ASSERT_TRUE(central.alive());
  // The right one still gets in.
  auto good = client(central, "node-a");
  auto ack = good->send(chain.batch(1, 20));
  ASSERT_TRUE(ack.ok()) << ack.error().message();
  EXPECT_EQ(rows(central.db()), 20);
}

} // namespace
} // namespace vigil::test
