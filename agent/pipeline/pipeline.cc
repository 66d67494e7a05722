#include "agent/pipeline/pipeline.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace vigil::pipeline {
namespace {

// The stage thread's longest sleep: bounds how late its periodic work runs.
constexpr int kStageWaitMs = 100;
// Events the stage thread takes from its queue at once.
constexpr size_t kBatch = 256;

std::string policyName(FullPolicy p) { return std::string(fullPolicyName(p)); }

} // namespace

Pipeline::Pipeline(PipelineOptions options, std::vector<StagePtr> stages, std::unique_ptr<SinkSet> sinks,
                   metrics::Registry& registry)
    : options_(std::move(options)), pool_(options_.pooled_events, options_.event_block_bytes),
      stages_(std::move(stages)), sinks_(std::move(sinks)), queue_(options_.queue_capacity, options_.when_full),
      captured_(registry.counter("events_captured_total", "Events decoded and given a sequence number")),
      delivered_(registry.counter("events_delivered_total", "Events that left the last stage for the sinks")),
      abandoned_(registry.counter("shutdown_drains_abandoned_total",
                                  "Shutdowns whose drain a second signal cut short")) {
  for (size_t i = 0; i < stages_.size(); ++i) {
    links_.emplace_back(*this, i + 1);
  }
  callbacks_.push_back(registry.addCallback(
      "drops_total", "Events lost, by the stage that lost them and why", metrics::Type::kCounter, [this] {
        std::vector<metrics::Sample> out;
        const auto q = queue_.stats();
        out.push_back({{{"stage", "stage_queue"}, {"reason", "queue_full"}, {"cpu", ""}, {"sink", ""}},
                       double(q.dropped_full)});
        for (const auto& d : sinks_->drops()) {
          out.push_back({{{"stage", "sink"}, {"reason", d.reason}, {"cpu", ""}, {"sink", d.sink}}, double(d.count)});
        }
        return out;
      }));
  callbacks_.push_back(registry.addCallback(
      "queue_depth_events", "Events waiting in a pipeline queue now", metrics::Type::kGauge, [this] {
        std::vector<metrics::Sample> out;
        out.push_back({{{"queue", "stage"}}, double(queue_.stats().depth)});
        for (const auto& s : sinks_->stats()) {
          out.push_back({{{"queue", "sink:" + s.name}}, double(s.queue_depth)});
        }
        return out;
      }));
  callbacks_.push_back(registry.addCallback(
      "queue_capacity_events", "Capacity of a pipeline queue", metrics::Type::kGauge, [this] {
        std::vector<metrics::Sample> out;
        out.push_back({{{"queue", "stage"}, {"when_full", policyName(options_.when_full)}},
                       double(queue_.stats().capacity)});
        for (const auto& s : sinks_->stats()) {
          out.push_back({{{"queue", "sink:" + s.name}, {"when_full", policyName(s.when_full)}},
                         double(s.queue_capacity)});
        }
        return out;
      }));
  callbacks_.push_back(registry.addCallback(
      "sink_events_written_total", "Events a sink wrote", metrics::Type::kCounter, [this] {
        std::vector<metrics::Sample> out;
        for (const auto& s : sinks_->stats()) {
          out.push_back({{{"sink", s.name}, {"type", s.type}}, double(s.written)});
        }
        return out;
      }));
  callbacks_.push_back(registry.addCallback(
      "sink_errors_total", "Failed writes, flushes and closes of a sink", metrics::Type::kCounter, [this] {
        std::vector<metrics::Sample> out;
        for (const auto& s : sinks_->stats()) {
          out.push_back({{{"sink", s.name}, {"type", s.type}}, double(s.write_errors)});
        }
        return out;
      }));
  callbacks_.push_back(registry.addCallback(
      "event_pool_events_total", "Events built in pooled memory (slots, reused) or on the heap", metrics::Type::kCounter,
      [this] {
        const auto p = pool_.stats();
        return std::vector<metrics::Sample>{{{{"where", "pool_reused"}}, double(p.reused)},
                                            {{{"where", "heap"}}, double(p.heap_events)}};
      }));
}

Pipeline::~Pipeline() { shutdown(); }

Status Pipeline::start() {
  if (started_) {
    return okStatus();
  }
  if (auto st = sinks_->start(); !st) {
    return st;
  }
  started_ = true;
  if (options_.stage_thread) {
    stage_thread_ = std::thread([this] { stageLoop(); });
  }
  return okStatus();
}

void Pipeline::accept(EventPtr event) {
  event->set_node(options_.node);
  event->set_seq(++seq_);
  captured_.inc();
  if (options_.stage_thread) {
    QueuedEvent q{event.get(), event.get_deleter().owner};
    if (queue_.push(q)) {
      (void)event.release(); // the queue's now
    }
    return; // refused: freed here, counted by the queue
  }
  runStages(&event, 1);
}

void Pipeline::Link::emit(EventPtr event) {
  if (next_ < pipeline_.stages_.size()) {
    pipeline_.stages_[next_]->process(&event, 1, pipeline_.links_[next_]);
  } else {
    pipeline_.toSinks(std::move(event));
  }
}

void Pipeline::toSinks(EventPtr event) {
  delivered_.inc();
  sinks_->deliver(std::move(event));
}

void Pipeline::runStages(EventPtr* events, size_t n) {
  if (stages_.empty()) {
    for (size_t i = 0; i < n; ++i) {
      toSinks(std::move(events[i]));
    }
    return;
  }
  stages_[0]->process(events, n, links_[0]);
}

void Pipeline::stagesPeriodic() {
  for (size_t i = 0; i < stages_.size(); ++i) {
    stages_[i]->periodic(links_[i]);
  }
}

void Pipeline::stagesFlush() {
  for (size_t i = 0; i < stages_.size(); ++i) {
    stages_[i]->flush(links_[i]);
  }
}

bool Pipeline::stagesHolding() const {
  return std::any_of(stages_.begin(), stages_.end(), [](const StagePtr& s) { return s->holding(); });
}

void Pipeline::tick(int got) {
  // The pool's idle arenas are reset here, on the thread that builds events,
  // once the stream pauses after a burst.
  if (got > 0) {
    pool_trim_due_ = true;
  } else if (pool_trim_due_) {
    pool_.trim();
    pool_trim_due_ = false;
  }
  if (options_.stage_thread) {
    queue_.publish(); // one wakeup of the stage thread per poll round
    return;
  }
  stagesPeriodic();
  sinks_->publish(); // one wakeup of each sink thread per poll round
}

void Pipeline::stageLoop() {
  QueuedEvent batch[kBatch];
  EventPtr events[kBatch];
  for (;;) {
    size_t n = queue_.popBatch(batch, kBatch);
    for (size_t i = 0; i < n; ++i) {
      events[i] = EventPtr(batch[i].event, EventDeleter(batch[i].owner));
    }
    runStages(events, n);
    stagesPeriodic();
    sinks_->publish();
    if (n == 0) {
      if (queue_.drained()) {
        break;
      }
      // Holding events: look again soon (metadata arrival also wakes us).
      queue_.waitForData(stagesHolding() ? 5 : kStageWaitMs);
    }
  }
  stagesFlush();
  sinks_->publish();
}

void Pipeline::shutdown(const std::function<bool()>& abandon) {
  if (shut_down_) {
    return;
  }
  shut_down_ = true;
  if (!options_.stage_thread) {
    stagesFlush();
  }
  queue_.close(); // the stage thread drains it, flushes the stages, and ends
  if (stage_thread_.joinable()) {
    stage_thread_.join();
  }
  const bool cut = abandon && abandon();
  if (cut) {
    abandoned_.inc();
  }
  if (auto st = sinks_->close(cut ? std::chrono::milliseconds(0) : options_.close_deadline); !st) {
    spdlog::warn("sinks at shutdown: {}", st.error().message());
  }
}

std::string Pipeline::statsLine() const {
  const auto q = queue_.stats();
  const auto pool = pool_.stats();
  std::string line = fmt::format("captured={} delivered={} stage_queue depth={}/{} max={} waits={} pool_slots={} "
                                 "pool_reused={} heap_events={}",
                                 captured(), delivered(), q.depth, q.capacity, q.max_depth, q.producer_waits,
                                 pool.slots, pool.reused, pool.heap_events);
  for (const auto& s : sinks_->stats()) {
    line += fmt::format(" sink:{} written={} errors={} depth={}/{} max={}", s.name, s.written, s.write_errors,
                        s.queue_depth, s.queue_capacity, s.queue_max_depth);
  }
  return line;
}

} // namespace vigil::pipeline
