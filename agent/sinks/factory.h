#pragma once

// Builds sinks from their `outputs:` entries (agent/sinks/output_config.h).
// Each sink type registers a builder under its type name; the factory looks
// the name up, so adding a type (grpc, syslog) adds a registration and
// never a branch here (docs/sinks.md, "Adding a sink type").

#include "agent/sinks/output_config.h"
#include "vigil/sink.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vigil {

class SinkSet;

// Builds one sink from its entry. Errors need not name the entry: the
// registry prefixes OutputConfig::source and the output's name.
using SinkBuilder = std::function<Result<EventSinkPtr>(const OutputConfig&)>;

class SinkRegistry {
public:
  // The agent's registry, with every built-in type (builtinSinkTypes in
  // factory.cc) registered.
  static SinkRegistry& global();

  // Fails when the type is taken.
  Status add(std::string type, SinkBuilder builder);
  bool has(const std::string& type) const;
  // The registered type names, sorted.
  std::vector<std::string> types() const;
  // "agent.yaml:12:5: output file: ..." on any error.
  Result<EventSinkPtr> make(const OutputConfig& config) const;

private:
  mutable std::mutex mu_; // registrations happen at start; lookups are rare
  std::map<std::string, SinkBuilder, std::less<>> builders_;
};

// SinkRegistry::global().make(config).
Result<EventSinkPtr> makeSink(const OutputConfig& config);

// Builds every output and the sink stage that runs them (not yet started).
Result<std::unique_ptr<SinkSet>> makeSinkSet(const std::vector<OutputConfig>& outputs);

} // namespace vigil
