#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "demo_service.h"
#include "json_log.h"
#include "request_metrics.h"
#include "service_config.h"
#include "temp_dir.h"
#include "trace_context.h"

namespace hive::demo {
namespace {

namespace fs = std::filesystem;
using hive::testing::TempDir;
using hive::testing::WriteFile;
using Json = nlohmann::json;

std::vector<Json> ReadLogLines(const std::string& path) {
  std::vector<Json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(Json::parse(line));
  return lines;
}

// Polls `condition` until it holds or 10 s pass.
bool Eventually(const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

TEST(TraceparentTest, ParsesValidHeader) {
  auto parsed = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(parsed->parent_id, "00f067aa0ba902b7");
}

TEST(TraceparentTest, AcceptsFutureVersionWithExtraFields) {
  EXPECT_TRUE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")
                  .has_value());
}

TEST(TraceparentTest, RejectsMalformedHeaders) {
  const char* bad[] = {
      "",
      "garbage",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",           // no flags
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // upper case
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero parent id
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // forbidden version
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // extra on version 00
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // wrong separator
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",        // not hex
  };
  for (const char* header : bad) EXPECT_FALSE(ParseTraceparent(header).has_value()) << header;
}

TEST(TraceparentTest, NewIdsRoundTripThroughTheHeader) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string trace_id = NewTraceId();
    std::string span_id = NewSpanId();
    auto parsed = ParseTraceparent(FormatTraceparent(trace_id, span_id));
    ASSERT_TRUE(parsed.has_value()) << trace_id << " " << span_id;
    EXPECT_EQ(parsed->trace_id, trace_id);
    EXPECT_EQ(parsed->parent_id, span_id);
    seen.insert(trace_id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(JsonLogTest, FormatsTimestampInUtcWithMicroseconds) {
  LogTime time = LogTime(std::chrono::seconds(1795341600)) + std::chrono::microseconds(123456);
  EXPECT_EQ(FormatTimestamp(time), "2026-11-22T10:00:00.123456Z");
  EXPECT_EQ(FormatTimestamp(LogTime(std::chrono::seconds(0))), "1970-01-01T00:00:00.000000Z");
}

TEST(JsonLogTest, LineOrdersFieldsAndOmitsEmptyIds) {
  LogTime time = LogTime(std::chrono::seconds(1795341600));
  std::string line = FormatLogLine(time, LogLevel::kWarn, "hello", {"abc", "def", ""},
                                   {{"http.status_code", 200}, {"item", "sku-1"}});
  EXPECT_EQ(line, R"({"ts":"2026-11-22T10:00:00.000000Z","level":"warn","message":"hello",)"
                  R"("trace_id":"abc","span_id":"def","http.status_code":200,"item":"sku-1"})"
                  "\n");
}

TEST(JsonLogTest, ReplacesInvalidUtf8) {
  std::string line = FormatLogLine(LogTime(), LogLevel::kInfo, "bad \xff byte", {}, {});
  EXPECT_NO_THROW(Json::parse(line));
}

TEST(JsonLogTest, ConcurrentWritersKeepLinesWhole) {
  TempDir dir;
  std::string error;
  auto log = JsonLog::Open(dir / "app.log", &error);
  ASSERT_NE(log, nullptr) << error;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        log->Write(LogLevel::kInfo, std::string(200, 'a' + t), {}, {{"i", i}});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ReadLogLines(dir / "app.log").size(), 2000u);
}

TEST(JsonLogTest, OpenFailsWithReason) {
  std::string error;
  EXPECT_EQ(JsonLog::Open("/nonexistent-dir/x.log", &error), nullptr);
  EXPECT_NE(error.find("/nonexistent-dir/x.log"), std::string::npos);
}

TEST(ServiceSettingsTest, ParsesNumbersAndNumericStrings) {
  std::string error;
  auto settings = ParseServiceSettings(R"({"failure_rate":"0.3","latency_ms":20,"x.y":1})", &error);
  ASSERT_TRUE(settings.has_value()) << error;
  EXPECT_DOUBLE_EQ(settings->failure_rate, 0.3);
  EXPECT_DOUBLE_EQ(settings->latency_ms, 20);
}

TEST(ServiceSettingsTest, AbsentKeysTakeDefaults) {
  std::string error;
  auto settings = ParseServiceSettings("{}", &error);
  ASSERT_TRUE(settings.has_value()) << error;
  EXPECT_EQ(*settings, ServiceSettings{});
}

TEST(ServiceSettingsTest, RejectsBadDocuments) {
  const char* bad[] = {"",
                       "{",
                       "[1]",
                       R"({"failure_rate":1.5})",
                       R"({"failure_rate":"abc"})",
                       R"({"failure_rate":-0.1})",
                       R"({"latency_ms":-1})",
                       R"({"latency_ms":true})"};
  for (const char* text : bad) {
    std::string error;
    EXPECT_FALSE(ParseServiceSettings(text, &error).has_value()) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(ConfigWatcherTest, FollowsFileAndKeepsValuesOnBadFile) {
  TempDir dir;
  std::string error;
  auto log = JsonLog::Open(dir / "svc.log", &error);
  ASSERT_NE(log, nullptr) << error;
  std::string path = dir / "svc.json";
  WriteFile(path, R"({"failure_rate": 0.25})");
  ConfigWatcher watcher(path, log.get(), std::chrono::milliseconds(10));
  EXPECT_DOUBLE_EQ(watcher.Current().failure_rate, 0.25);

  WriteFile(path, R"({"failure_rate": 1, "latency_ms": "5"})");
  ASSERT_TRUE(Eventually([&] { return watcher.Current().failure_rate == 1; }));
  EXPECT_DOUBLE_EQ(watcher.Current().latency_ms, 5);

  WriteFile(path, "{not json");
  ASSERT_TRUE(Eventually([&] {
    for (const Json& line : ReadLogLines(dir / "svc.log")) {
      if (line["level"] == "warn") return true;
    }
    return false;
  }));
  EXPECT_DOUBLE_EQ(watcher.Current().failure_rate, 1);

  fs::remove(path);
  ASSERT_TRUE(Eventually([&] {
    int warnings = 0;
    for (const Json& line : ReadLogLines(dir / "svc.log")) warnings += line["level"] == "warn";
    return warnings == 2;
  }));
  EXPECT_DOUBLE_EQ(watcher.Current().failure_rate, 1);
  EXPECT_EQ(watcher.reloads(), 2);
}

TEST(RequestMetricsTest, RendersCumulativeHistogram) {
  RequestMetrics metrics;
  metrics.RecordRequest(200, 0.002);
  metrics.RecordRequest(200, 0.02);
  metrics.RecordRequest(500, 7.0);
  metrics.RecordUpstream("payments", 0);
  std::string text = metrics.Render(ServiceSettings{0.5, 0}, 3);
  EXPECT_NE(text.find("requests_total{code=\"200\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("requests_total{code=\"500\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("request_duration_seconds_bucket{le=\"0.0025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("request_duration_seconds_bucket{le=\"0.025\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("request_duration_seconds_bucket{le=\"2.5\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("request_duration_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("request_duration_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("upstream_requests_total{peer=\"payments\",code=\"error\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("config_failure_rate 0.5\n"), std::string::npos);
  EXPECT_NE(text.find("config_reloads_total 3\n"), std::string::npos);
}

TEST(ParseFlagsTest, UpstreamAndListenAddress) {
  std::string error;
  auto upstream = ParseUpstream("payments=http://127.0.0.1:8083", &error);
  ASSERT_TRUE(upstream.has_value()) << error;
  EXPECT_EQ(upstream->name, "payments");
  EXPECT_EQ(upstream->url, "http://127.0.0.1:8083");
  EXPECT_FALSE(ParseUpstream("payments", &error).has_value());
  EXPECT_FALSE(ParseUpstream("Payments=http://127.0.0.1:1", &error).has_value());
  EXPECT_FALSE(ParseUpstream("payments=https://x:1", &error).has_value());

  std::string host;
  int port = -1;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:0", &host, &port, &error)) << error;
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  EXPECT_FALSE(ParseListenAddress("127.0.0.1", &host, &port, &error));
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:70000", &host, &port, &error));
  EXPECT_FALSE(ParseListenAddress(":80", &host, &port, &error));
}

// The four services in this process, each serving on its own thread.
class DemoShop {
 public:
  explicit DemoShop(const TempDir& dir) : dir_(dir) {
    Start("inventory", Role::kInventory, {});
    Start("payments", Role::kPayments, {});
    Start("orders", Role::kOrders, {Url("inventory"), Url("payments")});
    Start("gateway", Role::kGateway, {Url("orders")});
  }
  // Callers first: a caller's pooled keep-alive connections would otherwise
  // hold its upstream's shutdown until they idle out.
  ~DemoShop() {
    for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
      it->service->Stop();
      it->thread.join();
      it->service.reset();
    }
  }

  DemoService& service(const std::string& name) { return *Find(name).service; }
  std::string LogFile(const std::string& name) const { return dir_ / (name + ".log"); }
  std::string ConfigFile(const std::string& name) const { return dir_ / (name + ".json"); }
  httplib::Client Client(const std::string& name) {
    return httplib::Client("127.0.0.1", service(name).port());
  }

 private:
  struct Running {
    std::string name;
    std::unique_ptr<DemoService> service;
    std::thread thread;
  };

  Running& Find(const std::string& name) {
    for (Running& running : running_) {
      if (running.name == name) return running;
    }
    throw std::out_of_range("no service " + name);
  }

  Upstream Url(const std::string& name) {
    return {name, "http://127.0.0.1:" + std::to_string(service(name).port())};
  }

  void Start(const std::string& name, Role role, std::vector<Upstream> upstreams) {
    ServiceOptions options;
    options.name = name;
    options.role = role;
    options.upstreams = std::move(upstreams);
    options.log_file = LogFile(name);
    options.config_file = ConfigFile(name);
    std::string error;
    auto service = DemoService::Create(options, &error);
    ASSERT_NE(service, nullptr) << error;
    DemoService* raw = service.get();
    running_.push_back({name, std::move(service), std::thread([raw] { raw->Run(); })});
  }

  const TempDir& dir_;
  std::vector<Running> running_;
};

std::vector<Json> LinesOfTrace(const std::string& log_file, const std::string& trace_id) {
  std::vector<Json> lines;
  for (Json& line : ReadLogLines(log_file)) {
    if (line.value("trace_id", "") == trace_id) lines.push_back(std::move(line));
  }
  return lines;
}

const Json* FindSpan(const std::vector<Json>& lines, const std::string& kind) {
  for (const Json& line : lines) {
    if (line.value("kind", "") == kind) return &line;
  }
  return nullptr;
}

TEST(DemoShopTest, CheckoutIsTracedAcrossAllFourServices) {
  TempDir dir;
  DemoShop shop(dir);
  httplib::Client client = shop.Client("gateway");
  auto result = client.Get("/checkout?item=sku-42&qty=2");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  ASSERT_EQ(result->status, 200) << result->body;
  std::string trace_id = result->get_header_value("X-Trace-Id");
  ASSERT_EQ(trace_id.size(), 32u);
  auto traceparent = ParseTraceparent(result->get_header_value("traceparent"));
  ASSERT_TRUE(traceparent.has_value());
  EXPECT_EQ(traceparent->trace_id, trace_id);
  Json body = Json::parse(result->body);
  EXPECT_EQ(body["status"], "confirmed");
  EXPECT_EQ(body["item"], "sku-42");

  std::map<std::string, std::vector<Json>> lines;
  for (const char* name : {"gateway", "orders", "inventory", "payments"}) {
    lines[name] = LinesOfTrace(shop.LogFile(name), trace_id);
    ASSERT_GE(lines[name].size(), 2u) << name;
  }
  // The gateway starts the trace: its server span has no parent.
  const Json* gateway_server = FindSpan(lines["gateway"], "server");
  ASSERT_NE(gateway_server, nullptr);
  EXPECT_FALSE(gateway_server->contains("parent_span_id"));
  EXPECT_EQ((*gateway_server)["name"], "GET /checkout");
  EXPECT_EQ((*gateway_server)["http.status_code"], 200);
  EXPECT_EQ((*gateway_server)["status"], "ok");
  EXPECT_TRUE((*gateway_server)["duration_ms"].is_number());
  EXPECT_EQ(traceparent->parent_id, (*gateway_server)["span_id"]);

  // Each hop: caller's client span is the callee's server span's parent.
  auto expect_hop = [&](const std::string& caller, const std::string& callee) {
    const Json* callee_server = FindSpan(lines[callee], "server");
    ASSERT_NE(callee_server, nullptr) << callee;
    const Json* client_span = nullptr;
    for (const Json& line : lines[caller]) {
      if (line.value("kind", "") == "client" && line.value("peer.service", "") == callee) {
        client_span = &line;
      }
    }
    ASSERT_NE(client_span, nullptr) << caller << " -> " << callee;
    EXPECT_EQ((*callee_server)["parent_span_id"], (*client_span)["span_id"]);
    const Json* caller_server = FindSpan(lines[caller], "server");
    ASSERT_NE(caller_server, nullptr);
    EXPECT_EQ((*client_span)["parent_span_id"], (*caller_server)["span_id"]);
    EXPECT_EQ((*client_span)["http.status_code"], 200);
  };
  expect_hop("gateway", "orders");
  expect_hop("orders", "inventory");
  expect_hop("orders", "payments");

  bool reserved = false;
  for (const Json& line : lines["inventory"]) {
    reserved |= line["message"].get<std::string>().rfind("reserved 2 units of sku-42", 0) == 0;
    EXPECT_EQ(line["item"], "sku-42");
  }
  EXPECT_TRUE(reserved);
}

TEST(DemoShopTest, KeepsIncomingTraceAndRestartsOnMalformedOne) {
  TempDir dir;
  DemoShop shop(dir);
  httplib::Client client = shop.Client("inventory");
  auto kept =
      client.Get("/reserve?item=a&qty=1",
                 {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->get_header_value("X-Trace-Id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  auto lines = LinesOfTrace(shop.LogFile("inventory"), "4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0]["parent_span_id"], "00f067aa0ba902b7");

  auto fresh = client.Get("/reserve?item=a&qty=1", {{"traceparent", "00-zz-bad"}});
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->status, 200);
  EXPECT_EQ(fresh->get_header_value("X-Trace-Id").size(), 32u);
  EXPECT_NE(fresh->get_header_value("X-Trace-Id"), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(DemoShopTest, BadInputGetsJsonError) {
  TempDir dir;
  DemoShop shop(dir);
  httplib::Client client = shop.Client("gateway");
  auto bad_qty = client.Get("/checkout?item=sku-1&qty=zero");
  ASSERT_TRUE(bad_qty);
  EXPECT_EQ(bad_qty->status, 400);
  EXPECT_EQ(Json::parse(bad_qty->body)["error"]["code"], "invalid_argument");
  auto unknown = client.Get("/nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(Json::parse(unknown->body)["error"]["code"], "not_found");
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Json::parse(health->body)["status"], "ok");
}

TEST(DemoShopTest, FailureInjectionInPaymentsFailsTheCheckout) {
  TempDir dir;
  DemoShop shop(dir);
  WriteFile(shop.ConfigFile("payments"), R"({"failure_rate": 1})");
  shop.service("payments").ReloadConfig();
  httplib::Client payments = shop.Client("payments");
  ASSERT_TRUE(Eventually([&] {
    auto metrics = payments.Get("/metrics");
    return metrics && metrics->body.find("config_failure_rate 1\n") != std::string::npos;
  }));

  httplib::Client client = shop.Client("gateway");
  auto result = client.Get("/checkout?item=sku-7");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 502);
  std::string trace_id = result->get_header_value("X-Trace-Id");
  EXPECT_NE(Json::parse(result->body)["error"]["message"].get<std::string>().find(
                "payment declined by failure injection (failure_rate=1)"),
            std::string::npos)
      << result->body;

  auto has_error = [&](const std::string& service, const std::string& text) {
    for (const Json& line : LinesOfTrace(shop.LogFile(service), trace_id)) {
      if (line["level"] == "error" &&
          line["message"].get<std::string>().find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(has_error("payments", "payment declined by failure injection (failure_rate=1)"));
  EXPECT_TRUE(has_error("payments", "GET /charge 500"));
  EXPECT_TRUE(has_error("orders", "payments answered 500"));
  EXPECT_TRUE(has_error("gateway", "GET /checkout 502"));

  WriteFile(shop.ConfigFile("payments"), "{}");
  shop.service("payments").ReloadConfig();
  ASSERT_TRUE(Eventually([&] {
    auto healed = client.Get("/checkout?item=sku-7");
    return healed && healed->status == 200;
  }));
}

TEST(DemoShopTest, StopBeforeRunReturnsAtOnce) {
  TempDir dir;
  ServiceOptions options;
  options.name = "payments";
  options.role = Role::kPayments;
  options.log_file = dir / "p.log";
  std::string error;
  auto service = DemoService::Create(options, &error);
  ASSERT_NE(service, nullptr) << error;
  EXPECT_GT(service->port(), 0);
  service->Stop();
  service->Run();
}

TEST(DemoShopTest, CreateRejectsMissingUpstream) {
  ServiceOptions options;
  options.name = "orders";
  options.role = Role::kOrders;
  options.upstreams = {{"inventory", "http://127.0.0.1:1"}};
  std::string error;
  EXPECT_EQ(DemoService::Create(options, &error), nullptr);
  EXPECT_NE(error.find("payments"), std::string::npos) << error;
}

}  // namespace
}  // namespace hive::demo
