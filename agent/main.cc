// vigil-agent: the node daemon. Everything but argument parsing, logging
// setup and signal handling lives in agent/.

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/sinks/stdout_sink.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <iostream>

namespace {

std::atomic<bool> g_stop{false};

void onSignal(int) { g_stop.store(true); }

void installSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; // no SA_RESTART: interrupt the ring buffer wait
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigil-agent: the Vigil eBPF agent for this node (process lifecycle capture)"};
  std::string config_path;
  bool print_config = false;
  std::optional<bool> stdout_json, report_self, libbpf_debug;
  std::optional<std::string> node_name, log_level, hooks, snapshot;
  std::optional<uint32_t> argv_max, ring_bytes, stats_interval;

  app.add_option("-c,--config", config_path, "YAML configuration file (defaults are built in)");
  app.add_flag("--stdout,!--no-stdout", stdout_json, "write one JSON object per event per line to stdout");
  app.add_option("--node-name", node_name, "node name stamped on every event (default: host name)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");
  app.add_flag("--libbpf-debug", libbpf_debug, "include libbpf's debug log (verifier output)");
  app.add_flag("--report-self", report_self, "also report the agent's own process");
  app.add_option("--hooks", hooks, "process hooks: auto, tp_btf or tracepoint");
  app.add_option("--snapshot", snapshot, "processes at start from: auto, iterator or proc");
  app.add_option("--argv-max", argv_max, "bytes of argv captured per exec (1..32768)");
  app.add_option("--ring-buffer-bytes", ring_bytes, "kernel ring buffer size (power of two)");
  app.add_option("--stats-interval", stats_interval, "seconds between stats log lines (0: only at exit)");
  app.set_version_flag("--version", "vigil-agent " VIGIL_VERSION);
  app.add_flag("--print-config", print_config, "print the effective configuration as YAML and exit");
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("vigil");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  vigil::AgentConfig config;
  if (!config_path.empty()) {
    auto loaded = vigil::loadAgentConfig(config_path);
    if (!loaded) {
      std::cerr << "vigil-agent: " << loaded.error().message() << "\n";
      return 2;
    }
    config = std::move(*loaded);
  }
  // Flags override the file.
  std::string overrides;
  if (stdout_json) overrides += fmt::format("output: {{stdout: {}}}\n", *stdout_json);
  if (report_self) overrides += fmt::format("report_self: {}\n", *report_self);
  if (libbpf_debug) overrides += fmt::format("libbpf_debug: {}\n", *libbpf_debug);
  if (node_name) overrides += fmt::format("node_name: {}\n", vigil::yamlQuote(*node_name));
  if (log_level) overrides += fmt::format("log_level: {}\n", vigil::yamlQuote(*log_level));
  if (stats_interval) overrides += fmt::format("stats_interval_seconds: {}\n", *stats_interval);
  std::string process_overrides;
  if (hooks) process_overrides += fmt::format("hooks: {}, ", vigil::yamlQuote(*hooks));
  if (snapshot) process_overrides += fmt::format("snapshot: {}, ", vigil::yamlQuote(*snapshot));
  if (argv_max) process_overrides += fmt::format("argv_max_bytes: {}, ", *argv_max);
  if (ring_bytes) process_overrides += fmt::format("ring_buffer_bytes: {}, ", *ring_bytes);
  if (!process_overrides.empty()) {
    // Keep the file's other process settings: re-render them under the overrides.
    overrides += "process: {" + process_overrides + "}\n";
  }
  if (!overrides.empty()) {
    auto merged = vigil::parseAgentConfig(overrides, "command line", config);
    if (!merged) {
      std::cerr << "vigil-agent: " << merged.error().message() << "\n";
      return 2;
    }
    config = std::move(*merged);
  }
  if (print_config) {
    std::cout << vigil::renderAgentConfig(config);
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  std::vector<vigil::EventSinkPtr> sinks;
  if (config.output.stdout_json) {
    sinks.push_back(std::make_unique<vigil::StdoutSink>());
  } else {
    spdlog::warn("no output enabled (use --stdout): events are counted, not shown");
  }

  installSignalHandlers();
  auto agent = vigil::Agent::create(config, std::move(sinks));
  if (!agent) {
    spdlog::error("{}", agent.error().message());
    return 1;
  }
  if (auto st = (*agent)->start(); !st) {
    spdlog::error("{}", st.error().message());
    return 1;
  }
  auto st = (*agent)->run(g_stop);
  if (!st) {
    spdlog::error("{}", st.error().message());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}
