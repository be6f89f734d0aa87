// A stand-in hived for the dashboard's browser test: the real dashboard plus
// GET /api/v1/services and /api/v1/services/{name} answering fixed sample data
// in the docs/API.md shapes. Listens on 127.0.0.1, port 0, prints the port on
// stdout and serves until SIGTERM/SIGINT.
//
//   dashboard_test_server [--token T] [--empty]
//     --token T  require `Authorization: Bearer T` on the API (role reader)
//     --empty    no services registered
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "hive/core/clock.h"
#include "hive/core/http.h"
#include "hive/core/process.h"
#include "hive/core/text.h"
#include "hive/dashboard/dashboard.h"

namespace {

std::string Instance(const std::string& service, const std::string& id, const std::string& address,
                     int port, const std::string& version, const std::string& status,
                     const std::string& output, std::chrono::seconds seen_ago) {
  const hive::TimePoint now = hive::Clock::System().Now();
  const hive::TimePoint seen = now - seen_ago;
  return "{\"service\":" + hive::JsonString(service) + ",\"id\":" + hive::JsonString(id) +
         ",\"address\":" + hive::JsonString(address) + ",\"port\":" + std::to_string(port) +
         ",\"version\":" + hive::JsonString(version) +
         ",\"tags\":[],\"metadata\":{},\"ttl\":\"15s\",\"health\":{\"status\":" +
         hive::JsonString(status) + ",\"output\":" + hive::JsonString(output) +
         "},\"registered_at\":" +
         hive::JsonString(hive::FormatRfc3339(now - std::chrono::hours(1))) +
         ",\"last_seen\":" + hive::JsonString(hive::FormatRfc3339(seen)) +
         ",\"lease_expires_at\":" +
         hive::JsonString(hive::FormatRfc3339(seen + std::chrono::seconds(15))) + "}";
}

}  // namespace

int main(int argc, char** argv) {
  hive::BlockTerminationSignals();
  std::string token;
  bool empty = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
      token = argv[++i];
    } else if (std::strcmp(argv[i], "--empty") == 0) {
      empty = true;
    } else {
      std::cerr << "usage: dashboard_test_server [--token T] [--empty]\n";
      return 2;
    }
  }

  hive::HttpServerOptions options;
  options.port = 0;
  options.worker_threads = 8;
  options.access_log = hive::AccessLog::kNone;
  if (!token.empty()) {
    auto auth = std::make_shared<hive::TokenAuthenticator>();
    if (hive::Status st = auth->Add("browser", hive::Role::kReader, token); !st.ok()) {
      std::cerr << st.ToString() << '\n';
      return 1;
    }
    options.auth = auth;
  }
  hive::HttpServer server(options);
  hive::dashboard::MountDashboard(server);

  server.Route(
      "GET", "/api/v1/services", {hive::Access::kRead},
      [empty](const hive::HttpRequest&, hive::HttpResponse& res) {
        res.SetJson(
            empty ? R"({"index":1,"services":[]})"
                  : R"({"index":42,"services":[)"
                    R"({"name":"orders","instances":2,"passing":1,"warning":0,"critical":1},)"
                    R"({"name":"payments","instances":1,"passing":0,"warning":1,"critical":0}]})");
      });
  server.Route("GET", "/api/v1/services/{service}", {hive::Access::kRead},
               [](const hive::HttpRequest& req, hive::HttpResponse& res) {
                 const std::string service(req.PathParam("service"));
                 std::string instances;
                 if (service == "orders") {
                   instances = Instance("orders", "orders-1", "127.0.0.1", 8081, "1.4.2", "passing",
                                        "", std::chrono::seconds(3)) +
                               "," +
                               Instance("orders", "orders-2", "127.0.0.1", 8082, "1.4.1",
                                        "critical", "lease expired", std::chrono::seconds(47));
                 } else if (service == "payments") {
                   // Markup in API text must show as text, never as HTML.
                   instances =
                       Instance("payments", "payments-1", "10.0.3.17", 9090, "2.0.0", "warning",
                                "<b>slow</b> & \"p99 870ms\"", std::chrono::seconds(2));
                 }
                 res.SetJson("{\"service\":" + hive::JsonString(service) +
                             ",\"index\":42,\"instances\":[" + instances + "]}");
               });

  if (hive::Status st = server.Start(); !st.ok()) {
    std::cerr << st.ToString() << '\n';
    return 1;
  }
  std::cout << server.port() << std::endl;
  hive::WaitForTerminationSignal();
  server.Stop();
  return 0;
}
