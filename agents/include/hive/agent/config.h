// AgentConfig: what one hive-agent is told by its YAML file (see PRODUCT.md
// and docs/agent.md), already validated and with defaults filled in.
//
// LoadAgentConfig reads and checks the file. Every error is InvalidArgument
// and names the file and the key ("agent.yaml: health.timeout: bad duration
// ..."). Keys that belong to features this agent does not have yet (metrics,
// logfmt/regex formats, multiline_start, config.on_change, spool.max_bytes)
// are rejected with "... is not supported by this hive-agent yet" rather than
// silently ignored; unknown keys are rejected by name. Plain values: safe to
// copy and share between threads once built.
#pragma once

#include <chrono>
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

struct LogSourceConfig {
  std::string path;  // a file path or a glob(3) pattern; only the json format exists yet
};

// How the rendered config file is written, chosen by its extension.
enum class ConfigFileFormat { kJson, kYaml, kProperties, kEnv };

struct ConfigFileConfig {
  std::string profile;
  std::string file;
  ConfigFileFormat format = ConfigFileFormat::kJson;
};

struct AgentConfig {
  std::string service;
  std::string instance;  // default <hostname>-<port>
  std::string address = "127.0.0.1";
  int port = 0;
  std::string control_plane;  // http://host:port
  std::string token;          // read from token_file, trimmed; empty: no Authorization header
  Duration heartbeat_interval = std::chrono::seconds(5);
  HealthConfig health;
  std::vector<LogSourceConfig> logs;
  std::optional<ConfigFileConfig> config;
  std::string spool_dir;  // default /var/lib/hive-agent/<instance>

  // The lease the agent asks for: three heartbeats.
  Duration ttl() const { return heartbeat_interval * 3; }
};

// Knobs that are not part of the YAML file: the defaults suit production;
// tests shorten them.
struct AgentOptions {
  Duration poll_interval = std::chrono::milliseconds(250);  // how often globs and files are checked
  size_t max_batch_lines = 1000;
  size_t max_batch_bytes = 1u << 20;
  Duration batch_linger = std::chrono::milliseconds(200);  // oldest line waits at most this long
  Duration rotate_wait = std::chrono::seconds(5);          // a rotated file is kept open this long
  Duration drain_timeout = std::chrono::seconds(5);        // shipping what was read, at shutdown
  Duration config_wait = std::chrono::seconds(30);         // `wait` of the config blocking query
  Duration retry_initial = std::chrono::milliseconds(200);
  Duration retry_max = std::chrono::seconds(10);
  Duration request_timeout = std::chrono::seconds(10);  // one registry or ingest request
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
