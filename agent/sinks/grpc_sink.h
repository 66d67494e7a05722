#pragma once

// The audit log to the central collector (docs/export.md).
//
//   write() ──► Spool (on disk) ──► sender thread ──► Ingest.Stream ──► collector
//   sink thread                     batches, acks      gRPC, (m)TLS
//
// write() (the sink's own thread) serializes the event and appends it to the
// durable spool: nothing is lost while the collector, the network or the
// agent is down. The sender thread reads the spool in batches of one agent
// instance, streams them to the first endpoint that answers, keeps up to
// max_in_flight batches unacknowledged, and hands each acknowledgement back
// to the spool, which forgets what was committed. A broken stream, a refused
// batch or a changed certificate file ends the stream: the sender rewinds
// to the first unacknowledged record and reconnects, to the next endpoint,
// after an exponential backoff with jitter. The client certificate and key
// are read again at every connect, so a rotated certificate is used from the
// next stream on (a change on disk ends the current one).

#include "agent/sinks/output_config.h"
#include "agent/spool/spool.h"
#include "vigil/sink.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace vigil {

class GrpcSink : public EventSink {
public:
  // Opens the spool (recovering what an earlier run left) and starts the
  // sender. config.node and config.registry must be set.
  static Result<std::unique_ptr<GrpcSink>> open(const OutputConfig& config);
  ~GrpcSink() override;

  std::string_view name() const override { return name_; }
  Status write(const Event& event) override;
  Status flush() override;
  // Gives the sender until the deadline to send what is spooled and see it
  // acknowledged; what is left stays in the spool for the next run.
  Status close(std::chrono::steady_clock::time_point deadline) override;

  // Records the collector acknowledged so far (tests). Any thread.
  uint64_t acknowledged() const { return acked_records_.load(); }
  bool connected() const { return connected_.load(); }

private:
  GrpcSink(const OutputConfig& config, std::unique_ptr<Spool> spool);
  void senderLoop();
  // One stream to endpoint: true when it ended because the sink closes.
  bool runStream(const std::string& endpoint, bool& progressed);
  // The newest modification time of the CA, certificate and key files.
  int64_t certificatesMtime() const;

  const OutputConfig config_;
  const std::string name_;
  std::unique_ptr<Spool> spool_;
  std::string buffer_; // write(): the serialized event

  std::thread sender_;
  std::atomic<bool> closing_{false};
  std::atomic<bool> stop_now_{false};
  std::atomic<bool> connected_{false};
  std::atomic<bool> drained_{false}; // closing, and nothing left unsent or unacknowledged
  std::atomic<uint64_t> acked_records_{0};
  int64_t cert_mtime_ns_ = 0; // of the client certificate, key and CA at the last connect

  metrics::Counter& batches_sent_;
  metrics::Counter& events_sent_;
  metrics::Counter& events_acked_;
  metrics::Counter& batches_refused_;
  metrics::Counter& stream_failures_;
  metrics::Gauge& connected_gauge_;
  prometheus::Histogram& ack_latency_;
};

} // namespace vigil
