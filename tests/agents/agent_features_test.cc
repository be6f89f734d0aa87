// The agent's endpoints and config hooks against the fake control plane:
// the local intake (NDJSON and OTLP/HTTP JSON), the admin /metrics, metrics
// scraping, and config.on_change with rollout reports.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fake_control_plane.h"
#include "hive/agent/agent.h"
#include "hive/core/http.h"
#include "hive/core/http_client.h"
#include "hive/core/log.h"
#include "temp_dir.h"

namespace hive::agent {
// A namespace of its own: a unity build compiles it with same-named helpers.
namespace agent_features_test {
namespace {

using hive::testing::ReadFile;
using hive::testing::TempDir;
using hive::testing::WriteFile;
using nlohmann::json;
using testing::FakeControlPlane;
using testing::FastAgentOptions;

AgentOptions FastOptions() {
  AgentOptions o = FastAgentOptions();
  o.drain_timeout = std::chrono::seconds(1);
  o.request_timeout = std::chrono::seconds(2);
  return o;
}

std::unique_ptr<HttpClient> Client(int port) {
  HttpClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  return std::move(HttpClient::Create(o).value());
}

class AgentFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override { log::SetLevel(log::Level::kError); }

  AgentConfig Base() {
    AgentConfig c;
    c.service = "orders";
    c.instance = "orders-1";
    c.port = 8081;
    c.control_plane = fake_.url();
    c.heartbeat_interval = std::chrono::milliseconds(200);
    c.spool_dir = dir_ / "spool";
    return c;
  }

  TempDir dir_;
  FakeControlPlane fake_;
};

TEST_F(AgentFeaturesTest, IntakeTakesNdjsonAndOtlpThroughTheSpool) {
  AgentConfig c = Base();
  c.intake.listen = "127.0.0.1:0";
  c.admin.listen = "127.0.0.1:0";
  Agent agent(c, FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_GT(agent.intake_port(), 0);
  auto intake = Client(agent.intake_port());

  auto r = intake->Send("POST", "/api/v1/ingest/logs",
                        R"({"msg":"from ndjson","level":"WARNING","correlation_id":"c-1"})"
                        "\nnot json\n",
                        "application/x-ndjson");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["accepted"], 1);
  EXPECT_EQ(json::parse(r->body)["rejected"], 1);

  const json otlp = {
      {"resourceLogs",
       {{{"resource",
          {{"attributes", {{{"key", "service.name"}, {"value", {{"stringValue", "orders"}}}}}}}},
         {"scopeLogs",
          {{{"logRecords",
             {{{"timeUnixNano", "1795341600000000000"},
               {"severityNumber", 17},
               {"body", {{"stringValue", "from otlp"}}},
               {"traceId", "4bf92f3577b34da6a3ce929d0e0e4736"},
               {"spanId", "00f067aa0ba902b7"},
               {"attributes",
                {{{"key", "http.status_code"}, {"value", {{"intValue", "503"}}}}}}}}}}}}}}}};
  r = intake->Send("POST", "/v1/logs", otlp.dump());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  r = intake->Send("POST", "/v1/logs", "[1,2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);

  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 2; }));
  const auto events = fake_.events();
  EXPECT_EQ(events[0]["message"], "from ndjson");
  EXPECT_EQ(events[0]["level"], "warn");
  EXPECT_EQ(events[0]["trace_id"], "c-1");
  EXPECT_EQ(events[0]["instance"], "orders-1");
  EXPECT_EQ(events[1]["message"], "from otlp");
  EXPECT_EQ(events[1]["level"], "error");
  EXPECT_EQ(events[1]["ts"], 1795341600000000000);
  EXPECT_EQ(events[1]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(events[1]["span_id"], "00f067aa0ba902b7");
  EXPECT_EQ(events[1]["attrs"]["http.status_code"], 503);
  EXPECT_EQ(events[1]["attrs"]["service.name"], "orders");
  EXPECT_EQ(agent.metrics().Read().intake_lines, 2u);
  intake.reset();  // a keep-alive connection would hold the server's Stop()

  // The admin endpoint serves the agent's own metrics.
  auto admin = Client(agent.admin_port());
  auto m = admin->Get("/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, 200);
  for (const char* name : {"hive_agent_lines_shipped_total", "hive_agent_spool_bytes",
                           "hive_agent_lines_dropped_total", "hive_agent_ship_lag_seconds",
                           "hive_agent_intake_lines_total 2"}) {
    EXPECT_NE(m->body.find(name), std::string::npos) << name;
  }
  admin.reset();
  EXPECT_TRUE(agent.Stop().ok());
}

// An OTLP body nested 100,000 deep once crashed the agent (json::dump
// recursed); no token is needed to send one. It is refused with a JSON
// error, like an NDJSON line nested too deep, and the agent keeps serving.
TEST_F(AgentFeaturesTest, IntakeRefusesJsonNestedTooDeepAndKeepsServing) {
  AgentConfig c = Base();
  c.intake.listen = "127.0.0.1:0";
  Agent agent(c, FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  auto intake = Client(agent.intake_port());
  auto deep_value = [](int depth) {
    std::string v;
    for (int i = 0; i < depth; ++i) v += R"({"arrayValue":{"values":[)";
    v += R"({"stringValue":"x"})";
    for (int i = 0; i < depth; ++i) v += "]}}";
    return v;
  };
  auto otlp = [](const std::string& body) {
    return R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":)" + body + "}]}]}]}";
  };

  auto r = intake->Send("POST", "/v1/logs", otlp(deep_value(100'000)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  const json error = json::parse(r->body, nullptr, false);
  EXPECT_EQ(error["error"]["code"], "invalid_argument") << r->body;
  EXPECT_NE(error["error"]["message"].get<std::string>().find("nested deeper than 64"),
            std::string::npos)
      << r->body;

  r = intake->Send("POST", "/api/v1/ingest/logs",
                   R"({"msg":)" + std::string(100'000, '[') + "\n" + R"({"msg":"fine"})",
                   "application/x-ndjson");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  const json answer = json::parse(r->body, nullptr, false);
  EXPECT_EQ(answer["accepted"], 1);
  EXPECT_EQ(answer["errors"][0]["line"], 1);
  EXPECT_NE(answer["errors"][0]["message"].get<std::string>().find("nested deeper than 64"),
            std::string::npos);

  // Within the limit an array body is kept as its JSON text.
  r = intake->Send("POST", "/v1/logs", otlp(deep_value(10)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 2; }));
  EXPECT_EQ(fake_.events()[0]["message"], "fine");
  EXPECT_TRUE(fake_.events()[1]["message"].get<std::string>().starts_with(R"({"arrayValue")"));
  intake.reset();
  EXPECT_TRUE(agent.Stop().ok());
}

// The first IPv4 address of this machine that is not loopback; "" if none.
std::string NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string out;
  for (ifaddrs* a = list; a != nullptr && out.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    if (!std::string_view(text).starts_with("127.")) out = text;
  }
  ::freeifaddrs(list);
  return out;
}

// The agent from its YAML file, with intake and admin given as written.
Result<AgentConfig> ListenersConfig(const std::string& control_plane, const TempDir& dir,
                                    const std::string& intake, const std::string& admin) {
  return ParseAgentConfig("service: orders\ninstance: orders-1\nport: 8081\ncontrol_plane: " +
                              control_plane + "\nspool: { dir: " + (dir / "spool") +
                              " }\nintake: " + intake + "\nadmin: " + admin + "\n",
                          "agent.yaml");
}

// With a token_file, the intake and the admin /metrics answer 401 (a JSON
// error) to a caller without that token; /healthz and /readyz stay open for
// probes.
TEST_F(AgentFeaturesTest, ListenersWithATokenFileRequireIt) {
  WriteFile(dir_ / "intake.token", "intake-s3cret\n");
  WriteFile(dir_ / "admin.token", "admin-s3cret\n");
  auto c = ListenersConfig(fake_.url(), dir_,
                           "{ listen: 127.0.0.1:0, token_file: " + (dir_ / "intake.token") + " }",
                           "{ listen: 127.0.0.1:0, token_file: " + (dir_ / "admin.token") + " }");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Agent agent(*c, FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  auto intake = Client(agent.intake_port());
  auto admin = Client(agent.admin_port());
  auto bearer = [](const std::string& token) {
    return std::vector<Header>{{"Authorization", "Bearer " + token}};
  };
  const std::string line = R"({"msg":"with token"})";
  for (const auto& headers : {std::vector<Header>{}, bearer("wrong"), bearer("admin-s3cret")}) {
    auto r = intake->Send("POST", "/api/v1/ingest/logs", line, "application/x-ndjson", headers);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_EQ(json::parse(r->body, nullptr, false)["error"]["code"], "unauthenticated") << r->body;
    r = intake->Send("POST", "/v1/logs", "{}", "application/json", headers);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 401) << r->body;
  }
  for (const auto& headers : {std::vector<Header>{}, bearer("intake-s3cret")}) {
    auto r = admin->Get("/metrics", headers);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_EQ(json::parse(r->body, nullptr, false)["error"]["code"], "unauthenticated") << r->body;
  }
  auto r = intake->Send("POST", "/api/v1/ingest/logs", line, "application/x-ndjson",
                        bearer("intake-s3cret"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  r = admin->Get("/metrics", bearer("admin-s3cret"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("hive_agent_intake_lines_total 1"), std::string::npos);
  for (const char* probe : {"/healthz", "/readyz"}) {
    r = admin->Get(probe);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << probe;
  }
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.events().size() == 1; }));
  EXPECT_EQ(fake_.events()[0]["message"], "with token");
  intake.reset();
  admin.reset();
  EXPECT_TRUE(agent.Stop().ok());
}

// `listen` with only a port binds loopback: reachable on 127.0.0.1, not on
// the machine's other addresses.
TEST_F(AgentFeaturesTest, ListenersGivenOnlyAPortBindLoopback) {
  auto c = ListenersConfig(fake_.url(), dir_, "{ listen: 0 }", "{ listen: '0' }");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Agent agent(*c, FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  for (const int port : {agent.intake_port(), agent.admin_port()}) {
    ASSERT_GT(port, 0);
    auto r = Client(port)->Get("/healthz");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    const std::string other = NonLoopbackAddress();
    if (other.empty()) continue;  // a machine with loopback only
    HttpClientOptions o;
    o.base_url = "http://" + other + ":" + std::to_string(port);
    o.connect_timeout = std::chrono::seconds(2);
    auto outside = std::move(HttpClient::Create(o).value())->Get("/healthz");
    EXPECT_FALSE(outside.ok()) << other << ":" << port << " answered " << outside->status;
  }
  EXPECT_TRUE(agent.Stop().ok());
}

TEST_F(AgentFeaturesTest, ScrapesTheServiceMetricsAndForwardsThem) {
  HttpServerOptions so;
  so.port = 0;
  so.worker_threads = 2;
  so.access_log = AccessLog::kNone;
  HttpServer service(so);
  service.Route("GET", "/custom-metrics", {Access::kPublic},
                [](const HttpRequest&, HttpResponse& res) {
                  res.body = "# TYPE orders_total counter\norders_total 7\n";
                  res.content_type = "text/plain";
                });
  ASSERT_TRUE(service.Start().ok());
  AgentConfig c = Base();
  c.metrics =
      MetricsScrapeConfig{"http://127.0.0.1:" + std::to_string(service.port()) + "/custom-metrics",
                          std::chrono::milliseconds(50)};
  Agent agent(c, FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.metric_posts().size() >= 2; }));
  EXPECT_EQ(fake_.metric_posts()[0],
            "service=orders&instance=orders-1\n# TYPE orders_total counter\norders_total 7\n");
  EXPECT_GE(agent.metrics().Read().scrapes_ok, 2u);
  EXPECT_TRUE(agent.Stop().ok());
  service.Stop();
}

class OnChangeTest : public AgentFeaturesTest {
 protected:
  AgentConfig WithConfig(OnChangeConfig on_change) {
    AgentConfig c = Base();
    ConfigFileConfig f;
    f.profile = "prod";
    f.file = dir_ / "etc/orders.json";
    f.format = ConfigFileFormat::kJson;
    f.on_change = std::move(on_change);
    c.config = f;
    return c;
  }
  std::string File() { return ReadFile(dir_ / "etc/orders.json"); }
};

TEST_F(OnChangeTest, CommandRunsAfterEachRenderAndTheVersionIsReported) {
  OnChangeConfig on;
  on.kind = OnChangeConfig::Kind::kCommand;
  on.command = {"/bin/sh", "-c", "cat " + (dir_ / "etc/orders.json") + " >> " + (dir_ / "seen")};
  Agent agent(WithConfig(on), FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  fake_.PushConfig({{"pool", 5}});
  ASSERT_TRUE(FakeControlPlane::WaitFor(
      [&] { return ReadFile(dir_ / "seen").find("\"pool\": 5") != std::string::npos; }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] {
    auto a = fake_.applied();
    return !a.empty() && a.back()["version"] == 1;
  }));
  const json last = fake_.applied().back();
  EXPECT_EQ(last["status"], "applied");
  EXPECT_EQ(last["instance"], "orders-1");
  EXPECT_TRUE(agent.Stop().ok());
}

TEST_F(OnChangeTest, FailedOnChangeKeepsTheLastGoodFileAndReportsFailed) {
  WriteFile(dir_ / "allow", "");
  OnChangeConfig on;
  on.kind = OnChangeConfig::Kind::kCommand;
  // Succeeds while the file "allow" exists; says why when it fails.
  on.command = {"/bin/sh", "-c", "test -e " + (dir_ / "allow") + " || { echo refused; exit 3; }"};
  Agent agent(WithConfig(on), FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(
      FakeControlPlane::WaitFor([&] { return agent.metrics().Read().config_applied == 1; }));
  fake_.PushConfig({{"pool", 5}});
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return File().find("5") != std::string::npos; }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return agent.metrics().Read().config_applied == 2; }))
      << agent.metrics().Read().config_applied << " "
      << agent.metrics().Read().config_apply_failures;
  const std::string good = File();

  std::filesystem::remove(dir_ / "allow");
  fake_.PushConfig({{"pool", 99}});
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] {
    auto a = fake_.applied();
    return !a.empty() && a.back()["version"] == 2;
  }));
  const json failed = fake_.applied().back();
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_NE(failed["message"].get<std::string>().find("refused"), std::string::npos)
      << failed.dump();
  EXPECT_EQ(File(), good);
  EXPECT_EQ(agent.metrics().Read().config_apply_failures, 1u);
  EXPECT_TRUE(agent.Stop().ok());
}

TEST_F(OnChangeTest, HttpRefreshAndAHivedWithoutRolloutTracking) {
  fake_.SetAppliedStatus(404);
  HttpServerOptions so;
  so.port = 0;
  so.worker_threads = 2;
  so.access_log = AccessLog::kNone;
  HttpServer service(so);
  std::atomic<int> refreshes = 0;
  service.Route("POST", "/refresh", {Access::kPublic}, [&](const HttpRequest&, HttpResponse& res) {
    ++refreshes;
    res.SetJson("{}");
  });
  ASSERT_TRUE(service.Start().ok());
  OnChangeConfig on;
  on.kind = OnChangeConfig::Kind::kHttp;
  on.http_url = "http://127.0.0.1:" + std::to_string(service.port()) + "/refresh";
  Agent agent(WithConfig(on), FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return refreshes.load() >= 1; }));
  fake_.PushConfig({{"pool", 5}});
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return refreshes.load() >= 2; }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return agent.metrics().Read().config_applied == 2; }))
      << agent.metrics().Read().config_applied << " "
      << agent.metrics().Read().config_apply_failures;
  EXPECT_TRUE(fake_.applied().empty());
  EXPECT_TRUE(agent.Stop().ok());
  service.Stop();
}

// The rendered file may hold secrets: it is owner-only unless config.mode
// says otherwise, on every write (an existing wider file is narrowed), and
// no temporary file is left beside it.
TEST_F(OnChangeTest, RenderedFileIsOwnerOnlyOrItsConfiguredMode) {
  std::filesystem::create_directories(dir_ / "etc");
  WriteFile(dir_ / "etc/orders.json", "{}\n");
  ASSERT_EQ(::chmod((dir_ / "etc/orders.json").c_str(), 0644), 0);
  auto mode_of = [&] {
    struct stat st {};
    EXPECT_EQ(::stat((dir_ / "etc/orders.json").c_str(), &st), 0);
    return st.st_mode & 07777;
  };
  OnChangeConfig on;
  on.kind = OnChangeConfig::Kind::kCommand;
  on.command = {"/bin/true"};
  {
    Agent agent(WithConfig(on), FastOptions());
    ASSERT_TRUE(agent.Start().ok());
    fake_.PushConfig({{"db.password", "s3cret"}});
    ASSERT_TRUE(
        FakeControlPlane::WaitFor([&] { return File().find("s3cret") != std::string::npos; }));
    EXPECT_EQ(mode_of(), 0600u);
    EXPECT_TRUE(agent.Stop().ok());
  }
  AgentConfig c = WithConfig(on);
  c.config->mode = 0640;
  Agent agent(c, FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  fake_.PushConfig({{"db.password", "n3w"}});
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return File().find("n3w") != std::string::npos; }));
  EXPECT_EQ(mode_of(), 0640u);
  EXPECT_TRUE(agent.Stop().ok());
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "etc"))
    files += !e.is_directory();
  EXPECT_EQ(files, 1u);
}

// A config answer nested 100,000 deep would have made the agent's
// json::dump recurse out of its stack: it is retried like any bad answer,
// and the next good version is applied.
TEST_F(OnChangeTest, ConfigAnswerNestedTooDeepIsRetriedNotFatal) {
  OnChangeConfig on;
  on.kind = OnChangeConfig::Kind::kCommand;
  on.command = {"/bin/true"};
  Agent agent(WithConfig(on), FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  fake_.PushRawConfig(R"({"deep":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}");
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake_.config_requests() >= 3; }));
  fake_.PushConfig({{"pool", 7}});
  ASSERT_TRUE(
      FakeControlPlane::WaitFor([&] { return File().find("\"pool\": 7") != std::string::npos; }));
  EXPECT_EQ(File().find("deep"), std::string::npos);
  EXPECT_TRUE(agent.Stop().ok());
}

TEST_F(OnChangeTest, SignalWithoutATargetIsRefusedAtStart) {
  OnChangeConfig on;
  on.kind = OnChangeConfig::Kind::kSignal;
  on.signal = 1;
  Agent agent(WithConfig(on), FastOptions());
  EXPECT_TRUE(agent.Start().IsInvalidArgument());
}

}  // namespace
}  // namespace agent_features_test
}  // namespace hive::agent
