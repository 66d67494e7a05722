// vigil-central: the central collector. Agents stream their audit log to it
// over gRPC (proto/vigil/v1/ingest.proto); it verifies each instance's hash
// chain and keeps the events in an embedded SQLite store (docs/central.md).

#include "central/config.h"
#include "central/ingest_service.h"
#include "central/ingestor.h"
#include "central/sqlite_store.h"

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

using vigil::Result;
using vigil::central::CentralConfig;

Result<std::string> readPem(const std::string& key, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return vigil::makeError("{}: cannot read {}", key, path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::shared_ptr<grpc::ServerCredentials>> credentials(const CentralConfig& config) {
  if (!config.tlsEnabled()) {
    return grpc::InsecureServerCredentials();
  }
  auto cert = readPem("tls.cert", config.tls_cert);
  auto key = readPem("tls.key", config.tls_key);
  auto ca = readPem("tls.client_ca", config.tls_client_ca);
  for (auto* r : {&cert, &key, &ca}) {
    if (!*r) {
      return r->error();
    }
  }
  grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = *ca;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

int run(const CentralConfig& config) {
  auto logger = spdlog::stderr_color_mt("vigil-central");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  auto creds = credentials(config);
  if (!creds) {
    spdlog::error("{}", creds.error().message());
    return 1;
  }
  auto store = vigil::central::SqliteStore::open(config.store_path);
  if (!store) {
    spdlog::error("{}", store.error().message());
    return 1;
  }
  vigil::metrics::Registry registry("vigil_central_");
  vigil::central::IngestMetrics metrics(registry);
  vigil::central::IngestOptions options;
  options.retention_check = std::chrono::seconds(config.retention_check_seconds);
  options.retention_max_age_ns = static_cast<int64_t>(config.retention_days) * 86400LL * 1000000000LL;
  options.retention_max_bytes = config.max_bytes;
  options.stats_interval = std::chrono::seconds(config.stats_interval_seconds);
  vigil::central::Ingestor ingestor(**store, metrics, options);
  if (auto st = ingestor.start(); !st) {
    spdlog::error("{}", st.error().message());
    return 1;
  }
  vigil::central::IngestService service(ingestor, metrics, config.tlsEnabled());

  // SIGINT and SIGTERM are taken by sigwait below, on this thread; every
  // thread started after this inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, *creds, &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(64 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::error("listen: cannot listen on {} (address in use, or not an address of this host)", config.listen);
    ingestor.stop();
    return 1;
  }
  spdlog::info("vigil-central {} listening on {} ({}), store {}", VIGIL_VERSION, config.listen,
               config.tlsEnabled() ? "mutual TLS" : "insecure, loopback only", config.store_path);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping", sig);
  // Streams waiting for an ack get it (the ingestor still runs), then end.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ingestor.stop();
  spdlog::info("stats: {}", vigil::metrics::renderSummary(registry, {}, true));
  spdlog::info("stopped cleanly");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigil-central: the Vigil central collector (gRPC ingest, embedded store)"};
  std::string config_file;
  bool print_config = false;
  app.add_option("-c,--config", config_file, "YAML configuration file");
  app.add_flag("--print-config", print_config, "print the effective configuration and exit");
  std::vector<std::pair<std::string, std::string>> flag_values;
  std::vector<std::string> values(vigil::central::configKeys().size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& key = vigil::central::configKeys()[i];
    app.add_option(key.flag, values[i], key.help + " (key " + key.name + ")");
  }
  app.add_flag_function("--version", [](int64_t) {
    std::cout << "vigil-central " << VIGIL_VERSION << "\n";
    std::exit(0);
  }, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return app.exit(e);
    }
    std::cerr << "vigil-central: " << e.what() << "\n";
    return 2;
  }

  CentralConfig config;
  if (!config_file.empty()) {
    if (auto st = vigil::central::loadConfigFile(config_file, config); !st) {
      std::cerr << "vigil-central: " << st.error().message() << "\n";
      return 2;
    }
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& key = vigil::central::configKeys()[i];
    if (app.count(key.flag) == 0) {
      continue;
    }
    if (auto st = vigil::central::applyFlag(key.name, values[i], config); !st) {
      std::cerr << "vigil-central: " << st.error().message() << "\n";
      return 2;
    }
  }
  if (auto st = vigil::central::validateConfig(config); !st) {
    std::cerr << "vigil-central: " << st.error().message() << "\n";
    return 2;
  }
  if (print_config) {
    std::cout << vigil::central::renderConfig(config);
    return 0;
  }
  return run(config);
}
