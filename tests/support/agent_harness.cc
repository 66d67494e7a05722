#include "support/agent_harness.h"

#include <stdexcept>
#include <unistd.h>

namespace vigil::test {

Status CaptureSink::write(const Event& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(event);
  }
  cv_.notify_all();
  return okStatus();
}

std::optional<Event> CaptureSink::waitFor(const std::function<bool(const Event&)>& pred,
                                          std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  size_t checked = 0;
  std::optional<Event> found;
  // Scans only what arrived since the last look, on every wakeup and once
  // more at the deadline.
  auto scan = [&] {
    for (; checked < events_.size(); ++checked) {
      if (pred(events_[checked])) {
        found = events_[checked];
        return true;
      }
    }
    return false;
  };
  cv_.wait_until(lock, std::chrono::steady_clock::now() + timeout, scan);
  return found;
}

std::vector<Event> CaptureSink::snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

AgentHarness::AgentHarness(AgentConfig config) {
  auto sink = std::make_unique<CaptureSink>();
  sink_ = sink.get();
  std::vector<EventSinkPtr> sinks;
  sinks.push_back(std::move(sink));
  auto agent = Agent::create(config, std::move(sinks));
  if (!agent) {
    throw std::runtime_error("agent create: " + agent.error().message());
  }
  agent_ = std::move(*agent);
  if (auto st = agent_->start(); !st) {
    throw std::runtime_error("agent start: " + st.error().message());
  }
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      auto n = agent_->pollOnce(50);
      if (!n) {
        break;
      }
    }
  });
}

void AgentHarness::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  stop_.store(true);
  thread_.join();
  agent_->shutdown();
}

AgentHarness::~AgentHarness() { stop(); }

bool isRoot() { return geteuid() == 0; }

} // namespace vigil::test
