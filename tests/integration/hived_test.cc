// hived as a real process: flags, security defaults, garbage on every route,
// and clean shutdown.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hive/core/http_client.h"
#include "hive_processes.h"

namespace hive::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

TEST(HivedTest, GarbageGetsJsonErrorsAndHivedKeepsServing) {
  const std::string dir = MakeTestDir();
  HivedProcess hived(dir);
  ASSERT_FALSE(hived.url().empty()) << hived.process().Stderr();
  auto c = ClientFor(hived.url());
  const std::string big(40u << 20, 'x');

  ExpectJsonError(c->Send("PUT", "/api/v1/services/orders/instances/o1", "{not json"), 400,
                  "bad JSON register");
  ExpectJsonError(
      c->Send("PUT", "/api/v1/services/orders/instances/o1", R"({"address":5,"port":"x"})"), 400,
      "wrong types register");
  ExpectJsonError(c->Send("PUT", "/api/v1/services/Bad%20Name/instances/o1",
                          R"({"address":"127.0.0.1","port":80})"),
                  400, "bad service name");
  ExpectJsonError(c->Send("PUT", "/api/v1/services/orders/instances/o1/heartbeat", "{}"), 404,
                  "heartbeat of unknown instance");
  ExpectJsonError(c->Get("/api/v1/services/orders?index=abc"), 400, "bad index");
  ExpectJsonError(c->Send("PUT", "/api/v1/config/payments/demo", "[1,2"), 400, "bad JSON config");
  ExpectJsonError(c->Send("PUT", "/api/v1/config/payments/demo", "[1,2]"), 400,
                  "non-object config");
  ExpectJsonError(c->Send("PUT", "/api/v1/config/payments/demo",
                          "{\"k\":\"" + std::string(2u << 20, 'v') + "\"}"),
                  413, "oversized config");
  ExpectJsonError(c->Send("PUT", "/api/v1/config/-x/demo", "{}"), 400, "bad app name");
  ExpectJsonError(c->Send("POST", "/api/v1/ingest/logs", "garbage\n[]\n42\n"), 400,
                  "garbage NDJSON");
  ExpectJsonError(c->Send("POST", "/api/v1/ingest/logs", big), 413, "oversized ingest");
  ExpectJsonError(c->Get("/api/v1/logs?limit=-5"), 400, "bad limit");
  ExpectJsonError(c->Get("/api/v1/nothing-here"), 404, "unknown route");
  ExpectJsonError(c->Send("DELETE", "/api/v1/services"), 405, "wrong method");

  // Nothing was registered or stored by the garbage; hived still serves.
  auto h = c->Get("/healthz");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->status, 200);
  json services = json::parse(c->Get("/api/v1/services")->body);
  EXPECT_TRUE(services["services"].empty()) << services.dump();
  EXPECT_EQ(c->Get("/readyz")->status, 200);
  c.reset();  // an idle keep-alive connection would hold hived's shutdown until it times out
  EXPECT_EQ(hived.process().Signal(SIGTERM, seconds(15)), 0) << hived.process().Stderr();
}

TEST(HivedTest, ServesDashboardMetricsAndHealth) {
  const std::string dir = MakeTestDir();
  HivedProcess hived(dir);
  ASSERT_FALSE(hived.url().empty()) << hived.process().Stderr();
  auto c = ClientFor(hived.url());
  auto page = c->Get("/");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<html"), std::string::npos);
  auto m = c->Get("/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->body.find("hive_http_requests_total"), std::string::npos);
  EXPECT_NE(m->body.find("hive_registry_"), std::string::npos);
  EXPECT_NE(m->body.find("hive_collector_"), std::string::npos);
  EXPECT_NE(m->body.find("hive_config_"), std::string::npos);
  c.reset();
  EXPECT_EQ(hived.process().Signal(SIGINT, seconds(15)), 0);
}

TEST(HivedTest, TokensGateEveryApiRoute) {
  const std::string dir = MakeTestDir();
  {
    std::ofstream(dir + "/tokens.yaml") << "tokens:\n"
                                           "  - {name: ops, role: operator, token: op-token}\n"
                                           "  - {name: viewer, role: reader, token: read-token}\n";
  }
  HivedProcess hived(dir, {"--tokens-file", dir + "/tokens.yaml"});
  ASSERT_FALSE(hived.url().empty()) << hived.process().Stderr();
  ExpectJsonError(ClientFor(hived.url())->Get("/api/v1/services"), 401, "no token");
  EXPECT_EQ(ClientFor(hived.url())->Get("/healthz")->status, 200);
  ExpectJsonError(ClientFor(hived.url(), "read-token")->Send("PUT", "/api/v1/config/a/b", "{}"),
                  403, "reader pushing config");
  auto push = ClientFor(hived.url(), "op-token")->Send("PUT", "/api/v1/config/a/b", R"({"k":1})");
  ASSERT_TRUE(push.ok());
  EXPECT_EQ(push->status, 200) << push->body;
  auto history =
      json::parse(ClientFor(hived.url(), "read-token")->Get("/api/v1/config/a/b/history")->body);
  EXPECT_EQ(history["versions"][0]["author"], "ops");
}

TEST(HivedTest, RefusesAnOpenNonLoopbackBind) {
  const std::string dir = MakeTestDir();
  auto r =
      RunCommand({BinaryPath("hived/hived"), "--listen", "0.0.0.0:0", "--data-dir", dir + "/data"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tokens-file"), std::string::npos) << r.err;
  auto bad = RunCommand({BinaryPath("hived/hived"), "--roles", "registry,teapot"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("teapot"), std::string::npos);
  auto tokens = RunCommand({BinaryPath("hived/hived"), "--listen", "127.0.0.1:0", "--data-dir",
                            dir + "/data", "--tokens-file", dir + "/missing.yaml"});
  EXPECT_EQ(tokens.exit_code, 1);
  EXPECT_NE(tokens.err.find("missing.yaml"), std::string::npos) << tokens.err;
}

// Every flag of the HTTP layer answers a bad value with exit 2 and its name,
// before anything is opened.
TEST(HivedTest, KeepsItsSecretsFromOtherUsers) {
  const std::string dir = MakeTestDir();
  const std::string key = dir + "/secrets.key";
  std::ofstream(key) << std::string(64, 'c') << "\n";
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  auto exposed = RunCommand({BinaryPath("hived/hived"), "--listen", "127.0.0.1:0", "--data-dir",
                             dir + "/data", "--secrets-key-file", key});
  EXPECT_EQ(exposed.exit_code, 1);
  EXPECT_NE(exposed.err.find("may be read or changed by other users (mode 0644)"),
            std::string::npos)
      << exposed.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/data/config.db"));

  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  HivedProcess hived(dir, {"--secrets-key-file", key});
  ASSERT_FALSE(hived.url().empty()) << hived.process().Stderr();
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(hived.process().Signal(SIGTERM, seconds(15)), 0);
}

TEST(HivedTest, BadFlagValuesAreUsageErrors) {
  const std::string dir = MakeTestDir();
  for (const std::vector<std::string>& flag :
       std::vector<std::vector<std::string>>{{"--allowed-host", ""},
                                             {"--allowed-host", "a b"},
                                             {"--allowed-host", "hive.example:99999"},
                                             {"--allowed-host", "-x.example"},
                                             {"--max-header-bytes", "lots"},
                                             {"--head-timeout", "abc"},
                                             {"--io-threads", "0"},
                                             {"--max-connections", "-1"},
                                             {"--tls-cert", dir + "/cert.pem"},
                                             {"--metrics-max-series", "0"},
                                             {"--metrics-max-series-per-service", "-3"},
                                             {"--metrics-max-labels", "1"},
                                             {"--metrics-max-label-value", "lots"},
                                             {"--metrics-max-label-value", "2GiB"}}) {
    std::vector<std::string> argv = {BinaryPath("hived/hived"), "--listen", "127.0.0.1:0",
                                     "--data-dir", dir + "/data"};
    argv.insert(argv.end(), flag.begin(), flag.end());
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << flag[0] << " " << flag[1] << ": " << r.err;
    EXPECT_NE(r.err.find(flag[0]), std::string::npos) << r.err;
  }
  HivedProcess named(
      dir, {"--allowed-host", "hive.example.com:443", "--allowed-host", "proxy_1.internal"});
  EXPECT_FALSE(named.url().empty()) << named.process().Stderr();
}

}  // namespace
}  // namespace hive::testing
