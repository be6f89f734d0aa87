// TLS on every hop, with real processes on loopback: hived with --tls-cert/
// --tls-key (and --tls-client-ca), a demo service and its hive-agent talking
// https to hived, hivectl with --ca-file. A client that cannot verify hived,
// or that hived wants a certificate from and has none, is refused and leaves
// nothing behind. Certificates are made with openssl at test time.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "hive/core/http_client.h"
#include "hive_processes.h"
#include "tls_certs.h"

namespace hive::testing {
// A namespace of its own: a unity build compiles it with same-named helpers.
namespace tls_test {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kHivectl = BinaryPath("hivectl/hivectl");

std::unique_ptr<HttpClient> ClientFor(const std::string& url, const TlsCerts& certs,
                                      bool client_cert) {
  HttpClientOptions o;
  o.base_url = url;
  o.ca_file = certs.ca;
  if (client_cert) {
    o.cert_file = certs.client_cert;
    o.key_file = certs.client_key;
  }
  return std::move(HttpClient::Create(o).value());
}

json GetJson(HttpClient& c, const std::string& target) {
  auto r = c.Get(target);
  if (!r.ok() || r->status != 200) return json();
  return json::parse(r->body, nullptr, false);
}

// The agent's file: `extra` holds the TLS keys.
void WriteAgentYaml(const std::string& path, const std::string& instance,
                    const std::string& control_plane, const std::string& dir,
                    const std::string& extra) {
  std::ofstream yaml(path);
  yaml << "service: inventory\n"
       << "instance: " << instance << "\n"
       << "address: 127.0.0.1\n"
       << "port: 8080\n"
       << "control_plane: " << control_plane << "\n"
       << "heartbeat_interval: 1s\n"
       << "logs:\n"
       << "  - path: " << dir << "/" << instance << ".log\n"
       << "    format: json\n"
       << "config:\n"
       << "  profile: test\n"
       << "  file: " << dir << "/" << instance << ".json\n"
       << "spool:\n"
       << "  dir: " << dir << "/spool-" << instance << "\n"
       << extra;
}

bool Registered(HttpClient& api, const std::string& instance) {
  json j = GetJson(api, "/api/v1/services/inventory");
  if (!j.is_object() || !j["instances"].is_array()) return false;
  for (const auto& i : j["instances"]) {
    if (i["id"] == instance) return true;
  }
  return false;
}

TEST(TlsEndToEndTest, AgentAndHivectlTalkHttpsToHived) {
  const std::string dir = MakeTestDir();
  auto certs = MakeTlsCerts(dir);
  ASSERT_TRUE(certs.has_value());
  HivedProcess hived(dir, {"--tls-cert", certs->server_cert, "--tls-key", certs->server_key});
  ASSERT_TRUE(hived.url().starts_with("https://127.0.0.1:"))
      << hived.url() << hived.process().Stderr();
  auto api = ClientFor(hived.url(), *certs, false);

  ChildProcess service(
      {BinaryPath("demo/hive-demo-service"), "--name", "inventory", "--listen", "127.0.0.1:0",
       "--log-file", dir + "/inventory-1.log", "--config", dir + "/inventory-1.json"},
      dir + "/inventory");
  auto listening = service.WaitForLine("listening on", false, seconds(10));
  ASSERT_TRUE(listening.has_value()) << service.Stderr();
  const std::string service_port = listening->substr(listening->rfind(':') + 1);

  WriteAgentYaml(dir + "/agent.yaml", "inventory-1", hived.url(), dir,
                 "ca_file: " + certs->ca + "\n");
  ChildProcess agent({BinaryPath("agents/hive-agent"), "--config", dir + "/agent.yaml"},
                     dir + "/agent");
  ASSERT_TRUE(WaitFor([&] { return Registered(*api, "inventory-1"); }, seconds(15)))
      << agent.Stderr();

  // A request's log lines travel agent → hived over https.
  const std::string trace_id = "0af7651916cd43dd8448eb211c80319c";
  auto svc = HttpClient::Create({.base_url = "http://127.0.0.1:" + service_port}).value();
  auto r =
      svc->Get("/reserve?item=sku-1", {{"traceparent", "00-" + trace_id + "-b7ad6b7169203331-01"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(WaitFor(
      [&] {
        json trace = GetJson(*api, "/api/v1/traces/" + trace_id);
        return trace.is_object() && trace["events"].size() >= 2;
      },
      seconds(15)))
      << agent.Stderr();

  // hivectl: the CA from --ca-file, then from HIVE_CA_FILE.
  auto services =
      RunCommand({kHivectl, "services", "--ca-file", certs->ca}, {"HIVE_ADDR=" + hived.url()});
  EXPECT_EQ(services.exit_code, 0) << services.err;
  EXPECT_NE(services.out.find("inventory"), std::string::npos) << services.out;
  auto push = RunCommand(
      {kHivectl, "config", "push", "inventory", "--profile", "test", "failure_rate=0.25"},
      {"HIVE_ADDR=" + hived.url(), "HIVE_CA_FILE=" + certs->ca});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  // The push reaches the agent's file through its blocking query over https.
  ASSERT_TRUE(WaitFor(
      [&] {
        json file = json::parse(ReadFile(dir + "/inventory-1.json"), nullptr, false);
        return file.is_object() && file.contains("failure_rate") && file["failure_rate"] == 0.25;
      },
      seconds(10)))
      << ReadFile(dir + "/inventory-1.json") << agent.Stderr();

  // A hivectl that does not trust hived's CA is refused with a clear message.
  auto untrusted = RunCommand({kHivectl, "services", "--ca-file", certs->other_ca},
                              {"HIVE_ADDR=" + hived.url()});
  EXPECT_EQ(untrusted.exit_code, 3);
  EXPECT_NE(untrusted.err.find("the server's certificate could not be verified with the CA file " +
                               certs->other_ca),
            std::string::npos)
      << untrusted.err;
  EXPECT_EQ(untrusted.out, "");

  // SIGTERM: the agent's blocking query is cut short; it deregisters.
  EXPECT_EQ(agent.Signal(SIGTERM, seconds(15)), 0) << agent.Stderr();
  EXPECT_FALSE(Registered(*api, "inventory-1"));
  EXPECT_EQ(service.Signal(SIGTERM, seconds(10)), 0);
  api.reset();
  svc.reset();
  EXPECT_EQ(hived.process().Signal(SIGTERM, seconds(15)), 0) << hived.process().Stderr();
}

TEST(TlsEndToEndTest, AnAgentWithTheWrongCaRegistersNothing) {
  const std::string dir = MakeTestDir();
  auto certs = MakeTlsCerts(dir);
  ASSERT_TRUE(certs.has_value());
  HivedProcess hived(dir, {"--tls-cert", certs->server_cert, "--tls-key", certs->server_key});
  ASSERT_FALSE(hived.url().empty()) << hived.process().Stderr();
  auto api = ClientFor(hived.url(), *certs, false);

  testing::WriteFile(dir + "/inventory-9.log", R"({"message":"must not arrive"})"
                                               "\n");
  WriteAgentYaml(dir + "/agent.yaml", "inventory-9", hived.url(), dir,
                 "ca_file: " + certs->other_ca + "\n");
  ChildProcess agent({BinaryPath("agents/hive-agent"), "--config", dir + "/agent.yaml"},
                     dir + "/agent");
  // The agent says why, on the client side, for each of its calls.
  for (const char* what : {"cannot register", "cannot ship", "cannot read config"}) {
    auto refused = agent.WaitForLine(what, true, seconds(15));
    ASSERT_TRUE(refused.has_value()) << what << ": " << agent.Stderr();
    EXPECT_NE(refused->find("the server's certificate could not be verified with the CA file " +
                            certs->other_ca),
              std::string::npos)
        << *refused;
  }
  EXPECT_FALSE(Registered(*api, "inventory-9"));
  json logs = GetJson(*api, "/api/v1/logs?service=inventory");
  ASSERT_TRUE(logs.is_object()) << logs.dump();
  EXPECT_TRUE(logs["events"].empty()) << logs.dump();

  EXPECT_EQ(agent.Signal(SIGTERM, seconds(15)), 0) << agent.Stderr();
  api.reset();
  EXPECT_EQ(hived.process().Signal(SIGTERM, seconds(15)), 0) << hived.process().Stderr();
}

TEST(TlsEndToEndTest, HivedWithAClientCaRefusesClientsWithoutACertificate) {
  const std::string dir = MakeTestDir();
  auto certs = MakeTlsCerts(dir);
  ASSERT_TRUE(certs.has_value());
  HivedProcess hived(dir, {"--tls-cert", certs->server_cert, "--tls-key", certs->server_key,
                           "--tls-client-ca", certs->ca});
  ASSERT_FALSE(hived.url().empty()) << hived.process().Stderr();
  auto api = ClientFor(hived.url(), *certs, /*client_cert=*/true);
  ASSERT_TRUE(GetJson(*api, "/api/v1/services").is_object());

  // Without a client certificate: refused, nothing registered.
  WriteAgentYaml(dir + "/anonymous.yaml", "inventory-2", hived.url(), dir,
                 "ca_file: " + certs->ca + "\n");
  ChildProcess anonymous({BinaryPath("agents/hive-agent"), "--config", dir + "/anonymous.yaml"},
                         dir + "/anonymous");
  ASSERT_TRUE(anonymous.WaitForLine("cannot register", true, seconds(15)).has_value())
      << anonymous.Stderr();
  EXPECT_FALSE(Registered(*api, "inventory-2"));
  auto no_cert =
      RunCommand({kHivectl, "services", "--ca-file", certs->ca}, {"HIVE_ADDR=" + hived.url()});
  EXPECT_EQ(no_cert.exit_code, 3) << no_cert.out;
  EXPECT_NE(no_cert.err.find("cannot reach hived"), std::string::npos) << no_cert.err;

  // With one signed by the client CA: registers, ships its logs, applies config.
  testing::WriteFile(dir + "/inventory-1.log", R"({"message":"mutual tls","trace_id":"mtls-1"})"
                                               "\n");
  WriteAgentYaml(dir + "/agent.yaml", "inventory-1", hived.url(), dir,
                 "ca_file: " + certs->ca + "\ncert_file: " + certs->client_cert +
                     "\nkey_file: " + certs->client_key + "\n");
  ChildProcess agent({BinaryPath("agents/hive-agent"), "--config", dir + "/agent.yaml"},
                     dir + "/agent");
  ASSERT_TRUE(WaitFor([&] { return Registered(*api, "inventory-1"); }, seconds(15)))
      << agent.Stderr();
  ASSERT_TRUE(WaitFor(
      [&] {
        json trace = GetJson(*api, "/api/v1/traces/mtls-1");
        return trace.is_object() && trace["events"].size() == 1;
      },
      seconds(15)))
      << agent.Stderr();
  auto push = RunCommand(
      {kHivectl, "config", "push", "inventory", "--profile", "test", "mode=tls", "--ca-file",
       certs->ca, "--cert-file", certs->client_cert, "--key-file", certs->client_key},
      {"HIVE_ADDR=" + hived.url()});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  ASSERT_TRUE(WaitFor(
      [&] {
        json file = json::parse(ReadFile(dir + "/inventory-1.json"), nullptr, false);
        return file.is_object() && file.value("mode", "") == "tls";
      },
      seconds(10)))
      << ReadFile(dir + "/inventory-1.json") << agent.Stderr();
  auto services =
      RunCommand({kHivectl, "services", "inventory"},
                 {"HIVE_ADDR=" + hived.url(), "HIVE_CA_FILE=" + certs->ca,
                  "HIVE_CERT_FILE=" + certs->client_cert, "HIVE_KEY_FILE=" + certs->client_key});
  EXPECT_EQ(services.exit_code, 0) << services.err;
  EXPECT_NE(services.out.find("inventory-1"), std::string::npos) << services.out;
  EXPECT_EQ(services.out.find("inventory-2"), std::string::npos) << services.out;

  EXPECT_EQ(agent.Signal(SIGTERM, seconds(15)), 0) << agent.Stderr();
  EXPECT_EQ(anonymous.Signal(SIGTERM, seconds(15)), 0) << anonymous.Stderr();
  EXPECT_FALSE(Registered(*api, "inventory-1"));
  api.reset();
  EXPECT_EQ(hived.process().Signal(SIGTERM, seconds(15)), 0) << hived.process().Stderr();
}

}  // namespace
}  // namespace tls_test
}  // namespace hive::testing
