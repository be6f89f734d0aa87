// hivectl's commands, one function each. Every function talks to hived
// through the Session's client, prints to the Session's streams and returns a
// hive::ctl::ExitCode; errors are printed as `error: ...` on `err`.
// Thread-compatible: a Session belongs to one command run.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/http_client.h"

namespace hive::ctl {

struct Session {
  HttpClient* client = nullptr;  // not owned
  std::string addr;              // as the user gave it, for error messages
  bool json_output = false;      // -o json
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  const Clock* clock = nullptr;
};

struct PushOptions {
  std::string app;
  std::string profile;
  std::vector<std::string> args;  // one .json file, or key=value assignments
  std::string message;
  std::optional<int64_t> if_version;
  bool dry_run = false;
};

struct LogQuery {
  std::string trace_id;
  std::string service;
  std::string level;
  std::string since;  // a duration ("10m") or an RFC 3339 time
  std::optional<int> limit;
};

int ListServices(Session& s);
int ShowService(Session& s, const std::string& name, bool healthy_only);
int PushConfig(Session& s, const PushOptions& options);
int GetConfig(Session& s, const std::string& app, const std::string& profile,
              const std::optional<std::string>& key);
int ConfigHistory(Session& s, const std::string& app, const std::string& profile);
int RollbackConfig(Session& s, const std::string& app, const std::string& profile,
                   std::optional<int64_t> to_version);
int SearchLogs(Session& s, const LogQuery& query);
int ShowTrace(Session& s, const std::string& trace_id);

}  // namespace hive::ctl
