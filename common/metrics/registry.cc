#include "vigil/metrics.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <stdexcept>

#include <prometheus/text_serializer.h>

namespace vigil::metrics {

// ---- names, labels, help ------------------------------------------------------

namespace {

constexpr std::string_view kFoldedName = "metrics_folded_total";
constexpr std::string_view kOther = "other";
constexpr std::string_view kKindNames[] = {"Counter", "SharedCounter", "Gauge", "Histogram"};
constexpr std::size_t kCounterIndex = 0;
constexpr std::size_t kSharedCounterIndex = 1;
constexpr std::size_t kGaugeIndex = 2;
constexpr std::size_t kHistogramIndex = 3;
constexpr std::size_t kNoIndex = ~std::size_t{0};

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument("metrics: " + message); }

bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return isLower(c) || (c >= 'A' && c <= 'Z'); }

// Vigil's names are snake_case: [a-z][a-z0-9_]* (a subset of Prometheus'
// [a-zA-Z_:][a-zA-Z0-9_:]*; the colon is for recording rules).
bool isValidName(std::string_view s) {
  if (s.empty() || !isLower(s[0])) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return isLower(c) || isDigit(c) || c == '_'; });
}

bool isValidPrefix(std::string_view s) { return s.empty() || (isValidName(s) && s.back() == '_'); }

// Prometheus: [a-zA-Z_][a-zA-Z0-9_]*, and names starting "__" are reserved.
bool isValidLabelName(std::string_view s) {
  if (s.empty() || !(isAlpha(s[0]) || s[0] == '_') || s.starts_with("__")) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return isAlpha(c) || isDigit(c) || c == '_'; });
}

// Label values are UTF-8 in the exposition format, and one invalid byte makes
// the whole scrape fail; values come from pods and packets, so invalid
// sequences become U+FFFD.
std::string sanitizeUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    size_t len = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      out.push_back(char(c));
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      min = 0x10000;
    }
    bool ok = len != 0 && i + len <= in.size();
    uint32_t cp = len == 0 ? 0 : c & (0x7f >> len);
    for (size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(in[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    ok = ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

// Sorted by name, names valid and distinct, values valid UTF-8. Returns the
// error instead of throwing, for the callbacks' samples.
std::optional<std::string> normalizeLabels(const Labels& in, Labels& out, bool histogram) {
  out.clear();
  out.reserve(in.size());
  for (const auto& [name, value] : in) {
    if (!isValidLabelName(name)) {
      return "invalid label name \"" + name + "\"";
    }
    if (histogram && name == "le") {
      return "label name \"le\" is reserved for histogram buckets";
    }
    out.emplace_back(name, sanitizeUtf8(value));
  }
  std::sort(out.begin(), out.end());
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].first == out[i - 1].first) {
      return "label \"" + out[i].first + "\" given twice";
    }
  }
  return std::nullopt;
}

void checkHelp(std::string_view name, std::string_view help) {
  if (help.empty()) {
    fail("family " + std::string(name) + " has no help text");
  }
  // prometheus-cpp's TextSerializer writes help verbatim: one line, no escapes.
  if (help.find_first_of("\n\r\\") != std::string_view::npos) {
    fail("help of " + std::string(name) + " must be one line without backslashes");
  }
}

std::string_view typeName(prometheus::MetricType type) {
  switch (type) {
  case prometheus::MetricType::Counter:
    return "counter";
  case prometheus::MetricType::Gauge:
    return "gauge";
  case prometheus::MetricType::Histogram:
    return "histogram";
  default:
    return "other";
  }
}

std::vector<prometheus::ClientMetric::Label> toClientLabels(const Labels& labels) {
  std::vector<prometheus::ClientMetric::Label> out;
  out.reserve(labels.size());
  for (const auto& [name, value] : labels) {
    out.push_back({name, value});
  }
  return out;
}

void setValue(prometheus::ClientMetric& metric, prometheus::MetricType type, double value) {
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
}

double scalarValue(const prometheus::ClientMetric& metric, prometheus::MetricType type) {
  switch (type) {
  case prometheus::MetricType::Counter:
    return metric.counter.value;
  case prometheus::MetricType::Gauge:
    return metric.gauge.value;
  case prometheus::MetricType::Histogram:
    return double(metric.histogram.sample_count);
  default:
    return metric.untyped.value;
  }
}

} // namespace

// ---- callback handles ---------------------------------------------------------

struct CallbackHandle::Slot {
  std::mutex mu; // held while fn runs and while it is cleared
  std::function<std::vector<Sample>()> fn;
};

CallbackHandle& CallbackHandle::operator=(CallbackHandle&& other) noexcept {
  if (this != &other) {
    reset();
    slot_ = std::move(other.slot_);
  }
  return *this;
}

CallbackHandle::~CallbackHandle() { reset(); }

void CallbackHandle::reset() {
  if (slot_ == nullptr) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(slot_->mu);
    slot_->fn = nullptr;
  }
  slot_.reset();
}

// ---- registry -----------------------------------------------------------------

struct Registry::Family {
  std::string name; // with the prefix
  std::string help;
  prometheus::MetricType type;
  std::size_t value_index = kNoIndex;          // SeriesValue's alternative, fixed by the first series
  std::optional<std::vector<std::string>> label_names; // fixed by the first series
  prometheus::Histogram::BucketBoundaries buckets;      // histograms: fixed by the first series
  std::map<Labels, SeriesValue> series;                 // entries are never erased
  std::vector<std::shared_ptr<CallbackHandle::Slot>> callbacks;
};

Registry::Registry(std::string prefix, std::size_t max_series_per_family)
    : prefix_(std::move(prefix)), max_series_(max_series_per_family) {
  if (!isValidPrefix(prefix_)) {
    fail("invalid prefix \"" + prefix_ + "\": [a-z][a-z0-9_]* ending in '_', or empty");
  }
  if (max_series_ == 0) {
    fail("max_series_per_family must be at least 1");
  }
  std::lock_guard<std::mutex> lock(mu_);
  folded_ = &doFamily(kFoldedName, "Label sets folded into the series whose label values are all \"other\" because "
                                   "their family reached its series cap, by family",
                      prometheus::MetricType::Counter);
}

Registry::~Registry() = default;

Registry::Family& Registry::doFamily(std::string_view name, std::string_view help, prometheus::MetricType type) {
  if (!isValidName(name)) {
    fail("invalid metric name \"" + std::string(name) + "\": [a-z][a-z0-9_]*");
  }
  std::string full = prefix_ + std::string(name);
  checkHelp(full, help);
  const bool total = name.ends_with("_total") && name.size() > 6;
  if (type == prometheus::MetricType::Counter && !total) {
    fail("counter " + full + " must be named *_total");
  }
  if (type != prometheus::MetricType::Counter && name.ends_with("_total")) {
    fail(std::string(typeName(type)) + " " + full + " must not be named *_total (counters only)");
  }
  if (auto it = families_.find(full); it != families_.end()) {
    Family& f = *it->second;
    if (f.type != type) {
      fail("family " + full + " is a " + std::string(typeName(f.type)) + ", registered again as a " +
           std::string(typeName(type)));
    }
    if (f.help != help) {
      fail("family " + full + " registered again with different help (\"" + f.help + "\" vs \"" +
           std::string(help) + "\")");
    }
    return f;
  }
  // A histogram x exposes x_bucket, x_count and x_sum: no other family may take them.
  for (std::string_view suffix : {"_bucket", "_count", "_sum"}) {
    if (type == prometheus::MetricType::Histogram) {
      if (families_.count(full + std::string(suffix)) != 0) {
        fail("histogram " + full + " collides with the family " + full + std::string(suffix));
      }
    } else if (full.ends_with(suffix)) {
      auto base = families_.find(std::string_view(full).substr(0, full.size() - suffix.size()));
      if (base != families_.end() && base->second->type == prometheus::MetricType::Histogram) {
        fail("family " + full + " collides with the series of histogram " + base->first);
      }
    }
  }
  auto family = std::make_unique<Family>();
  family->name = full;
  family->help = std::string(help);
  family->type = type;
  return *families_.emplace(std::move(full), std::move(family)).first->second;
}

Registry::SeriesValue& Registry::doSeries(Family& family, const Labels& labels, std::size_t value_index,
                                          const prometheus::Histogram::BucketBoundaries* buckets, bool capped) {
  if (family.value_index != kNoIndex && family.value_index != value_index) {
    fail("family " + family.name + " holds " + std::string(kKindNames[family.value_index]) + " series, asked for a " +
         std::string(kKindNames[value_index]));
  }
  Labels key;
  if (auto error = normalizeLabels(labels, key, value_index == kHistogramIndex)) {
    fail(family.name + ": " + *error);
  }
  std::vector<std::string> names;
  names.reserve(key.size());
  for (const auto& label : key) {
    names.push_back(label.first);
  }
  if (family.label_names && *family.label_names != names) {
    fail("family " + family.name + ": every series needs the same label names");
  }
  if (buckets != nullptr) {
    if (family.value_index == kNoIndex) {
      if (buckets->empty() || std::adjacent_find(buckets->begin(), buckets->end(), std::greater_equal<>()) !=
                                  buckets->end()) {
        fail("histogram " + family.name + ": bucket boundaries must be strictly increasing and not empty");
      }
      family.buckets = *buckets;
    } else if (family.buckets != *buckets) {
      fail("histogram " + family.name + ": every series needs the same bucket boundaries");
    }
  }
  family.value_index = value_index;
  family.label_names = std::move(names);

  if (auto it = family.series.find(key); it != family.series.end()) {
    return it->second;
  }
  if (capped && family.series.size() >= max_series_) {
    for (auto& label : key) {
      label.second = std::string(kOther);
    }
    auto& folded = doSeries(*folded_, {{"family", family.name}}, kSharedCounterIndex, nullptr, false);
    std::get<kSharedCounterIndex>(folded)->inc();
    if (auto it = family.series.find(key); it != family.series.end()) {
      return it->second;
    }
  }
  SeriesValue value;
  switch (value_index) {
  case kCounterIndex:
    value = std::make_unique<Counter>();
    break;
  case kSharedCounterIndex:
    value = std::make_unique<SharedCounter>();
    break;
  case kGaugeIndex:
    value = std::make_unique<Gauge>();
    break;
  default:
    value = std::make_unique<prometheus::Histogram>(family.buckets);
    break;
  }
  return family.series.emplace(std::move(key), std::move(value)).first->second;
}

Registry::SeriesValue& Registry::doRegister(std::string_view name, std::string_view help,
                                            prometheus::MetricType type, const Labels& labels,
                                            std::size_t value_index,
                                            const prometheus::Histogram::BucketBoundaries* buckets) {
  const bool existed = doFind(name) != nullptr;
  Family& family = doFamily(name, help, type);
  try {
    return doSeries(family, labels, value_index, buckets, true);
  } catch (...) {
    // A failed registration leaves no empty family behind.
    if (!existed) {
      families_.erase(family.name);
    }
    throw;
  }
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  return *std::get<kCounterIndex>(
      doRegister(name, help, prometheus::MetricType::Counter, labels, kCounterIndex, nullptr));
}

SharedCounter& Registry::sharedCounter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  return *std::get<kSharedCounterIndex>(
      doRegister(name, help, prometheus::MetricType::Counter, labels, kSharedCounterIndex, nullptr));
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  return *std::get<kGaugeIndex>(doRegister(name, help, prometheus::MetricType::Gauge, labels, kGaugeIndex, nullptr));
}

prometheus::Histogram& Registry::histogram(std::string_view name, std::string_view help,
                                           const prometheus::Histogram::BucketBoundaries& buckets,
                                           const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  return *std::get<kHistogramIndex>(
      doRegister(name, help, prometheus::MetricType::Histogram, labels, kHistogramIndex, &buckets));
}

CallbackHandle Registry::addCallback(std::string_view name, std::string_view help, Type type,
                                     std::function<std::vector<Sample>()> fn) {
  if (!fn) {
    fail("callback for " + std::string(name) + " is empty");
  }
  auto slot = std::make_shared<CallbackHandle::Slot>();
  slot->fn = std::move(fn);
  std::lock_guard<std::mutex> lock(mu_);
  auto& family =
      doFamily(name, help, type == Type::kCounter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge);
  // Under mu_, a slot only the registry holds belongs to a handle that is gone.
  std::erase_if(family.callbacks, [](const auto& s) { return s.use_count() == 1; });
  family.callbacks.push_back(slot);
  return CallbackHandle(std::move(slot));
}

const Registry::Family* Registry::doFind(std::string_view name) const {
  auto it = families_.find(prefix_ + std::string(name));
  return it == families_.end() ? nullptr : it->second.get();
}

std::vector<prometheus::MetricFamily> Registry::doCollect(const std::vector<const Family*>& families) const {
  // Under the lock, only what a series map holds (its entries never move);
  // values are read and callbacks run without it.
  struct View {
    const Family* family;
    std::vector<std::pair<const Labels*, const SeriesValue*>> series;
    std::vector<std::shared_ptr<CallbackHandle::Slot>> callbacks;
  };
  std::vector<View> views;
  views.reserve(families.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Family* f : families) {
      View view{f, {}, f->callbacks};
      view.series.reserve(f->series.size());
      for (const auto& [labels, value] : f->series) {
        view.series.emplace_back(&labels, &value);
      }
      views.push_back(std::move(view));
    }
  }

  std::vector<prometheus::MetricFamily> out;
  out.reserve(views.size());
  for (const auto& view : views) {
    const Family& f = *view.family;
    prometheus::MetricFamily mf{f.name, f.help, f.type, {}};
    if (f.type == prometheus::MetricType::Histogram) {
      for (const auto& [labels, value] : view.series) {
        auto metric = std::get<kHistogramIndex>(*value)->Collect();
        metric.label = toClientLabels(*labels);
        mf.metric.push_back(std::move(metric));
      }
      out.push_back(std::move(mf));
      continue;
    }
    auto read = [](const SeriesValue& value) -> double {
      switch (value.index()) {
      case kCounterIndex:
        return double(std::get<kCounterIndex>(value)->value());
      case kSharedCounterIndex:
        return double(std::get<kSharedCounterIndex>(value)->value());
      default:
        return double(std::get<kGaugeIndex>(value)->value());
      }
    };
    if (view.callbacks.empty()) {
      mf.metric.reserve(view.series.size());
      for (const auto& [labels, value] : view.series) {
        prometheus::ClientMetric metric;
        metric.label = toClientLabels(*labels);
        setValue(metric, f.type, read(*value));
        mf.metric.push_back(std::move(metric));
      }
      out.push_back(std::move(mf));
      continue;
    }
    std::map<Labels, double> merged;
    for (const auto& [labels, value] : view.series) {
      merged[*labels] += read(*value);
    }
    for (const auto& slot : view.callbacks) {
      std::vector<Sample> samples;
      {
        std::lock_guard<std::mutex> lock(slot->mu);
        if (!slot->fn) {
          continue;
        }
        try {
          samples = slot->fn();
        } catch (const std::exception&) {
          // A failing source leaves its samples out; the others still count.
          continue;
        }
      }
      Labels key;
      for (const auto& sample : samples) {
        if (!normalizeLabels(sample.labels, key, false)) {
          merged[key] += sample.value;
        }
      }
    }
    mf.metric.reserve(merged.size());
    for (const auto& [labels, value] : merged) {
      prometheus::ClientMetric metric;
      metric.label = toClientLabels(labels);
      setValue(metric, f.type, value);
      mf.metric.push_back(std::move(metric));
    }
    out.push_back(std::move(mf));
  }
  return out;
}

std::vector<prometheus::MetricFamily> Registry::Collect() const {
  std::vector<const Family*> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      families.push_back(family.get());
    }
  }
  return doCollect(families);
}

std::vector<prometheus::MetricFamily> Registry::collectFamilies(const std::vector<std::string>& names) const {
  std::vector<const Family*> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& name : names) {
      if (const Family* f = doFind(name)) {
        families.push_back(f);
      }
    }
  }
  return doCollect(families);
}

std::optional<double> Registry::value(std::string_view name, const Labels& match) const {
  const Family* family = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    family = doFind(name);
  }
  if (family == nullptr) {
    return std::nullopt;
  }
  auto collected = doCollect({family});
  double sum = 0;
  for (const auto& metric : collected.front().metric) {
    const bool matches = std::all_of(match.begin(), match.end(), [&](const auto& want) {
      return std::any_of(metric.label.begin(), metric.label.end(),
                         [&](const auto& have) { return have.name == want.first && have.value == want.second; });
    });
    if (matches) {
      sum += scalarValue(metric, family->type);
    }
  }
  return sum;
}

std::string Registry::renderText() const { return prometheus::TextSerializer().Serialize(Collect()); }

// ---- the stats line -----------------------------------------------------------

namespace {

void appendNumber(std::string& out, double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, ec == std::errc() ? end : buf);
}

// {name=value,...}; a value with a separator in it is quoted.
void appendLabels(std::string& out, const std::vector<prometheus::ClientMetric::Label>& labels) {
  if (labels.empty()) {
    return;
  }
  out.push_back('{');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    out.append(labels[i].name);
    out.push_back('=');
    const auto& v = labels[i].value;
    if (v.empty() || v.find_first_of(" ,={}\"\n") != std::string::npos) {
      out.push_back('"');
      for (char c : v) {
        if (c == '"' || c == '\\') {
          out.push_back('\\');
          out.push_back(c);
        } else if (c == '\n') {
          out.append("\\n");
        } else {
          out.push_back(c);
        }
      }
      out.push_back('"');
    } else {
      out.append(v);
    }
  }
  out.push_back('}');
}

void appendItem(std::string& out, std::string_view name, const std::vector<prometheus::ClientMetric::Label>& labels,
                double value) {
  if (!out.empty()) {
    out.push_back(' ');
  }
  out.append(name);
  appendLabels(out, labels);
  out.push_back('=');
  appendNumber(out, value);
}

} // namespace

std::string renderSummary(const Registry& registry, const std::vector<std::string>& families, bool skip_zero) {
  const auto collected = families.empty() ? registry.Collect() : registry.collectFamilies(families);
  std::string out;
  for (const auto& family : collected) {
    std::string_view name = family.name;
    if (name.starts_with(registry.prefix())) {
      name.remove_prefix(registry.prefix().size());
    }
    for (const auto& metric : family.metric) {
      if (family.type == prometheus::MetricType::Histogram) {
        if (skip_zero && metric.histogram.sample_count == 0) {
          continue;
        }
        appendItem(out, std::string(name) + "_count", metric.label, double(metric.histogram.sample_count));
        appendItem(out, std::string(name) + "_sum", metric.label, metric.histogram.sample_sum);
        continue;
      }
      const double value = scalarValue(metric, family.type);
      if (skip_zero && value == 0) {
        continue;
      }
      appendItem(out, name, metric.label, value);
    }
  }
  return out;
}

} // namespace vigil::metrics
