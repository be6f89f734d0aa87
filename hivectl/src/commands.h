// hivectl's commands, one function each. Every function talks to hived
// through the Session's client, prints to the Session's streams and returns a
// hive::ctl::ExitCode; errors are printed as `error: ...` on `err`.
// Thread-compatible: a Session belongs to one command run.
#pragma once

#include <optional>
#include <string>

#include "client.h"

namespace hive::ctl {

struct LogQuery {
  std::string trace_id;
  std::string service;
  std::string level;
  std::string since;  // a duration ("10m") or an RFC 3339 time
  std::optional<int> limit;
};

int ListServices(Session& s);
int ShowService(Session& s, const std::string& name, bool healthy_only);
int SearchLogs(Session& s, const LogQuery& query);
int ShowTrace(Session& s, const std::string& trace_id);

}  // namespace hive::ctl
