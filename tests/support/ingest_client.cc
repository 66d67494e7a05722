#include "support/ingest_client.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vigil::test {

std::string sha256Chain(const std::string& prev, uint64_t seq, const std::string& event) {
  std::string input = prev;
  for (int i = 0; i < 8; ++i) {
    input.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
  }
  input += event;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest");
  }
  return std::string(reinterpret_cast<char*>(md), len);
}

ChainBuilder::ChainBuilder(std::string node, std::string boot_id, uint64_t start_unix_ns, int64_t time_base_ns)
    : node_(std::move(node)), boot_id_(std::move(boot_id)), start_(start_unix_ns), time_base_ns_(time_base_ns) {
  if (time_base_ns_ == 0) {
    time_base_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  }
  hashes_[0] = std::string(32, '\0');
}

v1::AgentInstance ChainBuilder::instance() const {
  v1::AgentInstance i;
  i.set_boot_id(boot_id_);
  i.set_start_unix_ns(start_);
  return i;
}

v1::Event ChainBuilder::event(uint64_t seq) const {
  v1::Event e;
  e.set_node(node_);
  e.set_seq(seq);
  int64_t t = time_base_ns_ + static_cast<int64_t>(seq) * 1000;
  e.mutable_time()->set_seconds(t / 1000000000);
  e.mutable_time()->set_nanos(static_cast<int32_t>(t % 1000000000));
  e.set_ktime_ns(seq * 1000);
  v1::Process* p = nullptr;
  switch (seq % 3) {
  case 0:
    p = e.mutable_exec()->mutable_process();
    break;
  case 1:
    p = e.mutable_fork()->mutable_process();
    break;
  default:
    p = e.mutable_exit()->mutable_process();
    e.mutable_exit()->set_exit_code(static_cast<int32_t>(seq % 7));
    break;
  }
  p->set_pid(static_cast<uint32_t>(1000 + seq));
  p->set_tid(static_cast<uint32_t>(1000 + seq));
  p->set_exec_id(fmt::format("exec-{}", seq));
  p->set_parent_exec_id(fmt::format("exec-{}", seq - 1));
  p->set_binary(fmt::format("/usr/bin/tool-{}", seq % 5));
  p->add_args(p->binary());
  p->add_args(fmt::format("--run={}", seq));
  p->mutable_container()->set_id(fmt::format("{:064x}", seq % 3 + 1));
  p->mutable_container()->set_runtime("containerd");
  p->mutable_pod()->set_name(fmt::format("pod-{}", seq % 3));
  p->mutable_pod()->set_namespace_(fmt::format("ns-{}", seq % 2));
  (*p->mutable_pod()->mutable_labels())["app"] = "test";
  return e;
}

std::string ChainBuilder::eventBytes(uint64_t seq) const { return event(seq).SerializeAsString(); }

std::string ChainBuilder::hash(uint64_t seq) {
  auto it = hashes_.find(seq);
  if (it != hashes_.end()) {
    return it->second;
  }
  std::string h = sha256Chain(hash(seq - 1), seq, eventBytes(seq));
  hashes_[seq] = h;
  return h;
}

v1::EventBatch ChainBuilder::batch(uint64_t first, uint64_t count) {
  v1::EventBatch b;
  b.set_node(node_);
  *b.mutable_instance() = instance();
  b.set_first_seq(first);
  b.set_prev_chain_hash(first > 1 ? hash(first - 1) : "");
  for (uint64_t seq = first; seq < first + count; ++seq) {
    v1::Record* r = b.add_records();
    r->set_seq(seq);
    r->set_event(eventBytes(seq));
    r->set_chain_hash(hash(seq));
  }
  return b;
}

IngestClient::IngestClient(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials,
                           const std::string& tls_name, std::chrono::milliseconds deadline) {
  grpc::ChannelArguments args;
  if (!tls_name.empty()) {
    args.SetSslTargetNameOverride(tls_name);
  }
  args.SetMaxReceiveMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(target, credentials ? credentials : grpc::InsecureChannelCredentials(), args);
  stub_ = v1::Ingest::NewStub(channel_);
  context_.set_deadline(std::chrono::system_clock::now() + deadline);
  stream_ = stub_->Stream(&context_);
}

IngestClient::~IngestClient() {
  if (!finished_) {
    context_.TryCancel();
    (void)stream_->Finish();
  }
}

Status IngestClient::write(const v1::EventBatch& batch) {
  if (!stream_->Write(batch)) {
    return makeError("write: the stream is broken");
  }
  return okStatus();
}

Result<v1::Ack> IngestClient::readAck() {
  v1::Ack ack;
  if (!stream_->Read(&ack)) {
    grpc::Status st = finish();
    return makeError("read: the stream ended: {} ({})", st.error_message(), static_cast<int>(st.error_code()));
  }
  return ack;
}

Result<v1::Ack> IngestClient::send(const v1::EventBatch& batch) {
  if (auto st = write(batch); !st) {
    grpc::Status fin = finish();
    return makeError("{}: {} ({})", st.error().message(), fin.error_message(), static_cast<int>(fin.error_code()));
  }
  return readAck();
}

grpc::Status IngestClient::finish() {
  if (finished_) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "finished already");
  }
  finished_ = true;
  stream_->WritesDone();
  return stream_->Finish();
}

namespace {
std::string slurp(const std::string& path) {
  if (path.empty()) {
    return "";
  }
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
} // namespace

std::shared_ptr<grpc::ChannelCredentials> tlsCredentials(const std::string& ca_file, const std::string& cert_file,
                                                         const std::string& key_file) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = slurp(ca_file);
  options.pem_cert_chain = slurp(cert_file);
  options.pem_private_key = slurp(key_file);
  return grpc::SslCredentials(options);
}

} // namespace vigil::test
