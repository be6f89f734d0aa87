// hivectl's commands, one function each. Every function talks to hived
// through the Session's client, prints to the Session's streams and returns a
// hive::ctl::ExitCode; errors are printed as `error: ...` on `err`.
// Thread-compatible: a Session belongs to one command run.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
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

// Helpers shared by the command files, in their own namespace so a file's
// private helpers of the same name do not clash with them.
namespace cli {

// Prints `error: message` and returns kExitUsage.
int UsageError(Session& s, std::string_view message);

// Sends one request. On a 2xx answer with a JSON body fills *body and returns
// kExitOk; otherwise prints why and returns the exit code.
int Call(Session& s, std::string_view method, const std::string& target, nlohmann::json* body,
         std::string_view payload = {}, const std::vector<Header>& headers = {},
         std::string_view content_type = "application/json");

void PrintJson(Session& s, const nlohmann::json& j);
// A field as display text: strings bare, other values as JSON, absent as "".
std::string Text(const nlohmann::json& j, const char* key);
// A value as display text: strings bare, other values as JSON.
std::string ValueText(const nlohmann::json& v);
// The member `key` if it is an array / object, else an empty one.
const nlohmann::json& Array(const nlohmann::json& j, const char* key);
const nlohmann::json& Object(const nlohmann::json& j, const char* key);

}  // namespace cli
}  // namespace hive::ctl
