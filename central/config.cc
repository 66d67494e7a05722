#include "central/config.h"

#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>
#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <functional>
#include <limits>

namespace vigil::central {
namespace {

// How a key reads its YAML value into the configuration, and shows it.
struct Key {
  const char* name;
  const char* help;
  std::function<Status(const YAML::Node&, CentralConfig&)> set;
  std::function<std::string(const CentralConfig&)> show;
};

std::string quoted(const std::string& s) {
  YAML::Emitter out;
  out << YAML::DoubleQuoted << s;
  return out.c_str();
}

Key stringKey(const char* name, const char* help, std::string CentralConfig::*field) {
  return Key{name, help,
             [field](const YAML::Node& node, CentralConfig& c) -> Status {
               if (!node.IsScalar()) {
                 return makeError("expected a string");
               }
               c.*field = node.Scalar();
               return okStatus();
             },
             [field](const CentralConfig& c) { return quoted(c.*field); }};
}

Key uintKey(const char* name, const char* help, uint64_t CentralConfig::*field, uint64_t min, uint64_t max) {
  return Key{name, help,
             [field, min, max](const YAML::Node& node, CentralConfig& c) -> Status {
               if (!node.IsScalar()) {
                 return makeError("expected a number");
               }
               const std::string& s = node.Scalar();
               uint64_t v = 0;
               auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
               if (ec != std::errc() || end != s.data() + s.size()) {
                 return makeError("expected a whole number ≥ 0, got \"{}\"", s);
               }
               if (v < min || v > max) {
                 return makeError("{} is out of range [{}, {}]", v, min, max);
               }
               c.*field = v;
               return okStatus();
             },
             [field](const CentralConfig& c) { return std::to_string(c.*field); }};
}

Key levelKey() {
  return Key{"log_level", "trace, debug, info, warn, error or off",
             [](const YAML::Node& node, CentralConfig& c) -> Status {
               static const std::vector<std::string> kLevels{"trace", "debug", "info", "warn", "error", "off"};
               if (!node.IsScalar() || std::find(kLevels.begin(), kLevels.end(), node.Scalar()) == kLevels.end()) {
                 return makeError("expected one of trace, debug, info, warn, error, off");
               }
               c.log_level = node.Scalar();
               return okStatus();
             },
             [](const CentralConfig& c) { return c.log_level; }};
}

// Every key, once. Sections ("tls.", "store.") are YAML maps.
const std::vector<Key>& keys() {
  static const std::vector<Key> kKeys{
      stringKey("listen", "host:port the ingest server listens on; without TLS only a loopback address",
                &CentralConfig::listen),
      stringKey("tls.cert", "PEM certificate chain of the server (with tls.key and tls.client_ca: mutual TLS)",
                &CentralConfig::tls_cert),
      stringKey("tls.key", "PEM private key of tls.cert", &CentralConfig::tls_key),
      stringKey("tls.client_ca", "PEM CA bundle agents' client certificates must chain to",
                &CentralConfig::tls_client_ca),
      stringKey("store.path", "the SQLite database file", &CentralConfig::store_path),
      uintKey("store.retention_days", "delete events older than this many days (0: no age limit)",
              &CentralConfig::retention_days, 0, 100000),
      uintKey("store.max_bytes", "delete the oldest events while the database uses more (0: no size limit)",
              &CentralConfig::max_bytes, 0, std::numeric_limits<int64_t>::max()),
      uintKey("store.retention_check_seconds", "how often retention runs", &CentralConfig::retention_check_seconds, 1,
              86400),
      uintKey("stats_interval_seconds", "how often the stats line is logged (0: never)",
              &CentralConfig::stats_interval_seconds, 0, 86400),
      levelKey(),
  };
  return kKeys;
}

const Key* findKey(std::string_view name) {
  for (const auto& k : keys()) {
    if (name == k.name) {
      return &k;
    }
  }
  return nullptr;
}

bool isSection(std::string_view prefix) {
  std::string p = std::string(prefix) + ".";
  return std::any_of(keys().begin(), keys().end(),
                     [&](const Key& k) { return std::string_view(k.name).substr(0, p.size()) == p; });
}

std::string flagOf(std::string_view name) {
  std::string flag = "--";
  for (char c : name) {
    flag.push_back(c == '.' || c == '_' ? '-' : c);
  }
  return flag;
}

std::string where(const std::string& file, const YAML::Node& node) {
  YAML::Mark m = node.Mark();
  return fmt::format("{}:{}:{}", file, m.line + 1, m.column + 1);
}

Status applyMap(const std::string& file, const YAML::Node& map, const std::string& prefix, CentralConfig& config) {
  for (const auto& item : map) {
    std::string name = prefix + item.first.as<std::string>();
    if (const Key* key = findKey(name)) {
      if (auto st = key->set(item.second, config); !st) {
        return st.error().wrap(fmt::format("{}: {}", where(file, item.second), name));
      }
      continue;
    }
    if (isSection(name)) {
      if (!item.second.IsMap()) {
        return makeError("{}: {}: expected a map", where(file, item.second), name);
      }
      if (auto st = applyMap(file, item.second, name + ".", config); !st) {
        return st;
      }
      continue;
    }
    return makeError("{}: {}: unknown key", where(file, item.first), name);
  }
  return okStatus();
}

} // namespace

const std::vector<KeyInfo>& configKeys() {
  static const std::vector<KeyInfo> kInfo = [] {
    std::vector<KeyInfo> info;
    for (const auto& k : keys()) {
      info.push_back(KeyInfo{k.name, flagOf(k.name), k.help});
    }
    return info;
  }();
  return kInfo;
}

Status loadConfigFile(const std::string& path, CentralConfig& config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return makeError("{}: cannot read the file", path);
  } catch (const YAML::Exception& e) {
    return makeError("{}:{}:{}: {}", path, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  if (root.IsNull()) {
    return okStatus();
  }
  if (!root.IsMap()) {
    return makeError("{}: expected a map of keys", where(path, root));
  }
  return applyMap(path, root, "", config);
}

Status applyFlag(const std::string& key, const std::string& value, CentralConfig& config) {
  const Key* k = findKey(key);
  if (k == nullptr) {
    return makeError("{}: unknown key", key);
  }
  // A flag's value is read as the YAML scalar it would be in the file.
  if (auto st = k->set(YAML::Node(value), config); !st) {
    return st.error().wrap(flagOf(key));
  }
  return okStatus();
}

Result<std::pair<std::string, uint16_t>> splitListen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return makeError("listen: \"{}\" is not host:port", listen);
  }
  std::string host = listen.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  std::string_view p(listen.data() + colon + 1, listen.size() - colon - 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || end != p.data() + p.size() || port > 65535) {
    return makeError("listen: \"{}\": bad port", listen);
  }
  return std::pair<std::string, uint16_t>(host, static_cast<uint16_t>(port));
}

Status validateConfig(const CentralConfig& config) {
  auto hp = splitListen(config.listen);
  if (!hp) {
    return hp.error();
  }
  int tls_set = !config.tls_cert.empty() + !config.tls_key.empty() + !config.tls_client_ca.empty();
  if (tls_set != 0 && tls_set != 3) {
    return makeError("tls: set all of tls.cert, tls.key and tls.client_ca (mutual TLS), or none");
  }
  if (tls_set == 0 && !isLoopbackHost(hp->first)) {
    return makeError("listen: {} is not a loopback address, and without TLS the collector listens only on this "
                     "host: set tls.cert, tls.key and tls.client_ca for mutual TLS",
                     config.listen);
  }
  if (config.store_path.empty()) {
    return makeError("store.path: must not be empty");
  }
  return okStatus();
}

std::string renderConfig(const CentralConfig& config) {
  std::string out;
  std::string section;
  for (const auto& k : keys()) {
    std::string name = k.name;
    auto dot = name.find('.');
    std::string this_section = dot == std::string::npos ? "" : name.substr(0, dot);
    if (this_section != section) {
      section = this_section;
      if (!section.empty()) {
        out += section + ":\n";
      }
    }
    std::string indent = section.empty() ? "" : "  ";
    std::string leaf = section.empty() ? name : name.substr(dot + 1);
    out += fmt::format("{}# {}\n{}{}: {}\n", indent, k.help, indent, leaf, k.show(config));
  }
  return out;
}

} // namespace vigil::central
