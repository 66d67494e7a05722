// Ingest into the embedded store, in process: hash-chained batches of made-up
// exec/fork/exit events (tests/support/ingest_client) through the Ingestor
// (checks, chain verification, row extraction) into SQLite, acked after
// commit. No gRPC: this is the store side of the "≥ 200,000 events/s on 2
// cores" target. Prints events/s for each batch size.
//
//   vigil_ingest_bench [--events N] [--db-dir DIR] [--streams S]

#include "central/ingestor.h"
#include "central/sqlite_store.h"
#include "support/ingest_client.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>

int main(int argc, char** argv) {
  CLI::App app{"ingest into the embedded store"};
  uint64_t events = 200000;
  std::string dir = "/tmp";
  int streams = 4;
  app.add_option("--events", events, "events per run");
  app.add_option("--db-dir", dir, "where the databases go");
  app.add_option("--streams", streams, "agent instances sending at once");
  CLI11_PARSE(app, argc, argv);

  for (uint64_t batch_size : {100, 1000}) {
    std::string path = fmt::format("{}/vigil-ingest-bench-{}.db", dir, batch_size);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path + suffix);
    }
    auto store = vigil::central::SqliteStore::open(path);
    if (!store) {
      std::cerr << store.error().message() << "\n";
      return 1;
    }
    vigil::metrics::Registry registry("vigil_central_");
    vigil::central::IngestMetrics metrics(registry);
    vigil::central::IngestOptions options;
    options.stats_interval = std::chrono::seconds(0);
    options.retention_check = std::chrono::seconds(3600);
    vigil::central::Ingestor ingestor(**store, metrics, options);
    if (auto st = ingestor.start(); !st) {
      std::cerr << st.error().message() << "\n";
      return 1;
    }
    // Batches are built before the clock starts.
    std::vector<vigil::v1::EventBatch> batches;
    uint64_t per_stream = events / static_cast<uint64_t>(streams);
    for (int s = 0; s < streams; ++s) {
      vigil::test::ChainBuilder chain(fmt::format("node-{}", s), "boot", 1000);
      for (uint64_t first = 1; first <= per_stream; first += batch_size) {
        batches.push_back(chain.batch(first, std::min(batch_size, per_stream - first + 1)));
      }
    }
    uint64_t total = per_stream * static_cast<uint64_t>(streams);
    std::mutex mu;
    std::condition_variable cv;
    std::size_t acked = 0;
    std::atomic<uint64_t> errors{0};
    auto t0 = std::chrono::steady_clock::now();
    for (auto& b : batches) {
      ingestor.submit(std::move(b), vigil::central::PeerIdentity{}, [&](vigil::v1::Ack ack) {
        if (!ack.error().empty()) {
          errors.fetch_add(1);
        }
        std::lock_guard lock(mu);
        ++acked;
        cv.notify_one();
      });
    }
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return acked == batches.size(); });
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ingestor.stop();
    auto rows = (*store)->countEvents();
    std::cout << fmt::format("batch {:>5}: {} events in {:.3f} s = {:.0f} events/s, {} rows, {} refused, "
                             "{:.0f} bytes/event on disk\n",
                             batch_size, total, secs, total / secs, rows ? *rows : 0, errors.load(),
                             double(std::filesystem::file_size(path) + std::filesystem::file_size(path + "-wal")) /
                                 double(total));
    std::cout << "  " << vigil::metrics::renderSummary(registry, {"store_commit_seconds"}, true) << "\n";
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path + suffix);
    }
  }
  return 0;
}
