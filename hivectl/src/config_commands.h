// hivectl's configuration commands: `config push|get|history|diff|rollback|
// delete|rollout` and `audit`. ConfigCommands adds them to the CLI11 app,
// keeps what the command line sets, and runs the chosen one against hived's
// config store API (docs/API.md, "Config store"). `config push --wait` also
// asks the registry which instances are healthy: hivectl composes the two,
// the config store knows nothing of the registry.
// Thread-compatible: one ConfigCommands per command-line parse.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"

namespace hive::ctl {

class ConfigCommands {
 public:
  // Adds the subcommands to `app`. REQUIRES: before app.parse().
  explicit ConfigCommands(CLI::App& app);

  // After parsing: whether one of these commands was chosen.
  bool chosen() const;
  // Runs the chosen command. REQUIRES: chosen().
  int Run(Session& s);

 private:
  int Push(Session& s);
  int Get(Session& s);
  int History(Session& s);
  int Diff(Session& s);
  int Rollback(Session& s);
  int Delete(Session& s);
  int Rollout(Session& s);
  int Audit(Session& s);
  // Polls the registry and the rollout until every healthy instance of the
  // application applied `version`, one reports failure, or the wait ends.
  int WaitForRollout(Session& s, int64_t version);

  CLI::App* config_ = nullptr;
  CLI::App* push_ = nullptr;
  CLI::App* get_ = nullptr;
  CLI::App* history_ = nullptr;
  CLI::App* diff_ = nullptr;
  CLI::App* rollback_ = nullptr;
  CLI::App* delete_ = nullptr;
  CLI::App* rollout_ = nullptr;
  CLI::App* audit_ = nullptr;

  std::string app_;
  std::string profile_;
  std::vector<std::string> documents_;  // one file, or key=value assignments
  std::vector<std::string> secrets_;    // --secret key=value
  std::string message_;
  std::optional<int64_t> if_version_;
  std::optional<int64_t> to_;
  std::optional<int64_t> from_;
  bool dry_run_ = false;
  bool wait_ = false;
  std::string wait_timeout_ = "60s";
  std::optional<std::string> key_;
  std::string format_;  // config get -o: table, json, yaml, properties
  int limit_ = 0;
};

}  // namespace hive::ctl
