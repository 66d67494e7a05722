// Agent configuration: defaults, a full file, every kind of error with its
// file:line:column and key, keys that moved, duplicate keys, the outputs
// list, layering over a base (flags over a file), the rendered configuration
// parsing back to itself, the key table behind all of it and the reference
// generated from it (docs/configuration.md); and the instance lock.

#include "agent/config.h"
#include "agent/instance_lock.h"
#include "shared/syscall.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace vigil {
namespace {

using process::HookMode;
using process::SnapshotMode;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

auto outputFields(const std::vector<OutputConfig>& outputs) {
  std::vector<std::tuple<std::string, std::string, uint32_t, int, std::string, uint64_t, uint32_t>> out;
  for (const auto& o : outputs) {
    out.emplace_back(o.type, o.name, o.queue_capacity, int(o.when_full), o.path, o.max_bytes, o.max_files);
  }
  return out;
}

// Every setting, for comparing two configurations field by field (an
// output's source is where it was read, not a setting).
auto fieldsOf(const AgentConfig& c) {
  return std::make_tuple(
      std::make_tuple(c.node_name, c.log_level, c.libbpf_debug, c.report_self, c.stats_interval_seconds,
                      c.instance_lock, outputFields(c.outputs), c.ring.buffer_bytes, c.ring.wakeup_bytes),
      std::make_tuple(int(c.process.hooks), int(c.process.snapshot), c.process.argv_max, c.process.proc_map_entries),
      std::make_tuple(c.syscalls.enabled, int(c.syscalls.hooks), c.syscalls.trace, c.syscalls.count, c.syscalls.watch,
                      c.syscalls.include_cgroups, c.syscalls.exclude_cgroups, c.syscalls.pending_entries,
                      c.syscalls.count_entries, c.syscalls.rate_limit_per_second, c.syscalls.rate_limit_burst),
      std::make_tuple(c.network.enabled, c.network.dns, c.network.flow_update_seconds, c.network.rate_limit_per_second,
                      c.network.rate_limit_burst),
      std::make_tuple(c.enrich.ancestors, c.enrich.pods.containers, c.enrich.pods.cri_endpoint,
                      c.enrich.pods.pod_wait_ms),
      std::make_tuple(int(c.pipeline.mode), c.pipeline.enrich_queue.capacity, int(c.pipeline.enrich_queue.when_full),
                      c.pipeline.pooled_events,
                      c.pipeline.event_block_bytes),
      std::make_tuple(c.cache.max_entries, c.cache.ended_ttl_seconds));
}

AgentConfig parseOk(const std::string& yaml, AgentConfig base = {}) {
  auto result = parseAgentConfig(yaml, "file.yaml", std::move(base));
  EXPECT_TRUE(result.ok()) << result.error().message();
  return result.ok() ? *result : AgentConfig{};
}

std::string parseError(const std::string& yaml) {
  auto result = parseAgentConfig(yaml, "file.yaml");
  EXPECT_FALSE(result.ok()) << "accepted:\n" << yaml;
  return result.ok() ? std::string() : result.error().message();
}

void expectDefaults(const AgentConfig& c) {
  EXPECT_EQ(c.node_name, "");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_FALSE(c.libbpf_debug);
  EXPECT_FALSE(c.report_self);
  EXPECT_EQ(c.stats_interval_seconds, 60u);
  EXPECT_EQ(c.instance_lock, "/run/vigil/agent.pid");
  EXPECT_TRUE(c.outputs.empty());
  EXPECT_EQ(c.ring.buffer_bytes, 8u << 20);
  EXPECT_EQ(c.ring.wakeup_bytes, 128u << 10);
  EXPECT_EQ(c.process.hooks, HookMode::Auto);
  EXPECT_EQ(c.process.snapshot, SnapshotMode::Auto);
  EXPECT_EQ(c.process.argv_max, 4096u);
  EXPECT_EQ(c.cache.max_entries, 65536u);
  EXPECT_EQ(c.cache.ended_ttl_seconds, 30u);
}

constexpr const char* kFullConfig = R"(# every key, none at its default
node_name: "node-7"
log_level: debug
libbpf_debug: true
report_self: true
stats_interval_seconds: 15
instance_lock: /tmp/vigil-test/agent.pid
outputs:
  - type: stdout
    queue_capacity: 64
    when_full: block
  - type: file
    name: audit
    path: /var/log/vigil/events.jsonl
    max_bytes: 1048576
    max_files: 3
ring:
  buffer_bytes: 1048576
  wakeup_bytes: 65536
process:
  hooks: tracepoint
  snapshot: proc
  argv_max_bytes: 8192
  pid_map_entries: 2048
syscalls:
  enabled: false
  hooks: dispatcher
  trace: [openat]
  count: [read]
  pending_entries: 128
  count_entries: 256
  rate_limit: {per_second: 10, burst: 5}
  cgroups: {include: [kubepods.slice], exclude: [system.slice]}
files:
  watch: [/etc, {path: /home, access: read}]
network: {enabled: false, dns: false, flow_update_seconds: 7, rate_limit: {per_second: 3, burst: 2}}
enrich: {ancestors: 2, containers: false, cri_endpoint: "", pod_wait_ms: 5}
pipeline:
  mode: threads
  enrich_queue: {capacity: 32, when_full: drop}
  pooled_events: 10
  event_block_bytes: 512
cache:
  max_entries: 4096
  ended_ttl_seconds: 5
)";

TEST(ConfigTest, EmptyTextGivesDefaults) {
  expectDefaults(parseOk(""));
  expectDefaults(parseOk("# only a comment\n"));
  expectDefaults(AgentConfig{});
}

TEST(ConfigTest, FullFileSetsEveryField) {
  AgentConfig c = parseOk(kFullConfig);
  EXPECT_EQ(c.node_name, "node-7");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_TRUE(c.libbpf_debug);
  EXPECT_TRUE(c.report_self);
  EXPECT_EQ(c.stats_interval_seconds, 15u);
  EXPECT_EQ(c.instance_lock, "/tmp/vigil-test/agent.pid");
  ASSERT_EQ(c.outputs.size(), 2u);
  EXPECT_EQ(c.ring.buffer_bytes, 1u << 20);
  EXPECT_EQ(c.ring.wakeup_bytes, 65536u);
  EXPECT_EQ(c.process.hooks, HookMode::Tracepoint);
  EXPECT_EQ(c.process.snapshot, SnapshotMode::Proc);
  EXPECT_EQ(c.process.argv_max, 8192u);
  EXPECT_EQ(c.process.proc_map_entries, 2048u);
  EXPECT_FALSE(c.syscalls.enabled);
  EXPECT_EQ(c.syscalls.hooks, syscall::HookMode::Dispatcher);
  EXPECT_EQ(c.syscalls.pending_entries, 128u);
  EXPECT_EQ(c.syscalls.count_entries, 256u);
  EXPECT_EQ(c.syscalls.rate_limit_per_second, 10u);
  EXPECT_EQ(c.syscalls.rate_limit_burst, 5u);
  EXPECT_FALSE(c.network.enabled);
  EXPECT_EQ(c.network.flow_update_seconds, 7u);
  EXPECT_EQ(c.network.rate_limit_burst, 2u);
  EXPECT_EQ(c.enrich.ancestors, 2u);
  EXPECT_EQ(c.enrich.pods.cri_endpoint, "");
  EXPECT_EQ(c.pipeline.mode, AgentConfig::Pipeline::Mode::kThreads);
  EXPECT_EQ(c.cache.max_entries, 4096u);
  EXPECT_EQ(c.cache.ended_ttl_seconds, 5u);
}

TEST(ConfigTest, HookModeSpellings) {
  EXPECT_EQ(parseOk("process:\n  hooks: auto\n").process.hooks, HookMode::Auto);
  EXPECT_EQ(parseOk("process:\n  hooks: tp_btf\n").process.hooks, HookMode::Btf);
  EXPECT_EQ(parseOk("process:\n  hooks: btf\n").process.hooks, HookMode::Btf);
  EXPECT_EQ(parseOk("process:\n  hooks: tracepoint\n").process.hooks, HookMode::Tracepoint);
  EXPECT_EQ(parseOk("process:\n  snapshot: iterator\n").process.snapshot, SnapshotMode::Iterator);
}

TEST(ConfigTest, UnknownTopLevelKeyNamesLineAndKey) {
  std::string error = parseError("log_level: info\nreport_self: false\nbogus: 1\n");
  EXPECT_THAT(error, StartsWith("file.yaml:3:1: bogus: unknown key"));
  EXPECT_THAT(error, HasSubstr("the top level has: cache, enrich, files, instance_lock, libbpf_debug, log_level"));
}

TEST(ConfigTest, UnknownNestedKeyNamesLineKeyAndTheLikelyOne) {
  std::string error = parseError("log_level: info\nprocess:\n  argvmax: 10\n");
  EXPECT_THAT(error, StartsWith("file.yaml:3:3: process.argvmax: unknown key (did you mean argv_max_bytes? "));
  EXPECT_THAT(error, HasSubstr("process has: argv_max_bytes, hooks, pid_map_entries, snapshot"));

  error = parseError("cache:\n  max_entries: 4096\n  ttl: 3\n");
  EXPECT_THAT(error, StartsWith("file.yaml:3:3: cache.ttl: unknown key"));
  EXPECT_THAT(parseError("syscalls:\n  rate_limit: {per_second: 1, rate: 5}\n"),
              AllOf(StartsWith("file.yaml:2:31: syscalls.rate_limit.rate: unknown key"), HasSubstr("burst")));
}

TEST(ConfigTest, WrongTypeNamesKeyAndLine) {
  EXPECT_EQ(parseError("log_level: info\nprocess:\n  argv_max_bytes: lots\n"),
            "file.yaml:3:19: process.argv_max_bytes: must be a number of bytes (got 'lots')");
  EXPECT_EQ(parseError("report_self: maybe\n"), "file.yaml:1:14: report_self: must be true or false (got 'maybe')");
  EXPECT_EQ(parseError("log_level: [debug]\n"), "file.yaml:1:12: log_level: must be a single value, not a list");
  EXPECT_EQ(parseError("log_level:\n"), "file.yaml:1:1: log_level: needs a value");
  EXPECT_THAT(parseError("ring: true\n"),
              AllOf(StartsWith("file.yaml:1:7: ring: "), HasSubstr("must be a mapping of ring.* keys")));
  EXPECT_THAT(parseError("just a scalar\n"), HasSubstr("the top level must be a mapping"));
}

TEST(ConfigTest, NegativeAndOversizedNumbersAreRejected) {
  // Not wrapped around to a huge unsigned value.
  EXPECT_EQ(parseError("stats_interval_seconds: -1\n"),
            "file.yaml:1:25: stats_interval_seconds: must be between 0 and 4294967295 (got -1)");
  EXPECT_EQ(parseError("stats_interval_seconds: 5000000000\n"),
            "file.yaml:1:25: stats_interval_seconds: must be between 0 and 4294967295 (got 5000000000)");
  EXPECT_THAT(parseError("cache: {max_entries: 99999999999999999999999}\n"),
              HasSubstr("cache.max_entries: must be at least 1024 (got 99999999999999999999999)"));
  EXPECT_EQ(parseOk("stats_interval_seconds: 0\n").stats_interval_seconds, 0u);
}

TEST(ConfigTest, BogusChoiceListsAcceptedValues) {
  EXPECT_EQ(parseError("process:\n  hooks: bogus\n"),
            "file.yaml:2:10: process.hooks: must be auto, tp_btf or tracepoint (got 'bogus')");
  EXPECT_THAT(parseError("process:\n  snapshot: sometimes\n"), HasSubstr("auto, iterator or proc"));
  EXPECT_EQ(parseError("node_name: n\nlog_level: loud\n"),
            "file.yaml:2:12: log_level: must be trace, debug, info, warn or error (got 'loud')");
}

TEST(ConfigTest, ArgvBoundOutOfRangeIsRejected) {
  EXPECT_EQ(parseError("process:\n  argv_max_bytes: 0\n"),
            "file.yaml:2:19: process.argv_max_bytes: must be between 1 and 32768 (got 0)");
  EXPECT_THAT(parseError("process:\n  argv_max_bytes: 40000\n"), HasSubstr("between 1 and 32768 (got 40000)"));
  EXPECT_EQ(parseOk("process:\n  argv_max_bytes: 1\n").process.argv_max, 1u);
  EXPECT_EQ(parseOk("process:\n  argv_max_bytes: 32768\n").process.argv_max, 32768u);
}

TEST(ConfigTest, RingBufferSizeMustBeAPowerOfTwo) {
  EXPECT_EQ(parseError("ring:\n  buffer_bytes: 5000\n"),
            "file.yaml:2:17: ring.buffer_bytes: must be a power of two, at least 4096 (got 5000)");
  EXPECT_THAT(parseError("ring:\n  buffer_bytes: 2048\n"), HasSubstr("at least 4096 (got 2048)"));
  EXPECT_EQ(parseOk("ring:\n  buffer_bytes: 33554432\n").ring.buffer_bytes, 32u << 20);
}

TEST(ConfigTest, SmallRingAloneClampsTheDefaultWakeup) {
  AgentConfig c = parseOk("ring: {buffer_bytes: 65536}\n");
  EXPECT_EQ(c.ring.buffer_bytes, 65536u);
  EXPECT_EQ(c.ring.wakeup_bytes, 16384u);
  // Set in the same text: an error at the wakeup's place.
  EXPECT_EQ(parseError("ring:\n  buffer_bytes: 65536\n  wakeup_bytes: 65536\n"),
            "file.yaml:3:17: ring.wakeup_bytes: must be below ring.buffer_bytes, 65536 (got 65536)");
  EXPECT_EQ(parseOk("ring: {wakeup_bytes: 0}\n").ring.wakeup_bytes, 0u);
}

TEST(ConfigTest, MovedKeysNameTheirNewPlace) {
  EXPECT_EQ(parseError("process:\n  hooks: auto\n  ring_buffer_bytes: 1048576\n"),
            "file.yaml:3:3: process.ring_buffer_bytes: moved to ring.buffer_bytes");
  EXPECT_EQ(parseError("process: {wakeup_bytes: 4096}\n"),
            "file.yaml:1:11: process.wakeup_bytes: moved to ring.wakeup_bytes");
  EXPECT_EQ(parseError("output:\n  stdout: true\n"),
            "file.yaml:2:3: output.stdout: replaced by the outputs list: outputs: [{type: stdout}]");
  EXPECT_THAT(parseError("output: {}\n"),
              AllOf(StartsWith("file.yaml:1:1: output: "), HasSubstr("outputs: [{type: stdout}]")));
}

TEST(ConfigTest, DuplicateKeysAreErrorsAtTheSecond) {
  // yaml-cpp keeps both in the mapping; the first used to win silently.
  EXPECT_EQ(parseError("log_level: info\nreport_self: true\nlog_level: debug\n"),
            "file.yaml:3:1: log_level: duplicate key (first at line 1, column 1)");
  EXPECT_EQ(parseError("process:\n  argv_max_bytes: 10\n  hooks: auto\n  argv_max_bytes: 20\n"),
            "file.yaml:4:3: process.argv_max_bytes: duplicate key (first at line 2, column 3)");
  EXPECT_THAT(parseError("ring: {buffer_bytes: 65536, buffer_bytes: 65536}\n"),
              StartsWith("file.yaml:1:29: ring.buffer_bytes: duplicate key"));
  EXPECT_THAT(parseError("process: {}\nprocess: {}\n"), StartsWith("file.yaml:2:1: process: duplicate key"));
  EXPECT_THAT(parseError("outputs:\n  - {type: stdout, type: file}\n"),
              StartsWith("file.yaml:2:20: outputs[0].type: duplicate key"));
  EXPECT_THAT(parseError("files:\n  watch:\n    - {path: /etc, path: /bin}\n"),
              StartsWith("file.yaml:3:20: files.watch.path: duplicate key"));
}

TEST(ConfigTest, YamlSyntaxErrorReportsItsLine) {
  std::string error = parseError("log_level: info\n  bad: x\n");
  EXPECT_THAT(error, StartsWith("file.yaml:2:"));
  EXPECT_THAT(error, HasSubstr("illegal map value"));
}

TEST(ConfigTest, BaseValuesSurviveWhereTheTextIsSilent) {
  AgentConfig base;
  base.node_name = "from-file";
  base.report_self = true;
  base.outputs.push_back(OutputConfig{"stdout", "stdout", "base"});
  base.process.hooks = HookMode::Tracepoint;
  base.process.snapshot = SnapshotMode::Iterator;
  base.process.argv_max = 1024;
  base.cache.ended_ttl_seconds = 5;

  AgentConfig c = parseOk("log_level: warn\nring:\n  buffer_bytes: 16777216\n", base);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.ring.buffer_bytes, 16u << 20);
  EXPECT_EQ(c.node_name, "from-file");
  EXPECT_TRUE(c.report_self);
  ASSERT_EQ(c.outputs.size(), 1u);
  EXPECT_EQ(c.outputs[0].source, "base");
  EXPECT_EQ(c.process.hooks, HookMode::Tracepoint);
  EXPECT_EQ(c.process.snapshot, SnapshotMode::Iterator);
  EXPECT_EQ(c.process.argv_max, 1024u);
  EXPECT_EQ(c.cache.ended_ttl_seconds, 5u);
}

TEST(ConfigTest, EmptyTextKeepsTheBase) {
  AgentConfig base;
  base.node_name = "kept";
  base.process.argv_max = 77;
  AgentConfig c = parseOk("", base);
  EXPECT_EQ(c.node_name, "kept");
  EXPECT_EQ(c.process.argv_max, 77u);
}

TEST(ConfigTest, RenderedConfigParsesBackToItself) {
  AgentConfig original = parseOk(kFullConfig);
  std::string text = renderAgentConfig(original);
  auto parsed = parseAgentConfig(text, "rendered.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message() << "\n" << text;
  EXPECT_EQ(fieldsOf(*parsed), fieldsOf(original));
  EXPECT_EQ(renderAgentConfig(*parsed), text);
}

TEST(ConfigTest, RenderedDefaultsParseBackToDefaults) {
  std::string text = renderAgentConfig(AgentConfig{});
  EXPECT_THAT(text, HasSubstr("\nprocess:\n  hooks: auto\n"));
  EXPECT_THAT(text, HasSubstr("\n  argv_max_bytes: 4096\n"));
  EXPECT_THAT(text, HasSubstr("\nring:\n  buffer_bytes: 8388608\n  wakeup_bytes: 131072\n"));
  EXPECT_THAT(text, HasSubstr("\noutputs: []\n"));
  EXPECT_THAT(text, HasSubstr("\n  rate_limit:\n    per_second: 0\n    burst: 100\n"));
  EXPECT_THAT(text, Not(HasSubstr("ring_buffer_bytes")));
  auto parsed = parseAgentConfig(text, "rendered.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(fieldsOf(*parsed), fieldsOf(AgentConfig{}));
}

TEST(ConfigTest, LoadNamesTheFileInErrors) {
  std::string path = ::testing::TempDir() + "vigil_config_test.yaml";
  {
    std::ofstream out(path);
    out << "log_level: info\nprocess:\n  hooks: nope\n";
  }
  auto loaded = loadAgentConfig(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.error().message(), StartsWith(path + ":3:10: process.hooks: "));
  std::remove(path.c_str());
}

// The reason comes from the system: each errno reads differently.
TEST(ConfigTest, UnreadableConfigSaysWhy) {
  std::string path = ::testing::TempDir() + "vigil_config_missing.yaml";
  std::remove(path.c_str());
  auto missing = loadAgentConfig(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "cannot read config file " + path + ": No such file or directory");

  auto below_a_file = loadAgentConfig("/etc/hostname/agent.yaml");
  ASSERT_FALSE(below_a_file.ok());
  EXPECT_EQ(below_a_file.error().message(), "cannot read config file /etc/hostname/agent.yaml: Not a directory");

  if (geteuid() != 0) {
    std::string locked = ::testing::TempDir() + "vigil_config_locked.yaml";
    {
      std::ofstream out(locked);
      out << "log_level: info\n";
    }
    chmod(locked.c_str(), 0);
    auto denied = loadAgentConfig(locked);
    ASSERT_FALSE(denied.ok());
    EXPECT_EQ(denied.error().message(), "cannot read config file " + locked + ": Permission denied");
    std::remove(locked.c_str());
  } // as root, permissions do not deny a read: the two cases above show the reason
}

// A directory opens and reads as empty text on some paths: it used to load
// as the defaults.
TEST(ConfigTest, DirectoryIsNotAConfigFile) {
  auto loaded = loadAgentConfig("/tmp");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message(), "cannot read config file /tmp: it is a directory");
}

TEST(ConfigTest, NonScalarKeysAreErrorsNotCrashes) {
  for (const char* yaml : {"[a]: 1\n", "? [a, b]\n: 1\n", "process:\n  ? {x: 1}\n  : 2\n"}) {
    std::string err = parseError(yaml);
    EXPECT_THAT(err, StartsWith("file.yaml:")) << yaml;
    EXPECT_THAT(err, HasSubstr("keys must be plain names")) << yaml;
  }
}

TEST(ConfigTest, QuotesAndControlsInNodeNameRoundTrip) {
  AgentConfig c;
  c.node_name = "a\"b\\c\td";
  AgentConfig back = parseOk(renderAgentConfig(c));
  EXPECT_EQ(back.node_name, c.node_name);
  AgentConfig flag = parseOk("node_name: " + yamlQuote("x\"y") + "\n");
  EXPECT_EQ(flag.node_name, "x\"y");
}

TEST(ConfigTest, SyscallsAndWatchedFiles) {
  auto c = parseOk("syscalls:\n"
                   "  hooks: dispatcher\n"
                   "  trace: [openat, getppid]\n"
                   "  count: [read]\n"
                   "  cgroups: {include: [kubepods.slice], exclude: [system.slice]}\n"
                   "files:\n"
                   "  watch:\n"
                   "    - /etc/shadow\n"
                   "    - {path: /etc, access: write}\n"
                   "    - {path: /home, access: read}\n");
  EXPECT_EQ(c.syscalls.hooks, syscall::HookMode::Dispatcher);
  EXPECT_EQ(c.syscalls.trace, (std::vector<std::string>{"openat", "getppid"}));
  EXPECT_EQ(c.syscalls.count, (std::vector<std::string>{"read"}));
  EXPECT_EQ(c.syscalls.include_cgroups, (std::vector<std::string>{"kubepods.slice"}));
  EXPECT_EQ(c.syscalls.exclude_cgroups, (std::vector<std::string>{"system.slice"}));
  ASSERT_EQ(c.syscalls.watch.size(), 3u);
  EXPECT_EQ(c.syscalls.watch[0], (syscall::WatchPrefix{"/etc/shadow", VIGIL_ACCESS_READ | VIGIL_ACCESS_WRITE}));
  EXPECT_EQ(c.syscalls.watch[1], (syscall::WatchPrefix{"/etc", VIGIL_ACCESS_WRITE}));
  EXPECT_EQ(c.syscalls.watch[2], (syscall::WatchPrefix{"/home", VIGIL_ACCESS_READ}));
  // An empty list is allowed: every file syscall is reported.
  EXPECT_TRUE(parseOk("files: {watch: []}\n").syscalls.watch.empty());
  // The rendered form parses back to the same configuration.
  auto again = parseAgentConfig(renderAgentConfig(c), "rendered.yaml");
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(fieldsOf(*again), fieldsOf(c));
}

TEST(ConfigTest, SyscallRateLimit) {
  auto c = parseOk("syscalls: {rate_limit: {per_second: 500, burst: 50}}\n");
  EXPECT_EQ(c.syscalls.rate_limit_per_second, 500u);
  EXPECT_EQ(c.syscalls.rate_limit_burst, 50u);
  EXPECT_EQ(parseError("syscalls:\n  rate_limit: {per_second: 5, burst: 0}\n"),
            "file.yaml:2:38: syscalls.rate_limit.burst: must be at least 1 (got 0)");
  EXPECT_THAT(parseError("syscalls: {rate_limit: {rate: 5}}\n"), HasSubstr("syscalls.rate_limit.rate: unknown key"));
}

TEST(ConfigTest, Network) {
  auto c = parseOk("network: {enabled: true, dns: false, flow_update_seconds: 5}\n");
  EXPECT_FALSE(c.network.dns);
  EXPECT_EQ(c.network.flow_update_seconds, 5u);
  EXPECT_EQ(parseError("network:\n  dns: maybe\n"), "file.yaml:2:8: network.dns: must be true or false (got 'maybe')");
  EXPECT_THAT(parseError("network: {flows: 1}\n"), HasSubstr("network.flows: unknown key"));
}

TEST(ConfigTest, SyscallErrorsNameTheirPlace) {
  EXPECT_EQ(parseError("syscalls:\n  trace: [openat, opnat]\n"),
            "file.yaml:2:19: syscalls.trace: unknown syscall 'opnat'");
  EXPECT_THAT(parseError("syscalls: {count: [nosuch]}\n"), HasSubstr("syscalls.count: unknown syscall 'nosuch'"));
  EXPECT_EQ(parseError("syscalls: {hooks: kprobe}\n"),
            "file.yaml:1:19: syscalls.hooks: must be auto, tracepoint or dispatcher (got 'kprobe')");
  EXPECT_THAT(parseError("syscalls: {trace: openat}\n"), HasSubstr("syscalls.trace: must be a list of syscall names"));
  EXPECT_THAT(parseError("files:\n  watch:\n    - etc/shadow\n"),
              AllOf(StartsWith("file.yaml:3:7: files.watch: "), HasSubstr("must be absolute")));
  EXPECT_EQ(parseError("files:\n  watch:\n    - {path: /etc, access: exec}\n"),
            "file.yaml:3:28: files.watch.access: must be read, write or any (got 'exec')");
  EXPECT_THAT(parseError("files:\n  watch:\n    - {path: /etc, mode: write}\n"),
              HasSubstr("files.watch.mode: unknown key"));
  std::string many = "files:\n  watch:\n";
  for (int i = 0; i < 17; ++i) {
    many += fmt::format("    - /p{}\n", i);
  }
  EXPECT_THAT(parseError(many), HasSubstr("at most 16 watched paths (got 17)"));
  EXPECT_THAT(parseError("syscalls: {cgroups: {include: [a, b, c, d, e, f, g, h, i]}}\n"),
              HasSubstr("syscalls.cgroups.include: at most 8 entries (got 9)"));
  EXPECT_THAT(parseError("syscalls: {pending_entries: 10}\n"),
              HasSubstr("syscalls.pending_entries: must be at least 64 (got 10)"));
}

TEST(ConfigTest, PipelineAndEnrichSettings) {
  auto c = parseOk("pipeline:\n  enrich_queue: {capacity: 64, when_full: drop}\n"
                   "  pooled_events: 10\n  event_block_bytes: 4096\n"
                   "enrich:\n  ancestors: 3\n  containers: false\n  cri_endpoint: unix:///x.sock\n  pod_wait_ms: 0\n");
  EXPECT_EQ(c.pipeline.enrich_queue.capacity, 64u);
  EXPECT_EQ(c.pipeline.enrich_queue.when_full, vigil::pipeline::FullPolicy::kDrop);
  EXPECT_EQ(c.pipeline.pooled_events, 10u);
  EXPECT_EQ(c.pipeline.event_block_bytes, 4096u);
  EXPECT_EQ(c.enrich.ancestors, 3u);
  EXPECT_FALSE(c.enrich.pods.containers);
  EXPECT_EQ(c.enrich.pods.cri_endpoint, "unix:///x.sock");
  EXPECT_EQ(c.enrich.pods.pod_wait_ms, 0u);
}

TEST(ConfigTest, NetworkRateLimit) {
  auto c = parseOk("network:\n  rate_limit: {per_second: 50, burst: 5}\n");
  EXPECT_EQ(c.network.rate_limit_per_second, 50u);
  EXPECT_EQ(c.network.rate_limit_burst, 5u);
  EXPECT_THAT(parseError("network:\n  rate_limit: {per_second: 50, burst: 0}\n"),
              AllOf(StartsWith("file.yaml:2:"), HasSubstr("network.rate_limit.burst: must be at least 1")));
  EXPECT_THAT(parseError("network:\n  rate_limit: {rate: 5}\n"), HasSubstr("network.rate_limit.rate: unknown key"));
}

TEST(ConfigTest, PipelineAndEnrichErrorsNameTheirPlace) {
  EXPECT_EQ(parseError("pipeline:\n  enrich_queue: {capacity: 64, when_full: sometimes}\n"),
            "file.yaml:2:43: pipeline.enrich_queue.when_full: must be block or drop (got 'sometimes')");
  // Sinks have a queue each now: the old shared sink queue says where it went.
  EXPECT_THAT(parseError("pipeline:\n  sink_queue: {capacity: 64}\n"),
              AllOf(StartsWith("file.yaml:2:"), HasSubstr("outputs[].queue_capacity")));
  EXPECT_THAT(parseError("pipeline:\n  mode: sink_thread\n"), HasSubstr("must be auto, inline or threads"));
  EXPECT_EQ(parseError("pipeline:\n  enrich_queue:\n    capacity: 3\n"),
            "file.yaml:3:15: pipeline.enrich_queue.capacity: must be between 16 and 1048576 (got 3)");
  EXPECT_THAT(parseError("pipeline:\n  enrich_queue: {size: 3}\n"),
              HasSubstr("pipeline.enrich_queue.size: unknown key"));
  EXPECT_EQ(parseError("enrich:\n  ancestors: 65\n"),
            "file.yaml:2:14: enrich.ancestors: must be between 0 and 64 (got 65)");
  EXPECT_THAT(parseError("enrich:\n  pod_wait_ms: lots\n"),
              HasSubstr("enrich.pod_wait_ms: must be a number of milliseconds (got 'lots')"));
}

// ---------------------------------------------------------------------------
// outputs

TEST(ConfigOutputsTest, ListOfTypedEntries) {
  AgentConfig c = parseOk("outputs:\n"
                          "  - type: stdout\n"
                          "  - type: file\n"
                          "    path: /var/log/vigil.jsonl\n"
                          "    max_bytes: 8192\n"
                          "    max_files: 2\n"
                          "    queue_capacity: 100\n"
                          "    when_full: block\n");
  ASSERT_EQ(c.outputs.size(), 2u);
  EXPECT_EQ(c.outputs[0].type, "stdout");
  EXPECT_EQ(c.outputs[0].name, "stdout");
  EXPECT_EQ(c.outputs[0].source, "file.yaml:2:5");
  EXPECT_EQ(c.outputs[0].queue_capacity, OutputConfig{}.queue_capacity);
  EXPECT_EQ(c.outputs[0].when_full, OutputConfig{}.when_full);
  EXPECT_EQ(c.outputs[1].type, "file");
  EXPECT_EQ(c.outputs[1].name, "file");
  EXPECT_EQ(c.outputs[1].source, "file.yaml:3:5");
  EXPECT_EQ(c.outputs[1].path, "/var/log/vigil.jsonl");
  EXPECT_EQ(c.outputs[1].max_bytes, 8192u);
  EXPECT_EQ(c.outputs[1].max_files, 2u);
  EXPECT_EQ(c.outputs[1].queue_capacity, 100u);
  EXPECT_EQ(c.outputs[1].when_full, pipeline::FullPolicy::kBlock);
  EXPECT_TRUE(parseOk("outputs: []\n").outputs.empty());
}

TEST(ConfigOutputsTest, NamesDefaultToTheTypeThenNumbered) {
  AgentConfig c = parseOk("outputs:\n"
                          "  - {type: file, path: /a}\n"
                          "  - {type: file, path: /b, name: file-2}\n"
                          "  - {type: file, path: /c}\n"
                          "  - {type: stdout, name: audit}\n");
  ASSERT_EQ(c.outputs.size(), 4u);
  EXPECT_EQ(c.outputs[0].name, "file");
  EXPECT_EQ(c.outputs[1].name, "file-2");
  EXPECT_EQ(c.outputs[2].name, "file-3");
  EXPECT_EQ(c.outputs[3].name, "audit");
}

TEST(ConfigOutputsTest, MistakesNameTheEntry) {
  EXPECT_EQ(parseError("outputs:\n  - {type: file, path: /a, name: x}\n  - {type: stdout, name: x}\n"),
            "file.yaml:3:26: outputs[1].name: duplicate output name 'x' (also outputs[0])");
  EXPECT_EQ(parseError("outputs:\n  - type: stdout\n    path: /tmp/x\n"),
            "file.yaml:3:5: outputs[0].path: only for type file (this output is stdout)");
  EXPECT_EQ(parseError("outputs:\n  - {name: x}\n"), "file.yaml:2:5: outputs[0]: needs a type: stdout or file");
  EXPECT_EQ(parseError("outputs:\n  - type:\n"), "file.yaml:2:5: outputs[0].type: needs a value: stdout or file");
  EXPECT_EQ(parseError("outputs:\n  - type: file\n    path:\n"), "file.yaml:3:5: outputs[0].path: needs a value");
  EXPECT_EQ(parseError("outputs:\n  - {type: kafka}\n"),
            "file.yaml:2:12: outputs[0].type: must be stdout, file or grpc (got 'kafka')");
  EXPECT_EQ(parseError("outputs:\n  - {type: file}\n"), "file.yaml:2:5: outputs[0]: a file output needs a path");
  EXPECT_THAT(parseError("outputs:\n  - {type: stdout, colour: red}\n"),
              AllOf(StartsWith("file.yaml:2:20: outputs[0].colour: unknown key"),
                    HasSubstr("type, name, queue_capacity, when_full"), Not(HasSubstr("path"))));
  EXPECT_EQ(parseError("outputs:\n  - {type: stdout, when_full: wait}\n"),
            "file.yaml:2:31: outputs[0].when_full: must be block or drop (got 'wait')");
  EXPECT_THAT(parseError("outputs:\n  - {type: stdout, name: \"a b\"}\n"),
              HasSubstr("outputs[0].name: must be letters, digits"));
  EXPECT_THAT(parseError("outputs:\n  - {type: file, path: /a, max_files: 0}\n"),
              HasSubstr("outputs[0].max_files: must be between 1 and 1000 (got 0)"));
  EXPECT_THAT(parseError("outputs: {type: stdout}\n"), StartsWith("file.yaml:1:10: outputs: must be a list"));
  EXPECT_THAT(parseError("outputs: [stdout]\n"), StartsWith("file.yaml:1:11: outputs[0]: must be a mapping"));
}

TEST(ConfigOutputsTest, RenderedListParsesBack) {
  AgentConfig c = parseOk("outputs:\n  - {type: stdout, when_full: block}\n  - {type: file, name: audit, path: /x}\n");
  std::string text = renderAgentConfig(c);
  EXPECT_THAT(text, HasSubstr("outputs:\n"
                              "  - type: stdout\n"
                              "    name: \"stdout\"\n"
                              "    queue_capacity: 8192\n"
                              "    when_full: block\n"
                              "  - type: file\n"
                              "    name: \"audit\"\n"));
  EXPECT_THAT(text, HasSubstr("    path: \"/x\"\n"));
  AgentConfig back = parseOk(text);
  EXPECT_EQ(outputFields(back.outputs), outputFields(c.outputs));
}

// ---------------------------------------------------------------------------
// flags: ConfigLayer

TEST(ConfigLayerTest, FlagsSetKeysThroughTheTable) {
  AgentConfig file = parseOk(kFullConfig);
  ConfigLayer flags(file);
  ASSERT_TRUE(flags.set("process.argv_max_bytes", "2048", "--argv-max"));
  ASSERT_TRUE(flags.set("process.hooks", "btf", "--hooks"));
  ASSERT_TRUE(flags.set("report_self", "false", "--report-self"));
  ASSERT_TRUE(flags.assign("pipeline.mode=inline", "--set"));
  ASSERT_TRUE(flags.assign("node_name=a=b", "--set"));
  auto c = std::move(flags).finish();
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->process.argv_max, 2048u);
  EXPECT_EQ(c->process.hooks, HookMode::Btf);
  EXPECT_FALSE(c->report_self);
  EXPECT_EQ(c->pipeline.mode, AgentConfig::Pipeline::Mode::kInline);
  EXPECT_EQ(c->node_name, "a=b");
  // The file's other settings stay.
  EXPECT_EQ(c->process.snapshot, SnapshotMode::Proc);
  EXPECT_EQ(c->ring.buffer_bytes, 1u << 20);
  EXPECT_EQ(c->cache.max_entries, 4096u);
  EXPECT_EQ(c->outputs.size(), 2u);
}

TEST(ConfigLayerTest, ErrorsNameTheFlag) {
  ConfigLayer flags{AgentConfig{}};
  auto message = [&](Status st) { return st ? std::string("accepted") : st.error().message(); };
  EXPECT_EQ(message(flags.set("process.argv_max_bytes", "-5", "--argv-max")),
            "--argv-max: must be between 1 and 32768 (got -5)");
  EXPECT_EQ(message(flags.set("ring.buffer_bytes", "5000", "--ring-buffer-bytes")),
            "--ring-buffer-bytes: must be a power of two, at least 4096 (got 5000)");
  EXPECT_EQ(message(flags.assign("process.argv_max_bytes=0", "--set")),
            "--set process.argv_max_bytes: must be between 1 and 32768 (got 0)");
  EXPECT_EQ(message(flags.assign("log_level=loud", "--set")),
            "--set log_level: must be trace, debug, info, warn or error (got 'loud')");
  EXPECT_THAT(message(flags.assign("process.argvmax=3", "--set")),
              StartsWith("--set process.argvmax: unknown key (did you mean argv_max_bytes? "));
  EXPECT_THAT(message(flags.assign("bogus.x=3", "--set")), StartsWith("--set bogus.x: unknown key"));
  EXPECT_THAT(message(flags.assign("process=3", "--set")), StartsWith("--set process: is a section, not a key"));
  EXPECT_EQ(message(flags.assign("syscalls.trace=openat", "--set")),
            "--set syscalls.trace: is a list: set it in a configuration file");
  EXPECT_EQ(message(flags.assign("process.ring_buffer_bytes=4096", "--set")),
            "--set process.ring_buffer_bytes: moved to ring.buffer_bytes");
  EXPECT_EQ(message(flags.assign("novalue", "--set")), "--set: 'novalue' is not KEY=VALUE");
  EXPECT_EQ(message(flags.assign("=1", "--set")), "--set: '=1' is not KEY=VALUE");
}

TEST(ConfigLayerTest, ChecksAcrossKeysRunAtTheEnd) {
  ConfigLayer small{AgentConfig{}};
  ASSERT_TRUE(small.set("ring.buffer_bytes", "65536", "--ring-buffer-bytes"));
  auto clamped = std::move(small).finish();
  ASSERT_TRUE(clamped.ok());
  EXPECT_EQ(clamped->ring.wakeup_bytes, 16384u);

  ConfigLayer both{AgentConfig{}};
  ASSERT_TRUE(both.set("ring.buffer_bytes", "65536", "--ring-buffer-bytes"));
  ASSERT_TRUE(both.assign("ring.wakeup_bytes=65536", "--set"));
  auto bad = std::move(both).finish();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "--set ring.wakeup_bytes: must be below ring.buffer_bytes, 65536 (got 65536)");
}

TEST(ConfigLayerTest, StdoutFlags) {
  AgentConfig file = parseOk("outputs:\n  - {type: file, name: stdout, path: /x}\n");
  ConfigLayer flags(file);
  flags.addStdoutOutput("--stdout");
  flags.addStdoutOutput("--stdout"); // one is enough
  auto c = std::move(flags).finish();
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->outputs.size(), 2u);
  EXPECT_EQ(c->outputs[1].type, "stdout");
  EXPECT_EQ(c->outputs[1].name, "stdout-2"); // "stdout" is the file's name
  EXPECT_EQ(c->outputs[1].source, "--stdout");

  ConfigLayer off(*c);
  off.removeStdoutOutputs();
  auto without = std::move(off).finish();
  ASSERT_TRUE(without.ok());
  ASSERT_EQ(without->outputs.size(), 1u);
  EXPECT_EQ(without->outputs[0].type, "file");
}

// ---------------------------------------------------------------------------
// The key table and what is made from it

TEST(ConfigKeysTest, EveryKeyIsDeclaredOnceWithHelp) {
  std::set<std::string> names, flags;
  for (const auto& key : configKeys()) {
    EXPECT_TRUE(names.insert(key.name).second) << key.name;
    EXPECT_FALSE(key.help.empty()) << key.name;
    EXPECT_FALSE(key.type.empty()) << key.name;
    if (!key.flag.empty()) {
      EXPECT_THAT(key.flag, StartsWith("--"));
      EXPECT_TRUE(flags.insert(key.flag).second) << key.flag;
      EXPECT_TRUE(key.scalar) << key.name;
    }
  }
  for (const char* name : {"ring.buffer_bytes", "ring.wakeup_bytes", "outputs", "outputs[].path", "instance_lock",
                           "files.watch", "pipeline.enrich_queue.when_full"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  EXPECT_FALSE(names.count("process.ring_buffer_bytes"));
}

TEST(ConfigKeysTest, FlagsOfTheCommandLine) {
  std::map<std::string, std::string> flag_of;
  for (const auto& key : configKeys()) {
    if (!key.flag.empty()) {
      flag_of[key.name] = key.flag;
    }
  }
  EXPECT_EQ(flag_of["ring.buffer_bytes"], "--ring-buffer-bytes");
  EXPECT_EQ(flag_of["process.argv_max_bytes"], "--argv-max");
  EXPECT_EQ(flag_of["node_name"], "--node-name");
  EXPECT_EQ(flag_of["stats_interval_seconds"], "--stats-interval");
}

// Every key that is not a list takes its own default through --set, as the
// rendered file writes it.
TEST(ConfigKeysTest, EveryScalarKeyCanBeSet) {
  for (const auto& key : configKeys()) {
    if (!key.scalar || key.name.find('[') != std::string::npos) {
      continue;
    }
    std::string value = YAML::Load(key.default_value).Scalar();
    ConfigLayer layer{AgentConfig{}};
    auto st = layer.set(key.name, value, "--set " + key.name);
    EXPECT_TRUE(st.ok()) << key.name << " = " << value << ": " << (st ? "" : st.error().message());
  }
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConfigKeysTest, ReferenceDocMatchesTheTable) {
  std::string doc = renderConfigDoc();
  for (const auto& key : configKeys()) {
    EXPECT_THAT(doc, HasSubstr("#### `" + key.name + "`")) << key.name;
  }
  std::string path = std::string(VIGIL_SOURCE_DIR) + "/docs/configuration.md";
  EXPECT_TRUE(readFile(path) == doc)
      << "docs/configuration.md differs from the key table in agent/config.cc; regenerate it:\n"
         "  build/vigil-agent --print-config-doc > docs/configuration.md";
}

// The shipped example documents every key at its default: it must parse, and
// to exactly the built-in defaults.
TEST(ConfigExampleTest, DeployExampleIsTheDefaults) {
  auto loaded = loadAgentConfig(std::string(VIGIL_SOURCE_DIR) + "/deploy/agent.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(fieldsOf(*loaded), fieldsOf(AgentConfig{}));
}

// Restores an environment variable when the test ends.
class ScopedEnv {
public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
    }
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ConfigTest, EffectiveNodeNameFromConfigThenEnvironmentThenHost) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  AgentConfig c;
  {
    ScopedEnv env("NODE_NAME", nullptr);
    EXPECT_EQ(effectiveNodeName(c), host);
  }
  {
    ScopedEnv env("NODE_NAME", "worker-3");
    EXPECT_EQ(effectiveNodeName(c), "worker-3");
    c.node_name = "configured";
    EXPECT_EQ(effectiveNodeName(c), "configured");
  }
}

// ---------------------------------------------------------------------------
// InstanceLock (agent/instance_lock.h)

class InstanceLockTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "vigil-lock-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string dir_;
};

TEST_F(InstanceLockTest, SecondAcquireNamesTheHolder) {
  std::string path = dir_ + "/run/vigil/agent.pid"; // the directories do not exist yet
  auto first = InstanceLock::acquire(path);
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(readFile(path), std::to_string(getpid()) + "\n");
  struct stat st {};
  ASSERT_EQ(stat((dir_ + "/run/vigil").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);

  // flock locks belong to the open file description: a second open conflicts
  // even in this process.
  auto second = InstanceLock::acquire(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message(), fmt::format("another vigil-agent (pid {}) holds {}", getpid(), path));
}

TEST_F(InstanceLockTest, ReleasedWhenTheHolderGoes) {
  std::string path = dir_ + "/agent.pid";
  {
    auto first = InstanceLock::acquire(path);
    ASSERT_TRUE(first.ok());
    InstanceLock moved = std::move(*first); // the lock moves with the object
    EXPECT_FALSE(InstanceLock::acquire(path).ok());
  }
  EXPECT_EQ(readFile(path), ""); // the pid is gone with the holder
  auto again = InstanceLock::acquire(path);
  ASSERT_TRUE(again.ok()) << again.error().message();
}

TEST_F(InstanceLockTest, HolderThatWroteNoPid) {
  std::string path = dir_ + "/agent.pid";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0); // as flock(1) would
  auto lock = InstanceLock::acquire(path);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().message(), "another vigil-agent (pid not written yet) holds " + path);
  close(fd);
  EXPECT_TRUE(InstanceLock::acquire(path).ok());
}

TEST_F(InstanceLockTest, UncreatableDirectorySaysWhy) {
  auto lock = InstanceLock::acquire("/etc/hostname/vigil/agent.pid");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().message(),
            "cannot create directory /etc/hostname/vigil for the instance lock: Not a directory");
}

} // namespace
} // namespace vigil
