#pragma once

// The ingest path behind the gRPC stream: checks each batch (identity,
// shape, events), verifies the hash chain, writes groups of batches to the
// store in one transaction each, and answers every batch with an Ack only
// once what it acknowledges is committed. One writer thread owns the store
// and the chain state of every instance; streams hand batches to it.

#include "central/store.h"
#include "vigil/event.h"
#include "vigil/metrics.h"
#include "vigil/v1/ingest.pb.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace vigil::central {

// Who is on the other end of a stream.
struct PeerIdentity {
  // Mutual TLS: the certificate's names (SAN DNS names, else the CN); every
  // batch's node must be one of them. Without TLS nothing is checked.
  bool authenticated = false;
  std::vector<std::string> names;
};

struct IngestOptions {
  std::chrono::seconds retention_check{300};
  int64_t retention_max_age_ns = 0;
  uint64_t retention_max_bytes = 0;
  std::chrono::seconds stats_interval{60};
  std::size_t max_group = 64; // batches per transaction at most
};

// The counters and gauges of the ingest path, in the central registry.
class IngestMetrics {
public:
  explicit IngestMetrics(metrics::Registry& registry);

  metrics::Registry& registry;
  metrics::Counter& events_stored;
  metrics::Counter& events_duplicate;
  metrics::Counter& chain_breaks;
  metrics::Counter& chain_gaps;
  metrics::Counter& chain_gap_records;
  metrics::Counter& store_errors;
  metrics::Counter& retention_deleted_age;
  metrics::Counter& retention_deleted_size;
  metrics::SharedCounter& streams_refused_identity; // written by gRPC threads
  metrics::Gauge& connected_agents;
  metrics::Gauge& stored_rows;
  prometheus::Histogram& commit_seconds;

  metrics::Counter& batchesReceived(const std::string& node);
  metrics::Counter& eventsReceived(const std::string& node);
  metrics::Counter& refused(const std::string& reason);
};

class Ingestor {
public:
  using AckCallback = std::function<void(v1::Ack)>;

  Ingestor(EventStore& store, IngestMetrics& metrics, IngestOptions options);
  ~Ingestor();

  // Starts the writer thread (counting the stored rows first).
  Status start();
  // Answers what is queued, then stops the writer thread.
  void stop();

  // Queues a batch; `done` runs on the writer thread with its Ack once the
  // batch is committed or refused.
  void submit(v1::EventBatch&& batch, const PeerIdentity& peer, AckCallback done);

  // What one batch amounts to, decided before anything is written: public for
  // the unit of the chain rules.
  struct Pending {
    v1::EventBatch batch;
    PeerIdentity peer;
    AckCallback done;
  };

private:
  struct Decision;

  void doRun();
  void doProcess(std::vector<Pending>& group);
  Decision doDecide(const Pending& pending, int64_t now_ns);
  Result<InstanceState*> doState(const InstanceKey& key);
  void doRetention();

  EventStore& store_;
  IngestMetrics& metrics_;
  const IngestOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread thread_;

  // Writer thread only: the chain state of every instance seen.
  std::map<InstanceKey, InstanceState> states_;
};

// The columns of an event row, read from the decoded event.
EventRow eventRow(const v1::Event& event, std::string bytes);

} // namespace vigil::central
