// Ingest frames: bytes from the network as an EventBatch (what gRPC hands
// vigil-central after its own framing), through the collector's checks, the
// hash chain and the SQLite store (in a temporary file). Every batch must be
// answered with exactly one Ack: refused with a reason, or committed up to a
// sequence its records reach.

#include "central/ingestor.h"
#include "central/sqlite_store.h"
#include "tests/fuzz/fuzz_check.h"

#include "vigil/v1/ingest.pb.h"

#include <unistd.h>

#include <cstdlib>
#include <future>
#include <memory>

using namespace vigil;

namespace {

struct Collector {
  std::string dir;
  metrics::Registry registry{"vigil_central_"};
  std::unique_ptr<central::SqliteStore> store;
  std::unique_ptr<central::IngestMetrics> metrics;
  std::unique_ptr<central::Ingestor> ingestor;

  Collector() {
    char tmpl[] = "/tmp/vigil-fuzz-ingest-XXXXXX";
    dir = mkdtemp(tmpl);
    auto opened = central::SqliteStore::open(dir + "/events.db");
    fuzz::check(opened.ok(), "the store opens");
    store = std::move(*opened);
    metrics = std::make_unique<central::IngestMetrics>(registry);
    central::IngestOptions options;
    options.stats_interval = std::chrono::seconds(0);
    ingestor = std::make_unique<central::Ingestor>(*store, *metrics, options);
    fuzz::check(ingestor->start().ok(), "the ingestor starts");
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Collector* collector = new Collector(); // one store for the whole run: state carries across inputs
  v1::EventBatch batch;
  if (!batch.ParseFromArray(data, int(size))) {
    return 0; // gRPC refuses what does not parse before the collector sees it
  }
  const std::string node = batch.node();
  const uint64_t first = batch.first_seq();
  const int records = batch.records_size();
  std::promise<v1::Ack> answered;
  auto future = answered.get_future();
  central::PeerIdentity peer; // plaintext: no identity to check
  collector->ingestor->submit(std::move(batch), peer, [&answered](v1::Ack ack) { answered.set_value(std::move(ack)); });
  v1::Ack ack = future.get();
  if (!ack.error().empty()) {
    return 0; // refused with a reason: nothing stored
  }
  fuzz::check(records > 0 || ack.committed_seq() <= first, "an empty batch commits nothing new");
  fuzz::check(ack.node() == node || ack.node().empty(), "the ack names the batch's node");
  if (records > 0) {
    fuzz::check(ack.committed_seq() >= first, "a committed batch is acknowledged up to its records");
  }
  return 0;
}
