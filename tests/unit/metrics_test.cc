#include "vigil/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace vigil::metrics {
namespace {

// ---- registration ---------------------------------------------------------------

TEST(MetricsRegistry, SameNameAndLabelsGiveTheSameObject) {
  Registry r("vigil_agent_");
  Counter& a = r.counter("events_total", "Events.", {{"kind", "exec"}, {"domain", "process"}});
  Counter& b = r.counter("events_total", "Events.", {{"domain", "process"}, {"kind", "exec"}});
  Counter& c = r.counter("events_total", "Events.", {{"domain", "process"}, {"kind", "fork"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.inc();
  b.inc(4);
  c.inc(2);
  EXPECT_EQ(a.value(), 5u);
  EXPECT_EQ(r.value("events_total"), 7.0);
  EXPECT_EQ(r.value("events_total", {{"kind", "exec"}}), 5.0);
  EXPECT_EQ(r.value("events_total", {{"kind", "exit"}}), 0.0);
  EXPECT_EQ(r.value("missing_total"), std::nullopt);

  Gauge& g = r.gauge("queue_depth", "Queue depth.", {{"queue", "enrich"}});
  g.set(10);
  g.add(5);
  g.sub(3);
  EXPECT_EQ(&g, &r.gauge("queue_depth", "Queue depth.", {{"queue", "enrich"}}));
  EXPECT_EQ(r.value("queue_depth"), 12.0);

  SharedCounter& s = r.sharedCounter("sink_errors_total", "Sink write errors.");
  s.inc(3);
  EXPECT_EQ(r.value("sink_errors_total"), 3.0);
}

TEST(MetricsRegistry, FamilyNamesCarryThePrefix) {
  Registry r("vigil_central_");
  r.counter("ingest_total", "Records ingested.").inc();
  std::set<std::string> names;
  for (const auto& f : r.Collect()) {
    names.insert(f.name);
  }
  EXPECT_TRUE(names.count("vigil_central_ingest_total"));
  EXPECT_TRUE(names.count("vigil_central_metrics_folded_total"));
}

TEST(MetricsRegistry, BadRegistrationsThrow) {
  EXPECT_THROW(Registry("Vigil_"), std::invalid_argument);
  EXPECT_THROW(Registry("vigil"), std::invalid_argument);
  EXPECT_THROW(Registry("vigil_", 0), std::invalid_argument);
  EXPECT_NO_THROW(Registry(""));

  Registry r("vigil_agent_");
  // Names.
  for (const char* bad : {"", "Events_total", "1events_total", "events-x_total", "ev:ents_total", "_events_total",
                          "events total"}) {
    EXPECT_THROW(r.counter(bad, "Help."), std::invalid_argument) << bad;
  }
  EXPECT_THROW(r.counter("events", "Help."), std::invalid_argument);    // counters end in _total
  EXPECT_THROW(r.gauge("depth_total", "Help."), std::invalid_argument); // only counters do
  EXPECT_THROW(r.histogram("latency_total", "Help.", {1, 2}), std::invalid_argument);
  // Help.
  EXPECT_THROW(r.counter("a_total", ""), std::invalid_argument);
  EXPECT_THROW(r.counter("a_total", "two\nlines"), std::invalid_argument);
  EXPECT_THROW(r.counter("a_total", "back\\slash"), std::invalid_argument);
  // Label names.
  EXPECT_THROW(r.counter("a_total", "A.", {{"__name", "x"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("a_total", "A.", {{"1x", "x"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("a_total", "A.", {{"a-b", "x"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("a_total", "A.", {{"x", "1"}, {"x", "2"}}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h_seconds", "H.", {1, 2}, {{"le", "1"}}), std::invalid_argument);

  // One family, one type, one help, one kind of value, one set of label names.
  r.counter("b_total", "B.", {{"x", "1"}});
  EXPECT_THROW(r.counter("b_total", "Other help.", {{"x", "1"}}), std::invalid_argument);
  EXPECT_THROW(r.sharedCounter("b_total", "B.", {{"x", "2"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("b_total", "B.", {{"y", "1"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("b_total", "B.", {{"x", "1"}, {"y", "1"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("b_total", "B."), std::invalid_argument);
  EXPECT_THROW((void)r.addCallback("b_total", "B.", Type::kGauge, [] { return std::vector<Sample>{}; }),
               std::invalid_argument);
  r.gauge("c", "C.");
  EXPECT_THROW((void)r.addCallback("c", "C.", Type::kCounter, [] { return std::vector<Sample>{}; }),
               std::invalid_argument);
  EXPECT_THROW((void)r.addCallback("c", "C.", Type::kGauge, nullptr), std::invalid_argument);

  // Histograms: increasing boundaries, the same in every series, and their
  // _bucket/_count/_sum series are theirs alone.
  EXPECT_THROW(r.histogram("h_seconds", "H.", {}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h_seconds", "H.", {2, 1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h_seconds", "H.", {1, 1}), std::invalid_argument);
  r.histogram("h_seconds", "H.", {1, 2}, {{"x", "1"}});
  EXPECT_THROW(r.histogram("h_seconds", "H.", {1, 3}, {{"x", "2"}}), std::invalid_argument);
  EXPECT_THROW(r.gauge("h_seconds_count", "H."), std::invalid_argument);
  EXPECT_THROW(r.counter("h_seconds", "H."), std::invalid_argument);
  r.gauge("g_bytes_sum", "G.");
  EXPECT_THROW(r.histogram("g_bytes", "G.", {1}), std::invalid_argument);

  // Nothing half-registered stayed behind from the failures above.
  EXPECT_EQ(r.value("events"), std::nullopt);
  EXPECT_EQ(r.value("depth_total"), std::nullopt);
}

TEST(MetricsRegistry, CollectIsSortedAndDeterministic) {
  Registry r("t_");
  r.gauge("zeta", "Z.", {{"k", "b"}}).set(2);
  r.counter("alpha_total", "A.", {{"k", "z"}}).inc();
  r.gauge("zeta", "Z.", {{"k", "a"}}).set(1);
  r.counter("alpha_total", "A.", {{"k", "m"}}).inc();
  r.gauge("mid", "M.").set(3);
  const auto families = r.Collect();
  std::vector<std::string> names;
  for (const auto& f : families) {
    names.push_back(f.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"t_alpha_total", "t_metrics_folded_total", "t_mid", "t_zeta"}));
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_EQ(families[0].metric[0].label[0].value, "m");
  EXPECT_EQ(families[0].metric[1].label[0].value, "z");
  EXPECT_EQ(families[3].metric[0].label[0].value, "a");
  EXPECT_EQ(families[3].metric[0].gauge.value, 1.0);
  EXPECT_EQ(r.renderText(), r.renderText());
}

TEST(MetricsRegistry, LabelValuesBecomeValidUtf8) {
  Registry r("t_");
  r.counter("dns_total", "D.", {{"name", std::string("ok\xff\xc3(")}}).inc();
  r.counter("dns_total", "D.", {{"name", "caf\xc3\xa9"}}).inc();
  const auto f = r.collectFamilies({"dns_total"});
  ASSERT_EQ(f.size(), 1u);
  ASSERT_EQ(f[0].metric.size(), 2u);
  EXPECT_EQ(f[0].metric[0].label[0].value, "caf\xc3\xa9");
  EXPECT_EQ(f[0].metric[1].label[0].value, "ok\xef\xbf\xbd\xef\xbf\xbd(");
}

// ---- the cardinality cap --------------------------------------------------------

TEST(MetricsRegistry, LabelSetsBeyondTheCapFoldIntoOther) {
  Registry r("vigil_agent_", 3);
  std::vector<Counter*> counters;
  for (int i = 0; i < 6; ++i) {
    counters.push_back(&r.counter("pod_events_total", "Events by pod.",
                                  {{"pod", "p" + std::to_string(i)}, {"namespace", "default"}}));
  }
  // The first three are their own series; the rest share the "other" one.
  EXPECT_NE(counters[0], counters[1]);
  EXPECT_NE(counters[1], counters[2]);
  EXPECT_EQ(counters[3], counters[4]);
  EXPECT_EQ(counters[4], counters[5]);
  EXPECT_NE(counters[2], counters[3]);
  // Existing label sets still find their own series.
  EXPECT_EQ(counters[1], &r.counter("pod_events_total", "Events by pod.", {{"pod", "p1"}, {"namespace", "default"}}));
  for (auto* c : counters) {
    c->inc();
  }
  EXPECT_EQ(r.value("pod_events_total", {{"pod", "other"}, {"namespace", "other"}}), 3.0);
  EXPECT_EQ(r.value("pod_events_total"), 6.0);
  EXPECT_EQ(r.value("metrics_folded_total", {{"family", "vigil_agent_pod_events_total"}}), 3.0);
  EXPECT_EQ(r.collectFamilies({"pod_events_total"})[0].metric.size(), 4u);

  // Each family has its own cap; gauges and histograms are capped too.
  for (int i = 0; i < 4; ++i) {
    r.gauge("pod_cache_entries", "Entries.", {{"pod", std::to_string(i)}}).set(1);
    r.histogram("pod_latency_seconds", "Latency.", {0.1, 1}, {{"pod", std::to_string(i)}}).Observe(0.5);
  }
  EXPECT_EQ(r.value("metrics_folded_total", {{"family", "vigil_agent_pod_cache_entries"}}), 1.0);
  EXPECT_EQ(r.value("metrics_folded_total", {{"family", "vigil_agent_pod_latency_seconds"}}), 1.0);
  EXPECT_EQ(r.value("pod_cache_entries", {{"pod", "other"}}), 1.0);
  EXPECT_EQ(r.value("pod_latency_seconds"), 4.0); // a histogram's value is its count
  EXPECT_EQ(r.value("metrics_folded_total"), 5.0);
}

// ---- callbacks ------------------------------------------------------------------

TEST(MetricsCallback, SamplesAreCollectedMergedAndSummed) {
  Registry r("vigil_agent_");
  uint64_t kernel_ring_full = 7;
  auto kernel = r.addCallback("drops_total", "Events lost, by stage and reason.", Type::kCounter, [&] {
    return std::vector<Sample>{{{{"stage", "kernel"}, {"reason", "ring_full"}}, double(kernel_ring_full)},
                               {{{"reason", "ring_full"}, {"stage", "kernel"}}, 1.0}, // same labels: summed
                               {{{"stage", "kernel"}, {"__bad", "x"}}, 100.0},       // invalid: left out
                               {{{"stage", "kernel"}, {"stage", "x"}}, 100.0}};      // repeated: left out
  });
  auto queue = r.addCallback("drops_total", "Events lost, by stage and reason.", Type::kCounter, [] {
    return std::vector<Sample>{{{{"stage", "sink_queue"}, {"reason", "queue_full"}}, 2.0}};
  });
  r.counter("drops_total", "Events lost, by stage and reason.", {{"stage", "sink"}, {"reason", "write_error"}}).inc(4);
  r.counter("drops_total", "Events lost, by stage and reason.", {{"stage", "kernel"}, {"reason", "ring_full"}}).inc(1);

  EXPECT_EQ(r.value("drops_total"), 15.0);
  EXPECT_EQ(r.value("drops_total", {{"stage", "kernel"}}), 9.0);
  kernel_ring_full = 10;
  EXPECT_EQ(r.value("drops_total", {{"stage", "kernel"}, {"reason", "ring_full"}}), 12.0);
  const auto f = r.collectFamilies({"drops_total"});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].type, prometheus::MetricType::Counter);
  EXPECT_EQ(f[0].metric.size(), 3u);

  // Unregistered: never called again, even after the registry keeps going.
  kernel.reset();
  EXPECT_FALSE(kernel.active());
  EXPECT_EQ(r.value("drops_total"), 7.0);
  queue = CallbackHandle();
  EXPECT_EQ(r.value("drops_total"), 5.0);
}

TEST(MetricsCallback, AFailingCallbackLeavesOnlyItsOwnSamplesOut) {
  Registry r("t_");
  auto bad = r.addCallback("depth", "D.", Type::kGauge, []() -> std::vector<Sample> {
    throw std::runtime_error("map gone");
  });
  auto good = r.addCallback("depth", "D.", Type::kGauge, [] { return std::vector<Sample>{{{}, 3.0}}; });
  EXPECT_EQ(r.value("depth"), 3.0);
}

TEST(MetricsCallback, AHandleMayOutliveItsRegistry) {
  CallbackHandle handle;
  {
    Registry r("t_");
    handle = r.addCallback("up", "U.", Type::kGauge, [] { return std::vector<Sample>{{{}, 1.0}}; });
    EXPECT_EQ(r.value("up"), 1.0);
  }
  EXPECT_TRUE(handle.active());
  handle.reset();
}

// ---- the stats line -------------------------------------------------------------

TEST(MetricsSummary, RendersTheNamedFamiliesCompactly) {
  Registry r("vigil_agent_");
  r.counter("events_total", "Events.").inc(42);
  r.counter("drops_total", "Drops.", {{"stage", "kernel"}, {"reason", "ring_full"}}).inc(3);
  r.counter("drops_total", "Drops.", {{"stage", "sink"}, {"reason", "write_error"}});
  r.gauge("queue_depth", "Depth.", {{"queue", "sink queue"}}).set(-2);
  auto& h = r.histogram("batch_seconds", "Batch time.", {0.5, 1});
  h.Observe(0.25);
  h.Observe(0.5);

  EXPECT_EQ(renderSummary(r, {"events_total", "drops_total", "queue_depth", "batch_seconds", "nope"}, true),
            "events_total=42 drops_total{reason=ring_full,stage=kernel}=3 queue_depth{queue=\"sink queue\"}=-2 "
            "batch_seconds_count=2 batch_seconds_sum=0.75");
  EXPECT_EQ(renderSummary(r, {"drops_total"}, false),
            "drops_total{reason=ring_full,stage=kernel}=3 drops_total{reason=write_error,stage=sink}=0");
  // Every family when none is named.
  EXPECT_EQ(renderSummary(r, {}, true), "batch_seconds_count=2 batch_seconds_sum=0.75 "
                                        "drops_total{reason=ring_full,stage=kernel}=3 events_total=42 "
                                        "queue_depth{queue=\"sink queue\"}=-2");
}

// ---- the exposition format, checked line by line ----------------------------------

struct ParsedSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

bool isNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

// name{label="value",...} value — the text format 0.0.4 grammar. Returns an
// error message, empty when the line parses.
std::string parseSampleLine(const std::string& line, ParsedSample& out) {
  size_t i = 0;
  while (i < line.size() && isNameChar(line[i], i == 0)) {
    ++i;
  }
  if (i == 0) {
    return "no metric name";
  }
  out.name = line.substr(0, i);
  out.labels.clear();
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t start = i;
      while (i < line.size() && isNameChar(line[i], i == start) && line[i] != ':') {
        ++i;
      }
      if (i == start) {
        return "no label name";
      }
      std::string label = line.substr(start, i - start);
      if (line.compare(i, 2, "=\"") != 0) {
        return "label without =\"";
      }
      i += 2;
      std::string value;
      for (;; ++i) {
        if (i >= line.size()) {
          return "unterminated label value";
        }
        if (line[i] == '"') {
          break;
        }
        if (line[i] == '\n') {
          return "raw newline in a label value";
        }
        if (line[i] == '\\') {
          ++i;
          if (i >= line.size()) {
            return "dangling backslash";
          }
          switch (line[i]) {
          case '\\':
            value += '\\';
            break;
          case '"':
            value += '"';
            break;
          case 'n':
            value += '\n';
            break;
          default:
            return std::string("bad escape \\") + line[i];
          }
          continue;
        }
        value += line[i];
      }
      ++i; // closing quote
      if (!out.labels.emplace(label, value).second) {
        return "label " + label + " repeated";
      }
      if (i < line.size() && line[i] == ',') {
        ++i;
      }
    }
    if (i >= line.size()) {
      return "unterminated label set";
    }
    ++i; // closing brace
  }
  if (i >= line.size() || line[i] != ' ') {
    return "no space before the value";
  }
  std::string value = line.substr(i + 1);
  if (value == "+Inf") {
    out.value = INFINITY;
  } else if (value == "-Inf") {
    out.value = -INFINITY;
  } else if (value == "NaN" || value == "Nan") {
    out.value = NAN;
  } else {
    char* end = nullptr;
    out.value = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0') {
      return "bad value \"" + value + "\"";
    }
  }
  return "";
}

TEST(MetricsExposition, RenderTextParsesLineByLine) {
  Registry r("vigil_agent_");
  const std::string tricky = "back\\slash \"quoted\"\nnewline";
  r.counter("events_total", "Events captured, by kind.", {{"kind", "exec"}}).inc(3);
  r.counter("events_total", "Events captured, by kind.", {{"kind", tricky}}).inc(1);
  r.sharedCounter("sink_errors_total", "Sink write errors.").inc(2);
  r.gauge("queue_depth", "Events waiting, by queue.", {{"queue", "enrich"}}).set(17);
  auto cb = r.addCallback("kernel_drops_total", "Records the kernel lost, by reason and CPU.", Type::kCounter, [] {
    return std::vector<Sample>{{{{"reason", "ring_full"}, {"cpu", "0"}}, 5},
                               {{{"reason", "ring_full"}, {"cpu", "1"}}, 6}};
  });
  auto cache = r.addCallback("process_cache_entries", "Processes in the cache.", Type::kGauge,
                             [] { return std::vector<Sample>{{{}, 1234}}; });
  auto& h = r.histogram("export_batch_seconds", "Time to send a batch.", {0.001, 0.01, 0.1}, {{"sink", "grpc"}});
  h.Observe(0.0005);
  h.Observe(0.05);
  h.Observe(3);

  const std::string text = r.renderText();
  std::istringstream in(text);
  std::string line;
  std::map<std::string, std::string> types; // family -> type
  std::set<std::string> helped;
  std::vector<ParsedSample> samples;
  std::string current; // the family whose TYPE came last
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    SCOPED_TRACE("line " + std::to_string(line_no) + ": " + line);
    ASSERT_FALSE(line.empty());
    if (line.starts_with("# HELP ")) {
      const auto rest = line.substr(7);
      const auto space = rest.find(' ');
      ASSERT_NE(space, std::string::npos);
      EXPECT_TRUE(helped.insert(rest.substr(0, space)).second) << "HELP twice";
      EXPECT_FALSE(rest.substr(space + 1).empty());
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      std::istringstream fields(line.substr(7));
      std::string name;
      std::string type;
      std::string extra;
      fields >> name >> type;
      EXPECT_FALSE(fields >> extra);
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << type;
      EXPECT_TRUE(helped.count(name)) << "TYPE before HELP";
      EXPECT_TRUE(types.emplace(name, type).second) << "TYPE twice";
      current = name;
      continue;
    }
    ASSERT_NE(line[0], '#') << "unknown comment";
    ParsedSample s;
    const auto error = parseSampleLine(line, s);
    ASSERT_EQ(error, "");
    // A sample belongs to the family whose TYPE came last.
    ASSERT_FALSE(current.empty());
    if (types[current] == "histogram") {
      EXPECT_TRUE(s.name == current + "_bucket" || s.name == current + "_count" || s.name == current + "_sum")
          << s.name;
      EXPECT_EQ(s.labels.count("le"), s.name == current + "_bucket" ? 1u : 0u);
    } else {
      EXPECT_EQ(s.name, current);
    }
    samples.push_back(std::move(s));
  }

  EXPECT_EQ(types["vigil_agent_events_total"], "counter");
  EXPECT_EQ(types["vigil_agent_sink_errors_total"], "counter");
  EXPECT_EQ(types["vigil_agent_queue_depth"], "gauge");
  EXPECT_EQ(types["vigil_agent_kernel_drops_total"], "counter");
  EXPECT_EQ(types["vigil_agent_process_cache_entries"], "gauge");
  EXPECT_EQ(types["vigil_agent_export_batch_seconds"], "histogram");
  EXPECT_EQ(types["vigil_agent_metrics_folded_total"], "counter");

  auto find = [&](const std::string& name, const std::map<std::string, std::string>& labels) -> const ParsedSample* {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) {
        return &s;
      }
    }
    return nullptr;
  };
  const ParsedSample* s = find("vigil_agent_events_total", {{"kind", tricky}}); // escapes round-trip
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 1);
  ASSERT_NE(s = find("vigil_agent_events_total", {{"kind", "exec"}}), nullptr);
  EXPECT_EQ(s->value, 3);
  ASSERT_NE(s = find("vigil_agent_sink_errors_total", {}), nullptr);
  EXPECT_EQ(s->value, 2);
  ASSERT_NE(s = find("vigil_agent_queue_depth", {{"queue", "enrich"}}), nullptr);
  EXPECT_EQ(s->value, 17);
  ASSERT_NE(s = find("vigil_agent_kernel_drops_total", {{"reason", "ring_full"}, {"cpu", "1"}}), nullptr);
  EXPECT_EQ(s->value, 6);
  ASSERT_NE(s = find("vigil_agent_process_cache_entries", {}), nullptr);
  EXPECT_EQ(s->value, 1234);
  ASSERT_NE(s = find("vigil_agent_export_batch_seconds_bucket", {{"sink", "grpc"}, {"le", "0.01"}}), nullptr);
  EXPECT_EQ(s->value, 1);
  ASSERT_NE(s = find("vigil_agent_export_batch_seconds_bucket", {{"sink", "grpc"}, {"le", "0.1"}}), nullptr);
  EXPECT_EQ(s->value, 2);
  ASSERT_NE(s = find("vigil_agent_export_batch_seconds_bucket", {{"sink", "grpc"}, {"le", "+Inf"}}), nullptr);
  EXPECT_EQ(s->value, 3);
  ASSERT_NE(s = find("vigil_agent_export_batch_seconds_count", {{"sink", "grpc"}}), nullptr);
  EXPECT_EQ(s->value, 3);
  ASSERT_NE(s = find("vigil_agent_export_batch_seconds_sum", {{"sink", "grpc"}}), nullptr);
  EXPECT_DOUBLE_EQ(s->value, 3.0505);
}

TEST(MetricsExposition, TheLineParserRejectsWhatPrometheusWould) {
  ParsedSample s;
  EXPECT_EQ(parseSampleLine("a{b=\"c\"} 1", s), "");
  EXPECT_NE(parseSampleLine("a{b=\"c\nd\"} 1", s), "");
  EXPECT_NE(parseSampleLine("a{b=\"c\\t\"} 1", s), "");
  EXPECT_NE(parseSampleLine("a{b=\"c} 1", s), "");
  EXPECT_NE(parseSampleLine("a{b=c} 1", s), "");
  EXPECT_NE(parseSampleLine("a 1x", s), "");
  EXPECT_NE(parseSampleLine("1a 1", s), "");
}

// ---- reading while the capture thread counts ------------------------------------

TEST(MetricsStress, CollectWhileOneThreadIncrements) {
  Registry r("vigil_agent_");
  Counter& events = r.counter("events_total", "Events.", {{"kind", "exec"}});
  SharedCounter& shared = r.sharedCounter("shared_total", "Shared.");
  Gauge& depth = r.gauge("queue_depth", "Depth.");
  constexpr uint64_t kIncrements = 2'000'000;
  constexpr uint64_t kSharedPerThread = 500'000;

  std::atomic<bool> done{false};
  std::atomic<uint64_t> collections{0};
  std::atomic<bool> monotone{true};
  std::thread reader([&] {
    double last_events = 0;
    double last_shared = 0;
    while (!done.load(std::memory_order_acquire)) {
      // Collect() and value() both, and registration of new series on the way.
      double ev = 0;
      double sh = 0;
      for (const auto& f : r.Collect()) {
        if (f.name == "vigil_agent_events_total") {
          for (const auto& m : f.metric) {
            if (m.label.size() == 1 && m.label[0].value == "exec") {
              ev = m.counter.value;
            }
          }
        } else if (f.name == "vigil_agent_shared_total") {
          sh = f.metric.at(0).counter.value;
        }
      }
      const double ev2 = r.value("events_total", {{"kind", "exec"}}).value_or(-1);
      if (ev < last_events || sh < last_shared || ev2 < ev) {
        monotone = false;
      }
      last_events = ev2;
      last_shared = sh;
      r.counter("events_total", "Events.", {{"kind", "c" + std::to_string(collections.load() % 50)}});
      collections.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::thread sharer([&] {
    for (uint64_t i = 0; i < kSharedPerThread; ++i) {
      shared.inc();
    }
  });
  for (uint64_t i = 0; i < kSharedPerThread; ++i) {
    shared.inc();
  }
  // The capture thread counts until the reader has collected many times
  // while it ran, and at least kIncrements times.
  uint64_t counted = 0;
  while (counted < kIncrements || collections.load(std::memory_order_relaxed) < 200) {
    events.inc();
    depth.set(int64_t(counted % 1000));
    ++counted;
    // Give the reader a chance to run when both threads share one CPU.
    if (counted % 100'000 == 0) {
      std::this_thread::yield();
    }
  }
  sharer.join();
  done.store(true, std::memory_order_release);
  reader.join();

  EXPECT_TRUE(monotone);
  EXPECT_EQ(events.value(), counted);
  EXPECT_EQ(r.value("events_total", {{"kind", "exec"}}), double(counted));
  EXPECT_EQ(r.value("shared_total"), double(2 * kSharedPerThread));
  EXPECT_EQ(r.value("queue_depth"), double((counted - 1) % 1000));
}

} // namespace
} // namespace vigil::metrics
