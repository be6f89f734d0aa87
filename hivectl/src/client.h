// What every hivectl command file shares: the Session a command runs in, one
// way to call hived and report its errors, and the JSON-to-text helpers of
// the human output. Thread-compatible: a Session belongs to one command run.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
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

// In their own namespace so a command file's private helpers of the same
// name do not clash with them.
namespace cli {

// Prints `error: message` and returns kExitUsage.
int UsageError(Session& s, std::string_view message);

// What a call sends besides its method and target, and what else it reads.
struct CallOptions {
  std::string_view payload;
  std::vector<Header> headers;
  std::string_view content_type = "application/json";
  HttpClient* client = nullptr;  // nullptr: the session's
  uint64_t* index = nullptr;     // if set: the answer's X-Hive-Index (0 without one)
};

// Sends one request. On a 2xx answer with a JSON body fills *body and returns
// kExitOk; otherwise prints why on `err` and returns the exit code.
int Call(Session& s, std::string_view method, const std::string& target, nlohmann::json* body,
         const CallOptions& options = {});

// `path` with the parameters appended as a URL-encoded query string.
std::string WithQuery(std::string path,
                      const std::vector<std::pair<std::string, std::string>>& params);

void PrintJson(Session& s, const nlohmann::json& j);
// With -o json prints `j` and returns true; else returns false.
bool PrintedAsJson(Session& s, const nlohmann::json& j);
// A field as display text: strings bare, other values as JSON, absent as "".
std::string Text(const nlohmann::json& j, const char* key);
// A value as display text: strings bare, other values as JSON.
std::string ValueText(const nlohmann::json& v);
// A field holding an RFC 3339 time as "5m ago" relative to `now`; any
// other value as Text() gives it.
std::string AgoText(const nlohmann::json& j, const char* key, TimePoint now);
// An instance's "address" and "port" as host:port, an IPv6 host in brackets.
std::string InstanceAddress(const nlohmann::json& instance);
// The member `key` if it is an array / object, else an empty one.
const nlohmann::json& Array(const nlohmann::json& j, const char* key);
const nlohmann::json& Object(const nlohmann::json& j, const char* key);

}  // namespace cli
}  // namespace hive::ctl
