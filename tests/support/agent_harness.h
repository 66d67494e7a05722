#pragma once

// Runs a real in-process Agent (real BPF programs, real kernel) on its own
// thread and records every event it emits, for the privileged tests.

#include "agent/agent.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace vigil::test {

class CaptureSink : public EventSink {
public:
  std::string_view name() const override { return "capture"; }
  Status write(const Event& event) override;
  Status flush() override { return okStatus(); }

  // Waits until an event satisfies pred; returns a copy of it.
  std::optional<Event> waitFor(const std::function<bool(const Event&)>& pred,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<Event> snapshot();

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

class AgentHarness {
public:
  // Creates and starts the agent; throws (fails the test) when it cannot.
  explicit AgentHarness(AgentConfig config);
  ~AgentHarness();

  CaptureSink& sink() { return *sink_; }
  Agent& agent() { return *agent_; }
  // Stops polling, drains and flushes; events stay readable.
  void stop();

private:
  CaptureSink* sink_ = nullptr; // owned by the agent
  std::unique_ptr<Agent> agent_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  bool stopped_ = false;
};

// Root check for the privileged suites.
bool isRoot();

} // namespace vigil::test
