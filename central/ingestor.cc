#include "central/ingestor.h"

#include "central/chain.h"
#include "vigil/event.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

namespace vigil::central {
namespace {

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* kindName(v1::Event::BodyCase body) {
  switch (body) {
  case v1::Event::kExec:
    return "exec";
  case v1::Event::kFork:
    return "fork";
  case v1::Event::kExit:
    return "exit";
  case v1::Event::kSyscall:
    return "syscall";
  case v1::Event::kFlow:
    return "flow";
  case v1::Event::kDns:
    return "dns";
  case v1::Event::kSuppressed:
    return "suppressed";
  default:
    return "";
  }
}

std::string instanceName(const InstanceKey& key) {
  return fmt::format("{}/{}/{}", key.node, key.boot_id, key.start_unix_ns);
}

} // namespace

IngestMetrics::IngestMetrics(metrics::Registry& r)
    : registry(r),
      events_stored(r.counter("events_stored_total", "Events written to the store (first time seen)")),
      events_duplicate(r.counter("events_duplicate_total",
                                 "Events received again after they were committed: acknowledged, not stored again")),
      chain_breaks(r.counter("chain_breaks_total",
                             "Records whose chain hash does not follow from the previous record (stored, flagged)")),
      chain_gaps(r.counter("chain_gaps_total", "Batches that started beyond the next expected sequence")),
      chain_gap_records(r.counter("chain_gap_records_total", "Sequence numbers missing in recorded gaps")),
      store_errors(r.counter("store_errors_total", "Store transactions that failed (their batches were refused)")),
      retention_deleted_age(r.counter("retention_deleted_total", "Events deleted by retention",
                                      {{"reason", "age"}})),
      retention_deleted_size(r.counter("retention_deleted_total", "Events deleted by retention",
                                       {{"reason", "size"}})),
      streams_refused_identity(r.sharedCounter("streams_refused_total",
                                               "Streams refused before any batch, by reason",
                                               {{"reason", "no_client_identity"}})),
      connected_agents(r.gauge("connected_agents", "Ingest streams open now")),
      stored_rows(r.gauge("stored_rows", "Rows in the events table")),
      commit_seconds(r.histogram("store_commit_seconds", "Time to write and commit one group of batches",
                                 {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})) {}

metrics::Counter& IngestMetrics::batchesReceived(const std::string& node) {
  return registry.counter("batches_received_total", "Batches received, by node", {{"node", node}});
}

metrics::Counter& IngestMetrics::eventsReceived(const std::string& node) {
  return registry.counter("events_received_total", "Records received in batches, by node", {{"node", node}});
}

metrics::Counter& IngestMetrics::refused(const std::string& reason) {
  return registry.counter("batches_refused_total", "Batches refused (nothing of them stored), by reason",
                          {{"reason", reason}});
}

EventRow eventRow(const v1::Event& event, std::string bytes) {
  EventRow row;
  row.seq = event.seq();
  row.time_ns = event.time().seconds() * 1000000000LL + event.time().nanos();
  row.kind = kindName(event.body_case());
  // bodyProcesses() hands out mutable pointers; it changes nothing.
  BodyProcesses procs = bodyProcesses(const_cast<v1::Event&>(event));
  if (procs.process != nullptr) {
    const Process& p = *procs.process;
    row.pod_namespace = p.pod().namespace_();
    row.pod = p.pod().name();
    row.container = p.container().id();
    row.exec_id = p.exec_id();
    row.parent_exec_id = p.parent_exec_id();
    row.binary = p.binary();
  }
  row.event = std::move(bytes);
  return row;
}

struct Ingestor::Decision {
  InstanceKey key;
  std::string reason; // refused when set
  std::string message;
  std::optional<BatchWrite> write;
  uint64_t duplicates = 0;
  uint64_t ack_seq = 0;
  uint64_t breaks = 0;
  uint64_t gap_records = 0;
};

Ingestor::Ingestor(EventStore& store, IngestMetrics& metrics, IngestOptions options)
    : store_(store), metrics_(metrics), options_(options) {}

Ingestor::~Ingestor() { stop(); }

Status Ingestor::start() {
  auto rows = store_.countEvents();
  if (!rows) {
    return rows.error();
  }
  metrics_.stored_rows.set(static_cast<int64_t>(*rows));
  thread_ = std::thread([this] { doRun(); });
  return okStatus();
}

void Ingestor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Ingestor::submit(v1::EventBatch&& batch, const PeerIdentity& peer, AckCallback done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(Pending{std::move(batch), peer, std::move(done)});
  }
  cv_.notify_one();
}

void Ingestor::doRun() {
  using Clock = std::chrono::steady_clock;
  auto next_retention = Clock::now();
  auto next_stats = Clock::now() + options_.stats_interval;
  for (;;) {
    std::vector<Pending> group;
    {
      std::unique_lock lock(mu_);
      auto deadline = next_retention;
      if (options_.stats_interval.count() > 0) {
        deadline = std::min(deadline, next_stats);
      }
      cv_.wait_until(lock, deadline, [this] { return stopping_ || !queue_.empty(); });
      while (!queue_.empty() && group.size() < options_.max_group) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (group.empty() && stopping_) {
        return;
      }
    }
    if (!group.empty()) {
      doProcess(group);
    }
    auto now = Clock::now();
    if (now >= next_retention) {
      doRetention();
      next_retention = now + options_.retention_check;
    }
    if (options_.stats_interval.count() > 0 && now >= next_stats) {
      spdlog::info("stats: {}", metrics::renderSummary(metrics_.registry, {}, true));
      next_stats = now + options_.stats_interval;
    }
  }
}

Result<InstanceState*> Ingestor::doState(const InstanceKey& key) {
  auto it = states_.find(key);
  if (it != states_.end()) {
    return &it->second;
  }
  auto loaded = store_.loadInstance(key);
  if (!loaded) {
    return loaded.error();
  }
  InstanceState state;
  if (loaded->has_value()) {
    state = std::move(**loaded);
  }
  return &states_.emplace(key, std::move(state)).first->second;
}

Ingestor::Decision Ingestor::doDecide(const Pending& pending, int64_t now_ns) {
  const v1::EventBatch& batch = pending.batch;
  Decision d;
  d.key = InstanceKey{batch.node(), batch.instance().boot_id(), batch.instance().start_unix_ns()};
  auto refuse = [&d](std::string reason, std::string message) {
    d.reason = std::move(reason);
    d.message = std::move(message);
    return std::move(d);
  };
  if (batch.node().empty()) {
    return refuse("missing_node", "batch without a node");
  }
  if (pending.peer.authenticated &&
      std::find(pending.peer.names.begin(), pending.peer.names.end(), batch.node()) == pending.peer.names.end()) {
    return refuse("identity_mismatch",
                  fmt::format("node \"{}\" is not the client certificate's identity ({})", batch.node(),
                              fmt::join(pending.peer.names, ", ")));
  }
  if (!batch.has_instance() || batch.instance().boot_id().empty() || batch.instance().start_unix_ns() == 0) {
    return refuse("missing_instance", "batch without an agent instance (boot_id and start_unix_ns)");
  }
  if (batch.records_size() > 0 && batch.first_seq() == 0) {
    return refuse("bad_seq", "first_seq 0: sequences start at 1");
  }
  // The store keeps sequences as signed 64-bit integers.
  if (batch.first_seq() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) -
                              static_cast<uint64_t>(batch.records_size())) {
    return refuse("bad_seq", fmt::format("first_seq {} is beyond the sequences a store keeps", batch.first_seq()));
  }
  std::vector<v1::Event> events(static_cast<std::size_t>(batch.records_size()));
  for (int i = 0; i < batch.records_size(); ++i) {
    const v1::Record& rec = batch.records(i);
    uint64_t want = batch.first_seq() + static_cast<uint64_t>(i);
    if (rec.seq() != want) {
      return refuse("seq_not_consecutive", fmt::format("record {} has seq {}, expected {}", i, rec.seq(), want));
    }
    if (!events[i].ParseFromString(rec.event())) {
      return refuse("bad_event", fmt::format("record seq {}: event bytes are not a vigil.v1.Event", rec.seq()));
    }
    if (events[i].seq() != rec.seq()) {
      return refuse("seq_mismatch",
                    fmt::format("record seq {} holds an event with seq {}", rec.seq(), events[i].seq()));
    }
    if (!events[i].node().empty() && events[i].node() != batch.node()) {
      return refuse("node_mismatch", fmt::format("record seq {} holds an event of node \"{}\"", rec.seq(),
                                                 events[i].node()));
    }
  }
  auto state_or = doState(d.key);
  if (!state_or) {
    d.reason = "store_error";
    d.message = state_or.error().message();
    return d;
  }
  InstanceState& state = **state_or;
  d.ack_seq = state.committed_seq;
  if (batch.records_size() == 0) {
    return d;
  }
  uint64_t last = batch.first_seq() + static_cast<uint64_t>(batch.records_size()) - 1;
  if (last <= state.committed_seq) {
    d.duplicates = static_cast<uint64_t>(batch.records_size());
    return d;
  }
  BatchWrite write;
  write.instance = d.key;
  int start = 0;
  std::optional<std::string> prev;
  if (batch.first_seq() <= state.committed_seq) {
    start = static_cast<int>(state.committed_seq + 1 - batch.first_seq());
    d.duplicates = static_cast<uint64_t>(start);
    prev = state.committed_seq == 0 ? zeroChainHash() : state.last_chain_hash;
  } else if (batch.first_seq() == state.committed_seq + 1) {
    prev = state.committed_seq == 0 ? zeroChainHash() : state.last_chain_hash;
  } else {
    uint64_t missing = batch.first_seq() - state.committed_seq - 1;
    d.gap_records = missing;
    // Across a gap the link to the last stored record is unknown: the batch's
    // own prev_chain_hash, when the agent still has it, verifies its first
    // record; else the chain resumes unverified.
    std::string detail = fmt::format("seq {}..{} missing ({} records)", state.committed_seq + 1,
                                     batch.first_seq() - 1, missing);
    if (batch.prev_chain_hash().size() == kChainHashSize) {
      prev = batch.prev_chain_hash();
    } else {
      detail += "; the chain resumes unverified at seq " + std::to_string(batch.first_seq());
    }
    write.chain_events.push_back(ChainEventRow{state.committed_seq + 1, "gap", detail, now_ns});
    spdlog::warn("chain gap: {}: {}", instanceName(d.key), detail);
  }
  for (int i = start; i < batch.records_size(); ++i) {
    const v1::Record& rec = batch.records(i);
    EventRow row = eventRow(events[i], rec.event());
    if (prev) {
      std::string expected = chainHash(*prev, rec.seq(), rec.event());
      if (expected != rec.chain_hash()) {
        row.chain_break = true;
        ++d.breaks;
        std::string detail = fmt::format("chain hash {} does not follow from the previous record (expected {})",
                                         toHex(rec.chain_hash()), toHex(expected));
        write.chain_events.push_back(ChainEventRow{rec.seq(), "break", detail, now_ns});
        spdlog::warn("chain break: {} seq {}: {}", instanceName(d.key), rec.seq(), detail);
      }
    }
    // The next record follows from the hash as the agent sent it, so one
    // altered record is one break, not a break of everything after it.
    prev = rec.chain_hash();
    write.events.push_back(std::move(row));
  }
  state.committed_seq = last;
  state.last_chain_hash = batch.records(batch.records_size() - 1).chain_hash();
  state.last_seen_ns = static_cast<uint64_t>(now_ns);
  write.state = state;
  d.ack_seq = last;
  d.write = std::move(write);
  return d;
}

void Ingestor::doProcess(std::vector<Pending>& group) {
  int64_t now_ns = nowNs();
  std::vector<Decision> decisions;
  std::vector<BatchWrite> writes;
  decisions.reserve(group.size());
  for (const auto& pending : group) {
    const v1::EventBatch& batch = pending.batch;
    metrics_.batchesReceived(batch.node()).inc();
    metrics_.eventsReceived(batch.node()).inc(static_cast<uint64_t>(batch.records_size()));
    Decision d = doDecide(pending, now_ns);
    if (d.write) {
      writes.push_back(std::move(*d.write));
      d.write.reset();
    }
    decisions.push_back(std::move(d));
  }
  std::string store_error;
  if (!writes.empty()) {
    auto t0 = std::chrono::steady_clock::now();
    auto written = store_.write(writes);
    metrics_.commit_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (written) {
      metrics_.events_stored.inc(written->inserted);
      metrics_.events_duplicate.inc(written->duplicates);
      metrics_.stored_rows.add(static_cast<int64_t>(written->inserted));
    } else {
      store_error = written.error().message();
      metrics_.store_errors.inc();
      spdlog::error("{}", store_error);
      // What the group decided is not stored: read the states again.
      for (const auto& w : writes) {
        states_.erase(w.instance);
      }
    }
  }
  for (std::size_t i = 0; i < group.size(); ++i) {
    Decision& d = decisions[i];
    const v1::EventBatch& batch = group[i].batch;
    v1::Ack ack;
    ack.set_node(batch.node());
    *ack.mutable_instance() = batch.instance();
    ack.set_committed_seq(d.ack_seq);
    if (!d.reason.empty()) {
      metrics_.refused(d.reason).inc();
      ack.set_error(fmt::format("{}: {}", d.reason, d.message));
      spdlog::warn("batch refused: {}: {}", instanceName(d.key), ack.error());
    } else if (!store_error.empty()) {
      metrics_.refused("store_error").inc();
      ack.set_error("store_error: " + store_error);
      ack.clear_committed_seq();
    } else {
      metrics_.events_duplicate.inc(d.duplicates);
      metrics_.chain_breaks.inc(d.breaks);
      if (d.gap_records > 0) {
        metrics_.chain_gaps.inc();
        metrics_.chain_gap_records.inc(d.gap_records);
      }
    }
    group[i].done(std::move(ack));
  }
}

void Ingestor::doRetention() {
  if (options_.retention_max_age_ns == 0 && options_.retention_max_bytes == 0) {
    return;
  }
  auto result = store_.enforceRetention(nowNs(), options_.retention_max_age_ns, options_.retention_max_bytes);
  if (!result) {
    metrics_.store_errors.inc();
    spdlog::error("retention: {}", result.error().message());
    return;
  }
  metrics_.retention_deleted_age.inc(result->deleted_by_age);
  metrics_.retention_deleted_size.inc(result->deleted_by_size);
  uint64_t deleted = result->deleted_by_age + result->deleted_by_size;
  if (deleted > 0) {
    metrics_.stored_rows.sub(static_cast<int64_t>(deleted));
    spdlog::info("retention: deleted {} events by age, {} by size", result->deleted_by_age,
                 result->deleted_by_size);
  }
}

} // namespace vigil::central
