#include "hive/agent/agent.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fake_control_plane.h"
#include "hive/core/http.h"
#include "hive/core/log.h"
#include "temp_dir.h"
#include "tls_certs.h"

namespace hive::agent {
namespace {

using hive::testing::AppendFile;
using hive::testing::ReadFile;
using hive::testing::TempDir;
using hive::testing::WriteFile;
using nlohmann::json;
using testing::FakeControlPlane;
using testing::FastAgentOptions;
using Clock = std::chrono::steady_clock;

AgentOptions FastOptions() {
  AgentOptions o = FastAgentOptions();
  o.drain_timeout = std::chrono::seconds(1);
  o.rotate_wait = std::chrono::milliseconds(0);
  o.request_timeout = std::chrono::seconds(2);
  return o;  // config_wait stays 30 s: Stop() must cut the blocking query short
}

std::string AgentYaml(const TempDir& dir, const std::string& control_plane) {
  return "service: orders\n"
         "instance: orders-1\n"
         "version: 1.4.2\n"
         "address: 10.1.2.3\n"
         "port: 8081\n"
         "control_plane: " +
         control_plane +
         "\n"
         "token_file: " +
         (dir / "agent.token") +
         "\n"
         "heartbeat_interval: 100ms\n"
         "health:\n"
         "  exec: [/bin/sh, -c, 'echo all good']\n"
         "  interval: 50ms\n"
         "  timeout: 2s\n"
         "logs:\n"
         "  - path: " +
         (dir / "logs/*.log") +
         "\n"
         "    format: json\n"
         "config:\n"
         "  profile: prod\n"
         "  file: " +
         (dir / "etc/orders.json") +
         "\n"
         "spool:\n"
         "  dir: " +
         (dir / "spool") + "\n";
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::SetLevel(log::Level::kError);
    WriteFile(dir_ / "agent.token", "agent-secret\n");
    std::filesystem::create_directories(dir_ / "logs");
  }
  TempDir dir_;
};

TEST_F(AgentTest, RegistersHeartbeatsShipsLogsRendersConfigAndDeregisters) {
  FakeControlPlane fake;
  auto config = ParseAgentConfig(AgentYaml(dir_, fake.url()), "agent.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  Agent agent(std::move(*config), FastOptions());
  ASSERT_TRUE(agent.Start().ok());

  // Registration: the body of docs/API.md, ttl = 3 x heartbeat_interval.
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return !fake.registrations().empty(); }));
  const json reg = fake.registrations().front();
  EXPECT_EQ(reg["service"], "orders");
  EXPECT_EQ(reg["id"], "orders-1");
  EXPECT_EQ(reg["address"], "10.1.2.3");
  EXPECT_EQ(reg["port"], 8081);
  EXPECT_EQ(reg["ttl"], "300ms");
  EXPECT_EQ(reg["health"]["status"], "passing");
  EXPECT_EQ(reg["version"], "1.4.2");
  // The dashboard finds the instance's config profile in its metadata.
  EXPECT_EQ(reg["metadata"], json({{"hive.config.profile", "prod"}}));
  EXPECT_EQ(fake.authorizations().front(), "Bearer agent-secret");

  // Heartbeats carry the health check's result.
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake.heartbeats().size() >= 2; }));
  const json hb = fake.heartbeats().back();
  EXPECT_EQ(hb["status"], "passing");
  EXPECT_EQ(hb["output"], "all good");

  // The registry forgets the instance: the next heartbeat gets 404 and the
  // agent registers again.
  fake.Forget("orders-1");
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake.registrations().size() >= 2; }));
  EXPECT_TRUE(fake.registered("orders-1"));
  EXPECT_GE(agent.metrics().Read().heartbeats_not_found, 1u);
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return agent.metrics().Read().heartbeats_ok >= 3; }));

  // Log lines arrive with their correlation IDs.
  AppendFile(dir_ / "logs/app.log",
             R"({"ts":"2026-11-22T10:00:00Z","level":"error","msg":"payment failed",)"
             R"("traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})"
             "\n"
             R"({"level":"info","message":"retrying","request_id":"req-42"})"
             "\nnot json at all\n");
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake.events().size() == 3; }));
  const auto events = fake.events();
  EXPECT_EQ(events[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(events[0]["span_id"], "00f067aa0ba902b7");
  EXPECT_EQ(events[0]["level"], "error");
  EXPECT_EQ(events[0]["message"], "payment failed");
  EXPECT_EQ(events[0]["service"], "orders");
  EXPECT_EQ(events[0]["instance"], "orders-1");
  EXPECT_EQ(events[1]["trace_id"], "req-42");
  EXPECT_EQ(events[2]["message"], "not json at all");

  // Config: rendered at start, then again on every change.
  const std::string config_file = dir_ / "etc/orders.json";
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return ReadFile(config_file) == "{}\n"; }));
  fake.PushConfig({{"failure_rate", 0.3}, {"db.pool.size", 5}, {"name", "pay\"ments"}});
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] {
    auto j = json::parse(ReadFile(config_file), nullptr, false);
    return j.is_object() && j.value("failure_rate", 0.0) == 0.3;
  }));
  const json rendered = json::parse(ReadFile(config_file));
  EXPECT_EQ(rendered, json({{"failure_rate", 0.3}, {"db.pool.size", 5}, {"name", "pay\"ments"}}));
  // The file is visible before on_change ran; the version counts after it.
  EXPECT_TRUE(
      FakeControlPlane::WaitFor([&] { return agent.metrics().Read().config_applied == 2u; }));

  // Shutdown is prompt even with a 30 s blocking config query in flight,
  // and deregisters.
  const auto start = Clock::now();
  EXPECT_TRUE(agent.Stop().ok());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(fake.deregistrations(), 1);
  EXPECT_FALSE(fake.registered("orders-1"));
  EXPECT_EQ(agent.metrics().Read().lines_shipped, 3u);
}

TEST_F(AgentTest, KeepsRetryingUntilTheControlPlaneAppears) {
  int port;
  {
    FakeControlPlane probe;  // finds a free port, then frees it
    port = probe.port();
  }
  auto config =
      ParseAgentConfig(AgentYaml(dir_, "http://127.0.0.1:" + std::to_string(port)), "agent.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  AppendFile(dir_ / "logs/app.log", R"({"msg":"waited for hived","trace_id":"t-1"})"
                                    "\n");
  Agent agent(std::move(*config), FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return agent.metrics().Read().ship_retries >= 1; }));

  FakeControlPlane fake(port);
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake.registered("orders-1"); }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake.events().size() == 1; }));
  EXPECT_EQ(fake.events()[0]["trace_id"], "t-1");
  EXPECT_TRUE(agent.Stop().ok());
  EXPECT_EQ(fake.deregistrations(), 1);
}

TEST_F(AgentTest, StopsPromptlyWhileTheControlPlaneIsDown) {
  int port;
  {
    FakeControlPlane probe;
    port = probe.port();
  }
  auto config =
      ParseAgentConfig(AgentYaml(dir_, "http://127.0.0.1:" + std::to_string(port)), "agent.yaml");
  ASSERT_TRUE(config.ok());
  Agent agent(std::move(*config), FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  const auto start = Clock::now();
  EXPECT_FALSE(agent.Stop().ok());  // deregistration could not reach hived
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

// Every client the agent makes to hived (registration and heartbeats, log
// shipping, the config watch and its reports, metrics forwarding) verifies
// the https control plane with ca_file and presents cert_file/key_file: the
// fake refuses any connection without the client certificate.
TEST_F(AgentTest, TalksMutualTlsToAnHttpsControlPlane) {
  auto certs = hive::testing::MakeTlsCerts(dir_.path());
  ASSERT_TRUE(certs.has_value());
  FakeControlPlane fake(*certs, /*require_client_cert=*/true);
  ASSERT_TRUE(fake.url().starts_with("https://"));
  HttpServerOptions so;
  so.port = 0;
  so.worker_threads = 2;
  so.access_log = AccessLog::kNone;
  HttpServer service(so);
  service.Route("GET", "/custom-metrics", {Access::kPublic},
                [](const HttpRequest&, HttpResponse& res) {
                  res.body = "orders_total 7\n";
                  res.content_type = "text/plain";
                });
  ASSERT_TRUE(service.Start().ok());
  auto config = ParseAgentConfig(
      AgentYaml(dir_, fake.url()) + "ca_file: " + certs->ca + "\ncert_file: " + certs->client_cert +
          "\nkey_file: " + certs->client_key + "\nmetrics:\n  url: http://127.0.0.1:" +
          std::to_string(service.port()) + "/custom-metrics\n  interval: 50ms\n",
      "agent.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  Agent agent(std::move(*config), FastOptions());
  ASSERT_TRUE(agent.Start().ok());

  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake.registered("orders-1"); }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake.heartbeats().size() >= 2; }));
  AppendFile(dir_ / "logs/app.log", R"({"msg":"over tls","trace_id":"t-tls"})"
                                    "\n");
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return fake.events().size() == 1; }));
  EXPECT_EQ(fake.events()[0]["trace_id"], "t-tls");
  const std::string config_file = dir_ / "etc/orders.json";
  fake.PushConfig({{"failure_rate", 0.3}});
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] {
    auto j = json::parse(ReadFile(config_file), nullptr, false);
    return j.is_object() && j.value("failure_rate", 0.0) == 0.3;
  }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] {
    auto applied = fake.applied();
    return !applied.empty() && applied.back()["status"] == "applied" &&
           applied.back()["version"] == 1;
  }));
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return !fake.metric_posts().empty(); }));
  EXPECT_NE(fake.metric_posts()[0].find("orders_total 7"), std::string::npos);
  EXPECT_EQ(fake.authorizations().front(), "Bearer agent-secret");

  // The blocking config query over TLS is cut short too.
  const auto start = Clock::now();
  EXPECT_TRUE(agent.Stop().ok());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(fake.deregistrations(), 1);
  service.Stop();
}

TEST_F(AgentTest, SendsNothingToAControlPlaneItCannotVerify) {
  auto certs = hive::testing::MakeTlsCerts(dir_.path());
  ASSERT_TRUE(certs.has_value());
  FakeControlPlane fake(*certs, /*require_client_cert=*/false);
  auto config = ParseAgentConfig(AgentYaml(dir_, fake.url()) + "ca_file: " + certs->other_ca + "\n",
                                 "agent.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  AppendFile(dir_ / "logs/app.log", R"({"msg":"must not leave"})"
                                    "\n");
  Agent agent(std::move(*config), FastOptions());
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(FakeControlPlane::WaitFor([&] { return agent.metrics().Read().ship_retries >= 2; }));
  EXPECT_TRUE(fake.registrations().empty());
  EXPECT_TRUE(fake.events().empty());
  EXPECT_EQ(fake.config_requests(), 0);
  EXPECT_FALSE(agent.Stop().ok());  // deregistration cannot verify hived either
  EXPECT_EQ(fake.deregistrations(), 0);
}

TEST_F(AgentTest, StartFailsWhenTheSpoolDirectoryCannotBeCreated) {
  FakeControlPlane fake;
  WriteFile(dir_ / "not-a-dir", "x");
  auto config = ParseAgentConfig(AgentYaml(dir_, fake.url()), "agent.yaml");
  ASSERT_TRUE(config.ok());
  config->spool_dir = dir_ / "not-a-dir/spool";
  Agent agent(std::move(*config), FastOptions());
  EXPECT_FALSE(agent.Start().ok());
  EXPECT_TRUE(fake.registrations().empty());
}

}  // namespace
}  // namespace hive::agent
