#include "hive/ctl/hivectl.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include "commands.h"
#include "config_commands.h"
#include "hive/core/http_client.h"
#include "hive/core/text.h"
#include "services_commands.h"

namespace hive::ctl {
namespace {

constexpr char kDefaultAddr[] = "http://127.0.0.1:7070";

constexpr char kFooter[] = R"(Environment:
  HIVE_ADDR       hived address (default http://127.0.0.1:7070, or https://...); --addr overrides it
  HIVE_TOKEN      bearer token sent to hived; --token overrides it
  HIVE_CA_FILE    PEM CA bundle that verifies an https:// hived (default: the system's trust
                  store); --ca-file overrides it
  HIVE_CERT_FILE  PEM client certificate, for a hived that requires one; --cert-file overrides it
  HIVE_KEY_FILE   its private key; --key-file overrides it

Exit codes:
  0  ok
  1  hived answered with an error (its message is printed)
  2  usage error (bad flags, names or input)
  3  hived could not be reached (also: its TLS certificate could not be verified))";

std::string EnvVar(const CtlEnvironment& env, const std::string& name) {
  auto it = env.vars.find(name);
  return it == env.vars.end() ? "" : it->second;
}

// Everything the command line can set; CLI11 writes into it while parsing.
struct CommandLine {
  std::string addr;
  std::string token;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string output = "table";
  std::string timeout = "30s";

  std::string name;  // service
  bool healthy = false;
  LogQuery logs;
  int limit = 0;
  std::string trace_id;
};

int Run(int argc, const char* const* argv, const CtlEnvironment& env, std::ostream& out,
        std::ostream& err) {
  CommandLine cl;
  CLI::App app("hivectl: the command-line client of hive's control plane (hived)", "hivectl");
  app.footer(kFooter);
  app.require_subcommand(1);
  // Global flags may also follow the subcommand: `hivectl services -o json`.
  app.fallthrough();
  app.add_option("--addr", cl.addr, "hived address, e.g. http://127.0.0.1:7070 (env HIVE_ADDR)");
  app.add_option("--token", cl.token, "bearer token (env HIVE_TOKEN)");
  app.add_option("--ca-file", cl.ca_file,
                 "PEM CA bundle that verifies an https:// hived (env HIVE_CA_FILE)");
  app.add_option("--cert-file", cl.cert_file,
                 "PEM client certificate for mutual TLS (env HIVE_CERT_FILE)");
  app.add_option("--key-file", cl.key_file, "the client certificate's key (env HIVE_KEY_FILE)");
  app.add_option("-o,--output", cl.output, "output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", cl.timeout, "how long to wait for hived, e.g. 10s")
      ->capture_default_str();

  auto* services = app.add_subcommand("services", "list services, or one service's instances");
  services->add_option("name", cl.name, "a service: list its instances");
  services->add_flag("--healthy", cl.healthy, "only instances whose health is passing");
  ServiceCommands service_commands(*services);

  ConfigCommands config(app);

  auto* logs = app.add_subcommand("logs", "search log events (printed oldest first)");
  logs->add_option("--trace", cl.logs.trace_id, "correlation (trace) id");
  logs->add_option("--service", cl.logs.service, "service name");
  logs->add_option("--level", cl.logs.level, "level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "fatal"}));
  logs->add_option("--since", cl.logs.since, "a duration back from now (10m) or an RFC 3339 time");
  auto* limit =
      logs->add_option("--limit", cl.limit, "at most N events")->check(CLI::PositiveNumber);

  auto* trace = app.add_subcommand("trace", "every log line and span of one correlation id");
  trace->add_option("id", cl.trace_id, "the trace / correlation id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  }

  const std::string addr = !cl.addr.empty()                    ? cl.addr
                           : !EnvVar(env, "HIVE_ADDR").empty() ? EnvVar(env, "HIVE_ADDR")
                                                               : kDefaultAddr;
  auto timeout = ParseDuration(cl.timeout);
  if (!timeout.ok() || timeout->count() == 0) {
    err << "error: bad --timeout '" << cl.timeout << "': expected a duration like 10s\n";
    return kExitUsage;
  }
  auto flag_or_env = [&](const std::string& flag, const char* name) {
    return !flag.empty() ? flag : EnvVar(env, name);
  };
  HttpClientOptions options;
  options.base_url = addr.find("://") == std::string::npos ? "http://" + addr : addr;
  options.bearer_token = flag_or_env(cl.token, "HIVE_TOKEN");
  options.ca_file = flag_or_env(cl.ca_file, "HIVE_CA_FILE");
  options.cert_file = flag_or_env(cl.cert_file, "HIVE_CERT_FILE");
  options.key_file = flag_or_env(cl.key_file, "HIVE_KEY_FILE");
  options.connect_timeout = std::min<Duration>(*timeout, std::chrono::seconds(3));
  options.read_timeout = *timeout;
  options.write_timeout = *timeout;
  if (!options.base_url.starts_with("https://")) {
    for (const auto& [value, what] : {std::pair{options.ca_file, "--ca-file (HIVE_CA_FILE)"},
                                      std::pair{options.cert_file, "--cert-file (HIVE_CERT_FILE)"},
                                      std::pair{options.key_file, "--key-file (HIVE_KEY_FILE)"}}) {
      if (!value.empty()) {
        err << "error: " << what << " needs an https:// hived address, got '" << addr << "'\n";
        return kExitUsage;
      }
    }
  }
  auto client = HttpClient::Create(options);
  if (!client.ok()) {
    // A bad address, or TLS files that cannot be loaded (the message names them).
    err << "error: " << client.status().message() << '\n';
    return kExitUsage;
  }

  Session session{client->get(), addr, cl.output == "json", &out, &err, env.clock};
  if (*services) {
    if (service_commands.chosen()) return service_commands.Run(session, cl.name, cl.healthy);
    return cl.name.empty() ? ListServices(session) : ShowService(session, cl.name, cl.healthy);
  }
  if (config.chosen()) return config.Run(session);
  if (*logs) {
    if (*limit) cl.logs.limit = cl.limit;
    return SearchLogs(session, cl.logs);
  }
  return ShowTrace(session, cl.trace_id);
}

}  // namespace

CtlEnvironment ProcessEnvironment() {
  CtlEnvironment env;
  for (const char* name :
       {"HIVE_ADDR", "HIVE_TOKEN", "HIVE_CA_FILE", "HIVE_CERT_FILE", "HIVE_KEY_FILE"}) {
    if (const char* value = std::getenv(name)) env.vars[name] = value;
  }
  return env;
}

int RunHivectl(int argc, const char* const* argv, const CtlEnvironment& env, std::ostream& out,
               std::ostream& err) {
  try {
    return Run(argc, argv, env, out, err);
  } catch (const std::exception& e) {
    // Library exceptions (CLI11 misuse, allocation) end here, not in main().
    err << "error: " << e.what() << '\n';
    return kExitUsage;
  }
}

}  // namespace hive::ctl
