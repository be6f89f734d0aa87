#include "commands.h"

#include <nlohmann/json.hpp>

#include "hive/core/text.h"
#include "hive/ctl/hivectl.h"
#include "output.h"

namespace hive::ctl {

using nlohmann::json;

using namespace cli;  // NOLINT: the helpers shared by the command files

namespace {

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
  if (PrintedAsJson(s, body)) return kExitOk;
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
  if (PrintedAsJson(s, body)) return kExitOk;
  const json& instances = Array(body, "instances");
  if (instances.empty()) {
    *s.out << "service " << name << " has no " << (healthy_only ? "healthy " : "") << "instances\n";
    return kExitOk;
  }
  const TimePoint now = s.clock->Now();
  Table table({"ID", "ADDRESS", "VERSION", "HEALTH", "LAST-SEEN", "OUTPUT"});
  for (const json& inst : instances) {
    const json& health = Object(inst, "health");
    table.AddRow({Text(inst, "id"), InstanceAddress(inst), Text(inst, "version"),
                  Text(health, "status"), AgoText(inst, "last_seen", now), Text(health, "output")});
  }
  table.Print(*s.out);
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
  json body;
  if (int rc = Call(s, "GET", WithQuery("/api/v1/logs", params), &body)) return rc;
  if (PrintedAsJson(s, body)) return kExitOk;
  const json& events = Array(body, "events");
  // The server answers newest first; people read logs oldest first.
  for (auto it = events.rbegin(); it != events.rend(); ++it) PrintEvent(s, *it);
  return kExitOk;
}

int ShowTrace(Session& s, const std::string& trace_id) {
  if (trace_id.empty()) return UsageError(s, "empty trace id");
  json body;
  if (int rc = Call(s, "GET", "/api/v1/traces/" + UrlEncode(trace_id), &body)) return rc;
  if (PrintedAsJson(s, body)) return kExitOk;
  const json& events = Array(body, "events");
  if (events.empty()) *s.err << "no events found for trace " << trace_id << '\n';
  for (const json& e : events) PrintEvent(s, e);
  return kExitOk;
}

}  // namespace hive::ctl
