// hive-agent: the sidecar. `hive-agent --config agent.yaml` runs beside a
// service started elsewhere; see docs/agent.md for the YAML keys.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "hive/agent/agent.h"
#include "hive/agent/config.h"
#include "hive/core/log.h"
#include "hive/core/process.h"

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the blocked set.
  hive::BlockTerminationSignals();

  CLI::App app{
      "hive-agent: registers a service instance, ships its logs and keeps its config "
      "file in step with hived"};
  std::string config_path;
  std::string log_level = "info";
  app.add_option("--config,-c", config_path, "the agent's YAML file")->required();
  app.add_option("--log-level", log_level, "debug, info, warn or error");
  CLI11_PARSE(app, argc, argv);

  hive::log::SetProcessName("hive-agent");
  hive::log::Level level;
  if (!hive::log::ParseLevel(log_level, &level)) {
    std::fprintf(stderr, "hive-agent: --log-level: unknown level '%s'\n", log_level.c_str());
    return 2;
  }
  hive::log::SetLevel(level);

  auto config = hive::agent::LoadAgentConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "hive-agent: %s\n", config.status().message().c_str());
    return 2;
  }
  hive::agent::Agent agent(std::move(*config));
  if (hive::Status s = agent.Start(); !s.ok()) {
    std::fprintf(stderr, "hive-agent: cannot start: %s\n", s.ToString().c_str());
    (void)agent.Stop();
    return 1;
  }
  const int sig = hive::WaitForTerminationSignal();
  hive::log::Info("shutting down", {{"signal", sig}});
  (void)agent.Stop();
  return 0;
}
