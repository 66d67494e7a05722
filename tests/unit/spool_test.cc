// The durable spool (agent/spool): round trips across segments and reopens,
// the hash chain against an independent SHA-256, instances never mixed in a
// batch, the budget, torn tails, corrupt headers, a full disk (root: a small
// tmpfs), CRC-32C. Temporary directories under /tmp, removed after.

#include "agent/spool/crc32c.h"
#include "agent/spool/format.h"
#include "agent/spool/spool.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/mount.h>
#include <thread>
#include <unistd.h>

namespace vigil {
namespace {

namespace fs = std::filesystem;

class TempDir {
public:
  TempDir() {
    std::string tmpl = "/tmp/vigil-spool-test-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string spool() const { return path_ + "/spool"; }

private:
  std::string path_;
};

v1::AgentInstance makeInstance(std::string boot, uint64_t start) {
  v1::AgentInstance i;
  i.set_boot_id(std::move(boot));
  i.set_start_unix_ns(start);
  return i;
}

const v1::AgentInstance kA = makeInstance("0b6a1c55-4a0e-4d5e-9d0a-aaaaaaaaaaaa", 1000);
const v1::AgentInstance kB = makeInstance("0b6a1c55-4a0e-4d5e-9d0a-aaaaaaaaaaaa", 2000);

SpoolOptions makeOptions(const std::string& dir, const v1::AgentInstance& instance, uint64_t segment_bytes = 4096,
                         uint64_t max_bytes = 1ull << 30) {
  SpoolOptions o;
  o.dir = dir;
  o.node = "node-1";
  o.instance = instance;
  o.segment_bytes = segment_bytes;
  o.max_bytes = max_bytes;
  return o;
}

std::string eventFor(uint64_t seq, size_t size = 100) {
  std::string e = "event-" + std::to_string(seq) + "-";
  e.resize(size, char('a' + seq % 26));
  return e;
}

// SHA-256(prev || seq as 8 bytes LE || event), computed here with OpenSSL's
// one-shot SHA256 on a buffer built byte by byte.
std::string refHash(const std::string& prev, uint64_t seq, const std::string& event) {
  std::string input = prev;
  for (int i = 0; i < 8; ++i) {
    input.push_back(char((seq >> (8 * i)) & 0xff));
  }
  input += event;
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

const std::string kZeroHash(32, '\0');

// The chain of one instance over seqs [1, n], events from eventFor(size).
std::vector<std::string> refChain(uint64_t n, size_t size = 100) {
  std::vector<std::string> chain(n + 1);
  std::string prev = kZeroHash;
  for (uint64_t s = 1; s <= n; ++s) {
    chain[s] = refHash(prev, s, eventFor(s, size));
    prev = chain[s];
  }
  return chain;
}

std::unique_ptr<Spool> openSpool(SpoolOptions options, metrics::Registry& registry) {
  auto spool = Spool::open(std::move(options), registry);
  EXPECT_TRUE(spool.ok()) << (spool.ok() ? "" : spool.error().message());
  return spool.ok() ? std::move(spool).value() : nullptr;
}

std::vector<Spool::Batch> readAll(Spool& spool, size_t max_records = 1000, size_t max_bytes = 1 << 20) {
  std::vector<Spool::Batch> out;
  for (;;) {
    auto next = spool.readNext(max_records, max_bytes);
    EXPECT_TRUE(next.ok()) << (next.ok() ? "" : next.error().message());
    if (!next.ok() || !next->has_value()) {
      return out;
    }
    out.push_back(std::move(**next));
  }
}

std::vector<uint64_t> seqsOf(const std::vector<Spool::Batch>& batches) {
  std::vector<uint64_t> seqs;
  for (const auto& b : batches) {
    for (const auto& r : b.records) {
      seqs.push_back(r.seq());
    }
  }
  return seqs;
}

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t s = first; s <= last; ++s) {
    v.push_back(s);
  }
  return v;
}

std::vector<std::string> segmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("seg-") && name.ends_with(".vsp")) {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every batch: one instance, consecutive seqs from first_seq, the stored
// hashes equal to the reference chain, prev_chain_hash right when present.
void checkBatches(const std::vector<Spool::Batch>& batches, const v1::AgentInstance& instance,
                  const std::vector<std::string>& chain, size_t max_records) {
  for (const auto& b : batches) {
    ASSERT_FALSE(b.records.empty());
    EXPECT_LE(b.records.size(), max_records);
    EXPECT_EQ(b.node, "node-1");
    EXPECT_EQ(b.instance.boot_id(), instance.boot_id());
    EXPECT_EQ(b.instance.start_unix_ns(), instance.start_unix_ns());
    EXPECT_EQ(b.first_seq, b.records[0].seq());
    for (size_t i = 0; i < b.records.size(); ++i) {
      const auto& r = b.records[i];
      EXPECT_EQ(r.seq(), b.first_seq + i);
      ASSERT_LT(r.seq(), chain.size());
      EXPECT_EQ(r.event(), eventFor(r.seq()));
      EXPECT_EQ(r.chain_hash(), chain[r.seq()]) << "seq " << r.seq();
    }
    if (b.first_seq == 1) {
      EXPECT_TRUE(b.prev_chain_hash.empty());
    } else if (!b.prev_chain_hash.empty()) {
      EXPECT_EQ(b.prev_chain_hash, chain[b.first_seq - 1]) << "batch at " << b.first_seq;
    }
  }
}

TEST(Crc32c, CheckValue) {
  EXPECT_EQ(spool::crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(spool::crc32cSoftware(0, "123456789", 9), 0xE3069283u);
  if (spool::crc32cHardwareAvailable()) {
    EXPECT_EQ(spool::crc32cHardware(0, "123456789", 9), 0xE3069283u);
  }
  EXPECT_EQ(spool::crc32c(""), 0u);
  // Incremental over pieces equals one pass.
  EXPECT_EQ(spool::crc32c(spool::crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

TEST(Crc32c, HardwareMatchesTable) {
  if (!spool::crc32cHardwareAvailable()) {
    GTEST_SKIP() << "no SSE4.2 on this CPU: only the table runs";
  }
  std::mt19937 rng(7);
  std::string data(300, '\0');
  for (auto& c : data) {
    c = char(rng());
  }
  for (size_t off = 0; off < 9; ++off) {
    for (size_t len = 0; len + off <= data.size(); len += 13) {
      EXPECT_EQ(spool::crc32cHardware(5, data.data() + off, len), spool::crc32cSoftware(5, data.data() + off, len));
    }
  }
}

TEST(SpoolFormat, HeaderAndFrameRoundTrip) {
  spool::SegmentHeader h;
  h.segment_id = 7;
  h.first_seq = 42;
  h.prev_seq = 41;
  h.prev_hash.fill(0xab);
  h.boot_id = "boot";
  h.start_unix_ns = 99;
  h.node = "n";
  std::string bytes;
  spool::encodeHeader(h, bytes);
  ASSERT_EQ(bytes.size(), spool::kHeaderFixedBytes + 4 + 1 + 4);
  auto back = spool::decodeHeader(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->segment_id, 7u);
  EXPECT_EQ(back->first_seq, 42u);
  EXPECT_EQ(back->prev_seq, 41u);
  EXPECT_EQ(back->prev_hash, h.prev_hash);
  EXPECT_EQ(back->boot_id, "boot");
  EXPECT_EQ(back->node, "n");
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x10;
    EXPECT_FALSE(spool::decodeHeader(bad).ok()) << "byte " << i;
  }

  std::string frames;
  spool::Hash hash{};
  hash.fill(1);
  spool::encodeFrame(5, hash, "hello", frames);
  ASSERT_EQ(frames.size(), spool::kFrameOverhead + 5);
  spool::FrameView f;
  ASSERT_EQ(spool::decodeFrame(frames, f), spool::FrameResult::kOk);
  EXPECT_EQ(f.seq, 5u);
  EXPECT_EQ(f.event, "hello");
  EXPECT_EQ(f.frame_bytes, frames.size());
  EXPECT_EQ(spool::decodeFrame(std::string_view(frames).substr(0, frames.size() - 1), f), spool::FrameResult::kShort);
  for (size_t i = 4; i < frames.size(); ++i) {
    std::string bad = frames;
    bad[i] ^= 0x01;
    EXPECT_EQ(spool::decodeFrame(bad, f), spool::FrameResult::kBadCrc) << "byte " << i;
  }
}

TEST(Spool, RoundTripAcrossSegmentsAndReopen) {
  TempDir tmp;
  const auto chain = refChain(210);
  {
    metrics::Registry registry("");
    auto spool = openSpool(makeOptions(tmp.spool(), kA), registry);
    ASSERT_NE(spool, nullptr);
    for (uint64_t s = 1; s <= 200; ++s) {
      auto hash = spool->append(s, eventFor(s));
      ASSERT_TRUE(hash.ok()) << hash.error().message();
      EXPECT_EQ(*hash, chain[s]) << "seq " << s;
    }
    ASSERT_TRUE(spool->flush().ok());
    EXPECT_GE(segmentFiles(tmp.spool()).size(), 5u);
    EXPECT_EQ(spool->stats().appended, 200u);

    auto batches = readAll(*spool, 50);
    checkBatches(batches, kA, chain, 50);
    EXPECT_EQ(seqsOf(batches), range(1, 200));
    // Every batch after the first knows the hash it continues.
    for (size_t i = 1; i < batches.size(); ++i) {
      EXPECT_EQ(batches[i].prev_chain_hash, chain[batches[i].first_seq - 1]);
    }
    EXPECT_FALSE(spool->readNext(50, 1 << 20)->has_value()); // nothing new

    const auto before = segmentFiles(tmp.spool()).size();
    ASSERT_TRUE(spool->ack(kA, 120).ok());
    EXPECT_LT(segmentFiles(tmp.spool()).size(), before); // wholly acknowledged segments are gone
    EXPECT_GE(spool->stats().acked, 100u);
    EXPECT_LE(spool->stats().acked, 120u);
    EXPECT_EQ(registry.value("spool_records_appended_total"), 200.0);
    EXPECT_EQ(registry.value("spool_segments"), double(segmentFiles(tmp.spool()).size()));
    ASSERT_TRUE(spool->close().ok());
  }
  {
    // The same instance reopens: replay from the ack position, then its
    // chain goes on.
    metrics::Registry registry("");
    auto spool = openSpool(makeOptions(tmp.spool(), kA), registry);
    ASSERT_NE(spool, nullptr);
    auto batches = readAll(*spool, 1000);
    EXPECT_EQ(seqsOf(batches), range(121, 200));
    checkBatches(batches, kA, chain, 1000);
    ASSERT_FALSE(batches.empty());
    EXPECT_EQ(batches[0].prev_chain_hash, chain[120]);

    for (uint64_t s = 201; s <= 210; ++s) {
      auto hash = spool->append(s, eventFor(s));
      ASSERT_TRUE(hash.ok());
      EXPECT_EQ(*hash, chain[s]);
    }
    EXPECT_FALSE(spool->append(210, eventFor(210)).ok()); // not after the last
    ASSERT_TRUE(spool->flush().ok());
    batches = readAll(*spool, 1000);
    EXPECT_EQ(seqsOf(batches), range(201, 210));
    checkBatches(batches, kA, chain, 1000);
    EXPECT_EQ(batches[0].prev_chain_hash, chain[200]);

    // A reconnect: everything unacknowledged comes again, once.
    spool->rewind();
    EXPECT_EQ(seqsOf(readAll(*spool, 7)), range(121, 210));
    ASSERT_TRUE(spool->ack(kA, 210).ok());
    EXPECT_EQ(spool->stats().acked, 90u);
    EXPECT_EQ(segmentFiles(tmp.spool()).size(), 1u); // only the one being written
    spool->rewind();
    EXPECT_TRUE(readAll(*spool).empty());
  }
  {
    metrics::Registry registry("");
    auto spool = openSpool(makeOptions(tmp.spool(), kB), registry);
    ASSERT_NE(spool, nullptr);
    EXPECT_TRUE(readAll(*spool).empty()); // everything was acknowledged
    EXPECT_EQ(segmentFiles(tmp.spool()).size(), 0u);
  }
}

TEST(Spool, BatchNeverMixesInstances) {
  TempDir tmp;
  const auto chain = refChain(30);
  {
    metrics::Registry registry("");
    auto spool = openSpool(makeOptions(tmp.spool(), kA, 8192), registry);
    ASSERT_NE(spool, nullptr);
    for (uint64_t s = 1; s <= 30; ++s) {
      ASSERT_TRUE(spool->append(s, eventFor(s)).ok());
    }
    ASSERT_TRUE(spool->flush().ok());
    auto first = spool->readNext(10, 1 << 20);
    ASSERT_TRUE(first.ok() && first->has_value());
    ASSERT_TRUE(spool->ack(kA, 10).ok());
  }
  metrics::Registry registry("");
  auto spool = openSpool(makeOptions(tmp.spool(), kB, 8192), registry);
  ASSERT_NE(spool, nullptr);
  for (uint64_t s = 1; s <= 20; ++s) {
    auto hash = spool->append(s, eventFor(s));
    ASSERT_TRUE(hash.ok());
    EXPECT_EQ(*hash, chain[s]); // a new instance starts a new chain
  }
  ASSERT_TRUE(spool->flush().ok());
  auto batches = readAll(*spool, 1000);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].instance.start_unix_ns(), kA.start_unix_ns());
  EXPECT_EQ(seqsOf({batches[0]}), range(11, 30));
  EXPECT_EQ(batches[0].prev_chain_hash, chain[10]);
  checkBatches({batches[0]}, kA, chain, 1000); // the old records keep their stored hashes
  EXPECT_EQ(batches[1].instance.start_unix_ns(), kB.start_unix_ns());
  EXPECT_EQ(seqsOf({batches[1]}), range(1, 20));
  EXPECT_TRUE(batches[1].prev_chain_hash.empty());
  checkBatches({batches[1]}, kB, chain, 1000);
}

TEST(Spool, BudgetDeletesOldestSegmentsAndCountsExactly) {
  TempDir tmp;
  const auto chain = refChain(400);
  metrics::Registry registry("");
  auto spool = openSpool(makeOptions(tmp.spool(), kA, 4096, 16384), registry);
  ASSERT_NE(spool, nullptr);
  for (uint64_t s = 1; s <= 10; ++s) {
    ASSERT_TRUE(spool->append(s, eventFor(s)).ok());
  }
  ASSERT_TRUE(spool->flush().ok());
  auto early = readAll(*spool, 5); // the reader is inside the first segment
  EXPECT_EQ(seqsOf(early), range(1, 10));
  ASSERT_TRUE(spool->ack(kA, 5).ok()); // the first segment is partly acknowledged
  for (uint64_t s = 11; s <= 400; ++s) {
    ASSERT_TRUE(spool->append(s, eventFor(s)).ok());
    ASSERT_TRUE(spool->flush().ok());
    EXPECT_LE(spool->stats().bytes, 16384u);
  }
  const auto st = spool->stats();
  ASSERT_GT(st.budget_dropped, 0u);
  EXPECT_LE(st.bytes, 16384u);
  spool->rewind();
  auto batches = readAll(*spool, 1000);
  checkBatches(batches, kA, chain, 1000);
  const auto seqs = seqsOf(batches);
  ASSERT_FALSE(seqs.empty());
  // The rest is intact: the newest records, without holes, to the last.
  EXPECT_EQ(seqs, range(seqs.front(), 400));
  // Exactly the unacknowledged records before them were counted: 6 .. front-1.
  EXPECT_EQ(st.budget_dropped, seqs.front() - 1 - 5);
  EXPECT_EQ(st.budget_dropped_bytes, st.budget_dropped * (spool::kFrameOverhead + 100));
  EXPECT_EQ(registry.value("drops_total", {{"stage", "spool"}, {"reason", "spool_budget"}}),
            double(st.budget_dropped));
  EXPECT_EQ(registry.value("drops_total", {{"stage", "spool"}, {"reason", "spool_budget"}, {"cpu", ""}, {"sink", ""}}),
            double(st.budget_dropped));
  EXPECT_EQ(registry.value("spool_dropped_bytes_total", {{"reason", "spool_budget"}}),
            double(st.budget_dropped_bytes));
  EXPECT_EQ(registry.value("spool_bytes"), double(st.bytes));
  // The header of the first segment left names the hash before it.
  EXPECT_EQ(batches[0].prev_chain_hash, chain[seqs.front() - 1]);
}

TEST(Spool, ReaderContinuesAfterBudgetGap) {
  TempDir tmp;
  metrics::Registry registry("");
  auto spool = openSpool(makeOptions(tmp.spool(), kA, 4096, 8192), registry);
  ASSERT_NE(spool, nullptr);
  for (uint64_t s = 1; s <= 10; ++s) {
    ASSERT_TRUE(spool->append(s, eventFor(s)).ok());
  }
  ASSERT_TRUE(spool->flush().ok());
  auto first = spool->readNext(3, 1 << 20);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ(seqsOf({**first}), range(1, 3));
  for (uint64_t s = 11; s <= 200; ++s) {
    ASSERT_TRUE(spool->append(s, eventFor(s)).ok());
  }
  ASSERT_TRUE(spool->flush().ok());
  const auto seqs = seqsOf(readAll(*spool, 1000));
  ASSERT_FALSE(seqs.empty());
  EXPECT_GT(seqs.front(), 4u);
  EXPECT_EQ(seqs, range(seqs.front(), 200));
  EXPECT_EQ(spool->stats().budget_dropped, seqs.front() - 1);
}

// Appends 1..n with small segments and closes; returns the segment files.
std::vector<std::string> writeSegments(const std::string& dir, uint64_t n) {
  metrics::Registry registry("");
  auto spool = openSpool(makeOptions(dir, kA), registry);
  EXPECT_NE(spool, nullptr);
  for (uint64_t s = 1; s <= n; ++s) {
    EXPECT_TRUE(spool->append(s, eventFor(s)).ok());
  }
  EXPECT_TRUE(spool->close().ok());
  return segmentFiles(dir);
}

TEST(Spool, TornTailTruncatedMidRecordIsCutAndCounted) {
  TempDir tmp;
  const auto chain = refChain(60);
  const auto files = writeSegments(tmp.spool(), 60);
  ASSERT_GE(files.size(), 2u);
  const auto size = fs::file_size(files.back());
  fs::resize_file(files.back(), size - 10); // the last record loses its last 10 bytes
  metrics::Registry registry("");
  auto spool = openSpool(makeOptions(tmp.spool(), kB), registry);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().torn_tail_records, 1u);
  EXPECT_EQ(spool->stats().torn_tail_bytes, spool::kFrameOverhead + 100 - 10);
  EXPECT_EQ(registry.value("drops_total", {{"stage", "spool"}, {"reason", "torn_tail"}}), 1.0);
  EXPECT_EQ(fs::file_size(files.back()), size - (spool::kFrameOverhead + 100));
  auto batches = readAll(*spool);
  EXPECT_EQ(seqsOf(batches), range(1, 59));
  checkBatches(batches, kA, chain, 1000);
}

TEST(Spool, TornTailWithAFlippedByteIsCutAndCounted) {
  TempDir tmp;
  const auto chain = refChain(60);
  const auto files = writeSegments(tmp.spool(), 60);
  ASSERT_GE(files.size(), 2u);
  const auto size = fs::file_size(files.back());
  {
    std::fstream f(files.back(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(size - 20));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x40;
    f.seekp(std::streamoff(size - 20));
    f.write(&c, 1);
  }
  metrics::Registry registry("");
  auto spool = openSpool(makeOptions(tmp.spool(), kB), registry);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().torn_tail_records, 1u);
  EXPECT_EQ(spool->stats().torn_tail_bytes, spool::kFrameOverhead + 100);
  auto batches = readAll(*spool);
  EXPECT_EQ(seqsOf(batches), range(1, 59));
  checkBatches(batches, kA, chain, 1000);
  // The cut file is clean now: a second open finds nothing to cut.
  spool.reset();
  metrics::Registry again("");
  auto reopened = openSpool(makeOptions(tmp.spool(), kB), again);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->stats().torn_tail_records, 0u);
  EXPECT_EQ(seqsOf(readAll(*reopened)), range(1, 59));
}

TEST(Spool, CorruptHeaderIsSetAsideNotDeleted) {
  TempDir tmp;
  const auto chain = refChain(60);
  const auto files = writeSegments(tmp.spool(), 60);
  ASSERT_GE(files.size(), 3u);
  const auto size = fs::file_size(files[0]);
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20); // inside the segment id: the header CRC fails
    f.put('\x7f');
  }
  metrics::Registry registry("");
  auto spool = openSpool(makeOptions(tmp.spool(), kB), registry);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().corrupt_segments, 1u);
  EXPECT_EQ(registry.value("spool_corrupt_segments_total"), 1.0);
  EXPECT_EQ(registry.value("spool_dropped_bytes_total", {{"reason", "corrupt_segment"}}), double(size));
  EXPECT_FALSE(fs::exists(files[0]));
  ASSERT_TRUE(fs::exists(files[0] + ".corrupt"));
  EXPECT_EQ(fs::file_size(files[0] + ".corrupt"), size);
  auto batches = readAll(*spool);
  const auto seqs = seqsOf(batches);
  ASSERT_FALSE(seqs.empty());
  EXPECT_GT(seqs.front(), 1u);
  EXPECT_EQ(seqs, range(seqs.front(), 60));
  checkBatches(batches, kA, chain, 1000);
}

TEST(Spool, OneSpoolPerDirectory) {
  TempDir tmp;
  metrics::Registry registry("");
  auto spool = openSpool(makeOptions(tmp.spool(), kA), registry);
  ASSERT_NE(spool, nullptr);
  metrics::Registry other("");
  auto second = Spool::open(makeOptions(tmp.spool(), kB), other);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message().find("in use"), std::string::npos) << second.error().message();
}

TEST(Spool, RejectsBadOptions) {
  TempDir tmp;
  metrics::Registry registry("");
  EXPECT_FALSE(Spool::open(makeOptions(tmp.spool(), kA, 4096, 6000), registry).ok());
  auto no_node = makeOptions(tmp.spool(), kA);
  no_node.node.clear();
  EXPECT_FALSE(Spool::open(no_node, registry).ok());
  EXPECT_FALSE(Spool::open(makeOptions(tmp.spool(), makeInstance("", 1)), registry).ok());
}

// One writer thread and one reader thread that acknowledges what it reads:
// everything arrives once, in order. No timing is asserted.
TEST(Spool, WriterAndReaderThreads) {
  TempDir tmp;
  constexpr uint64_t kRecords = 5000;
  const auto chain = refChain(kRecords);
  metrics::Registry registry("");
  auto options = makeOptions(tmp.spool(), kA, 8192);
  options.write_buffer_bytes = 1024;
  auto spool = openSpool(options, registry);
  ASSERT_NE(spool, nullptr);
  std::thread writer([&] {
    for (uint64_t s = 1; s <= kRecords; ++s) {
      ASSERT_TRUE(spool->append(s, eventFor(s)).ok());
      if (s % 64 == 0) {
        ASSERT_TRUE(spool->flush().ok());
      }
    }
    ASSERT_TRUE(spool->flush().ok());
  });
  uint64_t next = 1;
  while (next <= kRecords) {
    auto batch = spool->readNext(100, 1 << 20);
    ASSERT_TRUE(batch.ok()) << batch.error().message();
    if (!batch->has_value()) {
      std::this_thread::yield();
      continue;
    }
    for (const auto& r : (*batch)->records) {
      ASSERT_EQ(r.seq(), next);
      ASSERT_EQ(r.chain_hash(), chain[next]);
      ++next;
    }
    ASSERT_TRUE(spool->ack(kA, next - 1).ok());
  }
  writer.join();
  EXPECT_EQ(spool->stats().acked, kRecords);
  EXPECT_EQ(segmentFiles(tmp.spool()).size(), 1u);
}

// A full disk: a 256 KiB tmpfs (root only). Appends past full are dropped
// and counted as disk_full, nothing written before is damaged, and appends
// succeed again once acknowledged segments free the space. With 64 KiB
// segments the disk fills when a new segment's header is written; with
// 96 KiB ones it fills in the middle of a segment, in the middle of a record.
void fullDiskScenario(uint64_t segment_bytes) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to mount a small tmpfs";
  }
  TempDir tmp;
  const std::string mnt = tmp.path() + "/mnt";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "mount tmpfs: " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};

  const std::string dir = mnt + "/spool";
  constexpr size_t kSize = 1000;
  std::vector<std::string> chain(1);
  std::string prev = kZeroHash;
  auto event = [](uint64_t s) { return eventFor(s, kSize); };
  metrics::Registry registry("");
  auto spool = openSpool(makeOptions(dir, kA, segment_bytes, 1ull << 30), registry);
  ASSERT_NE(spool, nullptr);
  uint64_t seq = 0;
  uint64_t refused = 0; // append() errors: no segment could be created
  auto appendOne = [&] {
    ++seq;
    chain.push_back(refHash(prev, seq, event(seq)));
    prev = chain.back();
    auto hash = spool->append(seq, event(seq));
    if (hash.ok()) {
      EXPECT_EQ(*hash, chain[seq]);
    } else {
      ++refused;
    }
    (void)spool->flush(); // every record goes to the file now
  };
  while (spool->stats().disk_full_dropped == 0 && seq < 1000) {
    appendOne();
  }
  ASSERT_GT(spool->stats().disk_full_dropped, 0u) << "the tmpfs never filled";
  for (int i = 0; i < 20; ++i) {
    appendOne(); // capture goes on
  }
  const uint64_t full_seq = seq;
  auto st = spool->stats();
  EXPECT_EQ(st.appended + refused, full_seq);
  EXPECT_EQ(registry.value("drops_total", {{"stage", "spool"}, {"reason", "disk_full"}}),
            double(st.disk_full_dropped));

  // What was written is whole: every record read back is right, and with
  // the drops it accounts for every seq.
  auto batches = readAll(*spool);
  auto seqs = seqsOf(batches);
  EXPECT_EQ(seqs.size() + st.disk_full_dropped, full_seq);
  for (const auto& b : batches) {
    for (const auto& r : b.records) {
      EXPECT_EQ(r.event(), event(r.seq()));
      EXPECT_EQ(r.chain_hash(), chain[r.seq()]);
    }
  }

  // Acknowledging frees the space; appends succeed again.
  (void)spool->ack(kA, full_seq); // the ack file may not fit yet: it holds in memory
  for (int i = 0; i < 10; ++i) {
    appendOne();
  }
  EXPECT_EQ(spool->stats().disk_full_dropped, st.disk_full_dropped);
  EXPECT_EQ(seqsOf(readAll(*spool)), range(full_seq + 1, full_seq + 10));
  EXPECT_TRUE(spool->ack(kA, full_seq).ok()); // written now if it did not fit before
  ASSERT_TRUE(spool->close().ok());
  spool.reset();

  // Reopened: nothing torn, nothing corrupt.
  metrics::Registry again("");
  auto reopened = openSpool(makeOptions(dir, kB, segment_bytes, 1ull << 30), again);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->stats().torn_tail_records, 0u);
  EXPECT_EQ(reopened->stats().corrupt_segments, 0u);
  EXPECT_EQ(seqsOf(readAll(*reopened)), range(full_seq + 1, full_seq + 10));
  reopened.reset();
}

TEST(Spool, FullDiskWhenASegmentStarts) { fullDiskScenario(64 << 10); }

TEST(Spool, FullDiskInTheMiddleOfARecord) { fullDiskScenario(96 << 10); }

} // namespace
} // namespace vigil
