// The audit log shipped for real: vigil-agent (real BPF programs) with a
// grpc output over mutual TLS to a vigil-central process with its SQLite
// store, both on 127.0.0.1, with the development certificates of
// scripts/dev-certs.sh. Every exec of a known workload must be stored
// exactly once, also when the collector is SIGKILLed mid-stream and when the
// agent is SIGKILLed with unacknowledged events in its spool. Needs root.

#include "agent/spool/crc32c.h"
#include "agent/spool/format.h"
#include "support/agent_process.h"
#include "support/net.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kNode = "export-node";

bool portOpen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
    out.append(buf, n);
  }
  int st = pclose(p);
  if (status != nullptr) {
    *status = st;
  }
  return out;
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class ExportTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: the agent loads BPF programs";
    }
    dir_ = fs::temp_directory_path() / ("vigil-export-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    int st = 0;
    run(std::string(VIGIL_SOURCE_DIR) + "/scripts/dev-certs.sh " + (dir_ / "certs").string() + " " + kNode +
            " 2>&1",
        &st);
    ASSERT_EQ(st, 0) << "dev-certs.sh failed";
    port_ = freePort();
    const std::string c = (dir_ / "certs").string();
    write((dir_ / "central.yaml").string(),
          "listen: \"127.0.0.1:" + std::to_string(port_) + "\"\n" + "tls: {cert: " + c + "/central.pem, key: " + c +
              "/central.key, client_ca: " + c + "/ca.pem}\n" + "store: {path: " + db() + "}\n" +
              "stats_interval_seconds: 0\n");
    write((dir_ / "agent.yaml").string(),
          std::string("node_name: ") + kNode + "\ninstance_lock: " + (dir_ / "agent.pid").string() +
              "\nstats_interval_seconds: 0\nsyscalls: {enabled: false}\nnetwork: {enabled: false}\n" +
              "outputs:\n  - type: grpc\n    endpoints: [\"127.0.0.1:" + std::to_string(port_) + "\"]\n" +
              "    tls_ca: " + c + "/ca.pem\n    tls_cert: " + c + "/node-" + kNode + ".pem\n    tls_key: " + c +
              "/node-" + kNode + ".key\n    tls_server_name: localhost\n    spool_dir: " +
              (dir_ / "spool").string() + "\n    batch_interval_ms: 50\n");
  }
  void TearDown() override {
    agent_.reset();
    central_.reset();
    if (!dir_.empty()) {
      fs::remove_all(dir_);
    }
  }

  std::string db() const { return (dir_ / "events.db").string(); }

  void startCentral() {
    central_ = std::make_unique<AgentProcess>(VIGIL_CENTRAL_BIN,
                                              std::vector<std::string>{"--config", (dir_ / "central.yaml").string()});
    for (int i = 0; i < 300 && !portOpen(port_); ++i) {
      central_->pump(20);
    }
    ASSERT_TRUE(portOpen(port_)) << central_->err();
  }
  void startAgent() {
    agent_ = std::make_unique<AgentProcess>(std::vector<std::string>{"--config", (dir_ / "agent.yaml").string()});
    ASSERT_TRUE(agent_->waitForStderr("capturing", 60s)) << agent_->err();
  }

  // Execs /bin/true MARKER-i for i in [from, to).
  void workload(const std::string& marker, int from, int to) {
    for (int i = from; i < to; ++i) {
      pid_t child = fork();
      if (child == 0) {
        std::string arg = marker + "-" + std::to_string(i);
        execl("/bin/true", "/bin/true", arg.c_str(), nullptr);
        _exit(127);
      }
      int status = 0;
      waitpid(child, &status, 0);
    }
  }

  // How many times each MARKER-i exec is stored.
  std::map<std::string, int> stored(const std::string& marker) {
    std::map<std::string, int> count;
    std::string out = run(std::string(VIGIL_CTL_BIN) + " events --db " + db() + " --node " + kNode +
                          " --kind exec --binary /usr/bin/true --json 2>/dev/null");
    size_t start = 0;
    for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
      Event e;
      if (!parseJson(out.substr(start, nl - start), e).ok()) {
        ADD_FAILURE() << "vigilctl printed a line that is not an event: " << out.substr(start, nl - start);
        continue;
      }
      const auto& args = e.exec().process().args();
      if (args.size() == 2 && args[1].rfind(marker + "-", 0) == 0) {
        ++count[args[1]];
      }
    }
    return count;
  }

  // Waits until n distinct markers are stored; returns the counts.
  std::map<std::string, int> waitStored(const std::string& marker, size_t n) {
    std::map<std::string, int> got;
    for (int i = 0; i < 300; ++i) {
      got = stored(marker);
      if (got.size() >= n) {
        break;
      }
      if (agent_) {
        agent_->pump(0);
      }
      if (central_) {
        central_->pump(0);
      }
      std::this_thread::sleep_for(100ms);
    }
    return got;
  }

  static void expectEachOnce(const std::map<std::string, int>& got, const std::string& marker, int n) {
    EXPECT_EQ(got.size(), size_t(n));
    for (int i = 0; i < n; ++i) {
      auto it = got.find(marker + "-" + std::to_string(i));
      if (it == got.end()) {
        ADD_FAILURE() << marker << "-" << i << " was never stored";
      } else {
        EXPECT_EQ(it->second, 1) << marker << "-" << i << " stored " << it->second << " times";
      }
    }
  }

  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<AgentProcess> central_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(ExportTest, EveryExecIsStoredOnceThroughMutualTls) {
  startCentral();
  startAgent();
  const std::string m = "exp1-" + std::to_string(getpid());
  workload(m, 0, 40);
  auto got = waitStored(m, 40);
  expectEachOnce(got, m, 40);
  int st = 0;
  std::string verify = run(std::string(VIGIL_CTL_BIN) + " verify --db " + db() + " 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << verify;
}

TEST_F(ExportTest, CollectorKilledMidStreamLosesAndDuplicatesNothing) {
  startCentral();
  startAgent();
  const std::string m = "exp2-" + std::to_string(getpid());
  workload(m, 0, 20);
  ASSERT_EQ(waitStored(m, 20).size(), 20u);
  kill(central_->pid(), SIGKILL);
  central_->waitExit(10s);
  workload(m, 20, 60); // spooled while the collector is down
  startCentral();
  auto got = waitStored(m, 60);
  expectEachOnce(got, m, 60);
}

TEST_F(ExportTest, AgentKilledWithUnacknowledgedEventsSendsThemAfterRestart) {
  startCentral();
  startAgent();
  const std::string m = "exp3-" + std::to_string(getpid());
  workload(m, 0, 10);
  ASSERT_EQ(waitStored(m, 10).size(), 10u);
  // No collector: what follows stays in the spool, unacknowledged.
  kill(central_->pid(), SIGKILL);
  central_->waitExit(10s);
  workload(m, 10, 40);
  std::this_thread::sleep_for(1500ms); // the sink writes its buffer out to the spool file
  kill(agent_->pid(), SIGKILL);
  agent_->waitExit(10s);
  startCentral();
  startAgent(); // a new instance; the old one's records replay from the spool
  auto got = waitStored(m, 40);
  expectEachOnce(got, m, 40);
}

TEST_F(ExportTest, ARecordAlteredInTheSpoolIsReportedAsAChainBreak) {
  startCentral();
  startAgent();
  const std::string m = "exp4-" + std::to_string(getpid());
  workload(m, 0, 5);
  ASSERT_EQ(waitStored(m, 5).size(), 5u);
  kill(central_->pid(), SIGKILL);
  central_->waitExit(10s);
  workload(m, 5, 15); // spooled, unacknowledged
  std::this_thread::sleep_for(1500ms);
  kill(agent_->pid(), SIGKILL);
  agent_->waitExit(10s);

  // Someone with access to the node edits one spooled record: the exec of
  // MARKER-9 now names another argument. The frame's CRC is recomputed, so
  // the spool itself cannot tell; only the hash chain can.
  const std::string target = m + "-9";
  uint64_t altered_seq = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "spool")) {
    if (entry.path().extension() != ".vsp") {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto header = spool::decodeHeader(data);
    ASSERT_TRUE(header.ok()) << entry.path() << ": " << (header.ok() ? "" : header.error().message());
    size_t off = header->header_bytes;
    while (off < data.size()) {
      spool::FrameView frame;
      if (spool::decodeFrame(std::string_view(data).substr(off), frame) != spool::FrameResult::kOk) {
        break;
      }
      size_t at = frame.event.find(target);
      if (at != std::string_view::npos) {
        const size_t event_off = off + spool::kFrameOverhead;
        data[event_off + at] = 'X'; // "exp4-..." becomes "Xxp4-..."
        const uint32_t body = spool::getU32(data.data() + off);
        std::string covered = data.substr(off, 4) + data.substr(off + spool::kFrameHeadBytes, body);
        uint32_t crc = spool::crc32c(covered);
        std::memcpy(&data[off + 4], &crc, 4);
        altered_seq = frame.seq;
        std::ofstream(entry.path(), std::ios::binary | std::ios::trunc) << data;
        break;
      }
      off += frame.frame_bytes;
    }
  }
  ASSERT_NE(altered_seq, 0u) << "no spooled record of " << target;

  startCentral();
  startAgent();
  auto got = waitStored(m, 14); // 15 minus the altered one, which no longer matches the marker
  EXPECT_EQ(got.size(), 14u);
  int st = 0;
  std::string verify = run(std::string(VIGIL_CTL_BIN) + " verify --db " + db() + " 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 1) << "a break must fail verify:\n" << verify;
  EXPECT_NE(verify.find(kNode), std::string::npos) << verify;
  EXPECT_NE(verify.find(std::to_string(altered_seq)), std::string::npos)
      << "verify must name the altered seq " << altered_seq << ":\n" << verify;
  EXPECT_NE(verify.find("break"), std::string::npos) << verify;
}

} // namespace
} // namespace vigil::test
