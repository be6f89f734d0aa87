#include "hive/agent/health.h"

#include <gtest/gtest.h>

#include "fake_control_plane.h"

namespace hive::agent {
namespace {

HealthConfig Exec(std::vector<std::string> argv, Duration timeout = std::chrono::seconds(5)) {
  HealthConfig c;
  c.kind = HealthKind::kExec;
  c.exec_argv = std::move(argv);
  c.timeout = timeout;
  return c;
}

TEST(HealthCheckerTest, ExecExitCodesMapToStatuses) {
  auto pass = HealthChecker(Exec({"/bin/sh", "-c", "echo fine"})).Check();
  EXPECT_EQ(pass.status, "passing");
  EXPECT_EQ(pass.output, "fine");
  auto warn = HealthChecker(Exec({"/bin/sh", "-c", "echo slow >&2; exit 1"})).Check();
  EXPECT_EQ(warn.status, "warning");
  EXPECT_EQ(warn.output, "slow");
  auto crit = HealthChecker(Exec({"/bin/sh", "-c", "exit 7"})).Check();
  EXPECT_EQ(crit.status, "critical");
  EXPECT_NE(crit.output.find("7"), std::string::npos);
  auto missing = HealthChecker(Exec({"/nonexistent/check"})).Check();
  EXPECT_EQ(missing.status, "critical");
}

TEST(HealthCheckerTest, ExecIsKilledAtTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  auto r =
      HealthChecker(Exec({"/bin/sh", "-c", "sleep 30"}, std::chrono::milliseconds(200))).Check();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(r.status, "critical");
  EXPECT_NE(r.output.find("timed out"), std::string::npos) << r.output;
}

TEST(HealthCheckerTest, TcpAndHttpChecks) {
  testing::FakeControlPlane server;
  HealthConfig tcp;
  tcp.kind = HealthKind::kTcp;
  tcp.tcp_address = "127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(HealthChecker(tcp).Check().status, "passing");

  HealthConfig http;
  http.kind = HealthKind::kHttp;
  http.http_url = server.url() + "/healthz";
  EXPECT_EQ(HealthChecker(http).Check().status, "passing");
  http.http_url = server.url() + "/no/such/route";
  auto bad = HealthChecker(http).Check();
  EXPECT_EQ(bad.status, "critical");
  EXPECT_NE(bad.output.find("404"), std::string::npos) << bad.output;
}

TEST(HealthCheckerTest, TcpCheckFailsWhenNothingListens) {
  int closed_port;
  {
    testing::FakeControlPlane probe;  // finds a free port, then frees it
    closed_port = probe.port();
  }
  HealthConfig tcp;
  tcp.kind = HealthKind::kTcp;
  tcp.tcp_address = "127.0.0.1:" + std::to_string(closed_port);
  auto r = HealthChecker(tcp).Check();
  EXPECT_EQ(r.status, "critical");
  EXPECT_NE(r.output.find("cannot connect"), std::string::npos) << r.output;
}

TEST(HealthCheckerTest, NoCheckIsPassing) {
  EXPECT_EQ(HealthChecker(HealthConfig{}).Check().status, "passing");
}

}  // namespace
}  // namespace hive::agent
