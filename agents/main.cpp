// hive-agent: the sidecar. `hive-agent --config agent.yaml` runs beside a
// service started elsewhere; `hive-agent --config agent.yaml -- ./service
// args` also runs the service as its child (exec mode). See docs/agent.md.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "hive/agent/agent.h"
#include "hive/agent/config.h"
#include "hive/core/log.h"
#include "hive/core/process.h"

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the blocked set.
  hive::BlockTerminationSignals();
  // Two arenas for the reader and sender threads; batches (up to
  // max_batch_bytes, 1 MiB) and their coded copies reuse memory.
  hive::KeepLargeBuffers(2, 8u << 20);

  // Everything after the first "--" is the service's command line.
  std::vector<std::string> command;
  int own_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      own_argc = i;
      for (int j = i + 1; j < argc; ++j) command.emplace_back(argv[j]);
      break;
    }
  }

  CLI::App app{
      "hive-agent: registers a service instance, ships its logs and keeps its config "
      "file in step with hived. With `-- command args` it also runs the service as its child."};
  std::string config_path;
  std::string log_level = "info";
  app.add_option("--config,-c", config_path, "the agent's YAML file")->required();
  app.add_option("--log-level", log_level, "debug, info, warn or error");
  try {
    app.parse(own_argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and succeeds; any bad flag or value is a usage error.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (own_argc < argc && command.empty()) {
    std::fprintf(stderr, "hive-agent: nothing after '--': give the service's command\n");
    return 2;
  }

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
  config->exec.command = std::move(command);
  hive::agent::Agent agent(std::move(*config));
  if (hive::Status s = agent.Start(); !s.ok()) {
    std::fprintf(stderr, "hive-agent: cannot start: %s\n", s.ToString().c_str());
    (void)agent.Stop();
    return s.IsInvalidArgument() ? 2 : 1;
  }

  // SIGHUP goes on to the child; SIGTERM/SIGINT stop everything; in exec
  // mode the child's own end (not restarted) stops the agent with its code.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  const timespec tick{0, 200'000'000};
  while (true) {
    const int sig = ::sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGHUP) {
      hive::log::Info("passing SIGHUP on to the service");
      agent.Signal(SIGHUP);
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      hive::log::Info("shutting down", {{"signal", sig}});
      (void)agent.Stop(sig);
      return 0;
    }
    if (auto code = agent.child_exit_code()) {
      hive::log::Info("the service ended; shutting down", {{"exit_code", *code}});
      (void)agent.Stop();
      return *code;
    }
  }
}
