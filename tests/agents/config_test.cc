#include "hive/agent/config.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "temp_dir.h"

namespace hive::agent {
namespace {

using hive::testing::TempDir;
using hive::testing::WriteFile;

// PRODUCT.md's example, every key.
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
    multiline_start: '^\d{4}-\d{2}-\d{2}'
metrics:
  url: http://127.0.0.1:8081/metrics
  interval: 15s
config:
  profile: prod
  file: /etc/orders/config.yaml    # json / yaml / properties / env, by extension
  on_change: { signal: HUP }       # or { command: [...] } or { http: http://127.0.0.1:8081/refresh }
spool:
  dir: /var/lib/hive-agent/orders-1
  max_bytes: 256MiB
)";
}

constexpr char kMinimal[] = "service: orders\nport: 8081\ncontrol_plane: http://127.0.0.1:7070\n";

TEST(AgentConfigTest, ParsesProductExample) {
  TempDir dir;
  WriteFile(dir / "agent.token", "  s3cret-token\n");
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
  EXPECT_EQ(c->logs[0].format.multiline_start, "^\\d{4}-\\d{2}-\\d{2}");
  ASSERT_TRUE(c->metrics.has_value());
  EXPECT_EQ(c->metrics->url, "http://127.0.0.1:8081/metrics");
  EXPECT_EQ(c->metrics->interval, std::chrono::seconds(15));
  EXPECT_EQ(c->config->on_change.kind, OnChangeConfig::Kind::kSignal);
  EXPECT_EQ(c->config->on_change.signal, SIGHUP);
  EXPECT_EQ(c->spool_max_bytes, 256u << 20);
}

TEST(AgentConfigTest, ParsesFormatsExecIntakeAdminAndOnChangeKinds) {
  const std::string m = kMinimal;
  auto c = ParseAgentConfig(m + R"(logs:
  - path: /a.log
    format: logfmt
    max_line_bytes: 64KiB
  - path: /b.log
    format: regex
    pattern: '^(?<ts>\S+) (?P<level>\w+) (?<message>.*)$'
    multiline_start: '^\S'
    multiline_timeout: 2s
exec:
  restart: never
  stop_timeout: 3s
  format: logfmt
intake: { listen: 127.0.0.1:4318 }
admin: { listen: 127.0.0.1:0 }
config:
  profile: prod
  file: /tmp/c.json
  on_change: { command: [/bin/true, x], timeout: 5s }
)",
                            "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->logs[0].format.format, LogFormat::kLogfmt);
  EXPECT_EQ(c->logs[0].max_line_bytes, 64u << 10);
  EXPECT_EQ(c->logs[1].format.format, LogFormat::kRegex);
  EXPECT_EQ(c->logs[1].format.multiline_timeout, std::chrono::seconds(2));
  EXPECT_FALSE(c->exec.restart_on_failure);
  EXPECT_EQ(c->exec.stop_timeout, std::chrono::seconds(3));
  EXPECT_EQ(c->exec.output.format, LogFormat::kLogfmt);
  EXPECT_EQ(c->intake.listen, "127.0.0.1:4318");
  EXPECT_EQ(c->admin.listen, "127.0.0.1:0");
  EXPECT_EQ(c->config->on_change.kind, OnChangeConfig::Kind::kCommand);
  EXPECT_EQ(c->config->on_change.command, (std::vector<std::string>{"/bin/true", "x"}));
  EXPECT_EQ(c->config->on_change.timeout, std::chrono::seconds(5));

  auto h = ParseAgentConfig(m + "config:\n  profile: p\n  file: /tmp/c.env\n  on_change: { http: "
                                "http://127.0.0.1:1/r }\n",
                            "a.yaml");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->config->on_change.http_url, "http://127.0.0.1:1/r");
  auto s = ParseAgentConfig(
      m + "config:\n  profile: p\n  file: /tmp/c.env\n  on_change: { signal: SIGUSR1, pid: 42 }\n",
      "a.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->config->on_change.signal, SIGUSR1);
  EXPECT_EQ(s->config->on_change.pid, 42);
}

// Found by fuzz/agent_config: a heartbeat of 200 years overflowed the lease
// (three heartbeats, in int64 nanoseconds).
TEST(AgentConfigTest, RejectsDurationsOverAYear) {
  auto c = ParseAgentConfig(std::string(kMinimal) + "heartbeat_interval: 6442603404s\n", "a.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("heartbeat_interval: must be at most 365d"),
            std::string::npos)
      << c.status().message();
  EXPECT_TRUE(
      ParseAgentConfig(std::string(kMinimal) + "heartbeat_interval: 365d\n", "a.yaml").ok());
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
  const std::vector<BadCase> cases = {
      {"unknown top-level key", m + "colour: blue\n", {"agent.yaml:4", "colour", "unknown key"}},
      {"unknown nested key",
       m + "health:\n  http: http://x:1/\n  retries: 3\n",
       {"health.retries", "unknown key"}},
      {"metrics without url", m + "metrics:\n  interval: 15s\n", {"metrics.url", "is required"}},
      {"regex without pattern",
       m + "logs:\n  - path: /x.log\n    format: regex\n",
       {"logs[0].pattern", "is required"}},
      {"pattern without regex",
       m + "logs:\n  - path: /x.log\n    pattern: '(?<m>.*)'\n",
       {"logs[0].pattern", "format: regex"}},
      {"pattern without named group",
       m + "logs:\n  - path: /x.log\n    format: regex\n    pattern: '(.*)'\n",
       {"logs[0].pattern", "named group"}},
      {"bad regex",
       m + "logs:\n  - path: /x.log\n    format: regex\n    pattern: '(?<m>[a-'\n",
       {"logs[0].pattern", "bad regular expression"}},
      {"back-reference in pattern",
       m + "logs:\n  - path: /x.log\n    format: regex\n    pattern: '(?<m>x)\\1'\n",
       {"agent.yaml:7", "logs[0].pattern", "back-reference \\1 is not supported", "RE2"}},
      {"lookahead in exec pattern",
       m + "exec:\n  format: regex\n  pattern: '(?<m>x)(?=y)'\n",
       {"exec.pattern", "lookahead"}},
      {"lookbehind in multiline_start",
       m + "logs:\n  - path: /x.log\n    multiline_start: '(?<=x)y'\n",
       {"logs[0].multiline_start", "lookbehind"}},
      {"possessive in exec multiline_start",
       m + "exec:\n  multiline_start: '^\\d++'\n",
       {"exec.multiline_start", "possessive"}},
      {"atomic group in pattern",
       m + "logs:\n  - path: /x.log\n    format: regex\n    pattern: '(?>(?<m>x))'\n",
       {"logs[0].pattern", "atomic group"}},
      {"pattern too large",
       m + "logs:\n  - path: /x.log\n    format: regex\n    pattern: '(?<m>.{1000})'\n",
       {"logs[0].pattern", "RE2 instructions"}},
      {"unknown format",
       m + "logs:\n  - path: /x.log\n    format: xml\n",
       {"logs[0].format", "unknown format 'xml'"}},
      {"bad multiline",
       m + "logs:\n  - path: /x.log\n    multiline_start: '(('\n",
       {"logs[0].multiline_start", "bad regular expression"}},
      {"bad max_line_bytes",
       m + "logs:\n  - path: /x.log\n    max_line_bytes: lots\n",
       {"logs[0].max_line_bytes"}},
      {"bad exec restart", m + "exec:\n  restart: always\n", {"exec.restart", "on-failure"}},
      {"bad intake", m + "intake:\n  listen: nowhere\n", {"intake.listen", "host:port"}},
      {"admin without listen", m + "admin: {}\n", {"admin"}},
      {"intake empty host", m + "intake:\n  listen: ':4318'\n", {"intake.listen", "a port"}},
      {"intake port too large", m + "intake: { listen: 70000 }\n", {"intake.listen"}},
      {"admin missing token file",
       m + "admin: { listen: 9100, token_file: /nonexistent/admin.token }\n",
       {"admin.token_file", "/nonexistent/admin.token"}},
      {"intake unknown key", m + "intake: { listen: 9100, token: abc }\n", {"intake.token"}},
      {"log without path", m + "logs:\n  - format: json\n", {"logs[0].path", "is required"}},
      {"logs not a list", m + "logs: /x.log\n", {"logs", "must be a list"}},
      {"on_change unknown signal",
       m + "config:\n  profile: prod\n  file: /tmp/c.json\n  on_change: { signal: WINCH }\n",
       {"config.on_change.signal", "WINCH"}},
      {"on_change two kinds",
       m + "config:\n  profile: prod\n  file: /tmp/c.json\n  on_change: { signal: HUP, http: "
           "http://x:1/ }\n",
       {"config.on_change", "exactly one"}},
      {"on_change bad pid",
       m + "config:\n  profile: prod\n  file: /tmp/c.json\n  on_change: { signal: HUP, pid: -3 }\n",
       {"config.on_change.pid"}},
      {"config without file", m + "config:\n  profile: prod\n", {"config.file", "is required"}},
      {"config bad extension",
       m + "config:\n  profile: prod\n  file: /tmp/c.toml\n",
       {"config.file", ".toml"}},
      {"config mode not octal",
       m + "config:\n  profile: prod\n  file: /tmp/c.json\n  mode: '0o640'\n",
       {"agent.yaml:7", "config.mode", "octal file mode", "0o640"}},
      {"config mode with an 8",
       m + "config:\n  profile: prod\n  file: /tmp/c.json\n  mode: 0680\n",
       {"config.mode", "octal"}},
      {"config mode others write",
       m + "config:\n  profile: prod\n  file: /tmp/c.json\n  mode: '0646'\n",
       {"config.mode", "must not let group or others write"}},
      {"config bad profile",
       m + "config:\n  profile: Prod\n  file: /tmp/c.json\n",
       {"config.profile"}},
      {"spool max_bytes too small",
       m + "spool:\n  dir: /tmp/s\n  max_bytes: 1KiB\n",
       {"spool.max_bytes", "at least"}},
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

TEST(AgentConfigTest, ConfigFileModeIsOctalAndOwnerOnlyByDefault) {
  const std::string m = std::string(kMinimal) + "config:\n  profile: prod\n  file: /tmp/c.json\n";
  auto c = ParseAgentConfig(m, "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->config->mode, 0600u);
  for (const char* mode : {"'0640'", "0640", "640", "\"0440\""}) {
    auto with = ParseAgentConfig(m + "  mode: " + mode + "\n", "a.yaml");
    ASSERT_TRUE(with.ok()) << mode << ": " << with.status().ToString();
    EXPECT_EQ(with->config->mode,
              std::string(mode).find("44") != std::string::npos ? 0440u : 0640u);
  }
}

TEST(AgentConfigTest, ListenersDefaultToLoopbackAndReadTheirTokenFiles) {
  TempDir dir;
  WriteFile(dir / "intake.token", "  in-tok\n");
  auto c = ParseAgentConfig(std::string(kMinimal) + "intake: { listen: 4318, token_file: " +
                                (dir / "intake.token") + " }\nadmin: { listen: '0.0.0.0:9100' }\n",
                            "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->intake.listen, "127.0.0.1:4318");
  EXPECT_EQ(c->intake.token, "in-tok");
  EXPECT_EQ(c->admin.listen, "0.0.0.0:9100");
  EXPECT_EQ(c->admin.token, "");
}

TEST(AgentConfigTest, EmptyTokenFileIsAnError) {
  TempDir dir;
  WriteFile(dir / "empty.token", " \n");
  auto r = ParseAgentConfig(std::string(kMinimal) + "token_file: " + (dir / "empty.token") + "\n",
                            "agent.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("token_file"), std::string::npos);
  EXPECT_NE(r.status().message().find("empty"), std::string::npos);
}

TEST(AgentConfigTest, ParsesTlsFilesForAnHttpsControlPlane) {
  TempDir dir;
  for (const char* f : {"ca.pem", "agent.pem", "agent.key"}) WriteFile(dir / f, "PEM\n");
  const std::string https = "service: orders\nport: 8081\ncontrol_plane: https://hive:7443/\n";
  auto c = ParseAgentConfig(https + "ca_file: " + (dir / "ca.pem") + "\ncert_file: " +
                                (dir / "agent.pem") + "\nkey_file: " + (dir / "agent.key") + "\n",
                            "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->control_plane, "https://hive:7443");
  EXPECT_EQ(c->ca_file, dir / "ca.pem");
  EXPECT_EQ(c->cert_file, dir / "agent.pem");
  EXPECT_EQ(c->key_file, dir / "agent.key");

  // Without ca_file the system's trust store verifies hived.
  auto system = ParseAgentConfig(https, "agent.yaml");
  ASSERT_TRUE(system.ok()) << system.status().ToString();
  EXPECT_EQ(system->ca_file, "");
  EXPECT_EQ(system->cert_file, "");
}

TEST(AgentConfigTest, RejectsMisusedTlsFiles) {
  TempDir dir;
  WriteFile(dir / "ca.pem", "PEM\n");
  const std::string ca = dir / "ca.pem";
  const std::string https = "service: orders\nport: 8081\ncontrol_plane: https://hive:7443\n";
  const std::vector<BadCase> cases = {
      {"ca_file with http",
       std::string(kMinimal) + "ca_file: " + ca + "\n",
       {"agent.yaml:4", "ca_file", "needs an https:// control_plane", "http://127.0.0.1:7070"}},
      {"cert_file with http",
       std::string(kMinimal) + "cert_file: " + ca + "\nkey_file: " + ca + "\n",
       {"cert_file", "needs an https:// control_plane"}},
      {"missing ca_file",
       https + "ca_file: " + (dir / "nope.pem") + "\n",
       {"agent.yaml:4", "ca_file", "cannot read '" + (dir / "nope.pem") + "'", "No such file"}},
      {"ca_file a directory",
       https + "ca_file: " + dir.path() + "\n",
       {"ca_file", "not a regular file"}},
      {"empty ca_file", https + "ca_file: ''\n", {"ca_file", "must not be empty"}},
      {"ca_file not a string", https + "ca_file: [a, b]\n", {"ca_file", "must be a string"}},
      {"cert without key",
       https + "cert_file: " + ca + "\n",
       {"cert_file", "cert_file and key_file go together"}},
      {"key without cert", https + "key_file: " + ca + "\n", {"key_file", "go together"}},
      {"missing key_file",
       https + "cert_file: " + ca + "\nkey_file: " + (dir / "nope.key") + "\n",
       {"agent.yaml:5", "key_file", "nope.key"}},
  };
  for (const auto& c : cases) {
    auto r = ParseAgentConfig(c.yaml, "agent.yaml");
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << c.name;
    for (const auto& part : c.expected) {
      EXPECT_NE(r.status().message().find(part), std::string::npos)
          << c.name << ": '" << part << "' not in: " << r.status().message();
    }
  }
}

TEST(AgentConfigTest, LoadReadsTheFileAndNamesItInErrors) {
  TempDir dir;
  WriteFile(dir / "good.yaml", kMinimal);
  auto good = LoadAgentConfig(dir / "good.yaml");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->service, "orders");

  WriteFile(dir / "bad.yaml", std::string(kMinimal) + "metrics: {}\n");
  auto bad = LoadAgentConfig(dir / "bad.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(dir / "bad.yaml"), std::string::npos);

  auto missing = LoadAgentConfig(dir / "missing.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing.yaml"), std::string::npos);
}

}  // namespace
}  // namespace hive::agent
