#include "hive/agent/config.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace hive::agent {
namespace {

using testing::TempDir;

// PRODUCT.md's example without the keys this agent does not support yet
// (logs[].multiline_start, metrics, config.on_change, spool.max_bytes).
std::string Example(const std::string& token_file) {
  return R"(service: orders
instance: orders-1                 # default: <hostname>-<port>
address: 127.0.0.1
port: 8081
control_plane: http://127.0.0.1:7070
token_file: )" +
         token_file + R"(
heartbeat_interval: 5s
health:                            # one of http / tcp / exec
  http: http://127.0.0.1:8081/health
  interval: 5s
  timeout: 2s
logs:
  - path: /var/log/orders/*.log
    format: json                   # json | logfmt | regex (with pattern:)
config:
  profile: prod
  file: /etc/orders/config.yaml    # json / yaml / properties / env, by extension
spool:
  dir: /var/lib/hive-agent/orders-1
)";
}

constexpr char kMinimal[] = "service: orders\nport: 8081\ncontrol_plane: http://127.0.0.1:7070\n";

TEST(AgentConfigTest, ParsesProductExample) {
  TempDir dir;
  testing::WriteFile(dir / "agent.token", "  s3cret-token\n");
  auto c = ParseAgentConfig(Example(dir / "agent.token"), "orders.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->service, "orders");
  EXPECT_EQ(c->instance, "orders-1");
  EXPECT_EQ(c->address, "127.0.0.1");
  EXPECT_EQ(c->port, 8081);
  EXPECT_EQ(c->control_plane, "http://127.0.0.1:7070");
  EXPECT_EQ(c->token, "s3cret-token");
  EXPECT_EQ(c->heartbeat_interval, std::chrono::seconds(5));
  EXPECT_EQ(c->ttl(), std::chrono::seconds(15));
  EXPECT_EQ(c->health.kind, HealthKind::kHttp);
  EXPECT_EQ(c->health.http_url, "http://127.0.0.1:8081/health");
  EXPECT_EQ(c->health.interval, std::chrono::seconds(5));
  EXPECT_EQ(c->health.timeout, std::chrono::seconds(2));
  ASSERT_EQ(c->logs.size(), 1u);
  EXPECT_EQ(c->logs[0].path, "/var/log/orders/*.log");
  ASSERT_TRUE(c->config.has_value());
  EXPECT_EQ(c->config->profile, "prod");
  EXPECT_EQ(c->config->file, "/etc/orders/config.yaml");
  EXPECT_EQ(c->config->format, ConfigFileFormat::kYaml);
  EXPECT_EQ(c->spool_dir, "/var/lib/hive-agent/orders-1");
}

TEST(AgentConfigTest, FillsDefaults) {
  auto c = ParseAgentConfig(kMinimal, "a.yaml", "Build-Host_7");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->instance, "build-host_7-8081");
  EXPECT_EQ(c->address, "127.0.0.1");
  EXPECT_EQ(c->heartbeat_interval, std::chrono::seconds(5));
  EXPECT_EQ(c->health.kind, HealthKind::kNone);
  EXPECT_TRUE(c->token.empty());
  EXPECT_TRUE(c->logs.empty());
  EXPECT_FALSE(c->config.has_value());
  EXPECT_EQ(c->spool_dir, "/var/lib/hive-agent/build-host_7-8081");
}

TEST(AgentConfigTest, ParsesTcpAndExecHealth) {
  auto tcp = ParseAgentConfig(std::string(kMinimal) + "health:\n  tcp: 127.0.0.1:8081\n", "a.yaml");
  ASSERT_TRUE(tcp.ok()) << tcp.status().ToString();
  EXPECT_EQ(tcp->health.kind, HealthKind::kTcp);
  EXPECT_EQ(tcp->health.tcp_address, "127.0.0.1:8081");

  auto shell =
      ParseAgentConfig(std::string(kMinimal) + "health:\n  exec: test -f /tmp/x\n", "a.yaml");
  ASSERT_TRUE(shell.ok()) << shell.status().ToString();
  EXPECT_EQ(shell->health.exec_argv, (std::vector<std::string>{"/bin/sh", "-c", "test -f /tmp/x"}));

  auto argv = ParseAgentConfig(
      std::string(kMinimal) + "health:\n  exec: [/usr/bin/check, --fast]\n  timeout: 250ms\n",
      "a.yaml");
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_EQ(argv->health.exec_argv, (std::vector<std::string>{"/usr/bin/check", "--fast"}));
  EXPECT_EQ(argv->health.timeout, std::chrono::milliseconds(250));
}

TEST(AgentConfigTest, PicksConfigFormatByExtension) {
  EXPECT_EQ(*ConfigFileFormatForPath("/etc/a/config.json"), ConfigFileFormat::kJson);
  EXPECT_EQ(*ConfigFileFormatForPath("/etc/a/config.yml"), ConfigFileFormat::kYaml);
  EXPECT_EQ(*ConfigFileFormatForPath("app.properties"), ConfigFileFormat::kProperties);
  EXPECT_EQ(*ConfigFileFormatForPath("/srv/.env"), ConfigFileFormat::kEnv);
  EXPECT_EQ(*ConfigFileFormatForPath("/srv/prod.env"), ConfigFileFormat::kEnv);
  EXPECT_FALSE(ConfigFileFormatForPath("/etc/a/config.toml").ok());
}

struct BadCase {
  const char* name;
  std::string yaml;
  std::vector<std::string> expected;  // substrings of the error
};

TEST(AgentConfigTest, RejectsEachBadInputNamingFileAndKey) {
  const std::string m = kMinimal;
  const std::string not_yet = "is not supported by this hive-agent yet";
  const std::vector<BadCase> cases = {
      {"unknown top-level key", m + "colour: blue\n", {"agent.yaml:4", "colour", "unknown key"}},
      {"unknown nested key",
       m + "health:\n  http: http://x:1/\n  retries: 3\n",
       {"health.retries", "unknown key"}},
      {"metrics",
       m + "metrics:\n  url: http://127.0.0.1:8081/metrics\n  interval: 15s\n",
       {"agent.yaml:4", "metrics", not_yet}},
      {"logfmt",
       m + "logs:\n  - path: /x.log\n    format: logfmt\n",
       {"logs[0].format", "logfmt", not_yet}},
      {"regex",
       m + "logs:\n  - path: /x.log\n    format: regex\n",
       {"logs[0].format", "regex", not_yet}},
      {"regex pattern",
       m + "logs:\n  - path: /x.log\n    pattern: '(.*)'\n",
       {"logs[0].pattern", not_yet}},
      {"unknown format",
       m + "logs:\n  - path: /x.log\n    format: xml\n",
       {"logs[0].format", "unknown format 'xml'"}},
      {"multiline",
       m + "logs:\n  - path: /x.log\n    multiline_start: '^\\d'\n",
       {"logs[0].multiline_start", not_yet}},
      {"log without path", m + "logs:\n  - format: json\n", {"logs[0].path", "is required"}},
      {"logs not a list", m + "logs: /x.log\n", {"logs", "must be a list"}},
      {"on_change",
       m + "config:\n  profile: prod\n  file: /tmp/c.json\n  on_change: { signal: HUP }\n",
       {"config.on_change", not_yet}},
      {"config without file", m + "config:\n  profile: prod\n", {"config.file", "is required"}},
      {"config bad extension",
       m + "config:\n  profile: prod\n  file: /tmp/c.toml\n",
       {"config.file", ".toml"}},
      {"config bad profile",
       m + "config:\n  profile: Prod\n  file: /tmp/c.json\n",
       {"config.profile"}},
      {"spool max_bytes",
       m + "spool:\n  dir: /tmp/s\n  max_bytes: 256MiB\n",
       {"spool.max_bytes", not_yet}},
      {"missing service",
       "port: 1\ncontrol_plane: http://127.0.0.1:7070\n",
       {"service", "is required"}},
      {"bad service name",
       "service: Orders\nport: 1\ncontrol_plane: http://127.0.0.1:7070\n",
       {"agent.yaml:1", "service"}},
      {"missing port",
       "service: orders\ncontrol_plane: http://127.0.0.1:7070\n",
       {"port", "is required"}},
      {"bad port",
       "service: orders\nport: 70000\ncontrol_plane: http://127.0.0.1:7070\n",
       {"port", "between 1 and 65535"}},
      {"bad control plane",
       "service: orders\nport: 1\ncontrol_plane: 127.0.0.1:7070\n",
       {"control_plane", "http://host:port"}},
      {"control plane path",
       "service: orders\nport: 1\ncontrol_plane: http://h:1/api\n",
       {"control_plane", "path"}},
      {"bad duration", m + "heartbeat_interval: 5 parsecs\n", {"heartbeat_interval", "duration"}},
      {"zero duration", m + "heartbeat_interval: 0s\n", {"heartbeat_interval", "longer than zero"}},
      {"bad health timeout",
       m + "health:\n  tcp: 127.0.0.1:1\n  timeout: soon\n",
       {"health.timeout"}},
      {"two health kinds",
       m + "health:\n  tcp: 127.0.0.1:1\n  http: http://127.0.0.1:1/\n",
       {"health", "exactly one of http, tcp or exec"}},
      {"no health kind", m + "health:\n  interval: 5s\n", {"health", "exactly one"}},
      {"bad tcp address", m + "health:\n  tcp: nowhere\n", {"health.tcp", "host:port"}},
      {"missing token file",
       m + "token_file: /nonexistent/hive.token\n",
       {"token_file", "/nonexistent/hive.token"}},
      {"not a map", "- just\n- a list\n", {"agent.yaml", "must be a map"}},
      {"bad yaml", "service: [unclosed\n", {"agent.yaml", "bad YAML"}},
      {"empty file", "", {"agent.yaml", "empty"}},
  };
  for (const auto& c : cases) {
    auto r = ParseAgentConfig(c.yaml, "agent.yaml");
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << c.name;
    const std::string& msg = r.status().message();
    EXPECT_TRUE(msg.starts_with("agent.yaml")) << c.name << ": " << msg;
    for (const auto& part : c.expected) {
      EXPECT_NE(msg.find(part), std::string::npos)
          << c.name << ": '" << part << "' not in: " << msg;
    }
  }
}

TEST(AgentConfigTest, EmptyTokenFileIsAnError) {
  TempDir dir;
  testing::WriteFile(dir / "empty.token", " \n");
  auto r = ParseAgentConfig(std::string(kMinimal) + "token_file: " + (dir / "empty.token") + "\n",
                            "agent.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("token_file"), std::string::npos);
  EXPECT_NE(r.status().message().find("empty"), std::string::npos);
}

TEST(AgentConfigTest, LoadReadsTheFileAndNamesItInErrors) {
  TempDir dir;
  testing::WriteFile(dir / "good.yaml", kMinimal);
  auto good = LoadAgentConfig(dir / "good.yaml");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->service, "orders");

  testing::WriteFile(dir / "bad.yaml", std::string(kMinimal) + "metrics: {}\n");
  auto bad = LoadAgentConfig(dir / "bad.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(dir / "bad.yaml"), std::string::npos);

  auto missing = LoadAgentConfig(dir / "missing.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing.yaml"), std::string::npos);
}

}  // namespace
}  // namespace hive::agent
