#include "agent/sinks/factory.h"

#include "agent/sinks/file_sink.h"
#include "agent/sinks/grpc_sink.h"
#include "agent/sinks/sink_set.h"
#include "agent/sinks/stdout_sink.h"

#include <fmt/ranges.h>

#include <unistd.h>

namespace vigil {
namespace {

Result<EventSinkPtr> buildStdout(const OutputConfig& config) {
  (void)config;
  return EventSinkPtr(std::make_unique<StdoutSink>(STDOUT_FILENO));
}

Result<EventSinkPtr> buildFile(const OutputConfig& config) {
  if (config.path.empty()) {
    return makeError("path is required for a file output");
  }
  auto sink = FileSink::open({config.path, config.max_bytes, config.max_files});
  if (!sink) {
    return sink.error();
  }
  return EventSinkPtr(std::move(*sink));
}

Result<EventSinkPtr> buildGrpc(const OutputConfig& config) {
  auto sink = GrpcSink::open(config);
  if (!sink) {
    return sink.error();
  }
  return EventSinkPtr(std::move(*sink));
}

// The built-in types: one line per type. Registered explicitly rather than
// by static initializers in each sink's file, which a static library would
// leave out of the binary unless something else referenced that file.
struct BuiltinSink {
  const char* type;
  Result<EventSinkPtr> (*build)(const OutputConfig&);
};
constexpr BuiltinSink kBuiltinSinks[] = {
    {"stdout", buildStdout},
    {"file", buildFile},
    {"grpc", buildGrpc},
};

std::string where(const OutputConfig& config) {
  const std::string& name = config.name.empty() ? config.type : config.name;
  if (config.source.empty()) {
    return fmt::format("output {}", name);
  }
  return fmt::format("{}: output {}", config.source, name);
}

} // namespace

SinkRegistry& SinkRegistry::global() {
  static SinkRegistry* registry = [] {
    auto* r = new SinkRegistry(); // never destroyed: sinks may be built during exit
    for (const auto& b : kBuiltinSinks) {
      (void)r->add(b.type, b.build);
    }
    return r;
  }();
  return *registry;
}

Status SinkRegistry::add(std::string type, SinkBuilder builder) {
  std::lock_guard<std::mutex> lock(mu_);
  if (type.empty() || !builder) {
    return makeError("sink registry: a type needs a name and a builder");
  }
  if (builders_.contains(type)) {
    return makeError("sink registry: type {} is already registered", type);
  }
  builders_.emplace(std::move(type), std::move(builder));
  return okStatus();
}

bool SinkRegistry::has(const std::string& type) const {
  std::lock_guard<std::mutex> lock(mu_);
  return builders_.contains(type);
}

std::vector<std::string> SinkRegistry::types() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [type, builder] : builders_) {
    out.push_back(type);
  }
  return out;
}

Result<EventSinkPtr> SinkRegistry::make(const OutputConfig& config) const {
  SinkBuilder builder;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = builders_.find(config.type); it != builders_.end()) {
      builder = it->second;
    }
  }
  if (!builder) {
    return makeError("{}: unknown output type \"{}\" (known: {})", where(config), config.type,
                     fmt::join(types(), ", "));
  }
  auto sink = builder(config);
  if (!sink) {
    return sink.error().wrap(where(config));
  }
  if (*sink == nullptr) {
    return makeError("{}: the {} builder returned no sink", where(config), config.type);
  }
  return sink;
}

Result<EventSinkPtr> makeSink(const OutputConfig& config) { return SinkRegistry::global().make(config); }

Result<std::unique_ptr<SinkSet>> makeSinkSet(const std::vector<OutputConfig>& outputs) {
  std::vector<ConfiguredSink> sinks;
  for (const auto& config : outputs) {
    auto sink = makeSink(config);
    if (!sink) {
      return sink.error();
    }
    sinks.push_back({config, std::move(*sink)});
  }
  return SinkSet::create(std::move(sinks));
}

} // namespace vigil
