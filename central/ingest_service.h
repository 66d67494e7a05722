#pragma once

// The gRPC side of ingest: vigil.v1.Ingest on the callback API, one
// ServerBidiReactor per stream and no thread of its own. A stream reads
// batches and hands them to the Ingestor while fewer than kWindow of them
// wait for their Ack (agents keep a window of unacknowledged batches); the
// Ingestor answers a stream's batches in the order they came, and the Acks
// are written in that order.

#include "central/ingestor.h"
#include "vigil/v1/ingest.grpc.pb.h"

namespace vigil::central {

class IngestService : public v1::Ingest::CallbackService {
public:
  // Batches of one stream read ahead of their Ack at most.
  static constexpr std::size_t kWindow = 16;

  // require_client_identity: the server runs mutual TLS and each stream's
  // batches must name the node of its client certificate.
  IngestService(Ingestor& ingestor, IngestMetrics& metrics, bool require_client_identity)
      : ingestor_(ingestor), metrics_(metrics), require_client_identity_(require_client_identity) {}

  grpc::ServerBidiReactor<v1::EventBatch, v1::Ack>* Stream(grpc::CallbackServerContext* context) override;

private:
  Ingestor& ingestor_;
  IngestMetrics& metrics_;
  const bool require_client_identity_;
};

// The names of the peer's certificate: its SAN DNS names, else its CN.
PeerIdentity peerIdentity(const grpc::AuthContext& auth);

} // namespace vigil::central
