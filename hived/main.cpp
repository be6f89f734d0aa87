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
#include <filesystem>
#include <iostream>
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
  bool insecure = false;
  std::string log_level = "info";
  std::string access_log = "errors";
  int threads = 256;
  app.add_option("--listen", listen, "Address to serve on, host:port (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--data-dir", data_dir, "Where SQLite databases and log segments live")
      ->capture_default_str();
  app.add_option("--roles", roles_flag,
                 "Comma-separated components to run: registry, config, collector, dashboard")
      ->capture_default_str();
  app.add_option("--tokens-file", tokens_file,
                 "YAML file of bearer tokens with roles; without it every caller is admin");
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
    auto r = hive::registry::RegistryService::Open(o);
    if (!r.ok()) return Fail("cannot open the registry", r.status());
    registry = std::move(*r);
    registry->Mount(server);
  }
  if (roles.contains("config")) {
    hive::config_store::ConfigStoreOptions o;
    o.data_dir = data_dir;
    o.metrics = metrics;
    auto c = hive::config_store::ConfigStoreService::Open(o);
    if (!c.ok()) return Fail("cannot open the config store", c.status());
    config = std::move(*c);
    config->Mount(server);
  }
  if (roles.contains("collector")) {
    hive::collector::CollectorOptions o;
    o.data_dir = data_dir;
    o.metrics = metrics;
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
