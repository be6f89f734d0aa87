// AgentConfig: what one hive-agent is told by its YAML file (see PRODUCT.md
// and docs/agent.md), already validated and with defaults filled in.
//
// LoadAgentConfig reads and checks the file. Every error is InvalidArgument
// and names the file and the key ("agent.yaml: health.timeout: bad duration
// ..."); unknown keys are rejected by name. Plain values: safe to copy and
// share between threads once built.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/status.h"

namespace hive::agent {

enum class HealthKind { kNone, kHttp, kTcp, kExec };

struct HealthConfig {
  HealthKind kind = HealthKind::kNone;
  std::string http_url;                // kHttp: http://host:port/path
  std::string tcp_address;             // kTcp: host:port
  std::vector<std::string> exec_argv;  // kExec: a YAML string runs as /bin/sh -c <string>
  Duration interval = std::chrono::seconds(5);
  Duration timeout = std::chrono::seconds(2);
};

enum class LogFormat { kJson, kLogfmt, kRegex };

// How lines of one source are turned into events: the format, and the
// joining of continuation lines (stack traces) into the event before them.
struct LineFormatConfig {
  LogFormat format = LogFormat::kJson;
  std::string pattern;          // kRegex: RE2 with (?<name>...) groups (line_parser.h)
  std::string multiline_start;  // empty: one line is one event
  Duration multiline_timeout = std::chrono::seconds(1);  // a joined event waits at most this
};

struct LogSourceConfig {
  std::string path;  // a file path or a glob(3) pattern
  LineFormatConfig format;
  size_t max_line_bytes = 256u << 10;  // longer lines are cut and flagged truncated
};

// What to do after the config file was rewritten.
struct OnChangeConfig {
  enum class Kind { kNone, kSignal, kCommand, kHttp };
  Kind kind = Kind::kNone;
  int signal = 0;        // kSignal: to `pid`, the pid in `pid_file`, or the exec-mode child
  int pid = 0;           // 0: not given
  std::string pid_file;  // empty: not given
  std::vector<std::string> command;  // kCommand: argv (a YAML string runs with /bin/sh -c)
  std::string http_url;              // kHttp: POSTed to; 2xx is success
  Duration timeout = std::chrono::seconds(10);
};

// How the rendered config file is written, chosen by its extension.
enum class ConfigFileFormat { kJson, kYaml, kProperties, kEnv };

struct ConfigFileConfig {
  std::string profile;
  std::string file;
  ConfigFileFormat format = ConfigFileFormat::kJson;
  // The file's permission bits, set on every write (config.mode, octal);
  // owner-only by default, as the file may hold secrets.
  uint32_t mode = 0600;
  OnChangeConfig on_change;
};

struct MetricsScrapeConfig {
  std::string url;  // http://host:port/path of the service's Prometheus endpoint
  Duration interval = std::chrono::seconds(15);
};

// Exec mode (`hive-agent --config a.yaml -- ./service args`): how the child
// is run. `command` comes from the command line, the rest from `exec:`.
struct ExecConfig {
  std::vector<std::string> command;                  // empty: sidecar mode
  bool restart_on_failure = true;                    // exec.restart: on-failure | never
  Duration stop_timeout = std::chrono::seconds(10);  // SIGTERM → SIGKILL
  LineFormatConfig output;                           // how stdout/stderr lines are read
};

// One of the agent's local HTTP listeners (intake:, admin:).
struct ListenerConfig {
  std::string listen;  // host:port (a bare port in the file: 127.0.0.1:<port>); empty: none
  std::string token;   // from token_file, trimmed; empty: callers need no token
};

struct AgentConfig {
  std::string service;
  std::string instance;  // default <hostname>-<port>
  std::string version;   // the service's version as registered; empty: none
  std::string address = "127.0.0.1";
  int port = 0;
  std::string control_plane;  // http://host:port or https://host:port
  std::string token;          // read from token_file, trimmed; empty: no Authorization header
  // TLS to an https:// control plane (all readable files, checked at load):
  std::string ca_file;    // PEM CA bundle that verifies hived; empty: the system's trust store
  std::string cert_file;  // PEM client certificate for mutual TLS; with key_file
  std::string key_file;   // its private key
  Duration heartbeat_interval = std::chrono::seconds(5);
  HealthConfig health;
  std::vector<LogSourceConfig> logs;
  std::optional<ConfigFileConfig> config;
  std::optional<MetricsScrapeConfig> metrics;
  std::string spool_dir;                  // default /var/lib/hive-agent/<instance>
  uint64_t spool_max_bytes = 256u << 20;  // spool.max_bytes
  ListenerConfig intake;                  // the local intake; listen empty: none
  ListenerConfig admin;                   // /metrics, /healthz, /readyz; listen empty: none
  ExecConfig exec;

  // The lease the agent asks for: three heartbeats.
  Duration ttl() const { return heartbeat_interval * 3; }
};

// Knobs that are not part of the YAML file: the defaults suit production;
// tests shorten them.
struct AgentOptions {
  Duration poll_interval = std::chrono::milliseconds(250);  // how often globs and files are checked
  size_t max_batch_lines = 8192;
  // 1 MiB: the reader, the spool and the sender each hold about one batch,
  // which keeps the agent within its 20 MB (docs/BENCHMARKS.md, "Agent").
  size_t max_batch_bytes = 1u << 20;
  Duration batch_linger = std::chrono::milliseconds(200);  // oldest line waits at most this long
  Duration rotate_wait = std::chrono::seconds(5);          // a rotated file is kept open this long
  Duration drain_timeout = std::chrono::seconds(5);        // shipping what was read, at shutdown
  Duration config_wait = std::chrono::seconds(30);         // `wait` of the config blocking query
  Duration retry_initial = std::chrono::milliseconds(200);
  Duration retry_max = std::chrono::seconds(10);
  Duration request_timeout = std::chrono::seconds(10);  // one registry or ingest request
  size_t stream_buffer_bytes = 8u << 20;  // child output held in memory before the spool
  Duration restart_initial = std::chrono::seconds(1);  // the child's restart backoff
  Duration restart_max = std::chrono::seconds(30);
  Duration restart_reset_after = std::chrono::seconds(10);  // up this long: backoff starts over
  // With exec and config both set, the service starts once its config file
  // is written (or the first attempt failed), at most this much later.
  Duration first_render_wait = std::chrono::seconds(5);
};

// Reads and validates `path`; token_file is read here too.
Result<AgentConfig> LoadAgentConfig(const std::string& path);

// Validates YAML text; `file_name` only labels errors. `hostname` feeds the
// default instance name (the machine's hostname when empty).
Result<AgentConfig> ParseAgentConfig(std::string_view yaml_text, std::string_view file_name,
                                     std::string_view hostname = {});

// .json, .yaml/.yml, .properties, .env (also a file named exactly ".env").
Result<ConfigFileFormat> ConfigFileFormatForPath(std::string_view path);

}  // namespace hive::agent
