#include "agent/config.h"

#include "collectors/syscall/syscall_table.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace vigil {
namespace {

class Reader {
public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  Error error(const YAML::Node& node, std::string_view msg) const {
    auto mark = node.Mark();
    if (mark.line < 0) {
      return makeError("{}: {}", source_, msg);
    }
    return makeError("{}:{}:{}: {}", source_, mark.line + 1, mark.column + 1, msg);
  }

  // Checks node is a map whose keys are all in allowed.
  Status checkMap(const YAML::Node& node, std::string_view where, const std::set<std::string>& allowed) const {
    if (!node.IsMap()) {
      return error(node, fmt::format("{} must be a mapping", where));
    }
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        return error(kv.first, fmt::format("keys in {} must be plain names", where));
      }
      auto key = kv.first.Scalar();
      if (!allowed.count(key)) {
        std::string names;
        for (const auto& a : allowed) {
          names += names.empty() ? a : ", " + a;
        }
        return error(kv.first, fmt::format("unknown key '{}' in {} (known: {})", key, where, names));
      }
    }
    return okStatus();
  }

  // A list of plain strings.
  Status getList(const YAML::Node& map, const char* key, std::vector<std::string>& out) const {
    YAML::Node n = map[key];
    if (!n) {
      return okStatus();
    }
    if (!n.IsSequence()) {
      return error(n, fmt::format("{} must be a list", key));
    }
    std::vector<std::string> values;
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        return error(item, fmt::format("each entry of {} must be a string", key));
      }
      values.push_back(item.Scalar());
    }
    out = std::move(values);
    return okStatus();
  }

  // A string turned into a value by parse (text -> Result<T>); its error is
  // reported at the value's place. An absent key leaves out unchanged.
  template <class T, class Parse>
  Status getParsed(const YAML::Node& map, const char* key, T& out, Parse parse) const {
    YAML::Node n = map[key];
    if (!n) {
      return okStatus();
    }
    std::string text;
    if (auto st = get(map, key, text, "a string"); !st) {
      return st;
    }
    auto value = parse(text);
    if (!value) {
      return error(n, value.error().message());
    }
    out = *value;
    return okStatus();
  }

  template <class T> Status get(const YAML::Node& map, const char* key, T& out, std::string_view what) const {
    YAML::Node n = map[key];
    if (!n) {
      return okStatus();
    }
    if (!n.IsScalar()) {
      return error(n, fmt::format("{} must be {}", key, what));
    }
    try {
      out = n.as<T>();
    } catch (const YAML::Exception&) {
      return error(n, fmt::format("{} must be {}, got '{}'", key, what, n.Scalar()));
    }
    return okStatus();
  }

private:
  std::string source_;
};

#define VIGIL_TRY(expr)                                                                                      \
  do {                                                                                                       \
    if (auto _st = (expr); !_st) {                                                                           \
      return _st.error();                                                                                    \
    }                                                                                                        \
  } while (0)

} // namespace

namespace {

Result<AgentConfig::Pipeline::Mode> parsePipelineMode(const std::string& text) {
  using Mode = AgentConfig::Pipeline::Mode;
  if (text == "auto") {
    return Mode::kAuto;
  }
  if (text == "threads") {
    return Mode::kThreads;
  }
  if (text == "sink_thread") {
    return Mode::kSinkThread;
  }
  if (text == "inline") {
    return Mode::kInline;
  }
  return makeError("mode '{}' is not one of auto, threads, sink_thread, inline", text);
}

// <section>.rate_limit: {per_second, burst}, the kernel's per-cgroup limit.
Status rateLimit(const Reader& r, const YAML::Node& section, const std::string& name, uint32_t& per_second,
                 uint32_t& burst) {
  YAML::Node rl = section["rate_limit"];
  if (!rl) {
    return okStatus();
  }
  VIGIL_TRY(r.checkMap(rl, name + ".rate_limit", {"per_second", "burst"}));
  VIGIL_TRY(r.get(rl, "per_second", per_second, "a number of records per second"));
  VIGIL_TRY(r.get(rl, "burst", burst, "a number of records"));
  if (burst == 0) {
    return r.error(rl["burst"], "burst must be at least 1");
  }
  return okStatus();
}

Result<AgentConfig> parseChecked(const std::string& yaml, const std::string& source, AgentConfig base) {
  Reader r(source);
  YAML::Node root = YAML::Load(yaml); // syntax errors: parseAgentConfig reports them
  if (root.IsNull()) {
    return base; // empty file: defaults
  }
  AgentConfig c = std::move(base);
  VIGIL_TRY(r.checkMap(root, "the top level",
                       {"node_name", "log_level", "libbpf_debug", "report_self", "stats_interval_seconds",
                        "output", "process", "syscalls", "files", "network", "enrich", "pipeline", "cache"}));
  VIGIL_TRY(r.get(root, "node_name", c.node_name, "a string"));
  VIGIL_TRY(r.get(root, "log_level", c.log_level, "a string"));
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error"};
  if (!levels.count(c.log_level)) {
    return r.error(root["log_level"], fmt::format("log_level '{}' is not one of trace, debug, info, warn, error",
                                                  c.log_level));
  }
  VIGIL_TRY(r.get(root, "libbpf_debug", c.libbpf_debug, "true or false"));
  VIGIL_TRY(r.get(root, "report_self", c.report_self, "true or false"));
  VIGIL_TRY(r.get(root, "stats_interval_seconds", c.stats_interval_seconds, "a number of seconds"));

  if (YAML::Node out = root["output"]) {
    VIGIL_TRY(r.checkMap(out, "output", {"stdout"}));
    VIGIL_TRY(r.get(out, "stdout", c.output.stdout_json, "true or false"));
  }
  if (YAML::Node p = root["process"]) {
    VIGIL_TRY(r.checkMap(p, "process",
                         {"hooks", "snapshot", "argv_max_bytes", "ring_buffer_bytes", "wakeup_bytes",
                          "pid_map_entries"}));
    VIGIL_TRY(r.getParsed(p, "hooks", c.process.hooks, process::parseHookMode));
    VIGIL_TRY(r.getParsed(p, "snapshot", c.process.snapshot, process::parseSnapshotMode));
    VIGIL_TRY(r.get(p, "argv_max_bytes", c.process.argv_max, "a number of bytes"));
    if (c.process.argv_max == 0 || c.process.argv_max > 32768) {
      return r.error(p["argv_max_bytes"],
                     fmt::format("argv_max_bytes {} must be between 1 and 32768", c.process.argv_max));
    }
    VIGIL_TRY(r.get(p, "ring_buffer_bytes", c.process.ring_bytes, "a number of bytes"));
    uint32_t rb = c.process.ring_bytes;
    if (rb < 4096 || (rb & (rb - 1)) != 0) {
      return r.error(p["ring_buffer_bytes"],
                     fmt::format("ring_buffer_bytes {} must be a power of two, at least 4096", rb));
    }
    VIGIL_TRY(r.get(p, "wakeup_bytes", c.process.wakeup_bytes, "a number of bytes"));
    if (c.process.wakeup_bytes >= c.process.ring_bytes) {
      if (p["wakeup_bytes"]) {
        return r.error(p["wakeup_bytes"], fmt::format("wakeup_bytes {} must be below ring_buffer_bytes {}",
                                                      c.process.wakeup_bytes, c.process.ring_bytes));
      }
      c.process.wakeup_bytes = c.process.ring_bytes / 4; // a small ring with the default threshold
    }
    VIGIL_TRY(r.get(p, "pid_map_entries", c.process.proc_map_entries, "a number"));
    if (c.process.proc_map_entries < 1024) {
      return r.error(p["pid_map_entries"], "pid_map_entries must be at least 1024");
    }
  }
  if (YAML::Node sys = root["syscalls"]) {
    VIGIL_TRY(r.checkMap(sys, "syscalls",
                         {"enabled", "hooks", "trace", "count", "pending_entries", "count_entries", "cgroups",
                          "rate_limit"}));
    VIGIL_TRY(r.get(sys, "enabled", c.syscalls.enabled, "true or false"));
    VIGIL_TRY(r.getParsed(sys, "hooks", c.syscalls.hooks, syscall::parseHookMode));
    for (const char* key : {"trace", "count"}) {
      auto& list = std::string_view(key) == "trace" ? c.syscalls.trace : c.syscalls.count;
      VIGIL_TRY(r.getList(sys, key, list));
      for (size_t i = 0; i < list.size(); ++i) {
        if (!syscall::syscallNumber(list[i])) {
          return r.error(sys[key][i], fmt::format("unknown syscall '{}' in syscalls.{}", list[i], key));
        }
      }
    }
    VIGIL_TRY(r.get(sys, "pending_entries", c.syscalls.pending_entries, "a number"));
    if (c.syscalls.pending_entries < 64) {
      return r.error(sys["pending_entries"], "pending_entries must be at least 64");
    }
    VIGIL_TRY(r.get(sys, "count_entries", c.syscalls.count_entries, "a number"));
    if (c.syscalls.count_entries < 64) {
      return r.error(sys["count_entries"], "count_entries must be at least 64");
    }
    VIGIL_TRY(rateLimit(r, sys, "syscalls", c.syscalls.rate_limit_per_second, c.syscalls.rate_limit_burst));
    if (YAML::Node cg = sys["cgroups"]) {
      VIGIL_TRY(r.checkMap(cg, "syscalls.cgroups", {"include", "exclude"}));
      VIGIL_TRY(r.getList(cg, "include", c.syscalls.include_cgroups));
      VIGIL_TRY(r.getList(cg, "exclude", c.syscalls.exclude_cgroups));
      for (const char* key : {"include", "exclude"}) {
        if (cg[key] && cg[key].size() > VIGIL_SYS_CGROUPS) {
          return r.error(cg[key], fmt::format("at most {} cgroups in syscalls.cgroups.{}", VIGIL_SYS_CGROUPS, key));
        }
      }
    }
  }
  if (YAML::Node files = root["files"]) {
    VIGIL_TRY(r.checkMap(files, "files", {"watch"}));
    if (YAML::Node watch = files["watch"]) {
      if (!watch.IsSequence()) {
        return r.error(watch, "watch must be a list of paths, or of {path, access} mappings");
      }
      if (watch.size() > VIGIL_SYS_PREFIXES) {
        return r.error(watch, fmt::format("at most {} watched paths", VIGIL_SYS_PREFIXES));
      }
      std::vector<syscall::WatchPrefix> prefixes;
      for (const auto& item : watch) {
        syscall::WatchPrefix w;
        if (item.IsScalar()) {
          w.path = item.Scalar();
        } else {
          VIGIL_TRY(r.checkMap(item, "a files.watch entry", {"path", "access"}));
          VIGIL_TRY(r.get(item, "path", w.path, "a string"));
          VIGIL_TRY(r.getParsed(item, "access", w.access, syscall::parseAccess));
        }
        if (w.path.empty() || w.path[0] != '/' || w.path.size() >= VIGIL_SYS_PREFIX_CAP) {
          return r.error(item, fmt::format("watched path '{}' must be absolute and shorter than {} bytes", w.path,
                                           VIGIL_SYS_PREFIX_CAP));
        }
        prefixes.push_back(std::move(w));
      }
      c.syscalls.watch = std::move(prefixes);
    }
  }
  if (YAML::Node net = root["network"]) {
    VIGIL_TRY(r.checkMap(net, "network", {"enabled", "dns", "flow_update_seconds", "rate_limit"}));
    VIGIL_TRY(rateLimit(r, net, "network", c.network.rate_limit_per_second, c.network.rate_limit_burst));
    VIGIL_TRY(r.get(net, "enabled", c.network.enabled, "true or false"));
    VIGIL_TRY(r.get(net, "dns", c.network.dns, "true or false"));
    VIGIL_TRY(r.get(net, "flow_update_seconds", c.network.flow_update_seconds, "a number of seconds"));
  }
  if (YAML::Node en = root["enrich"]) {
    VIGIL_TRY(r.checkMap(en, "enrich", {"ancestors", "containers", "cri_endpoint", "pod_wait_ms"}));
    VIGIL_TRY(r.get(en, "ancestors", c.enrich.ancestors, "a number"));
    if (c.enrich.ancestors > 64) {
      return r.error(en["ancestors"], fmt::format("ancestors {} must be at most 64", c.enrich.ancestors));
    }
    VIGIL_TRY(r.get(en, "containers", c.enrich.pods.containers, "true or false"));
    VIGIL_TRY(r.get(en, "cri_endpoint", c.enrich.pods.cri_endpoint, "a string"));
    VIGIL_TRY(r.get(en, "pod_wait_ms", c.enrich.pods.pod_wait_ms, "a number of milliseconds"));
    if (c.enrich.pods.pod_wait_ms > 10000) {
      return r.error(en["pod_wait_ms"], fmt::format("pod_wait_ms {} must be at most 10000", c.enrich.pods.pod_wait_ms));
    }
  }
  if (YAML::Node pl = root["pipeline"]) {
    VIGIL_TRY(r.checkMap(pl, "pipeline", {"mode", "enrich_queue", "sink_queue", "pooled_events", "event_block_bytes"}));
    VIGIL_TRY(r.getParsed(pl, "mode", c.pipeline.mode, parsePipelineMode));
    auto parsePolicy = [](const std::string& text) -> Result<pipeline::FullPolicy> {
      if (text == "block") {
        return pipeline::FullPolicy::kBlock;
      }
      if (text == "drop") {
        return pipeline::FullPolicy::kDrop;
      }
      return makeError("when_full '{}' is not one of block, drop", text);
    };
    for (auto [key, q] : {std::pair{"enrich_queue", &c.pipeline.enrich_queue}, std::pair{"sink_queue", &c.pipeline.sink_queue}}) {
      if (YAML::Node qn = pl[key]) {
        VIGIL_TRY(r.checkMap(qn, fmt::format("pipeline.{}", key), {"capacity", "when_full"}));
        VIGIL_TRY(r.get(qn, "capacity", q->capacity, "a number of events"));
        if (q->capacity < 16 || q->capacity > (1u << 20)) {
          return r.error(qn["capacity"], fmt::format("capacity {} must be between 16 and 1048576", q->capacity));
        }
        VIGIL_TRY(r.getParsed(qn, "when_full", q->when_full, parsePolicy));
      }
    }
    VIGIL_TRY(r.get(pl, "pooled_events", c.pipeline.pooled_events, "a number of events"));
    VIGIL_TRY(r.get(pl, "event_block_bytes", c.pipeline.event_block_bytes, "a number of bytes"));
    if (c.pipeline.event_block_bytes < 256 || c.pipeline.event_block_bytes > (1u << 20)) {
      return r.error(pl["event_block_bytes"],
                     fmt::format("event_block_bytes {} must be between 256 and 1048576", c.pipeline.event_block_bytes));
    }
  }
  if (YAML::Node cache = root["cache"]) {
    VIGIL_TRY(r.checkMap(cache, "cache", {"max_entries", "ended_ttl_seconds"}));
    VIGIL_TRY(r.get(cache, "max_entries", c.cache.max_entries, "a number"));
    if (c.cache.max_entries < 1024) {
      return r.error(cache["max_entries"], "max_entries must be at least 1024");
    }
    VIGIL_TRY(r.get(cache, "ended_ttl_seconds", c.cache.ended_ttl_seconds, "a number of seconds"));
  }
  return c;
}

} // namespace

Result<AgentConfig> parseAgentConfig(const std::string& yaml, const std::string& source, AgentConfig base) {
  try {
    return parseChecked(yaml, source, std::move(base));
  } catch (const YAML::Exception& e) {
    // YAML syntax errors, and anything the checks did not anticipate, name their place.
    return makeError("{}:{}:{}: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
}

Result<AgentConfig> loadAgentConfig(const std::string& path, AgentConfig base) {
  std::ifstream in(path);
  if (!in) {
    return makeError("cannot read config file {}", path);
  }
  std::stringstream text;
  text << in.rdbuf();
  return parseAgentConfig(text.str(), path, std::move(base));
}

std::string yamlQuote(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

namespace {

std::string flowList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items) {
    out += (out.size() > 1 ? ", " : "") + item;
  }
  return out + "]";
}

std::string quotedFlowList(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const auto& item : items) {
    quoted.push_back(yamlQuote(item));
  }
  return flowList(quoted);
}

} // namespace

std::string_view pipelineModeName(AgentConfig::Pipeline::Mode mode) {
  switch (mode) {
  case AgentConfig::Pipeline::Mode::kThreads:
    return "threads";
  case AgentConfig::Pipeline::Mode::kSinkThread:
    return "sink_thread";
  case AgentConfig::Pipeline::Mode::kInline:
    return "inline";
  default:
    return "auto";
  }
}

std::string renderAgentConfig(const AgentConfig& c) {
  std::string watch;
  for (const auto& w : c.syscalls.watch) {
    watch += fmt::format("    - {{path: {}, access: {}}}\n", yamlQuote(w.path), syscall::accessName(w.access));
  }
  return fmt::format(R"(node_name: {}
log_level: {}
libbpf_debug: {}
report_self: {}
stats_interval_seconds: {}
output:
  stdout: {}
process:
  hooks: {}
  snapshot: {}
  argv_max_bytes: {}
  ring_buffer_bytes: {}
  wakeup_bytes: {}
  pid_map_entries: {}
syscalls:
  enabled: {}
  hooks: {}
  trace: {}
  count: {}
  pending_entries: {}
  count_entries: {}
  rate_limit:
    per_second: {}
    burst: {}
  cgroups:
    include: {}
    exclude: {}
files:
  watch:{}
{}network:
  enabled: {}
  dns: {}
  flow_update_seconds: {}
  rate_limit:
    per_second: {}
    burst: {}
enrich:
  ancestors: {}
  containers: {}
  cri_endpoint: {}
  pod_wait_ms: {}
pipeline:
  mode: {}
  enrich_queue: {{capacity: {}, when_full: {}}}
  sink_queue: {{capacity: {}, when_full: {}}}
  pooled_events: {}
  event_block_bytes: {}
cache:
  max_entries: {}
  ended_ttl_seconds: {}
)",
                     yamlQuote(c.node_name), c.log_level, c.libbpf_debug, c.report_self, c.stats_interval_seconds,
                     c.output.stdout_json, process::hookModeName(c.process.hooks), process::snapshotModeName(c.process.snapshot),
                     c.process.argv_max, c.process.ring_bytes, c.process.wakeup_bytes, c.process.proc_map_entries,
                     c.syscalls.enabled, syscall::hookModeName(c.syscalls.hooks), flowList(c.syscalls.trace),
                     flowList(c.syscalls.count), c.syscalls.pending_entries, c.syscalls.count_entries,
                     c.syscalls.rate_limit_per_second, c.syscalls.rate_limit_burst,
                     quotedFlowList(c.syscalls.include_cgroups), quotedFlowList(c.syscalls.exclude_cgroups),
                     watch.empty() ? " []" : "", watch, c.network.enabled, c.network.dns, c.network.flow_update_seconds,
                     c.network.rate_limit_per_second, c.network.rate_limit_burst, c.enrich.ancestors, c.enrich.pods.containers, yamlQuote(c.enrich.pods.cri_endpoint),
                     c.enrich.pods.pod_wait_ms, pipelineModeName(c.pipeline.mode), c.pipeline.enrich_queue.capacity, pipeline::fullPolicyName(c.pipeline.enrich_queue.when_full),
                     c.pipeline.sink_queue.capacity, pipeline::fullPolicyName(c.pipeline.sink_queue.when_full),
                     c.pipeline.pooled_events, c.pipeline.event_block_bytes, c.cache.max_entries, c.cache.ended_ttl_seconds);
}

} // namespace vigil
