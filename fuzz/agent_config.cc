// The agent's YAML file: ParseAgentConfig. Invariants: every error names the
// file; an accepted config has a valid service and instance, a port in
// range, positive intervals, a log pattern the line parser accepts, and TLS
// files only with an https control plane (cert and key together).
// Inputs naming a token_file are skipped: it is read from disk, and the
// harness must not read arbitrary paths. ca_file, cert_file and key_file
// are only stat()ed at load, so they stay in.
#include <cstddef>
#include <cstdint>

#include "../agents/src/line_parser.h"
#include "fuzz_check.h"
#include "hive/agent/config.h"
#include "hive/core/text.h"

namespace {

void CheckLineFormat(const hive::agent::LineFormatConfig& format) {
  if (format.format == hive::agent::LogFormat::kRegex) {
    FUZZ_CHECK(hive::agent::ValidateLinePattern(format.pattern, /*needs_groups=*/true).ok());
  }
  if (!format.multiline_start.empty()) {
    FUZZ_CHECK(hive::agent::ValidateLinePattern(format.multiline_start, false).ok());
  }
  FUZZ_CHECK(format.multiline_timeout.count() > 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hive::fuzz::AsText(data, size);
  if (text.find("token_file") != std::string_view::npos) return 0;
  auto config = hive::agent::ParseAgentConfig(text, "agent.yaml", "fuzz-host");
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == hive::StatusCode::kInvalidArgument);
    FUZZ_CHECK(config.status().message().starts_with("agent.yaml"));
    return 0;
  }
  FUZZ_CHECK(hive::ValidateName(config->service, "service").ok());
  FUZZ_CHECK(hive::ValidateName(config->instance, "instance").ok());
  FUZZ_CHECK(config->port >= 1 && config->port <= 65535);
  FUZZ_CHECK(config->heartbeat_interval.count() > 0 && config->ttl() > config->heartbeat_interval);
  FUZZ_CHECK(config->health.interval.count() > 0 && config->health.timeout.count() > 0);
  FUZZ_CHECK(!config->control_plane.empty() && !config->address.empty());
  if (!config->ca_file.empty() || !config->cert_file.empty()) {
    FUZZ_CHECK(config->control_plane.starts_with("https://"));
  }
  FUZZ_CHECK(config->cert_file.empty() == config->key_file.empty());
  FUZZ_CHECK(config->spool_max_bytes >= (1u << 20) && !config->spool_dir.empty());
  for (const auto& source : config->logs) {
    FUZZ_CHECK(!source.path.empty() && source.max_line_bytes > 0);
    CheckLineFormat(source.format);
  }
  CheckLineFormat(config->exec.output);
  if (config->metrics) FUZZ_CHECK(config->metrics->interval.count() > 0);
  return 0;
}
