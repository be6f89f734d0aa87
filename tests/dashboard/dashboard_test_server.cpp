// A stand-in hived for the dashboard's browser test: the real dashboard plus
// GET /api/v1/services, /api/v1/services/{name} and /api/v1/graph answering
// fixed sample data in the docs/API.md shapes. Listens on 127.0.0.1, port 0, prints the port on
// stdout and serves until SIGTERM/SIGINT.
//
//   dashboard_test_server [--token T] [--empty]
//     --token T  require `Authorization: Bearer T` on the API (role reader)
//     --empty    no services registered and no traffic in the graph
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
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

// The demo topology: gateway → orders → {inventory, payments}, payments
// failing. Markup in a service name must show as text.
std::string Graph(const std::string& window, bool empty) {
  static const std::map<std::string, int> kWindowSeconds = {
      {"1m", 60}, {"5m", 300}, {"15m", 900}, {"1h", 3600}, {"6h", 21600}, {"24h", 86400}};
  const std::string head =
      "{\"window\":" + hive::JsonString(window) +
      ",\"window_seconds\":" + std::to_string(kWindowSeconds.at(window)) +
      R"(,"thresholds":{"degraded_error_rate":0.001,"failing_error_rate":0.1},)";
  if (empty) return head + R"("nodes":[],"edges":[]})";
  return head +
         R"("nodes":[)"
         R"({"id":"gateway","calls":1500,"errors":0,"request_rate":5.0,"error_rate":0,)"
         R"("p50_ms":20.1,"p95_ms":41.0,"p99_ms":62.5,"health":"healthy","uninstrumented":false},)"
         R"({"id":"orders","calls":1500,"errors":0,"request_rate":5.0,"error_rate":0,)"
         R"("p50_ms":12.1,"p95_ms":20.3,"p99_ms":29.8,"health":"healthy","uninstrumented":false,)"
         R"("instances":{"total":2,"passing":2,"warning":0,"critical":0}},)"
         R"({"id":"inventory","calls":900,"errors":0,"request_rate":3.0,"error_rate":0,)"
         R"("p50_ms":4.2,"p95_ms":8.0,"p99_ms":11.4,"health":"healthy","uninstrumented":false,)"
         R"("instances":{"total":1,"passing":1,"warning":0,"critical":0}},)"
         R"({"id":"payments","calls":600,"errors":150,"request_rate":2.0,"error_rate":0.25,)"
         R"("p50_ms":180.0,"p95_ms":640.0,"p99_ms":870.0,"health":"failing","uninstrumented":false,)"
         R"("instances":{"total":3,"passing":1,"warning":1,"critical":1}}],)"
         R"("edges":[)"
         R"({"source":"gateway","target":"orders","calls":1500,"errors":0,"request_rate":5.0,)"
         R"("error_rate":0,"p50_ms":17.5,"p95_ms":25.0,"p99_ms":34.2,"health":"healthy"},)"
         R"({"source":"orders","target":"inventory","calls":900,"errors":0,"request_rate":3.0,)"
         R"("error_rate":0,"p50_ms":5.1,"p95_ms":9.0,"p99_ms":12.6,"health":"healthy"},)"
         R"({"source":"orders","target":"payments","calls":600,"errors":150,"request_rate":2.0,)"
         R"("error_rate":0.25,"p50_ms":185.0,"p95_ms":650.0,"p99_ms":880.0,"health":"failing"}]})";
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

  server.Route("GET", "/api/v1/graph", {hive::Access::kRead},
               [empty](const hive::HttpRequest& req, hive::HttpResponse& res) {
                 const std::string window = req.Query("window").value_or("5m");
                 if (window != "1m" && window != "5m" && window != "15m" && window != "1h" &&
                     window != "6h" && window != "24h") {
                   res.SetError(hive::Status::InvalidArgument("bad window '" + window + "'"));
                   return;
                 }
                 res.SetJson(Graph(window, empty));
               });

  // The registry's event stream, with no changes: only keep-alives, so the
  // pages' live-update streams stay open until shutdown.
  server.Route("GET", "/api/v1/events", {hive::Access::kRead},
               [](const hive::HttpRequest&, hive::HttpResponse& res) {
                 res.content_type = "text/event-stream";
                 res.Stream(nullptr, std::chrono::milliseconds(200),
                            [](hive::StreamSink& sink) { return sink.Write(": keep-alive\n\n"); });
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
