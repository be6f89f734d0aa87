// hivectl's registry commands beyond listing: `services <name> --watch`,
// `services deregister <service> <id>` and
// `services maintenance on|off <service> <id> [--reason ..]`. ServiceCommands
// adds them to the `services` subcommand, keeps what the command line sets
// and runs the chosen one against hived's registry API (docs/API.md,
// "Registry"). Plain `services` and `services <name>` stay in commands.h.
// Thread-compatible: one ServiceCommands per command-line parse.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "commands.h"

namespace hive::ctl {

class ServiceCommands {
 public:
  // Adds the flags and subcommands to `services`. REQUIRES: before parsing.
  explicit ServiceCommands(CLI::App& services);

  // After parsing: whether one of these commands was chosen.
  bool chosen() const;
  // Runs it. `name` and `healthy_only` are the `services` positional and
  // flag. REQUIRES: chosen().
  int Run(Session& s, const std::string& name, bool healthy_only);

 private:
  // Prints the instances, then again on every change (a blocking query
  // loop) until interrupted or `updates_` changes were printed.
  int Watch(Session& s, const std::string& name, bool healthy_only);
  int Deregister(Session& s);
  int Maintenance(Session& s);

  CLI::App* deregister_ = nullptr;
  CLI::App* maintenance_ = nullptr;
  bool watch_ = false;
  int updates_ = 0;  // 0: until interrupted
  std::string service_;
  std::string id_;
  std::string mode_;  // on | off
  std::string reason_;
};

}  // namespace hive::ctl
