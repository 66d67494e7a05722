// vigil-agent: the node daemon. Everything but argument parsing, logging
// setup and signal handling lives in agent/.
//
// Exit status: 0 after a clean stop (and for --help, --version and
// --print-config); 2 for bad input (flags, the config file), with one line
// "vigil-agent: ..." on stderr; 1 when the agent fails at run time.

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/instance_lock.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <unistd.h>

namespace {

constexpr int kExitBadInput = 2;
constexpr int kExitFailure = 1;

constexpr const char* kDescription =
    "vigil-agent: the Vigil node agent. Captures process lifecycle (exec, fork, exit), syscalls, file activity "
    "and network flows (TCP, UDP, DNS) with eBPF, tags every event with its process ancestry and its container "
    "and pod, and writes the events to the configured outputs.";

constexpr const char* kFooter =
    "Settings: built-in defaults, then --config FILE, then flags (later flags win). --set KEY=VALUE sets any "
    "key that is not a list; every key is described in docs/configuration.md.";

// Signals received so far: the first stops capture and drains what the
// kernel already holds; the second abandons the drain.
std::atomic<int> g_signals{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free counter");

// Async-signal-safe: a counter and write(2) of fixed lines.
void onSignal(int signo) {
  static constexpr char kTermFirst[] = "vigil-agent: SIGTERM received, draining (send again to stop now)\n";
  static constexpr char kTermAgain[] = "vigil-agent: SIGTERM received again, stopping now without draining\n";
  static constexpr char kIntFirst[] = "vigil-agent: SIGINT received, draining (send again to stop now)\n";
  static constexpr char kIntAgain[] = "vigil-agent: SIGINT received again, stopping now without draining\n";
  int saved_errno = errno;
  bool first = g_signals.fetch_add(1, std::memory_order_relaxed) == 0;
  const char* line = signo == SIGINT ? (first ? kIntFirst : kIntAgain) : (first ? kTermFirst : kTermAgain);
  size_t length = signo == SIGINT ? (first ? sizeof(kIntFirst) : sizeof(kIntAgain)) - 1
                                  : (first ? sizeof(kTermFirst) : sizeof(kTermAgain)) - 1;
  [[maybe_unused]] ssize_t written = write(STDERR_FILENO, line, length);
  errno = saved_errno;
}

void installSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; // no SA_RESTART: interrupt the ring buffer wait
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int badInput(const std::string& message) {
  std::cerr << "vigil-agent: " << message << "\n";
  return kExitBadInput;
}

// Options that take a value refuse one that is itself an option, so that
// "--node-name --print-config" is a missing value, not a node name.
const CLI::Validator kNotAnOption(
    [](std::string& value) -> std::string {
      if (value.rfind("--", 0) == 0) {
        return "needs a value (got the option " + value + ")";
      }
      return {};
    },
    "", "not an option");

} // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "vigil-agent"};
  app.footer(kFooter);
  std::string config_path;
  bool print_config = false;
  bool print_config_doc = false;

  app.add_option("-c,--config", config_path, "The YAML configuration file (without one, the built-in defaults).")
      ->type_name("FILE")
      ->check(kNotAnOption);
  CLI::Option* stdout_flag = app.add_flag("--stdout")->description(
      "Add an output writing one JSON object per event per line to stdout, unless there is one.");
  CLI::Option* no_stdout_flag = app.add_flag("--no-stdout")->description("Remove the stdout outputs.");
  // One flag per key that declares one, all set through the key table.
  std::map<const CLI::Option*, const vigil::ConfigKeyInfo*> key_flags;
  for (const auto& key : vigil::configKeys()) {
    if (key.flag.empty()) {
      continue;
    }
    bool show_bounds = !key.bounds.empty() && key.type != "one of"; // choices show in the value name
    std::string help = fmt::format("{} [{}{}]", key.help, key.name, show_bounds ? ": " + key.bounds : "");
    CLI::Option* option = key.is_bool ? app.add_flag(key.flag)->description(help)
                                      : app.add_option(key.flag, CLI::callback_t{}, help)
                                            ->type_name(key.value_name)
                                            ->check(kNotAnOption);
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    key_flags.emplace(option, &key);
  }
  CLI::Option* set_option =
      app.add_option("--set", CLI::callback_t{}, "Set any key that is not a list, by its dotted name (repeatable).")
          ->type_name("KEY=VALUE")
          ->check(kNotAnOption)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.set_version_flag("--version", "vigil-agent " VIGIL_VERSION);
  app.add_flag("--print-config", print_config, "Print the effective configuration as YAML and exit.");
  app.add_flag("--print-config-doc", print_config_doc, "Print docs/configuration.md.")->group("");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e); // --help, --version
  } catch (const CLI::ParseError& e) {
    return badInput(e.what());
  }
  if (print_config_doc) {
    std::cout << vigil::renderConfigDoc();
    return 0;
  }

  vigil::AgentConfig file_config;
  if (!config_path.empty()) {
    auto loaded = vigil::loadAgentConfig(config_path);
    if (!loaded) {
      return badInput(loaded.error().message());
    }
    file_config = std::move(*loaded);
  }
  // Flags over the file, in command-line order.
  vigil::ConfigLayer flags(std::move(file_config));
  std::map<const CLI::Option*, size_t> occurrences;
  for (const CLI::Option* option : app.parse_order()) {
    size_t occurrence = occurrences[option]++;
    vigil::Status st;
    if (option == stdout_flag) {
      flags.addStdoutOutput("--stdout");
    } else if (option == no_stdout_flag) {
      flags.removeStdoutOutputs();
    } else if (option == set_option) {
      st = flags.assign(option->results().at(occurrence), "--set");
    } else if (auto it = key_flags.find(option); it != key_flags.end()) {
      st = flags.set(it->second->name, option->results().at(occurrence), it->second->flag);
    }
    if (!st) {
      return badInput(st.error().message());
    }
  }
  auto finished = std::move(flags).finish();
  if (!finished) {
    return badInput(finished.error().message());
  }
  vigil::AgentConfig config = std::move(*finished);

  if (print_config) {
    vigil::AgentConfig shown = config;
    shown.node_name = vigil::effectiveNodeName(config);
    std::cout << vigil::renderAgentConfig(shown);
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("vigil");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  // Before anything touches the kernel: a second agent leaves the first alone.
  std::optional<vigil::InstanceLock> instance_lock;
  if (!config.instance_lock.empty()) {
    auto lock = vigil::InstanceLock::acquire(config.instance_lock);
    if (!lock) {
      spdlog::error("{}", lock.error().message());
      return kExitFailure;
    }
    instance_lock.emplace(std::move(*lock));
  }

  if (config.outputs.empty()) {
    spdlog::warn("no output configured (use --stdout or outputs:): events are counted, not written");
  }

  installSignalHandlers();
  auto agent = vigil::Agent::create(config, {}); // the sinks come from config.outputs
  if (!agent) {
    spdlog::error("{}", agent.error().message());
    return kExitFailure;
  }
  if (auto st = (*agent)->start(); !st) {
    spdlog::error("{}", st.error().message());
    return kExitFailure;
  }
  // Returns after the first signal once the drain is done, or at the second.
  auto st = (*agent)->run(g_signals);
  if (!st) {
    spdlog::error("{}", st.error().message());
    return kExitFailure;
  }
  spdlog::info("stopped cleanly");
  return 0;
}
