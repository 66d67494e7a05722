#include "agent/sinks/grpc_sink.h"

#include "vigil/loopback.h"
#include "vigil/v1/ingest.grpc.pb.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/stat.h>

namespace vigil {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kMinBackoff = std::chrono::milliseconds(200);
constexpr auto kMaxBackoff = std::chrono::seconds(30);
constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr size_t kBatchMaxBytes = 4u << 20;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int64_t mtimeNs(const std::string& path) {
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) {
    return 0;
  }
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

v1::AgentInstance thisInstance() {
  v1::AgentInstance instance;
  std::string boot = readFile("/proc/sys/kernel/random/boot_id");
  boot.erase(std::remove(boot.begin(), boot.end(), '\n'), boot.end());
  instance.set_boot_id(boot);
  instance.set_start_unix_ns(uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count()));
  return instance;
}

// The host of a "host:port" endpoint is on loopback (unix sockets are local too).
bool isLoopback(const std::string& endpoint) {
  if (endpoint.rfind("unix:", 0) == 0) {
    return true;
  }
  return isLoopbackHost(endpoint.substr(0, endpoint.rfind(':')));
}

std::shared_ptr<grpc::ChannelCredentials> credentials(const OutputConfig& c) {
  if (c.tls_ca.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = readFile(c.tls_ca);
  if (!c.tls_cert.empty()) {
    o.pem_cert_chain = readFile(c.tls_cert);
    o.pem_private_key = readFile(c.tls_key);
  }
  return grpc::SslCredentials(o);
}

} // namespace

Result<std::unique_ptr<GrpcSink>> GrpcSink::open(const OutputConfig& config) {
  if (config.registry == nullptr) {
    return makeError("grpc output built without a metrics registry");
  }
  if (config.endpoints.empty()) {
    return makeError("a grpc output needs endpoints");
  }
  if (config.tls_ca.empty()) {
    for (const auto& e : config.endpoints) {
      if (!isLoopback(e)) {
        return makeError("endpoint {} is not on loopback: set tls_ca (and tls_cert, tls_key for mutual TLS)", e);
      }
    }
  }
  for (const auto* path : {&config.tls_ca, &config.tls_cert, &config.tls_key}) {
    if (!path->empty() && access(path->c_str(), R_OK) != 0) {
      return makeError("{}: {}", *path, strerror(errno));
    }
  }
  SpoolOptions so;
  so.dir = config.spool_dir;
  so.node = config.node;
  so.instance = thisInstance();
  so.max_bytes = config.spool_max_bytes;
  so.segment_bytes = std::min<uint64_t>(so.segment_bytes, std::max<uint64_t>(config.spool_max_bytes / 4, 1u << 16));
  auto spool = Spool::open(so, *config.registry);
  if (!spool) {
    return spool.error().wrap("spool");
  }
  std::unique_ptr<GrpcSink> sink(new GrpcSink(config, std::move(*spool)));
  sink->sender_ = std::thread([s = sink.get()] { s->senderLoop(); });
  return sink;
}

GrpcSink::GrpcSink(const OutputConfig& config, std::unique_ptr<Spool> spool)
    : config_(config), name_(config.name.empty() ? "grpc" : config.name), spool_(std::move(spool)),
      batches_sent_(config.registry->counter("export_batches_sent_total", "Batches sent to the central collector",
                                             {{"sink", name_}})),
      events_sent_(config.registry->counter("export_events_sent_total",
                                            "Events sent to the central collector (resent ones again)",
                                            {{"sink", name_}})),
      events_acked_(config.registry->counter("export_events_acked_total",
                                             "Events the central collector acknowledged as committed",
                                             {{"sink", name_}})),
      batches_refused_(config.registry->counter("export_batches_refused_total",
                                                "Batches the central collector refused (sent again later)",
                                                {{"sink", name_}})),
      stream_failures_(config.registry->counter("export_stream_failures_total",
                                                "Streams to the central collector that failed or could not open",
                                                {{"sink", name_}})),
      connected_gauge_(config.registry->gauge("export_connected", "1 while a stream to the collector is open",
                                              {{"sink", name_}})),
      ack_latency_(config.registry->histogram("export_ack_latency_seconds",
                                              "From sending a batch to its acknowledgement",
                                              {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}, {{"sink", name_}})) {}

GrpcSink::~GrpcSink() {
  stop_now_ = true;
  closing_ = true;
  if (sender_.joinable()) {
    sender_.join();
  }
}

Status GrpcSink::write(const Event& event) {
  buffer_.clear();
  if (!event.SerializeToString(&buffer_)) {
    return makeError("event {} does not serialize", event.seq());
  }
  auto hash = spool_->append(event.seq(), buffer_);
  if (!hash) {
    return hash.error(); // counted by the spool
  }
  return okStatus();
}

Status GrpcSink::flush() { return spool_->flush(); }

Status GrpcSink::close(Clock::time_point deadline) {
  auto st = spool_->flush();
  closing_ = true;
  // The sender sends what is spooled and waits for its acknowledgement
  // until the deadline, then stops; the rest stays in the spool.
  while (Clock::now() < deadline && !drained_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop_now_ = true;
  if (sender_.joinable()) {
    sender_.join();
  }
  auto closed = spool_->close();
  if (!st) {
    return st;
  }
  return closed;
}

int64_t GrpcSink::certificatesMtime() const {
  return std::max({mtimeNs(config_.tls_ca), mtimeNs(config_.tls_cert), mtimeNs(config_.tls_key)});
}

void GrpcSink::senderLoop() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = kMinBackoff;
  size_t next = 0;
  while (!stop_now_) {
    const std::string& endpoint = config_.endpoints[next % config_.endpoints.size()];
    bool progressed = false;
    if (runStream(endpoint, progressed)) {
      return;
    }
    stream_failures_.inc();
    if (progressed) {
      backoff = kMinBackoff; // it worked for a while: try the same endpoint again soon
    } else {
      ++next; // fail over
    }
    // Full jitter: a fleet of agents does not reconnect in step.
    auto wait = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(backoff.count() / 2, backoff.count())(rng));
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    for (auto until = Clock::now() + wait; Clock::now() < until && !stop_now_;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

bool GrpcSink::runStream(const std::string& endpoint, bool& progressed) {
  cert_mtime_ns_ = certificatesMtime();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  if (!config_.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(config_.tls_server_name);
  }
  auto channel = grpc::CreateCustomChannel(endpoint, credentials(config_), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + kConnectTimeout)) {
    spdlog::warn("grpc output {}: cannot reach {} (state {})", name_, endpoint,
                 int(channel->GetState(false)));
    return false;
  }
  auto stub = v1::Ingest::NewStub(channel);
  grpc::ClientContext ctx;
  if (config_.compression == "gzip") {
    ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  }
  auto stream = stub->Stream(&ctx);

  std::mutex mu;
  std::condition_variable cv;
  std::deque<v1::Ack> acks;
  bool reader_done = false;
  std::thread reader([&] {
    v1::Ack ack;
    while (stream->Read(&ack)) {
      std::lock_guard<std::mutex> lock(mu);
      acks.push_back(ack);
      cv.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu);
    reader_done = true;
    cv.notify_all();
  });

  spool_->rewind();
  connected_ = true;
  connected_gauge_.set(1);
  std::deque<Clock::time_point> sent_at;
  size_t in_flight = 0;
  bool failed = false;
  bool closing_done = false;
  auto last_cert_check = Clock::now();
  while (!stop_now_) {
    // Acknowledgements first: they free the window and the spool.
    std::deque<v1::Ack> got;
    {
      std::unique_lock<std::mutex> lock(mu);
      got.swap(acks);
      if (got.empty() && reader_done) {
        failed = true;
      }
    }
    for (const auto& ack : got) {
      if (!sent_at.empty()) {
        ack_latency_.Observe(std::chrono::duration<double>(Clock::now() - sent_at.front()).count());
        sent_at.pop_front();
      }
      in_flight = in_flight > 0 ? in_flight - 1 : 0;
      if (!ack.error().empty()) {
        batches_refused_.inc();
        spdlog::warn("grpc output {}: {} refused a batch: {}", name_, endpoint, ack.error());
        failed = true;
        break;
      }
      const uint64_t before = spool_->stats().acked;
      if (auto st = spool_->ack(ack.instance(), ack.committed_seq()); !st) {
        spdlog::warn("grpc output {}: spool ack: {}", name_, st.error().message());
      }
      const uint64_t now_acked = spool_->stats().acked;
      events_acked_.inc(now_acked - before);
      acked_records_.store(now_acked);
      progressed = true;
    }
    if (failed) {
      break;
    }
    if (Clock::now() - last_cert_check > std::chrono::seconds(1)) {
      last_cert_check = Clock::now();
      if (certificatesMtime() != cert_mtime_ns_) {
        spdlog::info("grpc output {}: certificate files changed: reconnecting with them", name_);
        break;
      }
    }
    bool sent = false;
    bool spool_empty = false;
    if (in_flight < config_.max_in_flight) {
      auto batch = spool_->readNext(config_.batch_max_events, kBatchMaxBytes);
      spool_empty = batch.ok() && !*batch;
      if (!batch) {
        spdlog::warn("grpc output {}: reading the spool: {}", name_, batch.error().message());
      } else if (*batch) {
        v1::EventBatch out;
        out.set_node((*batch)->node);
        *out.mutable_instance() = (*batch)->instance;
        out.set_first_seq((*batch)->first_seq);
        out.set_prev_chain_hash((*batch)->prev_chain_hash);
        for (auto& r : (*batch)->records) {
          *out.add_records() = std::move(r);
        }
        const size_t n = size_t(out.records_size());
        if (!stream->Write(out)) {
          failed = true;
          break;
        }
        batches_sent_.inc();
        events_sent_.inc(n);
        sent_at.push_back(Clock::now());
        ++in_flight;
        sent = true;
      }
    }
    // Closing, and everything spooled was sent and acknowledged (what the
    // spool dropped never will be): done.
    if (closing_ && spool_empty && in_flight == 0) {
      closing_done = true;
      drained_ = true;
      break;
    }
    if (!sent) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(in_flight > 0 ? 50 : config_.batch_interval_ms),
                  [&] { return !acks.empty() || reader_done; });
    }
  }
  connected_ = false;
  connected_gauge_.set(0);
  stream->WritesDone();
  ctx.TryCancel();
  reader.join();
  auto status = stream->Finish();
  if (failed && !status.ok() && !stop_now_) {
    spdlog::warn("grpc output {}: stream to {} ended: {}", name_, endpoint, status.error_message());
  }
  return stop_now_ || closing_done;
}

} // namespace vigil
