#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "hive/core/http.h"
#include "hive/core/http_client.h"
#include "hive/core/text.h"
#include "hive/registry/registry_service.h"

namespace hive::registry {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kInstancePath = "/api/v1/services/orders/instances/orders-1";

class RegistryHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegistryOptions options;
    options.clock = &clock_;
    options.metrics = metrics_;
    options.reap_interval = std::chrono::milliseconds(10);
    auto svc = RegistryService::Open(options);
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    service_ = std::move(*svc);

    HttpServerOptions server_options;
    server_options.port = 0;
    server_options.worker_threads = 8;
    server_options.metrics = metrics_;
    server_ = std::make_unique<HttpServer>(server_options);
    service_->Mount(*server_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = Client();
  }

  void TearDown() override {
    client_.reset();  // an idle keep-alive connection would hold up server_->Stop()
    service_->Stop();
    server_->Stop();
  }

  std::unique_ptr<HttpClient> Client() {
    HttpClientOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
    auto c = HttpClient::Create(o);
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  }

  HttpClientResponse Put(const std::string& path, const std::string& body) {
    auto r = client_->Send("PUT", path, body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpClientResponse{};
  }

  HttpClientResponse Get(const std::string& path, HttpClient* client = nullptr) {
    auto r = (client ? client : client_.get())->Get(path);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpClientResponse{};
  }

  // Asserts a 400 whose error message mentions `needle`.
  void ExpectBadRequest(const HttpClientResponse& r, std::string_view needle) {
    EXPECT_EQ(r.status, 400) << r.body;
    json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["error"]["code"], "invalid_argument");
    EXPECT_NE(j["error"]["message"].get<std::string>().find(needle), std::string::npos)
        << "want '" << needle << "' in " << r.body;
  }

  double BlockedWatchers() {
    for (const auto& family : metrics_->Collect()) {
      if (family.name == "hive_registry_blocked_watchers") return family.metric.at(0).gauge.value;
    }
    return -1;
  }

  // Polls until `n` queries are blocked (a condition, not a sleep).
  void AwaitBlockedWatchers(double n) {
    auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (BlockedWatchers() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_EQ(BlockedWatchers(), n);
  }

  FakeClock clock_;
  std::shared_ptr<prometheus::Registry> metrics_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<RegistryService> service_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(RegistryHttpTest, RegisterHeartbeatGetListDeleteFollowTheApi) {
  auto reg = Put(kInstancePath, R"({"address": "127.0.0.1", "port": 8081, "version": "1.4.2",
      "tags": ["blue"], "metadata": {"zone": "a"}, "ttl": "20s",
      "health": {"status": "passing", "output": ""}})");
  ASSERT_EQ(reg.status, 200) << reg.body;
  EXPECT_EQ(reg.HeaderValue("X-Hive-Index"), "1");
  json inst = json::parse(reg.body);
  EXPECT_EQ(inst["service"], "orders");
  EXPECT_EQ(inst["id"], "orders-1");
  EXPECT_EQ(inst["address"], "127.0.0.1");
  EXPECT_EQ(inst["port"], 8081);
  EXPECT_EQ(inst["version"], "1.4.2");
  EXPECT_EQ(inst["tags"], json::array({"blue"}));
  EXPECT_EQ(inst["metadata"], json({{"zone", "a"}}));
  EXPECT_EQ(inst["ttl"], "20s");
  EXPECT_EQ(inst["health"], json({{"status", "passing"}, {"output", ""}}));
  EXPECT_EQ(inst["registered_at"], FormatRfc3339(clock_.Now()));
  EXPECT_EQ(inst["last_seen"], FormatRfc3339(clock_.Now()));
  EXPECT_EQ(inst["lease_expires_at"], FormatRfc3339(clock_.Now() + seconds(20)));

  clock_.Advance(seconds(5));
  auto hb = Put(std::string(kInstancePath) + "/heartbeat", "");
  ASSERT_EQ(hb.status, 200) << hb.body;
  EXPECT_EQ(json::parse(hb.body), json({{"index", 1}}));
  hb = Put(std::string(kInstancePath) + "/heartbeat", R"({"status": "warning", "output": "slow"})");
  EXPECT_EQ(json::parse(hb.body), json({{"index", 2}}));

  auto list = Get("/api/v1/services");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.HeaderValue("X-Hive-Index"), "2");
  EXPECT_EQ(json::parse(list.body),
            json::parse(R"({"index": 2, "self_preservation": false, "services": [{"name":
                            "orders", "instances": 1, "passing": 0, "warning": 1,
                            "critical": 0, "maintenance": 0}]})"));

  auto get = Get("/api/v1/services/orders?healthy=true");
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(get.HeaderValue("X-Hive-Index"), "2");
  json body = json::parse(get.body);
  EXPECT_EQ(body["service"], "orders");
  EXPECT_EQ(body["index"], 2);
  ASSERT_EQ(body["instances"].size(), 1u);
  EXPECT_EQ(body["instances"][0]["health"], json({{"status", "warning"}, {"output", "slow"}}));
  EXPECT_EQ(body["instances"][0]["last_seen"], FormatRfc3339(clock_.Now()));

  auto unknown = Get("/api/v1/services/payments");
  ASSERT_EQ(unknown.status, 200);
  EXPECT_EQ(json::parse(unknown.body),
            json::parse(R"({"service": "payments", "index": 0, "instances": []})"));

  auto del = client_->Send("DELETE", kInstancePath);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(json::parse(del->body), json({{"index", 3}}));
  del = client_->Send("DELETE", kInstancePath);
  EXPECT_EQ(del->status, 404);
  EXPECT_EQ(json::parse(del->body)["error"]["code"], "not_found");
  EXPECT_EQ(json::parse(Get("/api/v1/services").body)["services"], json::array());
}

// Instances are written without a JSON library on the hot paths: every
// answer must still be exactly the compact, key-sorted JSON nlohmann writes
// for the same document, whatever the strings hold.
TEST_F(RegistryHttpTest, InstancesAreRenderedAsCanonicalJson) {
  const std::string tricky =
      "q\"uote \\ back\u0001ctl\u001f\u007f tab\t \u00e9 \U0001F41D </script>";
  json reg{{"address", "127.0.0.1"},
           {"port", 8081},
           {"version", tricky},
           {"tags", {"b", tricky, ""}},
           {"metadata", {{"zone", "eu"}, {tricky, tricky}, {"a", ""}}},
           {"ttl", "90s"},
           {"health", {{"status", "warning"}, {"output", tricky}}}};
  auto put = Put(kInstancePath, reg.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  auto maintenance = client_->Send("PUT", std::string(kInstancePath) + "/maintenance",
                                   json{{"enabled", true}, {"reason", tricky}}.dump());
  ASSERT_TRUE(maintenance.ok());
  ASSERT_EQ(maintenance->status, 200) << maintenance->body;
  std::vector<std::string> bodies{put.body, maintenance->body};
  for (const char* path : {"/api/v1/services/orders", "/api/v1/services/orders?index=1&wait=1s"}) {
    auto r = Get(path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    bodies.push_back(r.body);
  }
  std::string events;
  auto stream = Client()->GetStream("/api/v1/events?index=0", [&](std::string_view data) {
    events += data;
    return events.find("id: 2\n") == std::string::npos || !events.ends_with("\n\n");
  });
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  for (size_t at = events.find("data: "); at != std::string::npos;
       at = events.find("data: ", at + 1)) {
    bodies.push_back(events.substr(at + 6, events.find('\n', at) - at - 6));
  }
  ASSERT_EQ(bodies.size(), 6u) << events;
  for (const std::string& body : bodies) EXPECT_EQ(body, json::parse(body).dump());
  const json one = json::parse(Get("/api/v1/services/orders").body)["instances"][0];
  EXPECT_EQ(one["version"], tricky);
  EXPECT_EQ(one["tags"], json({"b", tricky, ""}));
  EXPECT_EQ(one["metadata"][tricky], tricky);
  EXPECT_EQ(one["health"]["output"], tricky);
  EXPECT_EQ(one["maintenance"]["reason"], tricky);
  EXPECT_EQ(one["ttl"], "1m30s");
  EXPECT_TRUE(ParseRfc3339(one["lease_expires_at"].get<std::string>()).ok());
}

TEST_F(RegistryHttpTest, HeartbeatOfUnknownInstanceIs404) {
  auto hb = Put(std::string(kInstancePath) + "/heartbeat", R"({"status": "passing"})");
  EXPECT_EQ(hb.status, 404);
  EXPECT_EQ(json::parse(hb.body)["error"]["code"], "not_found");
}

TEST_F(RegistryHttpTest, BadBodiesAre400AndTheServerKeepsServing) {
  ExpectBadRequest(Put(kInstancePath, "{not json"), "malformed JSON");
  ExpectBadRequest(Put(kInstancePath, ""), "malformed JSON");
  ExpectBadRequest(Put(kInstancePath, "[1, 2]"), "JSON object");
  ExpectBadRequest(Put(kInstancePath, R"({"port": 8081})"), "address");
  ExpectBadRequest(Put(kInstancePath, R"({"address": 1, "port": 8081})"), "address");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h"})"), "port");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": "8081"})"), "port");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 8081.5})"), "port");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 70000})"), "port");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": -1})"), "port");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "version": 2})"), "version");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "tags": "blue"})"), "tags");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "tags": [1]})"), "tags[0]");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "metadata": {"zone": 1}})"),
                   "metadata.zone");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "ttl": 15})"), "ttl");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "ttl": "soon"})"), "ttl");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "ttl": "2h"})"), "ttl");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "health": "ok"})"), "health");
  ExpectBadRequest(
      Put(kInstancePath, R"({"address": "h", "port": 1, "health": {"status": "fine"}})"),
      "health.status");
  ExpectBadRequest(
      Put("/api/v1/services/Orders/instances/orders-1", R"({"address": "h", "port": 1})"),
      "service");

  ASSERT_EQ(Put(kInstancePath, R"({"address": "h", "port": 1})").status, 200);
  const std::string hb = std::string(kInstancePath) + "/heartbeat";
  ExpectBadRequest(Put(hb, "{{{"), "malformed JSON");
  ExpectBadRequest(Put(hb, R"({"status": 3})"), "status");
  ExpectBadRequest(Put(hb, R"({"output": "no status"})"), "status");
  ExpectBadRequest(Put(hb, R"({"status": "sick"})"), "status");

  auto get = Get("/api/v1/services/orders");
  ASSERT_EQ(get.status, 200);
  json body = json::parse(get.body);
  ASSERT_EQ(body["instances"].size(), 1u);
  EXPECT_EQ(body["instances"][0]["health"]["status"], "passing");
  EXPECT_EQ(body["index"], 1);
}

// Every JSON body hived reads has one nesting limit, kMaxJsonDepth (64).
TEST_F(RegistryHttpTest, BodiesNestedPastTheLimitAre400) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "metadata": )" + deep + "}"),
                   "nested deeper than 64");
  ExpectBadRequest(Put(kInstancePath, R"({"address": "h", "port": 1, "tags": )" +
                                          std::string(64, '[') + std::string(64, ']') + "}"),
                   "nested deeper than 64");
  ASSERT_EQ(Put(kInstancePath, R"({"address": "h", "port": 1})").status, 200);
  ExpectBadRequest(Put(std::string(kInstancePath) + "/heartbeat", deep), "nested deeper than 64");
}

TEST_F(RegistryHttpTest, BadQueryParametersAre400) {
  ExpectBadRequest(Get("/api/v1/services/orders?index=abc"), "index");
  ExpectBadRequest(Get("/api/v1/services/orders?index=-1"), "index");
  ExpectBadRequest(Get("/api/v1/services/orders?index=1&wait=forever"), "wait");
  ExpectBadRequest(Get("/api/v1/services/orders?wait=-5s"), "wait");
  ExpectBadRequest(Get("/api/v1/services/orders?healthy=maybe"), "healthy");
  ExpectBadRequest(Get("/api/v1/services/Orders"), "service");
}

TEST_F(RegistryHttpTest, BlockingQueryReturnsWhenAnInstanceRegisters) {
  auto before = Get("/api/v1/services/orders");
  ASSERT_EQ(before.HeaderValue("X-Hive-Index"), "0");

  HttpClientResponse watched;
  std::thread watcher([&] {
    auto client = Client();
    watched = Get("/api/v1/services/orders?index=0&wait=30s", client.get());
  });
  AwaitBlockedWatchers(1);
  ASSERT_EQ(Put(kInstancePath, R"({"address": "127.0.0.1", "port": 8081})").status, 200);
  watcher.join();

  ASSERT_EQ(watched.status, 200) << watched.body;
  EXPECT_EQ(watched.HeaderValue("X-Hive-Index"), "1");
  json body = json::parse(watched.body);
  ASSERT_EQ(body["instances"].size(), 1u);
  EXPECT_EQ(body["instances"][0]["id"], "orders-1");
}

TEST_F(RegistryHttpTest, BlockingQueryTimesOutWithTheSameIndex) {
  ASSERT_EQ(Put(kInstancePath, R"({"address": "127.0.0.1", "port": 8081})").status, 200);
  auto start = std::chrono::steady_clock::now();
  auto r = Get("/api/v1/services/orders?index=1&wait=200ms");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.HeaderValue("X-Hive-Index"), "1");
  EXPECT_EQ(json::parse(r.body)["instances"].size(), 1u);
}

TEST_F(RegistryHttpTest, ReaperExpiresLapsedLeases) {
  ASSERT_EQ(Put(kInstancePath, R"({"address": "127.0.0.1", "port": 8081, "ttl": "5s"})").status,
            200);
  clock_.Advance(seconds(5));
  // The reaper thread (every 10 ms here) turns the instance critical; the
  // blocking query wakes on that change.
  auto r = Get("/api/v1/services/orders?index=1&wait=10s");
  ASSERT_EQ(r.status, 200);
  json body = json::parse(r.body);
  EXPECT_EQ(body["index"], 2);
  EXPECT_EQ(body["instances"][0]["health"],
            json({{"status", "critical"}, {"output", "lease expired"}}));
  EXPECT_EQ(json::parse(Get("/api/v1/services/orders?healthy=true").body)["instances"],
            json::array());

  clock_.Advance(std::chrono::minutes(1));
  r = Get("/api/v1/services/orders?index=2&wait=10s");
  EXPECT_EQ(json::parse(r.body)["index"], 3);
  EXPECT_EQ(json::parse(r.body)["instances"], json::array());
}

TEST_F(RegistryHttpTest, StopReleasesBlockedQueries) {
  HttpClientResponse watched;
  std::thread watcher([&] {
    auto client = Client();
    watched = Get("/api/v1/services/orders?index=0&wait=5m", client.get());
  });
  AwaitBlockedWatchers(1);
  service_->Stop();
  watcher.join();
  EXPECT_EQ(watched.status, 200);
  service_->Stop();  // idempotent
}

TEST_F(RegistryHttpTest, MetricsAreServed) {
  ASSERT_EQ(Put(kInstancePath, R"({"address": "127.0.0.1", "port": 8081})").status, 200);
  auto m = Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("hive_registry_registrations_total 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("hive_registry_instances{state=\"passing\"} 1"), std::string::npos);
}

}  // namespace
TEST_F(RegistryHttpTest, MaintenanceOverrideFollowsTheApi) {
  ASSERT_EQ(Put(kInstancePath, R"({"address": "127.0.0.1", "port": 8081})").status, 200);
  const std::string path = std::string(kInstancePath) + "/maintenance";
  auto on = Put(path, R"({"enabled": true, "reason": "kernel upgrade"})");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(json::parse(on.body), json({{"index", 2}}));
  EXPECT_EQ(json::parse(Get("/api/v1/services/orders?healthy=true").body)["instances"],
            json::array());
  json all = json::parse(Get("/api/v1/services/orders").body);
  EXPECT_EQ(all["instances"][0]["maintenance"],
            json({{"enabled", true}, {"reason", "kernel upgrade"}}));
  EXPECT_EQ(json::parse(Get("/api/v1/services").body)["services"][0]["maintenance"], 1);

  ExpectBadRequest(Put(path, R"({"reason": "x"})"), "enabled");
  ExpectBadRequest(Put(path, R"({"enabled": "yes"})"), "enabled");
  ExpectBadRequest(Put(path, "{not json"), "malformed JSON");
  EXPECT_EQ(
      Put("/api/v1/services/orders/instances/nope/maintenance", R"({"enabled": true})").status,
      404);

  auto off = Put(path, R"({"enabled": false})");
  ASSERT_EQ(off.status, 200);
  EXPECT_EQ(json::parse(Get("/api/v1/services/orders?healthy=true").body)["instances"].size(), 1u);
}

TEST_F(RegistryHttpTest, QueriesFilterByTagAndVersion) {
  ASSERT_EQ(Put("/api/v1/services/orders/instances/orders-1",
                R"({"address": "127.0.0.1", "port": 8081, "version": "1.0", "tags": ["blue"]})")
                .status,
            200);
  ASSERT_EQ(Put("/api/v1/services/orders/instances/orders-2",
                R"({"address": "127.0.0.1", "port": 8082, "version": "2.0", "tags": ["green"]})")
                .status,
            200);
  auto ids = [&](const std::string& query) {
    std::vector<std::string> out;
    const json body = json::parse(Get("/api/v1/services/orders?" + query).body);
    for (const json& i : body["instances"]) out.push_back(i["id"]);
    return out;
  };
  EXPECT_EQ(ids("tag=green"), std::vector<std::string>{"orders-2"});
  EXPECT_EQ(ids("version=1.0"), std::vector<std::string>{"orders-1"});
  EXPECT_TRUE(ids("tag=blue&version=2.0").empty());
  ExpectBadRequest(Get("/api/v1/services/orders?tag=" + std::string(300, 'x')), "tag");
}

TEST_F(RegistryHttpTest, AnIndexAheadOfOursAnswersAtOnce) {
  ASSERT_EQ(Put(kInstancePath, R"({"address": "127.0.0.1", "port": 8081})").status, 200);
  // A watcher that saw index 500 before the data dir was wiped: Consul's rule
  // is to answer at once with the lower index so the client starts over.
  auto start = std::chrono::steady_clock::now();
  auto r = Get("/api/v1/services/orders?index=500&wait=5m");
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  EXPECT_EQ(r.HeaderValue("X-Hive-Index"), "1");
}

TEST_F(RegistryHttpTest, EventStreamSendsChangesAsServerSentEvents) {
  std::string received;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    auto client = Client();
    // From index 0, so the registration below cannot slip in before the
    // stream took its starting index.
    auto r = client->GetStream("/api/v1/events?index=0", [&](std::string_view data) {
      received += data;
      // Stop once the deregistration arrived.
      return received.find("event: deregistered") == std::string::npos;
    });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    done = true;
  });
  ASSERT_EQ(Put(kInstancePath, R"({"address": "127.0.0.1", "port": 8081})").status, 200);
  ASSERT_EQ(client_->Send("DELETE", kInstancePath)->status, 200);
  reader.join();
  EXPECT_TRUE(done);
  EXPECT_NE(received.find("id: 1\nevent: registered\ndata: {"), std::string::npos) << received;
  EXPECT_NE(received.find("\"instance\":{"), std::string::npos) << received;
  EXPECT_NE(received.find("id: 2\nevent: deregistered\ndata: {"), std::string::npos) << received;
}

TEST_F(RegistryHttpTest, EventStreamResumesFromLastEventId) {
  ASSERT_EQ(Put(kInstancePath, R"({"address": "127.0.0.1", "port": 8081})").status, 200);
  ASSERT_EQ(client_->Send("DELETE", kInstancePath)->status, 200);
  std::string received;
  auto client = Client();
  auto streamed = client->GetStream("/api/v1/events?index=1", [&](std::string_view data) {
    received += data;
    return received.find("event: deregistered") == std::string::npos;
  });
  ASSERT_TRUE(streamed.ok());
  EXPECT_EQ(received.find("event: registered"), std::string::npos) << received;
  EXPECT_NE(received.find("id: 2\nevent: deregistered"), std::string::npos) << received;
  ExpectBadRequest(Get("/api/v1/events?index=x"), "index");
  auto bad = client_->Send("GET", "/api/v1/events", {}, {}, {{"Last-Event-ID", "y"}});
  ASSERT_TRUE(bad.ok());
  ExpectBadRequest(*bad, "Last-Event-ID");
}

TEST_F(RegistryHttpTest, StopEndsEventStreams) {
  std::thread reader([&] {
    auto client = Client();
    auto r = client->GetStream("/api/v1/events", [](std::string_view) { return true; });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  });
  service_->Stop();
  reader.join();  // within about a second of Stop()
}

}  // namespace hive::registry
