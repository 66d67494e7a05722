#pragma once

// The gRPC side of ingest: vigil.v1.Ingest on the callback API, one
// ServerBidiReactor per stream and no thread of its own. A stream has one
// batch in flight: it reads a batch, hands it to the Ingestor, writes the
// Ack when the Ingestor answers, and only then reads the next one, so Acks
// leave in the order the batches came.

#include "central/ingestor.h"
#include "vigil/v1/ingest.grpc.pb.h"

namespace vigil::central {

class IngestService : public v1::Ingest::CallbackService {
public:
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
