#include "agent/config.h"

#include "collectors/syscall/syscall_table.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fcntl.h>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <sys/stat.h>
#include <system_error>
#include <type_traits>
#include <unistd.h>

namespace vigil {
namespace {

// ---------------------------------------------------------------------------
// Text helpers

std::string spaces(int n) { return std::string(size_t(std::max(n, 0)), ' '); }

// "a, b or c"
std::string orList(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "" : (i + 1 == items.size() ? " or " : ", ");
    out += items[i];
  }
  return out;
}

std::string commaList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest of names to typed, when it is close enough to be a typo or a
// shortened name ("argvmax" for argv_max_bytes); "" when none is.
std::string closestName(std::string_view typed, const std::vector<std::string>& names) {
  auto plain = [](std::string_view text) {
    std::string out;
    for (char c : text) {
      if (c != '_' && c != '-') {
        out += char(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    return out;
  };
  std::string typed_plain = plain(typed);
  std::string best;
  size_t best_distance = std::max<size_t>(2, typed.size() / 3) + 1;
  for (const auto& name : names) {
    std::string name_plain = plain(name);
    size_t d = editDistance(typed, name);
    if (typed_plain.size() >= 3 && name_plain.rfind(typed_plain, 0) == 0) {
      d = std::min<size_t>(d, 1); // a prefix of the name
    }
    if (d < best_distance) {
      best = name;
      best_distance = d;
    }
  }
  return best;
}

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

Result<bool> parseBool(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (lower == "true" || lower == "yes" || lower == "on") {
    return true;
  }
  if (lower == "false" || lower == "no" || lower == "off") {
    return false;
  }
  return makeError("must be true or false (got '{}')", text);
}

// ---------------------------------------------------------------------------
// Where values come from

// Names the place of a YAML node in errors: "agent.yaml:3:5: key: what".
class Reader {
public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  std::string place(const YAML::Node& node) const {
    auto mark = node.Mark();
    if (mark.line < 0) {
      return source_;
    }
    return fmt::format("{}:{}:{}", source_, mark.line + 1, mark.column + 1);
  }

  Error error(const YAML::Node& node, std::string_view key, std::string_view what) const {
    return makeError("{}: {}: {}", place(node), key, what);
  }

  // node is a mapping whose keys are plain names, each once.
  Status checkKeys(const YAML::Node& node, std::string_view shown) const {
    std::map<std::string, YAML::Mark> seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        return error(kv.first, shown, "keys must be plain names");
      }
      auto [it, inserted] = seen.emplace(kv.first.Scalar(), kv.first.Mark());
      if (!inserted) {
        std::string key = shown.empty() ? kv.first.Scalar() : fmt::format("{}.{}", shown, kv.first.Scalar());
        return error(kv.first, key,
                     fmt::format("duplicate key (first at line {}, column {})", it->second.line + 1,
                                 it->second.column + 1));
      }
    }
    return okStatus();
  }

private:
  std::string source_;
};

std::string_view kindOf(const YAML::Node& node) {
  if (node.IsSequence()) {
    return "a list";
  }
  if (node.IsMap()) {
    return "a mapping";
  }
  return "empty";
}

// ---------------------------------------------------------------------------
// Keys

// One key of a table over a configuration struct C: its name, its help, and
// the operations on its field. The field is reached through a function that
// returns a reference to it (a capture-less lambda).
template <class C> class Key {
public:
  Key(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
  virtual ~Key() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::string& flag() const { return flag_; }
  const std::string& onlyFor() const { return only_for_; }
  const std::string& defaultDoc() const { return default_doc_; }

  // The command-line flag that sets this key ("--argv-max").
  Key& withFlag(std::string flag) {
    flag_ = std::move(flag);
    return *this;
  }
  // Items of a list of typed entries: the key applies to this type only.
  Key& onlyForType(std::string type) {
    only_for_ = std::move(type);
    return *this;
  }
  // The default as the docs say it, when the field's value does not.
  Key& withDefaultDoc(std::string text) {
    default_doc_ = std::move(text);
    return *this;
  }

  virtual std::string typeText() const = 0;
  virtual std::string boundsText() const { return {}; }
  virtual std::string valueName() const = 0;
  virtual bool isBool() const { return false; }
  virtual bool isScalar() const { return true; }

  // A scalar value from text; the error says what is wrong, without place or key.
  virtual Status setText(C& config, std::string_view text) const = 0;

  // A value from YAML; errors are complete ("agent.yaml:3:5: key: what").
  // shown: the key as errors name it ("outputs[1].path").
  virtual Status setNode(C& config, const YAML::Node& node, const Reader& reader, std::string_view shown) const {
    if (!node.IsScalar()) {
      return reader.error(node, shown, fmt::format("must be a single value, not {}", kindOf(node)));
    }
    if (auto st = setText(config, node.Scalar()); !st) {
      return reader.error(node, shown, st.error().message());
    }
    return okStatus();
  }

  // The value as YAML, the text after "key:": " 4096", or a block that
  // starts with a newline, its lines indented beyond indent.
  virtual std::string render(const C& config, int indent) const = 0;

protected:
  // Fields are reached through functions taking a mutable config; rendering
  // only reads through the reference.
  static C& mutableConfig(const C& config) { return const_cast<C&>(config); }

private:
  std::string name_;
  std::string help_;
  std::string flag_;
  std::string only_for_;
  std::string default_doc_;
};

template <class C> using KeyPtr = std::unique_ptr<Key<C>>;

template <class C> class BoolKey : public Key<C> {
public:
  BoolKey(std::string name, bool& (*field)(C&), std::string help)
      : Key<C>(std::move(name), std::move(help)), field_(field) {}

  std::string typeText() const override { return "true or false"; }
  std::string valueName() const override { return ""; }
  bool isBool() const override { return true; }
  Status setText(C& config, std::string_view text) const override {
    auto value = parseBool(text);
    if (!value) {
      return value.error();
    }
    field_(config) = *value;
    return okStatus();
  }
  std::string render(const C& config, int) const override {
    return field_(this->mutableConfig(config)) ? " true" : " false";
  }

private:
  bool& (*field_)(C&);
};

// An unsigned integer within [min, max], and optionally a further rule
// (a power of two); requirement() says both.
template <class C, class T> class NumberKey : public Key<C> {
public:
  static_assert(std::is_unsigned_v<T>);

  NumberKey(std::string name, T& (*field)(C&), uint64_t min, uint64_t max, std::string unit, std::string help)
      : Key<C>(std::move(name), std::move(help)), field_(field), min_(min), max_(max), unit_(std::move(unit)) {}

  // A rule beyond the bounds, and the requirement as errors and docs state it.
  NumberKey& withRule(bool (*rule)(uint64_t), std::string requirement) {
    rule_ = rule;
    requirement_ = std::move(requirement);
    return *this;
  }

  std::string typeText() const override { return unit_.empty() ? "integer" : "integer (" + unit_ + ")"; }
  std::string boundsText() const override { return fullRange() ? "" : requirement(); }
  std::string valueName() const override { return "N"; }

  Status setText(C& config, std::string_view text) const override {
    std::string_view digits = text;
    bool negative = false;
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
      negative = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return makeError("must be a number{} (got '{}')", unit_.empty() ? "" : " of " + unit_, text);
    }
    uint64_t value = 0;
    auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    bool fits = parsed.ec == std::errc() && !(negative && value != 0);
    if (!fits || value < min_ || value > max_ || (rule_ && !rule_(value))) {
      return makeError("must be {} (got {})", requirement(), text);
    }
    field_(config) = T(value);
    return okStatus();
  }

  std::string render(const C& config, int) const override {
    return fmt::format(" {}", field_(this->mutableConfig(config)));
  }

private:
  bool fullRange() const { return requirement_.empty() && min_ == 0 && max_ == std::numeric_limits<T>::max(); }

  std::string requirement() const {
    if (!requirement_.empty()) {
      return requirement_;
    }
    if (min_ > 0 && max_ == std::numeric_limits<T>::max()) {
      return fmt::format("at least {}", min_);
    }
    return fmt::format("between {} and {}", min_, max_);
  }

  T& (*field_)(C&);
  uint64_t min_;
  uint64_t max_;
  std::string unit_;
  bool (*rule_)(uint64_t) = nullptr;
  std::string requirement_;
};

template <class C> class StringKey : public Key<C> {
public:
  StringKey(std::string name, std::string& (*field)(C&), std::string value_name, std::string help)
      : Key<C>(std::move(name), std::move(help)), field_(field), value_name_(std::move(value_name)) {}

  // A rule the text must follow; returns what is wrong, or "" when it is fine.
  StringKey& withRule(std::string (*rule)(std::string_view)) {
    rule_ = rule;
    return *this;
  }

  std::string typeText() const override { return "string"; }
  std::string valueName() const override { return value_name_; }
  Status setText(C& config, std::string_view text) const override {
    if (rule_) {
      if (std::string wrong = rule_(text); !wrong.empty()) {
        return Error(wrong);
      }
    }
    field_(config) = std::string(text);
    return okStatus();
  }
  std::string render(const C& config, int) const override {
    return " " + yamlQuote(field_(this->mutableConfig(config)));
  }

private:
  std::string& (*field_)(C&);
  std::string value_name_;
  std::string (*rule_)(std::string_view) = nullptr;
};

// One of a few names, each naming a value of E; aliases are accepted, never
// rendered or documented.
template <class C, class E> class ChoiceKey : public Key<C> {
public:
  using Choices = std::vector<std::pair<std::string, E>>;

  ChoiceKey(std::string name, E& (*field)(C&), Choices choices, std::string help)
      : Key<C>(std::move(name), std::move(help)), field_(field), choices_(std::move(choices)) {}

  ChoiceKey& withAlias(std::string alias, E value) {
    aliases_.emplace_back(std::move(alias), std::move(value));
    return *this;
  }

  std::string typeText() const override { return "one of"; }
  std::string boundsText() const override { return orList(names()); }
  std::string valueName() const override {
    std::string out;
    for (const auto& name : names()) {
      out += (out.empty() ? "" : "|") + name;
    }
    return out;
  }
  Status setText(C& config, std::string_view text) const override {
    for (const auto* list : {&choices_, &aliases_}) {
      for (const auto& [name, value] : *list) {
        if (name == text) {
          field_(config) = value;
          return okStatus();
        }
      }
    }
    return makeError("must be {} (got '{}')", orList(names()), text);
  }
  std::string render(const C& config, int) const override {
    const E& value = field_(this->mutableConfig(config));
    for (const auto& [name, v] : choices_) {
      if (v == value) {
        return " " + name;
      }
    }
    if constexpr (std::is_same_v<E, std::string>) {
      return " " + yamlQuote(value); // set in code to something no file can say
    } else {
      return " ?";
    }
  }

private:
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& choice : choices_) {
      out.push_back(choice.first);
    }
    return out;
  }

  E& (*field_)(C&);
  Choices choices_;
  Choices aliases_;
};

// Choices named by a collector's own name function.
template <class E> std::vector<std::pair<std::string, E>> namedChoices(std::initializer_list<E> values,
                                                                       std::string_view (*name)(E)) {
  std::vector<std::pair<std::string, E>> out;
  for (E value : values) {
    out.emplace_back(std::string(name(value)), value);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> plainChoices(std::initializer_list<const char*> names) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* name : names) {
    out.emplace_back(name, name);
  }
  return out;
}

// A list of strings, each checked by rule (returns what is wrong, or "").
template <class C> class StringListKey : public Key<C> {
public:
  StringListKey(std::string name, std::vector<std::string>& (*field)(C&), std::string items, size_t max_items,
                bool quoted, std::string (*rule)(std::string_view), std::string help)
      : Key<C>(std::move(name), std::move(help)), field_(field), items_(std::move(items)), max_items_(max_items),
        quoted_(quoted), rule_(rule) {}

  std::string typeText() const override { return "list of " + items_; }
  std::string boundsText() const override { return max_items_ ? fmt::format("at most {}", max_items_) : ""; }
  std::string valueName() const override { return ""; }
  bool isScalar() const override { return false; }

  Status setText(C&, std::string_view) const override {
    return makeError("is a list: set it in a configuration file");
  }
  Status setNode(C& config, const YAML::Node& node, const Reader& reader, std::string_view shown) const override {
    if (!node.IsSequence()) {
      return reader.error(node, shown, fmt::format("must be a list of {} (write [] for none)", items_));
    }
    if (max_items_ && node.size() > max_items_) {
      return reader.error(node, shown, fmt::format("at most {} entries (got {})", max_items_, node.size()));
    }
    std::vector<std::string> values;
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        return reader.error(item, shown, fmt::format("each entry must be a string, not {}", kindOf(item)));
      }
      if (rule_) {
        if (std::string wrong = rule_(item.Scalar()); !wrong.empty()) {
          return reader.error(item, shown, wrong);
        }
      }
      values.push_back(item.Scalar());
    }
    field_(config) = std::move(values);
    return okStatus();
  }
  std::string render(const C& config, int) const override {
    std::string out = " [";
    bool first = true;
    for (const auto& item : field_(this->mutableConfig(config))) {
      out += (first ? "" : ", ") + (quoted_ ? yamlQuote(item) : item);
      first = false;
    }
    return out + "]";
  }

private:
  std::vector<std::string>& (*field_)(C&);
  std::string items_;
  size_t max_items_;
  bool quoted_;
  std::string (*rule_)(std::string_view);
};

// files.watch: path prefixes, each a path or {path, access}.
class WatchKey : public Key<AgentConfig> {
public:
  explicit WatchKey(std::string help) : Key<AgentConfig>("files.watch", std::move(help)) {}

  std::string typeText() const override { return "list of paths, or of {path, access} mappings"; }
  std::string boundsText() const override {
    return fmt::format("at most {}; absolute, shorter than {} bytes; access: read, write or any", VIGIL_SYS_PREFIXES,
                       VIGIL_SYS_PREFIX_CAP);
  }
  std::string valueName() const override { return ""; }
  bool isScalar() const override { return false; }

  Status setText(AgentConfig&, std::string_view) const override {
    return makeError("is a list: set it in a configuration file");
  }
  Status setNode(AgentConfig& config, const YAML::Node& node, const Reader& reader,
                 std::string_view shown) const override {
    if (!node.IsSequence()) {
      return reader.error(node, shown, "must be a list of paths, or of {path, access} mappings (write [] for none)");
    }
    if (node.size() > VIGIL_SYS_PREFIXES) {
      return reader.error(node, shown,
                          fmt::format("at most {} watched paths (got {})", VIGIL_SYS_PREFIXES, node.size()));
    }
    std::vector<syscall::WatchPrefix> prefixes;
    for (const auto& item : node) {
      syscall::WatchPrefix w;
      if (item.IsScalar()) {
        w.path = item.Scalar();
      } else if (item.IsMap()) {
        if (auto st = reader.checkKeys(item, shown); !st) {
          return st;
        }
        for (const auto& kv : item) {
          const std::string& key = kv.first.Scalar();
          if (key != "path" && key != "access") {
            return reader.error(kv.first, fmt::format("{}.{}", shown, key), "unknown key (an entry has: path, access)");
          }
          if (!kv.second.IsScalar()) {
            return reader.error(kv.second, fmt::format("{}.{}", shown, key),
                                fmt::format("must be a single value, not {}", kindOf(kv.second)));
          }
          if (key == "path") {
            w.path = kv.second.Scalar();
          } else {
            auto access = syscall::parseAccess(kv.second.Scalar());
            if (!access) {
              return reader.error(kv.second, fmt::format("{}.access", shown),
                                  fmt::format("must be read, write or any (got '{}')", kv.second.Scalar()));
            }
            w.access = *access;
          }
        }
      } else {
        return reader.error(item, shown, fmt::format("each entry must be a path or a mapping, not {}", kindOf(item)));
      }
      if (w.path.empty() || w.path[0] != '/' || w.path.size() >= VIGIL_SYS_PREFIX_CAP) {
        return reader.error(item, shown,
                            fmt::format("watched path '{}' must be absolute and shorter than {} bytes", w.path,
                                        VIGIL_SYS_PREFIX_CAP));
      }
      prefixes.push_back(std::move(w));
    }
    config.syscalls.watch = std::move(prefixes);
    return okStatus();
  }
  std::string render(const AgentConfig& config, int indent) const override {
    if (config.syscalls.watch.empty()) {
      return " []";
    }
    std::string out;
    for (const auto& w : config.syscalls.watch) {
      out += fmt::format("\n{}- {{path: {}, access: {}}}", spaces(indent + 2), yamlQuote(w.path),
                         syscall::accessName(w.access));
    }
    return out;
  }
};

// ---------------------------------------------------------------------------
// Tables

// The keys of one configuration struct, in the order they are rendered and
// documented; a section's keys are contiguous.
template <class C> class KeyTable {
public:
  template <class K> K& add(std::unique_ptr<K> key) {
    K& ref = *key;
    index_.emplace(ref.name(), &ref);
    keys_.push_back(std::move(key));
    return ref;
  }

  BoolKey<C>& boolean(std::string name, bool& (*field)(C&), std::string help) {
    return add(std::make_unique<BoolKey<C>>(std::move(name), field, std::move(help)));
  }
  template <class T>
  NumberKey<C, T>& number(std::string name, T& (*field)(C&), uint64_t min, uint64_t max, std::string unit,
                          std::string help) {
    return add(std::make_unique<NumberKey<C, T>>(std::move(name), field, min, max, std::move(unit), std::move(help)));
  }
  StringKey<C>& string(std::string name, std::string& (*field)(C&), std::string value_name, std::string help) {
    return add(std::make_unique<StringKey<C>>(std::move(name), field, std::move(value_name), std::move(help)));
  }
  template <class E>
  ChoiceKey<C, E>& choice(std::string name, E& (*field)(C&), std::vector<std::pair<std::string, E>> choices,
                          std::string help) {
    return add(std::make_unique<ChoiceKey<C, E>>(std::move(name), field, std::move(choices), std::move(help)));
  }
  StringListKey<C>& list(std::string name, std::vector<std::string>& (*field)(C&), std::string items,
                         size_t max_items, bool quoted, std::string (*rule)(std::string_view), std::string help) {
    return add(std::make_unique<StringListKey<C>>(std::move(name), field, std::move(items), max_items, quoted, rule,
                                                  std::move(help)));
  }
  // What a section (a dotted prefix) is for, in the docs.
  void section(std::string name, std::string help) { sections_.emplace(std::move(name), std::move(help)); }

  const std::vector<KeyPtr<C>>& keys() const { return keys_; }
  const Key<C>* find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
  }
  bool isSection(std::string_view prefix) const {
    for (const auto& key : keys_) {
      if (key->name().size() > prefix.size() && key->name().compare(0, prefix.size(), prefix) == 0 &&
          key->name()[prefix.size()] == '.') {
        return true;
      }
    }
    return false;
  }
  // The names directly under prefix ("" for the top level): keys and sections.
  std::vector<std::string> namesUnder(std::string_view prefix) const {
    std::set<std::string> names;
    for (const auto& key : keys_) {
      std::string_view rest = key->name();
      if (!prefix.empty()) {
        if (rest.size() <= prefix.size() || rest.compare(0, prefix.size(), prefix) != 0 || rest[prefix.size()] != '.') {
          continue;
        }
        rest.remove_prefix(prefix.size() + 1);
      }
      names.emplace(rest.substr(0, rest.find('.')));
    }
    return {names.begin(), names.end()};
  }
  const std::string* sectionHelp(std::string_view name) const {
    auto it = sections_.find(name);
    return it == sections_.end() ? nullptr : &it->second;
  }

private:
  std::vector<KeyPtr<C>> keys_;
  std::map<std::string, const Key<C>*, std::less<>> index_;
  std::map<std::string, std::string, std::less<>> sections_;
};

// The field of a configuration struct that a key sets.
#define VIGIL_FIELD(Type, member) +[](Type& c) -> auto& { return c.member; }

bool isPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string outputNameRule(std::string_view name) {
  bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  return ok ? "" : fmt::format("must be letters, digits, '-', '_' or '.' (got '{}')", name);
}

const KeyTable<OutputConfig>& outputKeys() {
  static const KeyTable<OutputConfig> table = [] {
    KeyTable<OutputConfig> t;
    t.choice("type", VIGIL_FIELD(OutputConfig, type), plainChoices({"stdout", "file", "grpc"}),
             "What the output is: stdout writes JSON lines to the agent's standard output; file writes JSON lines "
             "to path, rotated by size; grpc ships the audit log to the central collector through the durable "
             "spool.")
        .withDefaultDoc("required");
    t.string("name", VIGIL_FIELD(OutputConfig, name), "NAME",
             "Names the output in metrics and logs; unique among the outputs.")
        .withRule(outputNameRule)
        .withDefaultDoc("the type; then type-2, type-3, ... for more of one type");
    t.number("queue_capacity", VIGIL_FIELD(OutputConfig, queue_capacity), 16, 1u << 20, "events",
             "Events queued for this output, which writes on its own thread.");
    t.choice("when_full", VIGIL_FIELD(OutputConfig, when_full),
             namedChoices({pipeline::FullPolicy::kBlock, pipeline::FullPolicy::kDrop}, pipeline::fullPolicyName),
             "When the queue is full: block makes capture wait for this output (nothing lost, a stuck output "
             "stalls capture); drop refuses the event for this output only, and counts it.");
    t.string("path", VIGIL_FIELD(OutputConfig, path), "PATH", "The file events are appended to.")
        .onlyForType("file")
        .withDefaultDoc("required");
    t.number("max_bytes", VIGIL_FIELD(OutputConfig, max_bytes), 4096, std::numeric_limits<uint64_t>::max(), "bytes",
             "Rotate when the file would grow past this.")
        .onlyForType("file");
    t.number("max_files", VIGIL_FIELD(OutputConfig, max_files), 1, 1000, "files",
             "Rotated files kept (path.1 to path.N); older ones are deleted.")
        .onlyForType("file");
    t.list("endpoints", VIGIL_FIELD(OutputConfig, endpoints), "host:port", 16, true, nullptr,
           "The central collector's ingest addresses, tried in order; the next on failure.")
        .onlyForType("grpc")
        .withDefaultDoc("required");
    t.string("tls_ca", VIGIL_FIELD(OutputConfig, tls_ca), "PATH",
             "CA bundle the collector's certificate must chain to. Empty: plaintext, allowed to loopback only.")
        .onlyForType("grpc");
    t.string("tls_cert", VIGIL_FIELD(OutputConfig, tls_cert), "PATH",
             "This node's client certificate (mutual TLS); reloaded when the file changes.")
        .onlyForType("grpc");
    t.string("tls_key", VIGIL_FIELD(OutputConfig, tls_key), "PATH", "The client certificate's private key.")
        .onlyForType("grpc");
    t.string("tls_server_name", VIGIL_FIELD(OutputConfig, tls_server_name), "NAME",
             "The name the collector's certificate must carry; empty: the endpoint's host.")
        .onlyForType("grpc");
    t.string("spool_dir", VIGIL_FIELD(OutputConfig, spool_dir), "PATH",
             "The durable spool: every event waits here until the collector acknowledges it.")
        .onlyForType("grpc");
    t.number("spool_max_bytes", VIGIL_FIELD(OutputConfig, spool_max_bytes), 1u << 20,
             std::numeric_limits<uint64_t>::max(), "bytes",
             "The spool's budget; beyond it the oldest segments are dropped and counted.")
        .onlyForType("grpc");
    t.number("batch_max_events", VIGIL_FIELD(OutputConfig, batch_max_events), 1, 100000, "events",
             "Events per batch.")
        .onlyForType("grpc");
    t.number("batch_interval_ms", VIGIL_FIELD(OutputConfig, batch_interval_ms), 1, 60000, "milliseconds",
             "The longest a spooled event waits to be sent.")
        .onlyForType("grpc");
    t.number("max_in_flight", VIGIL_FIELD(OutputConfig, max_in_flight), 1, 1024, "batches",
             "Batches sent and not yet acknowledged.")
        .onlyForType("grpc");
    t.choice("compression", VIGIL_FIELD(OutputConfig, compression), plainChoices({"gzip", "none"}),
             "Compression of the stream.")
        .onlyForType("grpc");
    return t;
  }();
  return table;
}

// Names outputs without one: the type, then type-2, type-3, ...
void nameOutputs(std::vector<OutputConfig>& outputs) {
  std::set<std::string> taken;
  for (const auto& out : outputs) {
    if (!out.name.empty()) {
      taken.insert(out.name);
    }
  }
  for (auto& out : outputs) {
    if (!out.name.empty()) {
      continue;
    }
    std::string name = out.type;
    for (int n = 2; taken.count(name); ++n) {
      name = fmt::format("{}-{}", out.type, n);
    }
    out.name = name;
    taken.insert(name);
  }
}

// outputs: a list of {type, name, ...} mappings, each checked against the
// output keys of its type.
class OutputsKey : public Key<AgentConfig> {
public:
  explicit OutputsKey(std::string help) : Key<AgentConfig>("outputs", std::move(help)) {}

  std::string typeText() const override { return "list of outputs"; }
  std::string valueName() const override { return ""; }
  bool isScalar() const override { return false; }

  Status setText(AgentConfig&, std::string_view) const override {
    return makeError("is a list: set it in a configuration file (or use --stdout)");
  }
  Status setNode(AgentConfig& config, const YAML::Node& node, const Reader& reader,
                 std::string_view shown) const override {
    if (!node.IsSequence()) {
      return reader.error(node, shown, "must be a list of outputs, e.g. [{type: stdout}] (write [] for none)");
    }
    const auto& keys = outputKeys();
    std::vector<OutputConfig> outputs;
    std::map<std::string, size_t> explicit_names;
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      std::string item_name = fmt::format("{}[{}]", shown, i);
      if (!item.IsMap()) {
        return reader.error(item, item_name, "must be a mapping with a type: stdout or file");
      }
      if (auto st = reader.checkKeys(item, item_name); !st) {
        return st;
      }
      OutputConfig out;
      out.source = reader.place(item);
      bool typed = false;
      for (const auto& kv : item) {
        if (kv.first.Scalar() == "type") {
          typed = true;
          if (kv.second.IsNull()) {
            return reader.error(kv.first, item_name + ".type", "needs a value: stdout or file");
          }
          if (auto st = keys.find("type")->setNode(out, kv.second, reader, item_name + ".type"); !st) {
            return st;
          }
        }
      }
      if (!typed) {
        return reader.error(item, item_name, "needs a type: stdout or file");
      }
      for (const auto& kv : item) {
        const std::string& name = kv.first.Scalar();
        std::string key_name = fmt::format("{}.{}", item_name, name);
        const Key<OutputConfig>* key = keys.find(name);
        if (!key) {
          std::vector<std::string> known;
          for (const auto& k : keys.keys()) {
            if (k->onlyFor().empty() || k->onlyFor() == out.type) {
              known.push_back(k->name());
            }
          }
          return reader.error(kv.first, key_name,
                              fmt::format("unknown key (a {} output has: {})", out.type, commaList(known)));
        }
        if (!key->onlyFor().empty() && key->onlyFor() != out.type) {
          return reader.error(kv.first, key_name,
                              fmt::format("only for type {} (this output is {})", key->onlyFor(), out.type));
        }
        if (name == "type") {
          continue;
        }
        if (kv.second.IsNull()) {
          return reader.error(kv.first, key_name, "needs a value");
        }
        if (auto st = key->setNode(out, kv.second, reader, key_name); !st) {
          return st;
        }
        if (name == "name") {
          auto [it, inserted] = explicit_names.emplace(out.name, i);
          if (!inserted) {
            return reader.error(kv.second, key_name,
                                fmt::format("duplicate output name '{}' (also {}[{}])", out.name, shown, it->second));
          }
        }
      }
      if (out.type == "file" && out.path.empty()) {
        return reader.error(item, item_name, "a file output needs a path");
      }
      if (out.type == "grpc" && out.endpoints.empty()) {
        return reader.error(item, item_name, "a grpc output needs endpoints");
      }
      if (out.type == "grpc" && (out.tls_cert.empty() != out.tls_key.empty())) {
        return reader.error(item, item_name, "tls_cert and tls_key go together");
      }
      outputs.push_back(std::move(out));
    }
    nameOutputs(outputs);
    config.outputs = std::move(outputs);
    return okStatus();
  }

  std::string render(const AgentConfig& config, int indent) const override {
    if (config.outputs.empty()) {
      return " []";
    }
    std::string out;
    for (const auto& output : config.outputs) {
      bool first = true;
      for (const auto& key : outputKeys().keys()) {
        if (!key->onlyFor().empty() && key->onlyFor() != output.type) {
          continue;
        }
        out += fmt::format("\n{}{}{}:{}", spaces(indent + 2), first ? "- " : "  ", key->name(),
                           key->render(output, indent + 4));
        first = false;
      }
    }
    return out;
  }
};

std::string syscallNameRule(std::string_view name) {
  return syscall::syscallNumber(name) ? "" : fmt::format("unknown syscall '{}'", name);
}

// The key table: every configuration key, declared once.
const KeyTable<AgentConfig>& agentKeys() {
  static const KeyTable<AgentConfig> table = [] {
    using C = AgentConfig;
    constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
    KeyTable<C> t;

    t.string("node_name", VIGIL_FIELD(C, node_name), "NAME",
             "The node name stamped on every event. Empty: $NODE_NAME (set it from the Downward API's "
             "spec.nodeName), else the host name.")
        .withFlag("--node-name");
    t.choice("log_level", VIGIL_FIELD(C, log_level), plainChoices({"trace", "debug", "info", "warn", "error"}),
             "The agent's own log, on standard error.")
        .withFlag("--log-level");
    t.boolean("libbpf_debug", VIGIL_FIELD(C, libbpf_debug),
              "Include libbpf's debug log (the verifier's output) in the agent's log.")
        .withFlag("--libbpf-debug");
    t.boolean("report_self", VIGIL_FIELD(C, report_self),
              "Also report the agent's own processes, syscalls and sockets.")
        .withFlag("--report-self");
    t.number("stats_interval_seconds", VIGIL_FIELD(C, stats_interval_seconds), 0, kU32, "seconds",
             "Log the counters this often; 0: only at exit.")
        .withFlag("--stats-interval");
    t.string("instance_lock", VIGIL_FIELD(C, instance_lock), "PATH",
             "A pid file the agent locks while it runs, so that a second agent on the node refuses to start; "
             "its directories are created. Empty: no lock.")
        .withFlag("--instance-lock");
    t.add(std::make_unique<OutputsKey>(
        "Where events go: a list of outputs, each with its own queue and thread. Empty: events are counted, "
        "not written (--stdout adds a stdout output)."));

    t.section("ring", "The one kernel ring buffer every collector writes into.");
    t.number("ring.buffer_bytes", VIGIL_FIELD(C, ring.buffer_bytes), 4096, 1u << 31, "bytes",
             "The size of the kernel ring buffer every collector writes into.")
        .withRule(isPowerOfTwo, "a power of two, at least 4096")
        .withFlag("--ring-buffer-bytes");
    t.number("ring.wakeup_bytes", VIGIL_FIELD(C, ring.wakeup_bytes), 0, kU32, "bytes",
             "Wake the agent when this much is unread; 0: at every record. Below ring.buffer_bytes; when only "
             "ring.buffer_bytes is set and this is not below it, it becomes a quarter of it.");

    t.section("process", "Process lifecycle: exec, fork and exit (docs/process.md).");
    t.choice("process.hooks", VIGIL_FIELD(C, process.hooks),
             namedChoices({process::HookMode::Auto, process::HookMode::Btf, process::HookMode::Tracepoint},
                          process::hookModeName),
             "The hook family: auto takes tp_btf when it loads, else classic tracepoints.")
        .withAlias("btf", process::HookMode::Btf)
        .withFlag("--hooks");
    t.choice("process.snapshot", VIGIL_FIELD(C, process.snapshot),
             namedChoices({process::SnapshotMode::Auto, process::SnapshotMode::Iterator, process::SnapshotMode::Proc},
                          process::snapshotModeName),
             "Where the processes running at start come from: auto takes the BPF task iterator when it loads, "
             "else /proc.")
        .withFlag("--snapshot");
    t.number("process.argv_max_bytes", VIGIL_FIELD(C, process.argv_max), 1, 32768, "bytes",
             "Bytes of argv captured per exec; longer command lines are truncated and flagged.")
        .withFlag("--argv-max");
    t.number("process.pid_map_entries", VIGIL_FIELD(C, process.proc_map_entries), 1024, kU32, "entries",
             "Size of the kernel's pid -> exec_id map (LRU).");

    t.section("syscalls", "Syscalls captured with decoded arguments, or only counted (docs/syscall.md).");
    t.boolean("syscalls.enabled", VIGIL_FIELD(C, syscalls.enabled), "Capture syscalls at all.");
    t.choice("syscalls.hooks", VIGIL_FIELD(C, syscalls.hooks),
             namedChoices({syscall::HookMode::Auto, syscall::HookMode::Tracepoint, syscall::HookMode::Dispatcher},
                          syscall::hookModeName),
             "tracepoint: a tracepoint pair per traced syscall; dispatcher: one tp_btf pair for all, filtered "
             "in the kernel; auto: the cheaper on this kernel (per-syscall tracepoints).");
    t.list("syscalls.trace", VIGIL_FIELD(C, syscalls.trace), "syscall names", 0, false, syscallNameRule,
           "Captured with decoded arguments and return value (syscalls without a decoder carry their arguments "
           "as the tracepoint names them).");
    t.list("syscalls.count", VIGIL_FIELD(C, syscalls.count), "syscall names", 0, false, syscallNameRule,
           "Only counted, per (cgroup, syscall), in the kernel.");
    t.number("syscalls.pending_entries", VIGIL_FIELD(C, syscalls.pending_entries), 64, kU32, "entries",
             "Syscalls in flight between enter and exit.");
    t.number("syscalls.count_entries", VIGIL_FIELD(C, syscalls.count_entries), 64, kU32, "entries",
             "(cgroup, syscall) counter slots.");
    t.number("syscalls.rate_limit.per_second", VIGIL_FIELD(C, syscalls.rate_limit_per_second), 0, kU32,
             "records per second",
             "Load shedding per cgroup, decided in the kernel: syscall records a cgroup may send per second "
             "(0: no limit). What is dropped is counted and reported as a suppressed event.");
    t.number("syscalls.rate_limit.burst", VIGIL_FIELD(C, syscalls.rate_limit_burst), 1, kU32, "records",
             "Records a cgroup may send at once before the limit applies.");
    t.list("syscalls.cgroups.include", VIGIL_FIELD(C, syscalls.include_cgroups), "cgroup v2 paths",
           VIGIL_SYS_CGROUPS, true, nullptr,
           "Only these cgroups (paths relative to the cgroup2 mount) and what is below them; empty: every cgroup.");
    t.list("syscalls.cgroups.exclude", VIGIL_FIELD(C, syscalls.exclude_cgroups), "cgroup v2 paths",
           VIGIL_SYS_CGROUPS, true, nullptr, "Never these cgroups, nor what is below them.");

    t.section("files", "File activity, decided in the kernel (docs/syscall.md).");
    t.add(std::make_unique<WatchKey>(
        "Watched path prefixes: file syscalls elsewhere are dropped in the kernel. A prefix matches itself and "
        "what is below it (/etc, not /etcx); access: read, write or any (the default). Empty: file syscalls "
        "are reported wherever they happen."));

    t.section("network", "TCP and UDP flows and DNS (docs/network.md).");
    t.boolean("network.enabled", VIGIL_FIELD(C, network.enabled), "Capture flows and DNS at all.");
    t.boolean("network.dns", VIGIL_FIELD(C, network.dns), "DNS queries and answers on port 53; they name flows.");
    t.number("network.flow_update_seconds", VIGIL_FIELD(C, network.flow_update_seconds), 0, kU32, "seconds",
             "Counters of live flows this often; 0: only at close.");
    t.number("network.rate_limit.per_second", VIGIL_FIELD(C, network.rate_limit_per_second), 0, kU32,
             "records per second",
             "Load shedding per cgroup, in the kernel, for flow records and DNS messages each (0: no limit). "
             "What is dropped is counted and reported as a suppressed event.");
    t.number("network.rate_limit.burst", VIGIL_FIELD(C, network.rate_limit_burst), 1, kU32, "records",
             "Records a cgroup may send at once before the limit applies.");

    t.section("enrich", "What is added to events beyond the process and its parent (docs/enrichment.md).");
    t.number("enrich.ancestors", VIGIL_FIELD(C, enrich.ancestors), 0, 64, "processes",
             "Ancestors beyond the parent added to every event; 0: none.");
    t.boolean("enrich.containers", VIGIL_FIELD(C, enrich.pods.containers),
              "The container id from the cgroup, and the pod's metadata from the runtime.");
    t.string("enrich.cri_endpoint", VIGIL_FIELD(C, enrich.pods.cri_endpoint), "ENDPOINT",
             "The runtime's CRI socket (unix:///run/containerd/containerd.sock). auto: the first that exists of "
             "containerd's and CRI-O's default sockets; empty: no runtime (container ids only).");
    t.number("enrich.pod_wait_ms", VIGIL_FIELD(C, enrich.pods.pod_wait_ms), 0, 10000, "milliseconds",
             "The longest an event waits for its pod's metadata.");

    t.section("pipeline", "The queues between the stages, and the event memory (docs/pipeline.md).");
    t.choice("pipeline.mode", VIGIL_FIELD(C, pipeline.mode),
             namedChoices({C::Pipeline::Mode::kAuto, C::Pipeline::Mode::kInline, C::Pipeline::Mode::kThreads},
                          pipelineModeName),
             "Where the stages (enrichment, policy) run. inline: on the capture thread; threads: on a thread of "
             "their own behind the stage queue; auto: inline, which measured cheapest. Sinks always have a thread "
             "and a queue each (outputs).");
    t.number("pipeline.enrich_queue.capacity", VIGIL_FIELD(C, pipeline.enrich_queue.capacity), 16, 1u << 20,
             "events", "Events queued from capture to the stages (pipeline.mode threads).");
    t.choice("pipeline.enrich_queue.when_full", VIGIL_FIELD(C, pipeline.enrich_queue.when_full),
             namedChoices({pipeline::FullPolicy::kBlock, pipeline::FullPolicy::kDrop}, pipeline::fullPolicyName),
             "block: capture waits (nothing lost); drop: the event is dropped and counted.");
    t.number("pipeline.pooled_events", VIGIL_FIELD(C, pipeline.pooled_events), 0, kU32, "events",
             "Events built in reused memory; beyond, from the heap.");
    t.number("pipeline.event_block_bytes", VIGIL_FIELD(C, pipeline.event_block_bytes), 256, 1u << 20, "bytes",
             "Memory kept per pooled event.");

    t.section("cache", "The process cache behind ancestry.");
    t.number("cache.max_entries", VIGIL_FIELD(C, cache.max_entries), 1024, std::numeric_limits<uint64_t>::max(),
             "entries", "Processes kept; the least recently used ended ones are evicted first.");
    t.number("cache.ended_ttl_seconds", VIGIL_FIELD(C, cache.ended_ttl_seconds), 0, kU32, "seconds",
             "How long an ended process stays, for events that arrive after its exit.");
    return t;
  }();
  return table;
}

#undef VIGIL_FIELD

// Keys that moved or were replaced, and what to write instead.
struct MovedKey {
  std::string_view name;
  std::string_view instead;
};
constexpr MovedKey kMovedKeys[] = {
    {"process.ring_buffer_bytes", "moved to ring.buffer_bytes"},
    {"process.wakeup_bytes", "moved to ring.wakeup_bytes"},
    {"output.stdout", "replaced by the outputs list: outputs: [{type: stdout}]"},
    {"output", "replaced by the outputs list, e.g. outputs: [{type: stdout}]"},
    {"pipeline.sink_queue", "replaced by a queue per sink: outputs[].queue_capacity and outputs[].when_full"},
};

const MovedKey* movedKey(std::string_view name) {
  for (const auto& moved : kMovedKeys) {
    if (moved.name == name) {
      return &moved;
    }
  }
  return nullptr;
}

std::string joinKey(std::string_view prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : fmt::format("{}.{}", prefix, name);
}

// "unknown key (did you mean argv_max_bytes? process has: ...)"
std::string unknownKeyText(std::string_view prefix, std::string_view name) {
  auto known = agentKeys().namesUnder(prefix);
  std::string guess = closestName(name, known);
  return fmt::format("unknown key ({}{} has: {})", guess.empty() ? "" : fmt::format("did you mean {}? ", guess),
                     prefix.empty() ? std::string("the top level") : std::string(prefix), commaList(known));
}

} // namespace

// ---------------------------------------------------------------------------
// Parsing

// Walks a YAML document into a layer, key by key through the table.
class ConfigParser {
public:
  ConfigParser(ConfigLayer& layer, std::string source) : layer_(layer), reader_(std::move(source)) {}

  Status parseRoot(const YAML::Node& root) {
    if (root.IsNull()) {
      return okStatus(); // an empty file: the base
    }
    if (!root.IsMap()) {
      return makeError("{}: the top level must be a mapping of keys, not {}", reader_.place(root),
                       root.IsSequence() ? "a list" : "a single value");
    }
    return parseSection(root, "");
  }

private:
  Status parseSection(const YAML::Node& map, const std::string& prefix) {
    if (auto st = reader_.checkKeys(map, prefix); !st) {
      return st;
    }
    for (const auto& kv : map) {
      std::string name = joinKey(prefix, kv.first.Scalar());
      if (const MovedKey* moved = movedKey(name)) {
        return movedError(kv, name, *moved);
      }
      if (const Key<AgentConfig>* key = agentKeys().find(name)) {
        if (kv.second.IsNull()) {
          // An empty value has no place of its own (yaml-cpp puts it at the next line).
          return reader_.error(kv.first, name, "needs a value");
        }
        if (auto st = key->setNode(layer_.config_, kv.second, reader_, name); !st) {
          return st;
        }
        layer_.origins_[name] = fmt::format("{}: {}", reader_.place(kv.second), name);
        continue;
      }
      if (agentKeys().isSection(name)) {
        if (kv.second.IsNull()) {
          continue; // "process:" with nothing under it
        }
        if (!kv.second.IsMap()) {
          return reader_.error(kv.second, name, fmt::format("must be a mapping of {}.* keys, not {}", name,
                                                            kv.second.IsSequence() ? "a list" : "a single value"));
        }
        if (auto st = parseSection(kv.second, name); !st) {
          return st;
        }
        continue;
      }
      return reader_.error(kv.first, name, unknownKeyText(prefix, kv.first.Scalar()));
    }
    return okStatus();
  }

  // A moved section names the moved key inside it when there is one.
  Status movedError(const std::pair<YAML::Node, YAML::Node>& kv, const std::string& name, const MovedKey& moved) const {
    if (kv.second.IsMap()) {
      for (const auto& inner : kv.second) {
        if (inner.first.IsScalar()) {
          std::string inner_name = joinKey(name, inner.first.Scalar());
          if (const MovedKey* m = movedKey(inner_name)) {
            return reader_.error(inner.first, inner_name, m->instead);
          }
        }
      }
    }
    return reader_.error(kv.first, name, moved.instead);
  }

  ConfigLayer& layer_;
  Reader reader_;
};

Status ConfigLayer::set(std::string_view key, std::string_view value, std::string_view origin) {
  if (const auto* moved = movedKey(key)) {
    return makeError("{}: {}", origin, moved->instead);
  }
  const Key<AgentConfig>* k = agentKeys().find(key);
  if (!k && agentKeys().isSection(key)) {
    return makeError("{}: is a section, not a key (it has: {})", origin, commaList(agentKeys().namesUnder(key)));
  }
  if (!k) {
    std::string_view prefix = key.substr(0, key.rfind('.') == std::string_view::npos ? 0 : key.rfind('.'));
    std::string_view last = prefix.empty() ? key : key.substr(prefix.size() + 1);
    if (!prefix.empty() && !agentKeys().isSection(prefix)) {
      return makeError("{}: unknown key (the top level has: {})", origin, commaList(agentKeys().namesUnder("")));
    }
    return makeError("{}: {}", origin, unknownKeyText(prefix, last));
  }
  if (auto st = k->setText(config_, value); !st) {
    return makeError("{}: {}", origin, st.error().message());
  }
  origins_[std::string(key)] = std::string(origin);
  return okStatus();
}

Status ConfigLayer::assign(std::string_view assignment, std::string_view origin) {
  auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return makeError("{}: '{}' is not KEY=VALUE", origin, assignment);
  }
  std::string_view key = assignment.substr(0, eq);
  return set(key, assignment.substr(eq + 1), fmt::format("{} {}", origin, key));
}

void ConfigLayer::addStdoutOutput(std::string_view origin) {
  for (const auto& out : config_.outputs) {
    if (out.type == "stdout") {
      return;
    }
  }
  OutputConfig out;
  out.type = "stdout";
  out.source = std::string(origin);
  config_.outputs.push_back(std::move(out));
  nameOutputs(config_.outputs);
}

void ConfigLayer::removeStdoutOutputs() {
  std::erase_if(config_.outputs, [](const OutputConfig& out) { return out.type == "stdout"; });
}

Result<AgentConfig> ConfigLayer::finish() && {
  auto& ring = config_.ring;
  if (ring.wakeup_bytes >= ring.buffer_bytes) {
    if (auto it = origins_.find("ring.wakeup_bytes"); it != origins_.end()) {
      return makeError("{}: must be below ring.buffer_bytes, {} (got {})", it->second, ring.buffer_bytes,
                       ring.wakeup_bytes);
    }
    ring.wakeup_bytes = ring.buffer_bytes / 4; // a small ring with the default threshold
  }
  return std::move(config_);
}

Result<AgentConfig> parseAgentConfig(const std::string& yaml, const std::string& source, AgentConfig base) {
  try {
    ConfigLayer layer(std::move(base));
    ConfigParser parser(layer, source);
    if (auto st = parser.parseRoot(YAML::Load(yaml)); !st) {
      return st.error();
    }
    return std::move(layer).finish();
  } catch (const YAML::Exception& e) {
    // YAML syntax errors name their place.
    return makeError("{}:{}:{}: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
}

Result<AgentConfig> loadAgentConfig(const std::string& path, AgentConfig base) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return makeError("cannot read config file {}: {}", path, errnoText(errno));
  }
  std::string text;
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return makeError("cannot read config file {}: {}", path, errnoText(err));
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return makeError("cannot read config file {}: it is a directory", path);
  }
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      close(fd);
      return makeError("cannot read config file {}: {}", path, errnoText(err));
    }
    if (n == 0) {
      break;
    }
    text.append(buf, size_t(n));
  }
  close(fd);
  return parseAgentConfig(text, path, std::move(base));
}

// ---------------------------------------------------------------------------
// Rendering

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

std::string_view pipelineModeName(AgentConfig::Pipeline::Mode mode) {
  switch (mode) {
  case AgentConfig::Pipeline::Mode::kThreads:
    return "threads";
  case AgentConfig::Pipeline::Mode::kInline:
    return "inline";
  default:
    return "auto";
  }
}

std::string renderAgentConfig(const AgentConfig& config) {
  std::string out;
  std::vector<std::string_view> open; // the sections the last key was in
  for (const auto& key : agentKeys().keys()) {
    std::vector<std::string_view> parts;
    std::string_view rest = key->name();
    for (size_t dot; (dot = rest.find('.')) != std::string_view::npos; rest.remove_prefix(dot + 1)) {
      parts.push_back(rest.substr(0, dot));
    }
    size_t common = 0;
    while (common < open.size() && common < parts.size() && open[common] == parts[common]) {
      ++common;
    }
    open.resize(common);
    for (size_t i = common; i < parts.size(); ++i) {
      out += fmt::format("{}{}:\n", spaces(int(i) * 2), parts[i]);
      open.push_back(parts[i]);
    }
    int indent = int(parts.size()) * 2;
    out += fmt::format("{}{}:{}\n", spaces(indent), rest, key->render(config, indent));
  }
  return out;
}

namespace {

template <class C> ConfigKeyInfo infoOf(const Key<C>& key, const C& defaults, std::string name) {
  ConfigKeyInfo info;
  info.name = std::move(name);
  info.type = key.typeText();
  info.bounds = key.boundsText();
  info.flag = key.flag();
  info.value_name = key.valueName();
  info.help = key.help();
  info.is_bool = key.isBool();
  info.scalar = key.isScalar();
  if (!key.defaultDoc().empty()) {
    info.default_value = key.defaultDoc();
    info.default_is_text = true;
  } else {
    std::string value = key.render(defaults, -2); // block lists start at column 0
    info.default_value = value.empty() || value[0] != ' ' ? value : value.substr(1);
  }
  if (!key.onlyFor().empty()) {
    info.help = fmt::format("Only for type {}. {}", key.onlyFor(), info.help);
  }
  return info;
}

constexpr const char* kDocIntro = R"(# Configuration

<!-- Generated from the key table in agent/config.cc; do not edit. Regenerate with
     build/vigil-agent --print-config-doc > docs/configuration.md
     (tests/unit/config_test.cc fails while this file differs from the table). -->

`vigil-agent` takes its settings from three places, each over the one before:

1. the built-in defaults (below);
2. a YAML file, `--config FILE` (`deploy/agent.yaml` is an example);
3. command-line flags: the flags named below, `--stdout` / `--no-stdout`, and
   `--set KEY=VALUE` (repeatable) for any key that is not a list, by its
   dotted name: `--set pipeline.mode=threads`. Later flags win over earlier ones.

A value given by a flag is parsed and checked exactly as in the file. Every
mistake is an error that names its place and the key, and the agent exits with
status 2 without starting:

```
agent.yaml:7:19: process.argv_max_bytes: must be between 1 and 32768 (got 0)
vigil-agent: --argv-max: must be between 1 and 32768 (got -5)
```

Unknown keys, keys given twice in one mapping, and values of the wrong type
are errors too. `vigil-agent --print-config` prints the effective
configuration (every key, with the node name resolved) and exits; what it
prints parses back to the same configuration.

## Outputs

`outputs` is a list; each entry has a `type` and the keys of that type:

```yaml
outputs:
  - type: stdout                 # JSON lines on standard output
  - type: file                   # JSON lines to a file, rotated by size
    name: audit
    path: /var/log/vigil/events.jsonl
    max_bytes: 104857600
    max_files: 5
    when_full: block
```

Each output has its own queue and thread: a slow output drops (and counts)
its own events, or with `when_full: block` makes capture wait. `--stdout`
adds a stdout output unless there is one; `--no-stdout` removes them.

## Keys that moved

| old key | now |
|---|---|
| `output.stdout: true` | `outputs: [{type: stdout}]` |
| `process.ring_buffer_bytes` | `ring.buffer_bytes` (the ring is shared by every collector) |
| `process.wakeup_bytes` | `ring.wakeup_bytes` |

The old keys are errors that name the new ones.

## Every key
)";

std::string docDefault(const ConfigKeyInfo& key) {
  if (key.default_is_text) {
    return " " + key.default_value;
  }
  if (key.default_value.find('\n') != std::string::npos) {
    std::string block;
    for (size_t start = 0, nl; start < key.default_value.size(); start = nl + 1) {
      nl = key.default_value.find('\n', start);
      nl = nl == std::string::npos ? key.default_value.size() : nl;
      if (nl > start) {
        block += "  " + key.default_value.substr(start, nl - start) + "\n";
      }
    }
    return fmt::format("\n\n  ```yaml\n{}  ```", block);
  }
  return fmt::format(" `{}`", key.default_value);
}

} // namespace

const std::vector<ConfigKeyInfo>& configKeys() {
  static const std::vector<ConfigKeyInfo> keys = [] {
    std::vector<ConfigKeyInfo> out;
    AgentConfig defaults;
    OutputConfig output_defaults;
    for (const auto& key : agentKeys().keys()) {
      out.push_back(infoOf(*key, defaults, key->name()));
      if (key->name() == "outputs") {
        for (const auto& item : outputKeys().keys()) {
          out.push_back(infoOf(*item, output_defaults, "outputs[]." + item->name()));
          out.back().scalar = false; // an entry's key, set with its entry
        }
      }
    }
    return out;
  }();
  return keys;
}

std::string renderConfigDoc() {
  std::string out = kDocIntro;
  // Keys are grouped under their section (the first part of the name); plain
  // top-level keys come first, under "Top level".
  auto groupOf = [](const std::string& name) { return name.substr(0, name.find_first_of(".[")); };
  std::set<std::string> sections;
  for (const auto& key : configKeys()) {
    if (key.name.find_first_of(".[") != std::string::npos) {
      sections.insert(groupOf(key.name));
    }
  }
  std::string group = "-";
  for (const auto& key : configKeys()) {
    std::string g = sections.count(groupOf(key.name)) ? groupOf(key.name) : "";
    if (g != group) {
      group = g;
      out += g.empty() ? "\n### Top level\n" : fmt::format("\n### `{}`\n", g);
      if (const std::string* help = agentKeys().sectionHelp(g)) {
        out += fmt::format("\n{}\n", *help);
      }
    }
    std::string type = key.type;
    if (!key.bounds.empty()) {
      type += key.type == "one of" ? " " + key.bounds : ", " + key.bounds;
    }
    out += fmt::format("\n#### `{}`\n\n{}\n\n- type: {}\n- default:{}\n", key.name, key.help, type,
                       docDefault(key));
    if (!key.flag.empty()) {
      out += fmt::format("- flag: `{}`\n", key.flag);
    }
    if (!key.scalar && key.name.find('[') == std::string::npos) {
      out += "- a list: set it in a file (not with `--set`)\n";
    }
  }
  return out;
}

std::string effectiveNodeName(const AgentConfig& config) {
  if (!config.node_name.empty()) {
    return config.node_name;
  }
  if (const char* env = std::getenv("NODE_NAME"); env && *env) {
    return env;
  }
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) {
    return "unknown";
  }
  return buf;
}

} // namespace vigil
