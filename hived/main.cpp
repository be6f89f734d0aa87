// hived — the hive control plane.
//
// Thread model: the main thread parses flags, opens the components, starts
// the HTTP server (an accept thread plus a fixed worker pool owned by
// HttpServer) and then only waits for SIGTERM/SIGINT. Each component owns its
// background threads (the registry's reaper, the collector's writer) and
// joins them in Stop(). Shutdown order: wake blocked watchers, stop accepting
// and finish in-flight requests, then drain the collector so everything
// acknowledged is on disk.
#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "hive/collector/collector_service.h"
#include "hive/config_store/config_store_service.h"
#include "hive/core/http.h"
#include "hive/core/log.h"
#include "hive/core/process.h"
#include "hive/core/text.h"
#include "hive/dashboard/dashboard.h"
#include "hive/registry/registry_service.h"

namespace {

constexpr int kUsageError = 2;
constexpr int kStartupError = 1;

int Fail(const std::string& what, const hive::Status& s) {
  hive::log::Error(what, {{"error", s.ToString()}});
  std::cerr << "hived: " << what << ": " << s.message() << "\n";
  return kStartupError;
}

}  // namespace

int main(int argc, char** argv) {
  hive::BlockTerminationSignals();
  hive::log::SetProcessName("hived");

  CLI::App app{
      "hived — the hive control plane: service registry, config store, log/trace "
      "collector and dashboard on one port."};
  std::string listen = "127.0.0.1:7070";
  std::string data_dir = "./hive-data";
  std::string roles_flag = "registry,config,collector,dashboard";
  std::string tokens_file;
  std::string secrets_key_file;
  bool insecure = false;
  std::string log_level = "info";
  std::string access_log = "errors";
  std::string log_retention = "7d";
  std::string log_max_bytes = "10GiB";
  std::string es_url;
  // Each blocking query or event stream holds a worker while it waits; idle
  // threads on a condition variable cost little (a stack), and 2,000
  // concurrent registry watchers is a target.
  int threads = 4096;
  double self_preservation = 0.85;
  app.add_option("--listen", listen, "Address to serve on, host:port (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--data-dir", data_dir, "Where SQLite databases and log segments live")
      ->capture_default_str();
  app.add_option("--roles", roles_flag,
                 "Comma-separated components to run: registry, config, collector, dashboard")
      ->capture_default_str();
  app.add_option("--tokens-file", tokens_file,
                 "YAML file of bearer tokens with roles; without it every caller is admin");
  app.add_option("--secrets-key-file", secrets_key_file,
                 "File with the 32-byte key (64 hex digits or base64) that encrypts config "
                 "secrets at rest, e.g. from `openssl rand -hex 32`");
  app.add_flag("--insecure", insecure,
               "Allow a non-loopback --listen without --tokens-file (anyone who can reach the "
               "port is admin)");
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--access-log", access_log, "Which requests to log: all, errors or none")
      ->capture_default_str();
  app.add_option("--http-threads", threads,
                 "HTTP worker threads (each blocking query or stream holds one)")
      ->capture_default_str()
      ->check(CLI::Range(4, 20000));
  app.add_option("--registry-self-preservation", self_preservation,
                 "Stop expiring leases while renewals are below this fraction of those "
                 "expected (0 disables; see docs/API.md)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--log-retention", log_retention,
                 "Drop stored log blocks older than this (e.g. 7d, 12h; 0 keeps them)")
      ->capture_default_str();
  app.add_option("--log-max-bytes", log_max_bytes,
                 "Drop the oldest log blocks while the log store is larger (e.g. 10GiB; 0: no "
                 "limit)")
      ->capture_default_str();
  app.add_option("--es-url", es_url,
                 "Also ship stored logs to this Elasticsearch (http://host:9200) into the data "
                 "stream logs-hive-default; credentials from HIVE_ES_API_KEY or "
                 "HIVE_ES_USERNAME/HIVE_ES_PASSWORD");
  CLI11_PARSE(app, argc, argv);

  hive::log::Level level;
  if (!hive::log::ParseLevel(log_level, &level)) {
    std::cerr << "hived: --log-level must be debug, info, warn or error\n";
    return kUsageError;
  }
  hive::log::SetLevel(level);

  hive::HttpServerOptions http;
  if (hive::Status s = hive::ParseHostPort(listen, &http.host, &http.port); !s.ok()) {
    std::cerr << "hived: --listen: " << s.message() << "\n";
    return kUsageError;
  }
  if (access_log == "all")
    http.access_log = hive::AccessLog::kAll;
  else if (access_log == "errors")
    http.access_log = hive::AccessLog::kErrors;
  else if (access_log == "none")
    http.access_log = hive::AccessLog::kNone;
  else {
    std::cerr << "hived: --access-log must be all, errors or none\n";
    return kUsageError;
  }
  http.worker_threads = threads;

  std::set<std::string> roles;
  for (std::string_view r : hive::Split(roles_flag, ',')) {
    r = hive::Trim(r);
    if (r != "registry" && r != "config" && r != "collector" && r != "dashboard") {
      std::cerr << "hived: --roles: unknown role '" << r
                << "' (use registry, config, collector, dashboard)\n";
      return kUsageError;
    }
    roles.emplace(r);
  }

  if (!tokens_file.empty()) {
    auto auth = hive::TokenAuthenticator::LoadFile(tokens_file);
    if (!auth.ok()) return Fail("cannot load tokens", auth.status());
    http.auth = std::make_shared<hive::TokenAuthenticator>(std::move(*auth));
  } else if (!hive::IsLoopbackHost(http.host) && !insecure) {
    std::cerr << "hived: refusing to listen on " << http.host
              << " without --tokens-file: anyone who can reach it would be admin.\n"
                 "       Give --tokens-file, bind a loopback address, or pass --insecure.\n";
    return kUsageError;
  }

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return Fail("cannot create data dir",
                hive::Status::Unavailable(data_dir + ": " + ec.message()));
  }

  auto metrics = std::make_shared<prometheus::Registry>();
  http.metrics = metrics;
  hive::HttpServer server(http);

  std::unique_ptr<hive::registry::RegistryService> registry;
  std::unique_ptr<hive::config_store::ConfigStoreService> config;
  std::unique_ptr<hive::collector::CollectorService> collector;
  if (roles.contains("registry")) {
    hive::registry::RegistryOptions o;
    o.metrics = metrics;
    o.data_dir = data_dir;
    o.self_preservation_threshold = self_preservation;
    auto r = hive::registry::RegistryService::Open(o);
    if (!r.ok()) return Fail("cannot open the registry", r.status());
    registry = std::move(*r);
    registry->Mount(server);
  }
  if (roles.contains("config")) {
    hive::config_store::ConfigStoreOptions o;
    o.data_dir = data_dir;
    o.metrics = metrics;
    if (!secrets_key_file.empty()) {
      auto key = hive::config_store::SecretBox::LoadKeyFile(secrets_key_file);
      if (!key.ok()) return Fail("cannot load the secrets key", key.status());
      o.secrets = std::make_shared<hive::config_store::SecretBox>(std::move(*key));
    }
    auto c = hive::config_store::ConfigStoreService::Open(o);
    if (!c.ok()) return Fail("cannot open the config store", c.status());
    config = std::move(*c);
    config->Mount(server);
  }
  if (roles.contains("collector")) {
    hive::collector::CollectorOptions o;
    o.data_dir = data_dir;
    auto retention = hive::ParseDuration(log_retention);
    if (!retention.ok()) {
      std::cerr << "hived: --log-retention: " << retention.status().message() << "\n";
      return kUsageError;
    }
    auto max_bytes = hive::ParseByteSize(log_max_bytes);
    if (!max_bytes.ok()) {
      std::cerr << "hived: --log-max-bytes: " << max_bytes.status().message() << "\n";
      return kUsageError;
    }
    o.log_max_age = *retention;
    o.log_max_bytes = *max_bytes;
    o.metrics = metrics;
    if (!es_url.empty()) {
      auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return std::string(v ? v : "");
      };
      o.signals.es.url = es_url;
      o.signals.es.api_key = env("HIVE_ES_API_KEY");
      o.signals.es.username = env("HIVE_ES_USERNAME");
      o.signals.es.password = env("HIVE_ES_PASSWORD");
    }
    if (registry) {
      // The graph's node health merges the registry's view of each service.
      hive::registry::Registry* reg = &registry->registry();
      o.signals.registry_health = [reg] {
        std::map<std::string, hive::collector::RegistryHealth> out;
        for (const hive::registry::ServiceSummary& s : reg->ListServices().services) {
          out[s.name] = {s.instances, s.passing, s.warning, s.critical};
        }
        return out;
      };
    }
    auto c = hive::collector::CollectorService::Open(o);
    if (!c.ok()) return Fail("cannot open the collector", c.status());
    collector = std::move(*c);
    collector->Mount(server);
  }
  if (roles.contains("dashboard")) hive::dashboard::MountDashboard(server);

  if (hive::Status s = server.Start(); !s.ok()) return Fail("cannot serve", s);
  const std::string addr = http.host + ":" + std::to_string(server.port());
  hive::log::Info("listening", {{"addr", addr},
                                {"roles", roles_flag},
                                {"data_dir", data_dir},
                                {"auth", http.auth ? "tokens" : "none"}});

  const int sig = hive::WaitForTerminationSignal();
  hive::log::Info("shutting down", {{"signal", sig}});
  if (registry) registry->Stop();
  if (config) config->Stop();
  server.Stop();
  if (collector) collector->Stop();
  hive::log::Info("stopped");
  return 0;
}
