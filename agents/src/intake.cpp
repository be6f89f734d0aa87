#include "intake.h"

#include <nlohmann/json.hpp>

#include "hive/agent/log_event.h"
#include "hive/core/clock.h"
#include "hive/core/text.h"

namespace hive::agent {
namespace {

using nlohmann::json;

constexpr size_t kMaxBody = 16u << 20;

// An OTLP AnyValue as a JSON value of ours.
json AnyValue(const json& v) {
  if (!v.is_object()) return nullptr;
  if (v.contains("stringValue")) return v["stringValue"];
  if (v.contains("boolValue")) return v["boolValue"];
  if (v.contains("intValue")) {
    // int64 travels as a string in OTLP JSON.
    const json& i = v["intValue"];
    if (i.is_string()) {
      try {
        return std::stoll(i.get<std::string>());
      } catch (const std::exception&) {
        return i;
      }
    }
    return i;
  }
  if (v.contains("doubleValue")) return v["doubleValue"];
  if (v.contains("arrayValue") || v.contains("kvlistValue") || v.contains("bytesValue")) {
    return v.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return nullptr;
}

void AddAttributes(const json& list, json& attrs) {
  if (!list.is_array()) return;
  for (const auto& kv : list) {
    if (!kv.is_object() || !kv.contains("key") || !kv["key"].is_string()) continue;
    json v = AnyValue(kv.value("value", json()));
    if (!v.is_null()) attrs[kv["key"].get<std::string>()] = std::move(v);
  }
}

std::string_view LevelOfSeverityNumber(int64_t n) {
  if (n <= 0) return "";
  if (n <= 4) return "trace";
  if (n <= 8) return "debug";
  if (n <= 12) return "info";
  if (n <= 16) return "warn";
  if (n <= 20) return "error";
  return "fatal";
}

// timeUnixNano as a string or number; 0 when absent or zero.
int64_t Nanos(const json& v) {
  try {
    if (v.is_string()) return std::stoll(v.get<std::string>());
    if (v.is_number_integer()) return v.get<int64_t>();
  } catch (const std::exception&) {
  }
  return 0;
}

bool IsHexId(const json& v, size_t len) {
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() != len) return false;
  bool nonzero = false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    nonzero = nonzero || c != '0';
  }
  return nonzero;
}

}  // namespace

Intake::Intake(std::string service, std::string instance, LogShipper& shipper,
               AgentMetrics& metrics)
    : service_(std::move(service)),
      instance_(std::move(instance)),
      shipper_(shipper),
      metrics_(metrics) {}

Intake::~Intake() { Stop(); }

void Intake::Stop() {
  if (server_) server_->Stop();
}

void Intake::AddRoutes(HttpServer& server) {
  server.Route("POST", "/api/v1/ingest/logs", {Access::kAgent, kMaxBody},
               [this](const HttpRequest& req, HttpResponse& res) { HandleNdjson(req, res); });
  server.Route("POST", "/v1/logs", {Access::kAgent, kMaxBody},
               [this](const HttpRequest& req, HttpResponse& res) { HandleOtlp(req, res); });
}

void Intake::Store(std::string events, uint64_t lines, HttpResponse& res) {
  const Status s = shipper_.AppendEvents(std::move(events), lines);
  if (s.code() == StatusCode::kResourceExhausted) {
    res.SetError(s);
    res.SetHeader("Retry-After", "1");
    return;
  }
  if (!s.ok())
    res.SetError(s.code() == StatusCode::kFailedPrecondition ? Status::Unavailable(s.message())
                                                             : s);
}

void Intake::HandleNdjson(const HttpRequest& req, HttpResponse& res) {
  LogLineMapper mapper(service_, instance_);
  std::string events;
  json errors = json::array();
  uint64_t accepted = 0;
  int line_no = 0;
  const TimePoint now = Clock::System().Now();
  for (auto line : Split(req.body, '\n')) {
    if (Trim(line).empty()) continue;
    ++line_no;
    // The mapper walks objects recursively; a line nested past the limit
    // is refused here, with the others kept.
    if (Status depth = CheckJsonDepth(line); !depth.ok()) {
      errors.push_back({{"line", line_no}, {"message", depth.message()}});
      continue;
    }
    if (Trim(line).front() != '{' || !json::accept(line)) {
      errors.push_back({{"line", line_no}, {"message", "not a JSON object"}});
      continue;
    }
    mapper.AppendEvent(line, now, events);
    ++accepted;
  }
  if (accepted == 0) {
    res.SetError(Status::InvalidArgument(line_no == 0 ? "empty body: send NDJSON events"
                                                      : "no line is a JSON object"));
    return;
  }
  Store(std::move(events), accepted, res);
  if (res.status != 200) return;
  res.SetJson(json{{"accepted", accepted}, {"rejected", errors.size()}, {"errors", errors}}.dump(
      -1, ' ', false, json::error_handler_t::replace));
}

void Intake::HandleOtlp(const HttpRequest& req, HttpResponse& res) {
  // Bodies and attribute values are written back with json::dump, which
  // recurses: a body nested past the limit is refused before it is parsed.
  if (Status depth = CheckJsonDepth(req.body); !depth.ok()) {
    res.SetError(Status::InvalidArgument("body: " + depth.message()));
    return;
  }
  auto doc = json::parse(req.body, nullptr, false);
  if (!doc.is_object()) {
    res.SetError(Status::InvalidArgument("body is not an OTLP JSON ExportLogsServiceRequest"));
    return;
  }
  const json& resource_logs = doc.value("resourceLogs", json::array());
  if (!resource_logs.is_array()) {
    res.SetError(Status::InvalidArgument("resourceLogs must be an array"));
    return;
  }
  LogLineMapper mapper(service_, instance_);
  std::string events;
  uint64_t count = 0;
  const TimePoint now = Clock::System().Now();
  for (const auto& rl : resource_logs) {
    if (!rl.is_object()) continue;
    json resource_attrs = json::object();
    if (rl.contains("resource") && rl["resource"].is_object()) {
      AddAttributes(rl["resource"].value("attributes", json()), resource_attrs);
    }
    const json& scopes = rl.value("scopeLogs", json::array());
    if (!scopes.is_array()) continue;
    for (const auto& sl : scopes) {
      if (!sl.is_object()) continue;
      const json& records = sl.value("logRecords", json::array());
      if (!records.is_array()) continue;
      for (const auto& r : records) {
        if (!r.is_object()) continue;
        json e = json::object();
        int64_t ts = Nanos(r.value("timeUnixNano", json()));
        if (ts == 0) ts = Nanos(r.value("observedTimeUnixNano", json()));
        if (ts > 0) e["ts"] = ts;
        std::string level = r.value("severityText", "");
        if (level.empty()) {
          const json& n = r.value("severityNumber", json());
          if (n.is_number_integer()) level = LevelOfSeverityNumber(n.get<int64_t>());
        }
        if (!level.empty()) e["level"] = level;
        if (r.contains("body")) {
          json body = AnyValue(r["body"]);
          if (!body.is_null()) {
            e["message"] = body.is_string()
                               ? body
                               : json(body.dump(-1, ' ', false, json::error_handler_t::replace));
          }
        }
        if (IsHexId(r.value("traceId", json()), 32)) e["trace_id"] = r["traceId"];
        if (IsHexId(r.value("spanId", json()), 16)) e["span_id"] = r["spanId"];
        json attrs = resource_attrs;
        AddAttributes(r.value("attributes", json()), attrs);
        if (!attrs.empty()) e["attrs"] = std::move(attrs);
        mapper.AppendEvent(e.dump(-1, ' ', false, json::error_handler_t::replace), now, events);
        ++count;
      }
    }
  }
  if (count > 0) {
    Store(std::move(events), count, res);
    if (res.status != 200) return;
  }
  res.SetJson("{}");
}

}  // namespace hive::agent
