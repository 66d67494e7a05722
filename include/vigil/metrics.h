#pragma once

// The one metrics registry (docs/metrics.md). Every counter and gauge a tier
// keeps lives in one Registry, scoped by a prefix ("vigil_agent_",
// "vigil_central_"); the Prometheus endpoint, the stats log line and the tests
// all read from it.
//
// The registry is a prometheus::Collectable, so prometheus-cpp's pull Exposer
// serves it as it is (Exposer::RegisterCollectable). Values are written on the
// hot path without locks and read by Collect() from any thread at any time.
//
// Registration (counter(), gauge(), ...) takes a mutex and a map lookup: do it
// once, when a component is built, and keep the reference. Registration errors
// (a bad name, a family registered twice with a different type or help, ...)
// are programming errors and throw std::invalid_argument.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>

namespace vigil::metrics {

// Label name/value pairs. Order does not matter: the registry keeps them sorted
// by name, so {{"a","1"},{"b","2"}} and {{"b","2"},{"a","1"}} are one series.
using Labels = std::vector<std::pair<std::string, std::string>>;

// One cache line per value, so that values written by different threads never
// share one.
inline constexpr std::size_t kCacheLine = 64;

// A monotonic count written by ONE thread and read by any: the increment is a
// relaxed load and store, no locked instruction. Two threads calling inc() on
// the same Counter lose counts; use SharedCounter there.
class alignas(kCacheLine) Counter {
public:
  void inc(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> value_{0};
};

// A monotonic count written by several threads (fetch_add).
class alignas(kCacheLine) SharedCounter {
public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down; any thread may write it.
class alignas(kCacheLine) Gauge {
public:
  void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(int64_t n) { value_.fetch_sub(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<int64_t> value_{0};
};

// What a callback family exposes (Registry::addCallback).
enum class Type { kCounter, kGauge };

// One value of a callback family.
struct Sample {
  Labels labels;
  double value = 0;
};

// Keeps a callback registered; destroying (or reset()) unregisters it and
// waits for a call in progress to finish, after which the callback is never
// called again. Independent of the registry's lifetime: it may outlive it.
class CallbackHandle {
public:
  CallbackHandle() = default;
  CallbackHandle(CallbackHandle&&) noexcept = default;
  CallbackHandle& operator=(CallbackHandle&& other) noexcept;
  CallbackHandle(const CallbackHandle&) = delete;
  CallbackHandle& operator=(const CallbackHandle&) = delete;
  ~CallbackHandle();

  void reset();
  bool active() const { return slot_ != nullptr; }

  struct Slot;

private:
  friend class Registry;
  explicit CallbackHandle(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {}
  std::shared_ptr<Slot> slot_;
};

class Registry : public prometheus::Collectable {
public:
  static constexpr std::size_t kDefaultMaxSeriesPerFamily = 1000;

  // `prefix` is prepended to every family name: "vigil_agent_",
  // "vigil_central_" ("" in tests). It must be a valid name prefix ending in
  // '_'. Beyond `max_series_per_family` distinct label sets, a family's new
  // label sets fold into one series whose label values are all "other", and
  // <prefix>metrics_folded_total{family="<family>"} counts each fold.
  explicit Registry(std::string prefix, std::size_t max_series_per_family = kDefaultMaxSeriesPerFamily);
  ~Registry() override;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  const std::string& prefix() const { return prefix_; }

  // `name` is without the prefix. Counter names end in "_total"; gauge and
  // histogram names do not. Names use [a-z0-9_], start with a letter, and
  // carry their base unit (_seconds, _bytes). `help` is one line, required.
  // Same name and labels → the same object; the reference stays valid for the
  // registry's lifetime. A family's series all have the same label names and
  // the same kind of value (a family of Counters has no SharedCounter).
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  SharedCounter& sharedCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  // prometheus-cpp's histogram (Observe() takes a mutex: not for per-event
  // paths at a million events a second). Every series of a family has the
  // same boundaries, strictly increasing.
  prometheus::Histogram& histogram(std::string_view name, std::string_view help,
                                   const prometheus::Histogram::BucketBoundaries& buckets,
                                   const Labels& labels = {});

  // Values computed when collected: kernel per-CPU maps, queue depths, cache
  // sizes. `fn` runs on the collecting thread, without the registry's lock
  // (it may take its own locks, but must not destroy its own handle), never
  // concurrently with itself. Several callbacks (and counter()/gauge()
  // series of the same type) may feed one family; samples with equal labels
  // are summed. The callback bounds its own cardinality (the registry's cap
  // applies to counter()/gauge()/histogram() only). A sample whose label names
  // are invalid or repeated is left out.
  [[nodiscard]] CallbackHandle addCallback(std::string_view name, std::string_view help, Type type,
                                           std::function<std::vector<Sample>()> fn);

  // Every family, sorted by name; series sorted by labels.
  std::vector<prometheus::MetricFamily> Collect() const override;
  // The named families (names without the prefix), in the order given;
  // unknown names are skipped.
  std::vector<prometheus::MetricFamily> collectFamilies(const std::vector<std::string>& names) const;

  // Sum of a family's values over the series whose labels include every pair
  // of `match` (a histogram's value is its observation count); nullopt when no
  // family has that name. `name` is without the prefix.
  std::optional<double> value(std::string_view name, const Labels& match = {}) const;

  // The Prometheus text exposition format (prometheus::TextSerializer).
  std::string renderText() const;

private:
  struct Family;
  // The values a family's series hold: one alternative per family.
  using SeriesValue = std::variant<std::unique_ptr<Counter>, std::unique_ptr<SharedCounter>, std::unique_ptr<Gauge>,
                                   std::unique_ptr<prometheus::Histogram>>;

  // All do*() but doCollect() run with mu_ held.
  Family& doFamily(std::string_view name, std::string_view help, prometheus::MetricType type);
  SeriesValue& doRegister(std::string_view name, std::string_view help, prometheus::MetricType type,
                          const Labels& labels, std::size_t value_index,
                          const prometheus::Histogram::BucketBoundaries* buckets);
  SeriesValue& doSeries(Family& family, const Labels& labels, std::size_t value_index,
                        const prometheus::Histogram::BucketBoundaries* buckets, bool capped);
  const Family* doFind(std::string_view name) const;
  std::vector<prometheus::MetricFamily> doCollect(const std::vector<const Family*>& families) const;

  const std::string prefix_;
  const std::size_t max_series_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_; // by full name
  Family* folded_ = nullptr;                                             // <prefix>metrics_folded_total
};

// The stats log line: "name{label=value,...}=value ..." for the named families
// (without the prefix), in the order given, every family when `families` is
// empty; zero values left out when `skip_zero`. Histograms render as
// name_count and name_sum.
std::string renderSummary(const Registry& registry, const std::vector<std::string>& families, bool skip_zero);

} // namespace vigil::metrics
