// Agent configuration: defaults, a full file, every kind of error with its
// file:line:column, layering over a base (how flags override a file), and
// the rendered configuration parsing back to itself.

#include "agent/config.h"
#include "shared/syscall.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>

namespace vigil {
namespace {

using process::HookMode;
using process::SnapshotMode;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Every setting, for comparing two configurations field by field.
auto fieldsOf(const AgentConfig& c) {
  return std::make_tuple(c.node_name, c.log_level, c.libbpf_debug, c.report_self, c.stats_interval_seconds,
                         c.output.stdout_json, int(c.process.hooks), int(c.process.snapshot), c.process.argv_max,
                         c.process.ring_bytes, c.process.wakeup_bytes, c.process.proc_map_entries,
                         c.cache.max_entries, c.cache.ended_ttl_seconds, c.syscalls.enabled, int(c.syscalls.hooks),
                         c.syscalls.trace, c.syscalls.count, c.syscalls.watch, c.syscalls.include_cgroups,
                         c.syscalls.exclude_cgroups, c.syscalls.pending_entries, c.syscalls.count_entries,
                         c.network.enabled, c.network.dns, c.network.flow_update_seconds,
                         c.syscalls.rate_limit_per_second, c.syscalls.rate_limit_burst);
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
  EXPECT_FALSE(c.output.stdout_json);
  EXPECT_EQ(c.process.hooks, HookMode::Auto);
  EXPECT_EQ(c.process.snapshot, SnapshotMode::Auto);
  EXPECT_EQ(c.process.argv_max, 4096u);
  EXPECT_EQ(c.process.ring_bytes, 8u << 20);
  EXPECT_EQ(c.cache.max_entries, 65536u);
  EXPECT_EQ(c.cache.ended_ttl_seconds, 30u);
}

constexpr const char* kFullConfig = R"(# every key, none at its default
node_name: "node-7"
log_level: debug
libbpf_debug: true
report_self: true
stats_interval_seconds: 15
output:
  stdout: true
process:
  hooks: tracepoint
  snapshot: proc
  argv_max_bytes: 8192
  ring_buffer_bytes: 1048576
  wakeup_bytes: 65536
  pid_map_entries: 2048
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
  EXPECT_TRUE(c.output.stdout_json);
  EXPECT_EQ(c.process.hooks, HookMode::Tracepoint);
  EXPECT_EQ(c.process.snapshot, SnapshotMode::Proc);
  EXPECT_EQ(c.process.argv_max, 8192u);
  EXPECT_EQ(c.process.ring_bytes, 1u << 20);
  EXPECT_EQ(c.process.wakeup_bytes, 65536u);
  EXPECT_EQ(c.process.proc_map_entries, 2048u);
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
  EXPECT_THAT(error, StartsWith("file.yaml:3:1: "));
  EXPECT_THAT(error, HasSubstr("unknown key 'bogus' in the top level"));
  EXPECT_THAT(error, HasSubstr("known: cache, enrich, files, libbpf_debug, log_level"));
}

TEST(ConfigTest, UnknownNestedKeyNamesLineAndKey) {
  std::string error = parseError("log_level: info\nprocess:\n  argvmax: 10\n");
  EXPECT_THAT(error, StartsWith("file.yaml:3:3: "));
  EXPECT_THAT(error, HasSubstr("unknown key 'argvmax' in process"));
  EXPECT_THAT(error, HasSubstr("argv_max_bytes"));

  error = parseError("cache:\n  max_entries: 4096\n  ttl: 3\n");
  EXPECT_THAT(error, StartsWith("file.yaml:3:3: "));
  EXPECT_THAT(error, HasSubstr("unknown key 'ttl' in cache"));
}

TEST(ConfigTest, WrongTypeNamesKeyAndLine) {
  std::string error = parseError("log_level: info\nprocess:\n  argv_max_bytes: lots\n");
  EXPECT_THAT(error, StartsWith("file.yaml:3:19: "));
  EXPECT_THAT(error, HasSubstr("argv_max_bytes must be a number of bytes, got 'lots'"));

  EXPECT_THAT(parseError("report_self: maybe\n"),
              AllOf(StartsWith("file.yaml:1:14: "), HasSubstr("report_self must be true or false")));
  EXPECT_THAT(parseError("log_level: [debug]\n"), HasSubstr("log_level must be a string"));
  EXPECT_THAT(parseError("output: true\n"), HasSubstr("output must be a mapping"));
  EXPECT_THAT(parseError("just a scalar\n"), HasSubstr("the top level must be a mapping"));
}

TEST(ConfigTest, NegativeAndOversizedNumbersAreRejected) {
  // Not wrapped around to a huge unsigned value.
  EXPECT_THAT(parseError("stats_interval_seconds: -1\n"),
              AllOf(StartsWith("file.yaml:1:"), HasSubstr("stats_interval_seconds"), HasSubstr("'-1'")));
  EXPECT_THAT(parseError("stats_interval_seconds: 5000000000\n"), HasSubstr("stats_interval_seconds"));
}

TEST(ConfigTest, BogusHookModeListsAcceptedValues) {
  std::string error = parseError("process:\n  hooks: bogus\n");
  EXPECT_THAT(error, StartsWith("file.yaml:2:"));
  EXPECT_THAT(error, HasSubstr("'bogus'"));
  EXPECT_THAT(error, HasSubstr("auto, tp_btf or tracepoint"));

  EXPECT_THAT(parseError("process:\n  snapshot: sometimes\n"), HasSubstr("auto, iterator or proc"));
}

TEST(ConfigTest, ArgvBoundOutOfRangeIsRejected) {
  EXPECT_THAT(parseError("process:\n  argv_max_bytes: 0\n"),
              AllOf(StartsWith("file.yaml:2:"), HasSubstr("argv_max_bytes 0 must be between 1 and 32768")));
  EXPECT_THAT(parseError("process:\n  argv_max_bytes: 40000\n"),
              HasSubstr("argv_max_bytes 40000 must be between 1 and 32768"));
  EXPECT_EQ(parseOk("process:\n  argv_max_bytes: 1\n").process.argv_max, 1u);
  EXPECT_EQ(parseOk("process:\n  argv_max_bytes: 32768\n").process.argv_max, 32768u);
}

TEST(ConfigTest, RingBufferSizeMustBeAPowerOfTwo) {
  EXPECT_THAT(parseError("process:\n  ring_buffer_bytes: 5000\n"),
              AllOf(StartsWith("file.yaml:2:"), HasSubstr("ring_buffer_bytes 5000 must be a power of two")));
  EXPECT_THAT(parseError("process:\n  ring_buffer_bytes: 2048\n"), HasSubstr("at least 4096"));
  EXPECT_EQ(parseOk("process:\n  ring_buffer_bytes: 33554432\n").process.ring_bytes, 32u << 20);
}

TEST(ConfigTest, BogusLogLevelIsRejected) {
  std::string error = parseError("node_name: n\nlog_level: loud\n");
  EXPECT_THAT(error, StartsWith("file.yaml:2:"));
  EXPECT_THAT(error, HasSubstr("log_level 'loud' is not one of trace, debug, info, warn, error"));
}

TEST(ConfigTest, SmallTablesAreRejected) {
  EXPECT_THAT(parseError("process:\n  pid_map_entries: 10\n"), HasSubstr("pid_map_entries must be at least 1024"));
  EXPECT_THAT(parseError("cache:\n  max_entries: 10\n"), HasSubstr("max_entries must be at least 1024"));
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
  base.output.stdout_json = true;
  base.process.hooks = HookMode::Tracepoint;
  base.process.snapshot = SnapshotMode::Iterator;
  base.process.argv_max = 1024;
  base.cache.ended_ttl_seconds = 5;

  AgentConfig c = parseOk("log_level: warn\nprocess:\n  ring_buffer_bytes: 16777216\n", base);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.process.ring_bytes, 16u << 20);
  EXPECT_EQ(c.node_name, "from-file");
  EXPECT_TRUE(c.report_self);
  EXPECT_TRUE(c.output.stdout_json);
  EXPECT_EQ(c.process.hooks, HookMode::Tracepoint);
  EXPECT_EQ(c.process.snapshot, SnapshotMode::Iterator);
  EXPECT_EQ(c.process.argv_max, 1024u);
  EXPECT_EQ(c.cache.ended_ttl_seconds, 5u);
}

TEST(ConfigTest, FlagOverridesInFlowStyleKeepTheFileSettings) {
  // The shape vigil-agent builds from its flags, parsed over the file.
  AgentConfig file = parseOk(kFullConfig);
  auto merged = parseAgentConfig("output: {stdout: false}\nprocess: {argv_max_bytes: 2048, hooks: \"tp_btf\", }\n",
                                 "command line", file);
  ASSERT_TRUE(merged.ok()) << merged.error().message();
  EXPECT_FALSE(merged->output.stdout_json);
  EXPECT_EQ(merged->process.argv_max, 2048u);
  EXPECT_EQ(merged->process.hooks, HookMode::Btf);
  EXPECT_EQ(merged->process.snapshot, SnapshotMode::Proc);
  EXPECT_EQ(merged->process.ring_bytes, 1u << 20);
  EXPECT_EQ(merged->node_name, "node-7");
  EXPECT_EQ(merged->cache.max_entries, 4096u);

  auto bad = parseAgentConfig("process: {argv_max_bytes: 0, }\n", "command line", file);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), StartsWith("command line:1:"));
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
  EXPECT_THAT(text, HasSubstr("argv_max_bytes: 4096"));
  EXPECT_THAT(text, HasSubstr("hooks: auto"));
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
  EXPECT_THAT(loaded.error().message(), StartsWith(path + ":3:"));
  std::remove(path.c_str());

  auto missing = loadAgentConfig(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message(), HasSubstr("cannot read config file " + path));
}

} // namespace
} // namespace vigil

namespace vigil {
namespace {

TEST(ConfigRegressionTest, NonScalarKeysAreErrorsNotCrashes) {
  for (const char* yaml : {"[a]: 1\n", "? [a, b]\n: 1\n", "process:\n  ? {x: 1}\n  : 2\n"}) {
    std::string err = parseError(yaml);
    EXPECT_THAT(err, StartsWith("file.yaml:")) << yaml;
  }
}

TEST(ConfigRegressionTest, QuotesAndControlsInNodeNameRoundTrip) {
  AgentConfig c;
  c.node_name = "a\"b\\c\td";
  AgentConfig back = parseOk(renderAgentConfig(c));
  EXPECT_EQ(back.node_name, c.node_name);
  AgentConfig flag = parseOk("node_name: " + yamlQuote("x\"y") + "\n");
  EXPECT_EQ(flag.node_name, "x\"y");
}

TEST(ConfigRegressionTest, SmallRingAloneClampsTheDefaultWakeup) {
  AgentConfig c = parseOk("process: {ring_buffer_bytes: 65536, }\n");
  EXPECT_EQ(c.process.ring_bytes, 65536u);
  EXPECT_LT(c.process.wakeup_bytes, c.process.ring_bytes);
  EXPECT_THAT(parseError("process: {ring_buffer_bytes: 65536, wakeup_bytes: 65536}\n"),
              AllOf(HasSubstr("file.yaml:1:"), HasSubstr("wakeup_bytes")));
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
  EXPECT_THAT(parseError("syscalls:\n  rate_limit: {per_second: 5, burst: 0}\n"),
              AllOf(HasSubstr("file.yaml:2:"), HasSubstr("burst must be at least 1")));
  EXPECT_THAT(parseError("syscalls: {rate_limit: {rate: 5}}\n"), HasSubstr("unknown key 'rate'"));
}

TEST(ConfigTest, Network) {
  auto c = parseOk("network: {enabled: true, dns: false, flow_update_seconds: 5}\n");
  EXPECT_FALSE(c.network.dns);
  EXPECT_EQ(c.network.flow_update_seconds, 5u);
  EXPECT_THAT(parseError("network:\n  dns: maybe\n"), AllOf(HasSubstr("file.yaml:2:8"), HasSubstr("true or false")));
  EXPECT_THAT(parseError("network: {flows: 1}\n"), HasSubstr("unknown key 'flows' in network"));
}

TEST(ConfigTest, SyscallErrorsNameTheirPlace) {
  EXPECT_THAT(parseError("syscalls:\n  trace: [openat, opnat]\n"),
              AllOf(HasSubstr("file.yaml:2:19"), HasSubstr("unknown syscall 'opnat'")));
  EXPECT_THAT(parseError("syscalls: {count: [nosuch]}\n"), HasSubstr("unknown syscall 'nosuch' in syscalls.count"));
  EXPECT_THAT(parseError("syscalls: {hooks: kprobe}\n"),
              AllOf(HasSubstr("file.yaml:1:19"), HasSubstr("tracepoint or dispatcher")));
  EXPECT_THAT(parseError("syscalls: {trace: openat}\n"), HasSubstr("trace must be a list"));
  EXPECT_THAT(parseError("files:\n  watch:\n    - etc/shadow\n"),
              AllOf(HasSubstr("file.yaml:3:7"), HasSubstr("must be absolute")));
  EXPECT_THAT(parseError("files:\n  watch:\n    - {path: /etc, access: exec}\n"),
              AllOf(HasSubstr("file.yaml:3:28"), HasSubstr("read, write or any")));
  EXPECT_THAT(parseError("files:\n  watch:\n    - {path: /etc, mode: write}\n"), HasSubstr("unknown key 'mode'"));
  std::string many = "files:\n  watch:\n";
  for (int i = 0; i < 17; ++i) {
    many += fmt::format("    - /p{}\n", i);
  }
  EXPECT_THAT(parseError(many), HasSubstr("at most 16 watched paths"));
  EXPECT_THAT(parseError("syscalls: {cgroups: {include: [a, b, c, d, e, f, g, h, i]}}\n"),
              HasSubstr("at most 8 cgroups"));
  EXPECT_THAT(parseError("syscalls: {pending_entries: 10}\n"), HasSubstr("pending_entries must be at least 64"));
}

} // namespace
} // namespace vigil

namespace vigil {
namespace {

// The shipped example documents every key at its default: it must parse, and
// to exactly the built-in defaults.
TEST(ConfigExampleTest, DeployExampleIsTheDefaults) {
  auto loaded = loadAgentConfig(std::string(VIGIL_SOURCE_DIR) + "/deploy/agent.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(fieldsOf(*loaded), fieldsOf(AgentConfig{}));
}

TEST(ConfigTest, PipelineAndEnrichSettings) {
  auto c = parseOk("pipeline:\n  enrich_queue: {capacity: 64, when_full: drop}\n  sink_queue: {capacity: 128}\n"
                   "  pooled_events: 10\n  event_block_bytes: 4096\n"
                   "enrich:\n  ancestors: 3\n  containers: false\n  cri_endpoint: unix:///x.sock\n  pod_wait_ms: 0\n");
  EXPECT_EQ(c.pipeline.enrich_queue.capacity, 64u);
  EXPECT_EQ(c.pipeline.enrich_queue.when_full, vigil::pipeline::FullPolicy::kDrop);
  EXPECT_EQ(c.pipeline.sink_queue.capacity, 128u);
  EXPECT_EQ(c.pipeline.sink_queue.when_full, vigil::pipeline::FullPolicy::kBlock);
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
              AllOf(StartsWith("file.yaml:2:"), HasSubstr("burst must be at least 1")));
  EXPECT_THAT(parseError("network:\n  rate_limit: {rate: 5}\n"), HasSubstr("unknown key 'rate' in network.rate_limit"));
}

TEST(ConfigTest, PipelineAndEnrichErrorsNameTheirPlace) {
  EXPECT_THAT(parseError("pipeline:\n  sink_queue: {capacity: 64, when_full: sometimes}\n"),
              AllOf(StartsWith("file.yaml:2:"), HasSubstr("when_full 'sometimes' is not one of block, drop")));
  EXPECT_THAT(parseError("pipeline:\n  enrich_queue:\n    capacity: 3\n"),
              AllOf(StartsWith("file.yaml:3:15: "), HasSubstr("capacity 3 must be between 16 and 1048576")));
  EXPECT_THAT(parseError("pipeline:\n  enrich_queue: {size: 3}\n"), HasSubstr("unknown key 'size' in pipeline.enrich_queue"));
  EXPECT_THAT(parseError("enrich:\n  ancestors: 65\n"),
              AllOf(StartsWith("file.yaml:2:14: "), HasSubstr("ancestors 65 must be at most 64")));
  EXPECT_THAT(parseError("enrich:\n  pod_wait_ms: lots\n"), HasSubstr("pod_wait_ms must be a number of milliseconds"));
}

} // namespace
} // namespace vigil
