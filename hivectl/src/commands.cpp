#include "commands.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "hive/core/text.h"
#include "hive/ctl/hivectl.h"
#include "output.h"

namespace hive::ctl {
namespace {

using nlohmann::json;

int UsageError(Session& s, std::string_view message) {
  *s.err << "error: " << message << '\n';
  return kExitUsage;
}

// The client's message is "<METHOD> <url>: <error>" with cpp-httplib's terse
// error name; the url is already in the address hivectl prints.
std::string TransportDetail(const std::string& message) {
  const auto pos = message.rfind(": ");
  const std::string name = pos == std::string::npos ? message : message.substr(pos + 2);
  if (name == "Connection") return "connection failed (is hived running there?)";
  if (name == "ConnectionTimeout") return "connection timed out";
  if (name == "Read") return "no answer (the connection broke or --timeout passed)";
  if (name == "Write") return "sending the request failed";
  return name;
}

// Sends one request. On a 2xx answer with a JSON body fills *body and returns
// kExitOk; otherwise prints why and returns the exit code.
int Call(Session& s, std::string_view method, const std::string& target, json* body,
         std::string_view payload = {}, const std::vector<Header>& headers = {}) {
  auto r = s.client->Send(method, target, payload, "application/json", headers);
  if (!r.ok()) {
    const std::string detail = TransportDetail(r.status().message());
    *s.err << "error: cannot reach hived at " << s.addr << ": " << detail << '\n';
    return kExitUnreachable;
  }
  if (!r->ok()) {
    *s.err << "error: " << StatusFromResponse(*r).message();
    if (r->status == 401) *s.err << " (set HIVE_TOKEN or pass --token)";
    *s.err << '\n';
    return kExitServerError;
  }
  *body = json::parse(r->body, nullptr, false);
  if (body->is_discarded()) {
    *s.err << "error: hived answered " << method << ' ' << target << " with invalid JSON\n";
    return kExitServerError;
  }
  return kExitOk;
}

void PrintJson(Session& s, const json& j) {
  *s.out << j.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

// A field as display text: strings bare, other values as JSON, absent as "".
std::string Text(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ValueText(const json& v) {
  return v.is_string() ? v.get<std::string>()
                       : v.dump(-1, ' ', false, json::error_handler_t::replace);
}

const json& Array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

const json& Object(const json& j, const char* key) {
  static const json kEmpty = json::object();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

std::string ConfigPath(const std::string& app, const std::string& profile) {
  return "/api/v1/config/" + app + "/" + profile;
}

std::string Label(const std::string& app, const std::string& profile) {
  return app + "/" + profile;
}

Status ValidateAppProfile(const std::string& app, const std::string& profile) {
  HIVE_RETURN_IF_ERROR(ValidateName(app, "application"));
  return ValidateName(profile, "profile");
}

// As the config store does: nested objects become dotted keys.
void Flatten(const json& object, const std::string& prefix, json* out) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object()) {
      Flatten(*it, key, out);
    } else {
      (*out)[key] = *it;
    }
  }
}

// A value typed as the user most likely meant it: JSON numbers, true, false
// and null keep their type; anything else is a string.
json TypedValue(const std::string& text) {
  json v = json::parse(text, nullptr, false);
  if (!v.is_discarded() && (v.is_number() || v.is_boolean() || v.is_null())) return v;
  return text;
}

bool HasOtherConfigExtension(const std::string& arg) {
  static const char* const kExtensions[] = {".yaml", ".yml",  ".properties",
                                            ".env",  ".toml", ".ini"};
  for (const char* ext : kExtensions) {
    if (arg.ends_with(ext)) return true;
  }
  std::error_code ec;
  return std::filesystem::is_regular_file(arg, ec);
}

// The document `hivectl config push` sends: the body as sent and its
// flattened properties (for --dry-run).
Status BuildDocument(const std::vector<std::string>& args, std::string* body, json* properties) {
  const auto is_assignment = [](const std::string& a) { return a.find('=') != std::string::npos; };
  const bool any_file = !std::all_of(args.begin(), args.end(), is_assignment);
  if (any_file && args.size() > 1) {
    return Status::InvalidArgument("give either one .json file or key=value arguments, not both");
  }
  if (any_file) {
    const std::string& path = args[0];
    if (!path.ends_with(".json")) {
      if (HasOtherConfigExtension(path)) {
        return Status::InvalidArgument(
            "'" + path +
            "': only .json files are supported by this hivectl yet; use key=value arguments");
      }
      return Status::InvalidArgument("malformed argument '" + path +
                                     "': expected key=value or a .json file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::InvalidArgument("cannot read '" + path + "': " + std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) return Status::InvalidArgument("cannot read '" + path + "'");
    *body = content.str();
    json doc = json::parse(*body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status::InvalidArgument("'" + path + "' is not a JSON object");
    }
    *properties = json::object();
    Flatten(doc, "", properties);
    return Status::Ok();
  }
  json doc = json::object();
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    const std::string key = arg.substr(0, eq);
    if (key.empty() || key.find_first_of(" \t\r\n") != std::string::npos) {
      return Status::InvalidArgument("malformed argument '" + arg +
                                     "': expected key=value with a non-empty key without spaces");
    }
    if (doc.contains(key)) return Status::InvalidArgument("key '" + key + "' is given twice");
    doc[key] = TypedValue(arg.substr(eq + 1));
  }
  *body = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  *properties = doc;
  return Status::Ok();
}

// Header values cannot carry line breaks.
std::string HeaderSafe(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

int PrintDryRun(Session& s, const PushOptions& o, const json& current, const json& next) {
  const json& before = Object(current, "properties");
  const std::string version = Text(current, "version");
  std::set<std::string> keys;
  for (auto it = before.begin(); it != before.end(); ++it) keys.insert(it.key());
  for (auto it = next.begin(); it != next.end(); ++it) keys.insert(it.key());
  json changes = json::array();
  std::vector<std::string> lines;
  for (const std::string& key : keys) {
    const bool had = before.contains(key);
    const bool has = next.contains(key);
    if (had && has && before[key] == next[key]) continue;
    if (!had) {
      changes.push_back({{"op", "add"}, {"key", key}, {"new", next[key]}});
      lines.push_back("+ " + key + "=" + ValueText(next[key]));
    } else if (!has) {
      changes.push_back({{"op", "remove"}, {"key", key}, {"old", before[key]}});
      lines.push_back("- " + key);
    } else {
      changes.push_back({{"op", "change"}, {"key", key}, {"old", before[key]}, {"new", next[key]}});
      lines.push_back("~ " + key + ": " + ValueText(before[key]) + " → " + ValueText(next[key]));
    }
  }
  if (s.json_output) {
    PrintJson(s,
              {{"app", o.app},
               {"profile", o.profile},
               {"version",
                current.is_object() && current.contains("version") ? current["version"] : json()},
               {"dry_run", true},
               {"changes", changes}});
    return kExitOk;
  }
  const std::string label = Label(o.app, o.profile);
  if (lines.empty()) {
    *s.out << label << ": no changes (version " << version << "); nothing pushed\n";
    return kExitOk;
  }
  *s.out << label << ": dry run against version " << version << "; nothing pushed\n";
  for (const auto& line : lines) *s.out << line << '\n';
  return kExitOk;
}

// The time of a log event or span: `ts`, or a span's `start`.
std::string EventTime(const json& event) {
  for (const char* key : {"ts", "start"}) {
    if (!event.is_object() || !event.contains(key)) continue;
    const json& v = event[key];
    if (v.is_number_integer()) return FormatLogTime(FromUnixNanos(v.get<int64_t>()));
    if (v.is_string()) {
      auto t = ParseRfc3339(v.get<std::string>());
      return t.ok() ? FormatLogTime(*t) : v.get<std::string>();
    }
  }
  return "-";
}

// A span has no message; it prints as "span <name> <duration>ms <status>".
std::string EventMessage(const json& event) {
  if (event.is_object() && event.contains("message")) return Text(event, "message");
  std::string name = Text(event, "name");
  if (name.empty()) return "";
  std::string text = "span " + name;
  if (std::string d = Text(event, "duration_ms"); !d.empty()) text += " " + d + "ms";
  if (std::string st = Text(event, "status"); !st.empty()) text += " " + st;
  return text;
}

void PrintEvent(Session& s, const json& e) {
  const bool span = e.is_object() && !e.contains("message") && e.contains("name");
  *s.out << FormatLogLine(EventTime(e), Text(e, "service"), Text(e, "instance"),
                          span ? "span" : Text(e, "level"), Text(e, "trace_id"), EventMessage(e))
         << '\n';
}

}  // namespace

int ListServices(Session& s) {
  json body;
  if (int rc = Call(s, "GET", "/api/v1/services", &body)) return rc;
  if (s.json_output) {
    PrintJson(s, body);
    return kExitOk;
  }
  const json& services = Array(body, "services");
  if (services.empty()) {
    *s.out << "no services registered yet\n";
    return kExitOk;
  }
  Table table({"NAME", "INSTANCES", "PASSING", "WARNING", "CRITICAL"});
  for (const json& svc : services) {
    table.AddRow({Text(svc, "name"), Text(svc, "instances"), Text(svc, "passing"),
                  Text(svc, "warning"), Text(svc, "critical")});
  }
  table.Print(*s.out);
  return kExitOk;
}

int ShowService(Session& s, const std::string& name, bool healthy_only) {
  if (Status st = ValidateName(name, "service"); !st.ok()) return UsageError(s, st.message());
  json body;
  std::string target = "/api/v1/services/" + name + (healthy_only ? "?healthy=true" : "");
  if (int rc = Call(s, "GET", target, &body)) return rc;
  if (s.json_output) {
    PrintJson(s, body);
    return kExitOk;
  }
  const json& instances = Array(body, "instances");
  if (instances.empty()) {
    *s.out << "service " << name << " has no " << (healthy_only ? "healthy " : "") << "instances\n";
    return kExitOk;
  }
  const TimePoint now = s.clock->Now();
  Table table({"ID", "ADDRESS", "VERSION", "HEALTH", "LAST-SEEN", "OUTPUT"});
  for (const json& inst : instances) {
    std::string host = Text(inst, "address");
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    std::string last_seen = Text(inst, "last_seen");
    if (auto t = ParseRfc3339(last_seen); t.ok()) last_seen = FormatAgo(*t, now);
    const json& health = Object(inst, "health");
    table.AddRow({Text(inst, "id"), host + ":" + Text(inst, "port"), Text(inst, "version"),
                  Text(health, "status"), last_seen, Text(health, "output")});
  }
  table.Print(*s.out);
  return kExitOk;
}

int PushConfig(Session& s, const PushOptions& o) {
  if (Status st = ValidateAppProfile(o.app, o.profile); !st.ok())
    return UsageError(s, st.message());
  std::string body;
  json properties;
  if (Status st = BuildDocument(o.args, &body, &properties); !st.ok()) {
    return UsageError(s, st.message());
  }
  const std::string path = ConfigPath(o.app, o.profile);
  const std::string label = Label(o.app, o.profile);
  if (o.dry_run) {
    json current;
    if (int rc = Call(s, "GET", path, &current)) return rc;
    if (o.if_version && Text(current, "version") != std::to_string(*o.if_version)) {
      *s.err << "error: " << label << " is at version " << Text(current, "version") << ", not "
             << *o.if_version << " (--if-version); a push would be rejected\n";
      return kExitServerError;
    }
    return PrintDryRun(s, o, current, properties);
  }
  std::vector<Header> headers;
  if (o.if_version) headers.emplace_back("If-Match", std::to_string(*o.if_version));
  if (!o.message.empty()) headers.emplace_back("X-Hive-Message", HeaderSafe(o.message));
  json answer;
  if (int rc = Call(s, "PUT", path, &answer, body, headers)) return rc;
  if (s.json_output) {
    PrintJson(s, answer);
  } else if (!(answer.is_object() && answer.contains("changed") && answer["changed"] == false)) {
    *s.out << label << ": version " << Text(answer, "version") << '\n';
  } else {
    *s.out << label << ": unchanged (version " << Text(answer, "version") << ")\n";
  }
  return kExitOk;
}

int GetConfig(Session& s, const std::string& app, const std::string& profile,
              const std::optional<std::string>& key) {
  if (Status st = ValidateAppProfile(app, profile); !st.ok()) return UsageError(s, st.message());
  json body;
  if (int rc = Call(s, "GET", ConfigPath(app, profile), &body)) return rc;
  const json& properties = Object(body, "properties");
  if (key && !properties.contains(*key)) {
    *s.err << "error: key '" << *key << "' is not set in " << Label(app, profile) << '\n';
    return kExitServerError;
  }
  if (s.json_output) {
    PrintJson(s, key ? properties[*key] : body);
    return kExitOk;
  }
  if (properties.empty()) {
    *s.out << Label(app, profile) << ": no properties (version " << Text(body, "version") << ")\n";
    return kExitOk;
  }
  // "property_sources" maps each key to the "app/profile" layer it comes from.
  const json& sources = Object(body, "property_sources");
  Table table({"KEY", "VALUE", "SOURCE"});
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    if (key && it.key() != *key) continue;
    const std::string source = Text(sources, it.key().c_str());
    table.AddRow({it.key(), ValueText(*it), source.empty() ? "-" : source});
  }
  table.Print(*s.out);
  return kExitOk;
}

int ConfigHistory(Session& s, const std::string& app, const std::string& profile) {
  if (Status st = ValidateAppProfile(app, profile); !st.ok()) return UsageError(s, st.message());
  json body;
  if (int rc = Call(s, "GET", ConfigPath(app, profile) + "/history", &body)) return rc;
  if (s.json_output) {
    PrintJson(s, body);
    return kExitOk;
  }
  const json& entries = Array(body, "versions");
  if (entries.empty()) {
    *s.out << Label(app, profile) << ": no versions yet\n";
    return kExitOk;
  }
  Table table({"VERSION", "AUTHOR", "TIME", "MESSAGE"});
  for (const json& e : entries) {
    table.AddRow(
        {Text(e, "version"), Text(e, "author"), Text(e, "created_at"), Text(e, "message")});
  }
  table.Print(*s.out);
  return kExitOk;
}

int RollbackConfig(Session& s, const std::string& app, const std::string& profile,
                   std::optional<int64_t> to_version) {
  if (Status st = ValidateAppProfile(app, profile); !st.ok()) return UsageError(s, st.message());
  json request = json::object();
  if (to_version) request["to"] = *to_version;
  json answer;
  if (int rc = Call(s, "POST", ConfigPath(app, profile) + "/rollback", &answer, request.dump())) {
    return rc;
  }
  if (s.json_output) {
    PrintJson(s, answer);
    return kExitOk;
  }
  *s.out << Label(app, profile) << ": rolled back";
  if (to_version) *s.out << " to version " << *to_version;
  *s.out << ", now version " << Text(answer, "version") << '\n';
  return kExitOk;
}

int SearchLogs(Session& s, const LogQuery& q) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!q.trace_id.empty()) params.emplace_back("trace_id", q.trace_id);
  if (!q.service.empty()) {
    if (Status st = ValidateName(q.service, "service"); !st.ok())
      return UsageError(s, st.message());
    params.emplace_back("service", q.service);
  }
  if (!q.level.empty()) params.emplace_back("level", q.level);
  if (!q.since.empty()) {
    if (auto d = ParseDuration(q.since); d.ok()) {
      params.emplace_back("since", FormatRfc3339(s.clock->Now() - *d));
    } else if (ParseRfc3339(q.since).ok()) {
      params.emplace_back("since", q.since);
    } else {
      return UsageError(s, "bad --since '" + q.since +
                               "': expected a duration like 10m or an RFC 3339 time like "
                               "2026-11-22T10:00:00Z");
    }
  }
  if (q.limit) params.emplace_back("limit", std::to_string(*q.limit));
  std::string target = "/api/v1/logs";
  for (size_t i = 0; i < params.size(); ++i) {
    target += (i == 0 ? "?" : "&") + params[i].first + "=" + UrlEncode(params[i].second);
  }
  json body;
  if (int rc = Call(s, "GET", target, &body)) return rc;
  if (s.json_output) {
    PrintJson(s, body);
    return kExitOk;
  }
  const json& events = Array(body, "events");
  // The server answers newest first; people read logs oldest first.
  for (auto it = events.rbegin(); it != events.rend(); ++it) PrintEvent(s, *it);
  return kExitOk;
}

int ShowTrace(Session& s, const std::string& trace_id) {
  if (trace_id.empty()) return UsageError(s, "empty trace id");
  json body;
  if (int rc = Call(s, "GET", "/api/v1/traces/" + UrlEncode(trace_id), &body)) return rc;
  if (s.json_output) {
    PrintJson(s, body);
    return kExitOk;
  }
  const json& events = Array(body, "events");
  if (events.empty()) *s.err << "no events found for trace " << trace_id << '\n';
  for (const json& e : events) PrintEvent(s, e);
  return kExitOk;
}

}  // namespace hive::ctl
