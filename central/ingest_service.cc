#include "central/ingest_service.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>

namespace vigil::central {
namespace {

class StreamReactor : public grpc::ServerBidiReactor<v1::EventBatch, v1::Ack> {
public:
  StreamReactor(grpc::CallbackServerContext* context, Ingestor& ingestor, IngestMetrics& metrics,
                PeerIdentity peer, std::size_t window)
      : ingestor_(ingestor), metrics_(metrics), peer_(std::move(peer)), peer_address_(context->peer()),
        window_(window) {
    metrics_.connected_agents.add(1);
    spdlog::debug("stream from {} ({})", peer_address_,
                  peer_.authenticated ? fmt::format("{}", fmt::join(peer_.names, ",")) : "no TLS");
    std::lock_guard lock(mu_);
    reading_ = true;
    StartRead(&batch_);
  }

  void OnReadDone(bool ok) override {
    std::lock_guard lock(mu_);
    reading_ = false;
    if (!ok) {
      // The agent closed its side (or the stream broke): finish once every
      // batch in flight is answered.
      reads_done_ = true;
      doMaybeFinish();
      return;
    }
    ++in_flight_;
    ingestor_.submit(std::move(batch_), peer_, [this](v1::Ack ack) { onAck(std::move(ack)); });
    batch_.Clear();
    doMaybeRead();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    acks_.pop_front();
    if (!ok) {
      broken_ = true;
    }
    doMaybeWrite();
    doMaybeRead();
    doMaybeFinish();
  }

  void OnDone() override {
    metrics_.connected_agents.sub(1);
    spdlog::debug("stream from {} done", peer_address_);
    delete this;
  }

private:
  // From the ingestor's thread, in the order the batches were submitted.
  void onAck(v1::Ack&& ack) {
    std::lock_guard lock(mu_);
    --in_flight_;
    acks_.push_back(std::move(ack));
    doMaybeWrite();
    doMaybeFinish();
  }

  // All do*() run with mu_ held.
  void doMaybeWrite() {
    if (writing_ || acks_.empty()) {
      return;
    }
    if (broken_) {
      acks_.clear(); // nobody reads them any more
      return;
    }
    writing_ = true;
    StartWrite(&acks_.front());
  }

  // Reads on while fewer than window_ batches wait for their ack.
  void doMaybeRead() {
    if (reading_ || reads_done_ || broken_ || in_flight_ + acks_.size() >= window_) {
      return;
    }
    reading_ = true;
    StartRead(&batch_);
  }

  // The reactor may end only when nothing refers to it any more: no read,
  // no write, no batch at the ingestor.
  void doMaybeFinish() {
    if (finished_ || reading_ || writing_ || in_flight_ > 0 || !acks_.empty()) {
      return;
    }
    if (!reads_done_ && !broken_) {
      return;
    }
    finished_ = true;
    Finish(broken_ ? grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke before every ack was written")
                   : grpc::Status::OK);
  }

  Ingestor& ingestor_;
  IngestMetrics& metrics_;
  const PeerIdentity peer_;
  const std::string peer_address_;
  const std::size_t window_;

  std::mutex mu_;
  v1::EventBatch batch_;
  std::deque<v1::Ack> acks_; // answered, front being written
  std::size_t in_flight_ = 0; // at the ingestor
  bool reading_ = false;
  bool writing_ = false;
  bool reads_done_ = false;
  bool broken_ = false;
  bool finished_ = false;
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
  return new StreamReactor(context, ingestor_, metrics_, std::move(peer), kWindow);
}

} // namespace vigil::central
