#include "central/ingest_service.h"

#include <spdlog/spdlog.h>

#include <mutex>

namespace vigil::central {
namespace {

class StreamReactor : public grpc::ServerBidiReactor<v1::EventBatch, v1::Ack> {
public:
  StreamReactor(grpc::CallbackServerContext* context, Ingestor& ingestor, IngestMetrics& metrics,
                PeerIdentity peer)
      : ingestor_(ingestor), metrics_(metrics), peer_(std::move(peer)), peer_address_(context->peer()) {
    metrics_.connected_agents.add(1);
    spdlog::debug("stream from {} ({})", peer_address_,
                  peer_.authenticated ? fmt::format("{}", fmt::join(peer_.names, ",")) : "no TLS");
    StartRead(&batch_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The agent closed its side (or the stream broke): nothing in flight.
      Finish(grpc::Status::OK);
      return;
    }
    ingestor_.submit(std::move(batch_), peer_, [this](v1::Ack ack) {
      ack_ = std::move(ack);
      StartWrite(&ack_);
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the stream ended before the ack was written"));
      return;
    }
    batch_.Clear();
    StartRead(&batch_);
  }

  void OnDone() override {
    metrics_.connected_agents.sub(1);
    spdlog::debug("stream from {} done", peer_address_);
    delete this;
  }

private:
  Ingestor& ingestor_;
  IngestMetrics& metrics_;
  const PeerIdentity peer_;
  const std::string peer_address_;
  v1::EventBatch batch_;
  v1::Ack ack_;
};

// Refuses a stream outright (a TLS peer without a usable identity).
class RefusedReactor : public grpc::ServerBidiReactor<v1::EventBatch, v1::Ack> {
public:
  explicit RefusedReactor(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

} // namespace

PeerIdentity peerIdentity(const grpc::AuthContext& auth) {
  PeerIdentity peer;
  if (!auth.IsPeerAuthenticated()) {
    return peer;
  }
  for (const auto& v : auth.FindPropertyValues("x509_subject_alternative_name")) {
    peer.names.emplace_back(v.data(), v.size());
  }
  if (peer.names.empty()) {
    for (const auto& v : auth.FindPropertyValues("x509_common_name")) {
      peer.names.emplace_back(v.data(), v.size());
    }
  }
  peer.authenticated = true;
  return peer;
}

grpc::ServerBidiReactor<v1::EventBatch, v1::Ack>* IngestService::Stream(grpc::CallbackServerContext* context) {
  PeerIdentity peer;
  if (require_client_identity_) {
    auto auth = context->auth_context();
    peer = auth ? peerIdentity(*auth) : PeerIdentity{};
    if (!peer.authenticated || peer.names.empty()) {
      metrics_.streams_refused_identity.inc();
      spdlog::warn("stream from {} refused: no client certificate identity", context->peer());
      return new RefusedReactor(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no client certificate identity"));
    }
  }
  return new StreamReactor(context, ingestor_, metrics_, std::move(peer));
}

} // namespace vigil::central
