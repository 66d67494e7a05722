#pragma once

// vigil-central's configuration: a YAML file and flags, both read through
// one table of keys (central/config.cc), which also renders --print-config
// and the flags' help. docs/central.md lists the keys.

#include "vigil/loopback.h"
#include "vigil/status.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vigil::central {

struct CentralConfig {
  std::string listen = "127.0.0.1:7443";
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string store_path = "/var/lib/vigil/central/events.db";
  uint64_t retention_days = 30;          // 0: keep events whatever their age
  uint64_t max_bytes = 0;                // 0: no size budget
  uint64_t retention_check_seconds = 300;
  uint64_t stats_interval_seconds = 60;
  std::string log_level = "info";

  bool tlsEnabled() const { return !tls_cert.empty(); }
};

// One configurable key as the flags and the docs show it.
struct KeyInfo {
  std::string name; // "store.path"
  std::string flag; // "--store-path"
  std::string help;
};
const std::vector<KeyInfo>& configKeys();

// Applies a YAML file over config. Errors read "file:line:col: key: what".
Status loadConfigFile(const std::string& path, CentralConfig& config);
// Applies one key given as text (a flag's value); errors read "--flag: what".
Status applyFlag(const std::string& key, const std::string& value, CentralConfig& config);
// Checks the whole: TLS all or nothing, a listen address, insecure only on
// loopback.
Status validateConfig(const CentralConfig& config);
// The effective configuration as YAML, every key with its help.
std::string renderConfig(const CentralConfig& config);

// host and port of a listen address ("127.0.0.1:7443", "[::1]:7443").
Result<std::pair<std::string, uint16_t>> splitListen(const std::string& listen);

} // namespace vigil::central
