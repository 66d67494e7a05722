#pragma once

// A test agent for the central collector: made-up events of one agent
// instance, hash-chained as proto/vigil/v1/ingest.proto says (computed here
// with OpenSSL, independently of central/chain.cc), and a client that streams
// them over vigil.v1.Ingest.

#include "vigil/status.h"
#include "vigil/v1/event.pb.h"
#include "vigil/v1/ingest.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace vigil::test {

// The records of one agent instance: event seq is deterministic, and its
// chain hash follows from every record before it.
class ChainBuilder {
public:
  ChainBuilder(std::string node, std::string boot_id, uint64_t start_unix_ns, int64_t time_base_ns = 0);

  const std::string& node() const { return node_; }
  v1::AgentInstance instance() const;

  // The event of seq: exec, fork or exit of /usr/bin/tool-<seq % 5> in pod
  // ns-<seq % 2>/pod-<seq % 3>, exec_id "exec-<seq>", its parent
  // "exec-<seq - 1>", timed time_base + seq µs.
  v1::Event event(uint64_t seq) const;
  std::string eventBytes(uint64_t seq) const;
  // The chain hash of record seq (32 zero bytes for seq 0).
  std::string hash(uint64_t seq);
  // count records from first, chained; prev_chain_hash set.
  v1::EventBatch batch(uint64_t first, uint64_t count);

private:
  std::string node_;
  std::string boot_id_;
  uint64_t start_;
  int64_t time_base_ns_;
  std::map<uint64_t, std::string> hashes_;
};

std::string sha256Chain(const std::string& prev, uint64_t seq, const std::string& event);

// One Ingest stream.
class IngestClient {
public:
  // target "127.0.0.1:port"; credentials null: insecure. tls_name: the name
  // the server certificate is checked against.
  IngestClient(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
               const std::string& tls_name = "",
               std::chrono::milliseconds deadline = std::chrono::milliseconds(30000));
  ~IngestClient();

  // Writes one batch, then waits for its ack.
  Result<v1::Ack> send(const v1::EventBatch& batch);
  // The halves of send(), to have batches in flight.
  Status write(const v1::EventBatch& batch);
  Result<v1::Ack> readAck();
  // Half-closes and returns the stream's final status.
  grpc::Status finish();

private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Ingest::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::EventBatch, v1::Ack>> stream_;
  bool finished_ = false;
};

// Mutual TLS credentials of a client from PEM files (empty cert/key: none).
std::shared_ptr<grpc::ChannelCredentials> tlsCredentials(const std::string& ca_file, const std::string& cert_file,
                                                         const std::string& key_file);

} // namespace vigil::test
