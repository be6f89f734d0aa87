// hived — the hive control plane.
//
// Thread model: the main thread parses flags, opens the components, starts
// the HTTP server (its I/O threads and handler pool are HttpServer's) and
// then only waits for SIGTERM/SIGINT. Each component owns its
// background threads (the registry's reaper, the collector's writer) and
// joins them in Stop(). Shutdown order: wake blocked watchers, stop accepting
// and finish in-flight requests, then drain the collector so everything
// acknowledged is on disk.
#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <vector>

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

// An --allowed-host value: a DNS name (letters, digits, '-', '_', '.'), with
// an optional :port, as a Host header carries it.
hive::Status CheckAllowedHost(const std::string& value) {
  std::string name = value;
  int port = 0;
  if (value.find(':') != std::string::npos) {
    HIVE_RETURN_IF_ERROR(hive::ParseHostPort(value, &name, &port));
  }
  const bool valid =
      !name.empty() && name.size() <= 253 && name.front() != '.' && name.front() != '-' &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (!valid) {
    return hive::Status::InvalidArgument("'" + value.substr(0, 100) +
                                         "' is not a host name (or name:port), e.g. "
                                         "hive.example.com or hive.example.com:443");
  }
  return hive::Status::Ok();
}

// The data directory holds sealed secrets, the audit and every log line: a
// new one is made 0700; one others can enter is used, with a warning.
hive::Status PrepareDataDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (!ec && created) fs::permissions(dir, fs::perms::owner_all, ec);
  if (ec) return hive::Status::Unavailable(dir + ": " + ec.message());
  const fs::perms perms = fs::status(dir, ec).permissions();
  if (!ec && (perms & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none) {
    hive::log::Warn("the data dir may be read by other users; chmod 700 it", {{"data_dir", dir}});
  }
  return hive::Status::Ok();
}

// An agent token without `services:` may act as any service; on a fleet,
// each should name its own (docs/API.md, "Scoped tokens").
void WarnAboutUnscopedAgents(const hive::TokenAuthenticator& auth) {
  for (const hive::Principal& p : auth.Principals()) {
    if (p.role == hive::Role::kAgent && !p.scoped()) {
      hive::log::Warn("agent token without services: it may act for every service",
                      {{"token", p.name}});
    }
  }
}

// Every flag, as given, and what they build.
struct Flags {
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
  std::string es_ca_file;
  hive::collector::MetricSeriesLimits metric_limits;
  std::string metrics_max_label_value = "2KiB";
  // Handlers that write to disk wait for its sync (group commit); waiting
  // requests and idle connections hold no thread at all.
  int threads = 32;
  // Half the cores, up to 4: the other half runs the handlers' disk work and
  // the services beside hived. (On 2 cores one loop answered 10,000 waiting
  // watchers sooner than two, which fought the rest for the cores.)
  int io_threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency() / 2, 1u, 4u));
  double self_preservation = 0.85;
  hive::HttpLimits limits;
  std::string max_header_bytes = "64KiB";
  std::string max_request_line = "16KiB";
  std::string head_timeout = "10s";
  std::string body_timeout = "60s";
  std::string idle_timeout = "60s";
  std::string write_timeout = "30s";
  hive::TlsOptions tls;
  std::vector<std::string> allowed_hosts;

  void AddServerFlags(CLI::App& app);
  void AddLimitFlags(CLI::App& app);
  void AddComponentFlags(CLI::App& app);
  // The HTTP server's options; InvalidArgument naming the flag that is wrong.
  hive::Status BuildHttpOptions(hive::HttpServerOptions* http);
  hive::Status ParseRoles(std::set<std::string>* roles) const;
  // The collector's options; InvalidArgument naming the flag that is wrong.
  hive::Result<hive::collector::CollectorOptions> CollectorOptions(
      const std::shared_ptr<prometheus::Registry>& metrics, hive::registry::Registry* registry);
};

void Flags::AddServerFlags(CLI::App& app) {
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
               "Allow a non-loopback --listen without --tokens-file or TLS (anyone who can "
               "reach the port is admin)");
  app.add_option("--tls-cert", tls.cert_file,
                 "PEM certificate (then its chain) to serve HTTPS with; needs --tls-key");
  app.add_option("--tls-key", tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", tls.client_ca_file,
                 "PEM CA bundle: clients must present a certificate it signed (mutual TLS)");
  app.add_option("--allowed-host", allowed_hosts,
                 "Without --tokens-file, a Host name (or host:port) besides loopback ones and the "
                 "listen address that requests may carry, e.g. the name of a reverse proxy; "
                 "repeatable");
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--access-log", access_log, "Which requests to log: all, errors or none")
      ->capture_default_str();
  app.add_option("--http-threads", threads,
                 "Threads that run request handlers which may block on disk (waiting requests "
                 "and idle connections hold none)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--io-threads", io_threads, "Threads that read and write connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
}

void Flags::AddLimitFlags(CLI::App& app) {
  app.add_option("--max-connections", limits.max_connections,
                 "Open connections in all; past it new ones get 503 (also bounded by the "
                 "open-file limit)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
  app.add_option("--max-connections-per-client", limits.max_connections_per_client,
                 "Open connections from one client address")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
  app.add_option("--max-waits-per-token", limits.max_waits_per_token,
                 "Blocking queries and event streams waiting at once per token (per client "
                 "address without a token); past it 429")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
  app.add_option("--max-header-bytes", max_header_bytes,
                 "Size of a request's header fields; past it 431")
      ->capture_default_str();
  app.add_option("--max-headers", limits.max_header_count,
                 "Number of a request's header fields; past it 431")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100'000}));
  app.add_option("--max-request-line", max_request_line,
                 "Size of a request line (method, target, version); past it 414")
      ->capture_default_str();
  app.add_option("--head-timeout", head_timeout,
                 "Time for a whole request head, from its first byte (for a new connection "
                 "from the accept, TLS handshake included); past it 408")
      ->capture_default_str();
  app.add_option("--body-timeout", body_timeout,
                 "Time for a whole request body once its head is read; past it 408")
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_timeout,
                 "A kept-alive connection with no request is closed after this")
      ->capture_default_str();
  app.add_option("--write-timeout", write_timeout,
                 "A connection whose client takes no byte of an answer for this long is closed")
      ->capture_default_str();
}

void Flags::AddComponentFlags(CLI::App& app) {
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
  app.add_option("--metrics-max-series", metric_limits.max_series,
                 "Metric series the collector holds in all; past it new series get 429")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100'000'000}));
  app.add_option("--metrics-max-series-per-service", metric_limits.max_series_per_service,
                 "Metric series one service may have; past it its new series get 429")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100'000'000}));
  app.add_option("--metrics-max-labels", metric_limits.max_labels,
                 "Labels of a metric series, service and instance included; past it 400")
      ->capture_default_str()
      ->check(CLI::Range(size_t{2}, size_t{1'000}));
  app.add_option("--metrics-max-label-value", metrics_max_label_value,
                 "Size of a metric label value; past it 400")
      ->capture_default_str();
  app.add_option("--es-url", es_url,
                 "Also ship stored logs to this Elasticsearch (http://host:9200 or "
                 "https://host:9200) into the data stream logs-hive-default; credentials from "
                 "HIVE_ES_API_KEY or HIVE_ES_USERNAME/HIVE_ES_PASSWORD");
  app.add_option("--es-ca-file", es_ca_file,
                 "PEM CA bundle that verifies an https --es-url (default: the system's trust "
                 "store)")
      ->needs("--es-url");
}

hive::Status Flags::BuildHttpOptions(hive::HttpServerOptions* http) {
  if (hive::Status s = hive::ParseHostPort(listen, &http->host, &http->port); !s.ok()) {
    return hive::Status::InvalidArgument("--listen: " + s.message());
  }
  if (access_log == "all") {
    http->access_log = hive::AccessLog::kAll;
  } else if (access_log == "errors") {
    http->access_log = hive::AccessLog::kErrors;
  } else if (access_log == "none") {
    http->access_log = hive::AccessLog::kNone;
  } else {
    return hive::Status::InvalidArgument("--access-log must be all, errors or none");
  }
  http->worker_threads = threads;
  http->io_threads = io_threads;
  struct DurationFlag {
    const char* name;
    const std::string& text;
    hive::Duration* out;
  };
  for (const DurationFlag& f :
       {DurationFlag{"--head-timeout", head_timeout, &limits.head_timeout},
        DurationFlag{"--body-timeout", body_timeout, &limits.body_timeout},
        DurationFlag{"--idle-timeout", idle_timeout, &limits.idle_timeout},
        DurationFlag{"--write-timeout", write_timeout, &limits.write_timeout}}) {
    auto d = hive::ParseDuration(f.text);
    if (!d.ok() || *d <= hive::Duration::zero()) {
      return hive::Status::InvalidArgument(std::string(f.name) + ": " +
                                           (d.ok() ? "must be above zero" : d.status().message()));
    }
    *f.out = *d;
  }
  struct SizeFlag {
    const char* name;
    const std::string& text;
    size_t* out;
  };
  for (const SizeFlag& f :
       {SizeFlag{"--max-header-bytes", max_header_bytes, &limits.max_header_bytes},
        SizeFlag{"--max-request-line", max_request_line, &limits.max_request_line_bytes}}) {
    auto n = hive::ParseByteSize(f.text);
    if (!n.ok() || *n < 256 || *n > (64u << 20)) {
      return hive::Status::InvalidArgument(
          std::string(f.name) + ": " +
          (n.ok() ? "must be between 256B and 64MiB" : n.status().message()));
    }
    *f.out = static_cast<size_t>(*n);
  }
  // One descriptor per connection, plus the data files and a margin.
  const uint64_t open_files = hive::RaiseOpenFileLimit();
  if (open_files > 0 && limits.max_connections + 256 > open_files) {
    const size_t capped = open_files > 512 ? static_cast<size_t>(open_files - 256) : 256;
    hive::log::Warn("--max-connections is above what the open-file limit allows; lowered",
                    {{"requested", static_cast<int64_t>(limits.max_connections)},
                     {"open_file_limit", static_cast<int64_t>(open_files)},
                     {"max_connections", static_cast<int64_t>(capped)}});
    limits.max_connections = capped;
  }
  http->limits = limits;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return hive::Status::InvalidArgument("--tls-cert and --tls-key go together");
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    return hive::Status::InvalidArgument("--tls-client-ca needs --tls-cert and --tls-key");
  }
  http->tls = tls;
  for (const std::string& host : allowed_hosts) {
    if (hive::Status s = CheckAllowedHost(host); !s.ok()) {
      return hive::Status::InvalidArgument("--allowed-host: " + s.message());
    }
  }
  http->allowed_hosts = allowed_hosts;
  return hive::Status::Ok();
}

hive::Status Flags::ParseRoles(std::set<std::string>* roles) const {
  for (std::string_view r : hive::Split(roles_flag, ',')) {
    r = hive::Trim(r);
    if (r != "registry" && r != "config" && r != "collector" && r != "dashboard") {
      return hive::Status::InvalidArgument("--roles: unknown role '" + std::string(r) +
                                           "' (use registry, config, collector, dashboard)");
    }
    roles->emplace(r);
  }
  return hive::Status::Ok();
}

hive::Result<hive::collector::CollectorOptions> Flags::CollectorOptions(
    const std::shared_ptr<prometheus::Registry>& metrics, hive::registry::Registry* registry) {
  hive::collector::CollectorOptions o;
  o.data_dir = data_dir;
  auto retention = hive::ParseDuration(log_retention);
  if (!retention.ok()) {
    return hive::Status::InvalidArgument("--log-retention: " + retention.status().message());
  }
  auto max_bytes = hive::ParseByteSize(log_max_bytes);
  if (!max_bytes.ok()) {
    return hive::Status::InvalidArgument("--log-max-bytes: " + max_bytes.status().message());
  }
  auto label_value = hive::ParseByteSize(metrics_max_label_value);
  if (!label_value.ok() || *label_value < 1 || *label_value > (1u << 20)) {
    return hive::Status::InvalidArgument(
        "--metrics-max-label-value: " +
        (label_value.ok() ? "must be between 1B and 1MiB" : label_value.status().message()));
  }
  metric_limits.max_label_value_bytes = static_cast<size_t>(*label_value);
  o.log_max_age = *retention;
  o.log_max_bytes = *max_bytes;
  o.signals.metric_limits = metric_limits;
  o.metrics = metrics;
  if (!es_url.empty()) {
    auto env = [](const char* name) {
      const char* v = std::getenv(name);
      return std::string(v ? v : "");
    };
    o.signals.es.url = es_url;
    o.signals.es.ca_file = es_ca_file;
    o.signals.es.api_key = env("HIVE_ES_API_KEY");
    o.signals.es.username = env("HIVE_ES_USERNAME");
    o.signals.es.password = env("HIVE_ES_PASSWORD");
  }
  if (registry != nullptr) {
    // The graph's node health merges the registry's view of each service.
    o.signals.registry_health = [registry] {
      std::map<std::string, hive::collector::RegistryHealth> out;
      for (const hive::registry::ServiceSummary& s : registry->ListServices().services) {
        out[s.name] = {s.instances, s.passing, s.warning, s.critical};
      }
      return out;
    };
  }
  return o;
}

int UsageError(const hive::Status& s) {
  std::cerr << "hived: " << s.message() << "\n";
  return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
  hive::BlockTerminationSignals();
  // One arena per core; request bodies and log batches (up to a few MiB,
  // many a second) reuse memory rather than fault it in every time.
  hive::KeepLargeBuffers(static_cast<int>(std::max(2u, std::thread::hardware_concurrency())),
                         32u << 20);
  hive::log::SetProcessName("hived");

  CLI::App app{
      "hived — the hive control plane: service registry, config store, log/trace "
      "collector and dashboard on one port."};
  Flags flags;
  flags.AddServerFlags(app);
  flags.AddLimitFlags(app);
  flags.AddComponentFlags(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and succeeds; any bad flag or value is a usage error.
    return app.exit(e) == 0 ? 0 : kUsageError;
  }

  hive::log::Level level;
  if (!hive::log::ParseLevel(flags.log_level, &level)) {
    std::cerr << "hived: --log-level must be debug, info, warn or error\n";
    return kUsageError;
  }
  hive::log::SetLevel(level);

  hive::HttpServerOptions http;
  if (hive::Status s = flags.BuildHttpOptions(&http); !s.ok()) return UsageError(s);
  std::set<std::string> roles;
  if (hive::Status s = flags.ParseRoles(&roles); !s.ok()) return UsageError(s);
  const hive::TlsOptions& tls = flags.tls;
  const std::string& data_dir = flags.data_dir;
  if (!flags.tokens_file.empty()) {
    auto auth = hive::TokenAuthenticator::LoadFile(flags.tokens_file);
    if (!auth.ok()) return Fail("cannot load tokens", auth.status());
    http.auth = std::make_shared<hive::TokenAuthenticator>(std::move(*auth));
    WarnAboutUnscopedAgents(*http.auth);
  } else if (!hive::IsLoopbackHost(http.host) && tls.cert_file.empty() && !flags.insecure) {
    std::cerr << "hived: refusing to listen on " << http.host
              << " without --tokens-file or TLS: anyone who can reach it would be admin.\n"
                 "       Give --tokens-file (or --tls-cert/--tls-key, with --tls-client-ca to "
                 "admit only clients with a certificate), bind a loopback address, or pass "
                 "--insecure.\n";
    return kUsageError;
  }

  if (hive::Status s = PrepareDataDir(data_dir); !s.ok()) return Fail("cannot create data dir", s);

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
    o.self_preservation_threshold = flags.self_preservation;
    auto r = hive::registry::RegistryService::Open(o);
    if (!r.ok()) return Fail("cannot open the registry", r.status());
    registry = std::move(*r);
    registry->Mount(server);
  }
  if (roles.contains("config")) {
    hive::config_store::ConfigStoreOptions o;
    o.data_dir = data_dir;
    o.metrics = metrics;
    if (!flags.secrets_key_file.empty()) {
      auto key = hive::config_store::SecretBox::LoadKeyFile(flags.secrets_key_file);
      if (!key.ok()) return Fail("cannot load the secrets key", key.status());
      o.secrets = std::make_shared<hive::config_store::SecretBox>(std::move(*key));
    }
    auto c = hive::config_store::ConfigStoreService::Open(o);
    if (!c.ok()) return Fail("cannot open the config store", c.status());
    config = std::move(*c);
    config->Mount(server);
  }
  if (roles.contains("collector")) {
    auto o = flags.CollectorOptions(metrics, registry ? &registry->registry() : nullptr);
    if (!o.ok()) return UsageError(o.status());
    auto c = hive::collector::CollectorService::Open(std::move(*o));
    if (!c.ok()) return Fail("cannot open the collector", c.status());
    collector = std::move(*c);
    collector->Mount(server);
  }
  if (roles.contains("dashboard")) hive::dashboard::MountDashboard(server);

  if (hive::Status s = server.Start(); !s.ok()) return Fail("cannot serve", s);
  const std::string addr = http.host + ":" + std::to_string(server.port());
  hive::log::Info("listening",
                  {{"addr", addr},
                   {"scheme", tls.cert_file.empty() ? "http" : "https"},
                   {"client_certificates", !tls.client_ca_file.empty()},
                   {"roles", flags.roles_flag},
                   {"data_dir", data_dir},
                   {"auth", http.auth ? "tokens" : "none"},
                   {"io_threads", http.io_threads},
                   {"http_threads", http.worker_threads},
                   {"max_connections", static_cast<int64_t>(http.limits.max_connections)}});

  const int sig = hive::WaitForTerminationSignal();
  hive::log::Info("shutting down", {{"signal", sig}});
  if (registry) registry->Stop();
  if (config) config->Stop();
  server.Stop();
  if (collector) collector->Stop();
  hive::log::Info("stopped");
  return 0;
}
