// The Foundation's end-to-end path with real processes on loopback: hived, a
// demo service and its hive-agent. The instance registers, a request's
// trace_id finds its log lines, a config push reaches the agent's file, and
// SIGTERM to the agent deregisters the instance.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "hive/core/http_client.h"
#include "hive_processes.h"

namespace hive::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

json GetJson(HttpClient& c, const std::string& target) {
  auto r = c.Get(target);
  if (!r.ok() || r->status != 200) return json();
  return json::parse(r->body, nullptr, false);
}

TEST(EndToEndTest, AgentRegistersShipsLogsAppliesConfigAndDeregisters) {
  const std::string dir = MakeTestDir();
  HivedProcess hived(dir);
  ASSERT_FALSE(hived.url().empty()) << hived.process().Stderr();
  auto api = ClientFor(hived.url());

  ChildProcess service(
      {BinaryPath("demo/hive-demo-service"), "--name", "inventory", "--listen", "127.0.0.1:0",
       "--log-file", dir + "/inventory.log", "--config", dir + "/inventory.json"},
      dir + "/inventory");
  auto listening = service.WaitForLine("listening on", false, seconds(10));
  ASSERT_TRUE(listening.has_value()) << service.Stderr();
  const std::string service_port = listening->substr(listening->rfind(':') + 1);

  {
    std::ofstream yaml(dir + "/agent.yaml");
    yaml << "service: inventory\n"
            "instance: inventory-1\n"
            "address: 127.0.0.1\n"
            "port: "
         << service_port
         << "\n"
            "control_plane: "
         << hived.url()
         << "\n"
            "heartbeat_interval: 1s\n"
            "health:\n"
            "  http: http://127.0.0.1:"
         << service_port
         << "/health\n"
            "  interval: 200ms\n"
            "  timeout: 1s\n"
            "logs:\n"
            "  - path: "
         << dir
         << "/inventory.log\n"
            "    format: json\n"
            "config:\n"
            "  profile: test\n"
            "  file: "
         << dir
         << "/inventory.json\n"
            "spool:\n"
            "  dir: "
         << dir << "/spool\n";
  }
  ChildProcess agent({BinaryPath("agents/hive-agent"), "--config", dir + "/agent.yaml"},
                     dir + "/agent");

  // The instance appears in the registry, passing its health check.
  ASSERT_TRUE(WaitFor(
      [&] {
        json j = GetJson(*api, "/api/v1/services/inventory?healthy=true");
        return j.is_object() && j["instances"].size() == 1 &&
               j["instances"][0]["id"] == "inventory-1";
      },
      seconds(15)))
      << agent.Stderr();

  // A request with a known trace id: its log lines reach the collector.
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto svc = ClientFor("http://127.0.0.1:" + service_port);
  auto r =
      svc->Get("/reserve?item=sku-1", {{"traceparent", "00-" + trace_id + "-00f067aa0ba902b7-01"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  json trace;
  ASSERT_TRUE(WaitFor(
      [&] {
        trace = GetJson(*api, "/api/v1/traces/" + trace_id);
        return trace.is_object() && trace["events"].size() >= 2;
      },
      seconds(15)))
      << agent.Stderr();
  for (const auto& e : trace["events"]) {
    EXPECT_EQ(e["service"], "inventory");
    EXPECT_EQ(e["instance"], "inventory-1");
    EXPECT_EQ(e["trace_id"], trace_id);
  }

  // hivectl finds the same lines.
  auto logs = RunCommand({BinaryPath("hivectl/hivectl"), "logs", "--trace", trace_id},
                         {"HIVE_ADDR=" + hived.url()});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find("inventory"), std::string::npos) << logs.out;
  auto services =
      RunCommand({BinaryPath("hivectl/hivectl"), "services"}, {"HIVE_ADDR=" + hived.url()});
  EXPECT_EQ(services.exit_code, 0) << services.err;
  EXPECT_NE(services.out.find("inventory"), std::string::npos) << services.out;

  // A config push reaches the agent's file.
  auto push = RunCommand({BinaryPath("hivectl/hivectl"), "config", "push", "inventory", "--profile",
                          "test", "failure_rate=0.25"},
                         {"HIVE_ADDR=" + hived.url()});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  ASSERT_TRUE(WaitFor(
      [&] {
        json file = json::parse(ReadFile(dir + "/inventory.json"), nullptr, false);
        return file.is_object() && file.contains("failure_rate") && file["failure_rate"] == 0.25;
      },
      seconds(10)))
      << ReadFile(dir + "/inventory.json") << agent.Stderr();

  // SIGTERM: the agent deregisters and exits cleanly.
  EXPECT_EQ(agent.Signal(SIGTERM, seconds(15)), 0) << agent.Stderr();
  json after = GetJson(*api, "/api/v1/services/inventory");
  EXPECT_TRUE(after.is_object() && after["instances"].empty()) << after.dump();

  EXPECT_EQ(service.Signal(SIGTERM, seconds(10)), 0);
  api.reset();  // an idle keep-alive connection would hold hived's shutdown until it times out
  svc.reset();
  EXPECT_EQ(hived.process().Signal(SIGTERM, seconds(15)), 0) << hived.process().Stderr();
}

}  // namespace
}  // namespace hive::testing
