#include "hive/collector/span.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "event_fields.h"
#include "hive/core/text.h"

namespace hive::collector {
namespace {

using nlohmann::ordered_json;

void AppendSpanFields(std::string& out, const Span& span, bool start_as_ns) {
  out += "{\"trace_id\":";
  AppendJsonString(out, span.trace_id);
  out += ",\"span_id\":";
  AppendJsonString(out, span.span_id);
  AppendOptionalField(out, "parent_span_id", span.parent_span_id);
  out += ",\"service\":";
  AppendJsonString(out, span.service);
  AppendOptionalField(out, "instance", span.instance);
  out += ",\"name\":";
  AppendJsonString(out, span.name);
  out += ",\"kind\":\"";
  out += SpanKindName(span.kind);
  out += "\",\"start\":";
  if (start_as_ns) {
    out += std::to_string(span.start_ns);
  } else {
    AppendJsonString(out, FormatRfc3339(FromUnixNanos(span.start_ns)));
  }
  out += ",\"duration_ms\":";
  AppendJsonNumber(out, span.duration_ms);
  out += span.error ? ",\"status\":\"error\"" : ",\"status\":\"ok\"";
  out += ",\"attrs\":";
  AppendAttrsJson(out, span.attrs);
  out += '}';
}

Status ReadId(const ordered_json& line, const char* key, bool required, std::string* out) {
  auto it = line.find(key);
  if (it == line.end() || it->is_null() ||
      (it->is_string() && it->get_ref<const std::string&>().empty())) {
    if (required) return Status::InvalidArgument(std::string("'") + key + "' is required");
    return Status::Ok();
  }
  if (!it->is_string())
    return Status::InvalidArgument(std::string("'") + key + "' must be a string");
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > kMaxIdBytes) {
    return Status::InvalidArgument(std::string("'") + key + "' is longer than " +
                                   std::to_string(kMaxIdBytes) + " characters");
  }
  *out = NormalizeTraceId(s);
  return Status::Ok();
}

Status ReadAttrs(const ordered_json& attrs, std::vector<std::pair<std::string, AttrValue>>* out) {
  if (!attrs.is_object()) return Status::InvalidArgument("'attrs' must be an object");
  for (auto it = attrs.begin(); it != attrs.end(); ++it) {
    const ordered_json& v = it.value();
    if (v.is_null()) continue;
    if (v.is_string()) {
      out->emplace_back(it.key(), v.get<std::string>());
    } else if (v.is_boolean()) {
      out->emplace_back(it.key(), v.get<bool>());
    } else if (v.is_number_integer()) {
      if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        out->emplace_back(it.key(), v.get<double>());
      } else {
        out->emplace_back(it.key(), v.get<int64_t>());
      }
    } else if (v.is_number()) {
      out->emplace_back(it.key(), v.get<double>());
    } else {
      return Status::InvalidArgument("attrs '" + it.key() +
                                     "' must be a string, number or boolean");
    }
  }
  return Status::Ok();
}

Result<Span> ParseSpanLine(std::string_view text, TimePoint now) {
  // Nothing below walks a nested value, but every JSON body hived reads has
  // one nesting limit (docs/API.md).
  HIVE_RETURN_IF_ERROR(CheckJsonDepth(text));
  ordered_json line = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (line.is_discarded()) return Status::InvalidArgument("not valid JSON");
  if (!line.is_object()) return Status::InvalidArgument("a span must be a JSON object");
  Span span;
  HIVE_RETURN_IF_ERROR(ReadId(line, "trace_id", true, &span.trace_id));
  HIVE_RETURN_IF_ERROR(ReadId(line, "span_id", true, &span.span_id));
  HIVE_RETURN_IF_ERROR(ReadId(line, "parent_span_id", false, &span.parent_span_id));
  auto service = line.find("service");
  if (service == line.end() || !service->is_string()) {
    return Status::InvalidArgument("'service' is required and must be a string");
  }
  span.service = service->get<std::string>();
  HIVE_RETURN_IF_ERROR(ValidateName(span.service, "service"));
  if (auto it = line.find("instance"); it != line.end() && !it->is_null()) {
    if (!it->is_string()) return Status::InvalidArgument("'instance' must be a string");
    span.instance = it->get<std::string>();
    if (!span.instance.empty()) HIVE_RETURN_IF_ERROR(ValidateName(span.instance, "instance"));
  }
  if (auto it = line.find("name"); it != line.end() && !it->is_null()) {
    if (!it->is_string()) return Status::InvalidArgument("'name' must be a string");
    span.name = it->get<std::string>();
  }
  if (auto it = line.find("kind"); it != line.end() && !it->is_null()) {
    std::optional<SpanKind> kind =
        it->is_string() ? ParseSpanKind(it->get_ref<const std::string&>()) : std::nullopt;
    if (!kind) {
      return Status::InvalidArgument(
          "'kind' must be one of server|client|internal|producer|consumer");
    }
    span.kind = *kind;
  }
  span.start_ns = ToUnixNanos(now);
  if (auto it = line.find("start"); it != line.end() && !it->is_null()) {
    if (it->is_string()) {
      Result<TimePoint> t = ParseRfc3339(it->get_ref<const std::string&>());
      if (!t.ok()) return Status::InvalidArgument("'start': " + t.status().message());
      span.start_ns = ToUnixNanos(*t);
    } else if (it->is_number_integer() &&
               (!it->is_number_unsigned() || it->get<uint64_t>() <= INT64_MAX)) {
      // Negative too: an RFC 3339 start before 1970 is stored that way, and
      // the span store reads its lines back with this parser.
      span.start_ns = it->get<int64_t>();
    } else {
      return Status::InvalidArgument(
          "'start' must be an RFC 3339 string or integer nanoseconds since the epoch");
    }
  }
  if (auto it = line.find("duration_ms"); it != line.end() && !it->is_null()) {
    if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0) {
      return Status::InvalidArgument("'duration_ms' must be a number >= 0");
    }
    span.duration_ms = it->get<double>();
  }
  if (auto it = line.find("status"); it != line.end() && !it->is_null()) {
    const std::string_view status =
        it->is_string() ? std::string_view(it->get_ref<const std::string&>()) : "";
    if (EqualsLower(status, "error")) {
      span.error = true;
    } else if (!EqualsLower(status, "ok") && !EqualsLower(status, "unset")) {
      return Status::InvalidArgument("'status' must be ok, error or unset");
    }
  }
  if (auto it = line.find("attrs"); it != line.end() && !it->is_null()) {
    HIVE_RETURN_IF_ERROR(ReadAttrs(*it, &span.attrs));
  }
  return span;
}

}  // namespace

std::string_view SpanKindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kInternal:
      return "internal";
    case SpanKind::kServer:
      return "server";
    case SpanKind::kClient:
      return "client";
    case SpanKind::kProducer:
      return "producer";
    case SpanKind::kConsumer:
      return "consumer";
  }
  return "internal";
}

std::optional<SpanKind> ParseSpanKind(std::string_view text) {
  for (SpanKind k : {SpanKind::kInternal, SpanKind::kServer, SpanKind::kClient, SpanKind::kProducer,
                     SpanKind::kConsumer}) {
    if (EqualsLower(text, SpanKindName(k))) return k;
  }
  return std::nullopt;
}

std::string_view Span::StringAttr(std::string_view key) const {
  for (const auto& [k, v] : attrs) {
    if (k == key) {
      const auto* s = std::get_if<std::string>(&v);
      return s ? std::string_view(*s) : std::string_view();
    }
  }
  return {};
}

std::optional<int64_t> Span::IntAttr(std::string_view key) const {
  for (const auto& [k, v] : attrs) {
    if (k != key) continue;
    if (const auto* i = std::get_if<int64_t>(&v)) return *i;
    if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
    return std::nullopt;
  }
  return std::nullopt;
}

bool Span::Failed() const {
  if (error) return true;
  std::optional<int64_t> code = IntAttr("http.status_code");
  return code && *code >= 500;
}

void AppendSpanJson(std::string& out, const Span& span) { AppendSpanFields(out, span, false); }

void AppendSpanLine(std::string& out, const Span& span) { AppendSpanFields(out, span, true); }

ParsedSpans ParseNdjsonSpans(std::string_view body, TimePoint now) {
  ParsedSpans parsed;
  size_t line_no = 0;
  while (!body.empty()) {
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) continue;
    Result<Span> span =
        line.size() > kMaxLineBytes
            ? Result<Span>(Status::InvalidArgument("line is longer than " +
                                                   std::to_string(kMaxLineBytes) + " bytes"))
            : ParseSpanLine(line, now);
    if (span.ok()) {
      parsed.spans.push_back(std::move(*span));
      continue;
    }
    ++parsed.rejected;
    if (parsed.errors.size() < kMaxReportedLineErrors) {
      parsed.errors.push_back({line_no, span.status().message()});
    }
  }
  return parsed;
}

std::optional<Span> SpanFromLogEvent(const LogEvent& event) {
  if (event.trace_id.empty() || event.span_id.empty() || event.service.empty()) {
    return std::nullopt;
  }
  const AttrValue* kind_value = nullptr;
  const AttrValue* duration_value = nullptr;
  for (const auto& [k, v] : event.attrs) {
    if (k == "kind") kind_value = &v;
    if (k == "duration_ms") duration_value = &v;
  }
  if (kind_value == nullptr || duration_value == nullptr) return std::nullopt;
  const auto* kind_text = std::get_if<std::string>(kind_value);
  std::optional<SpanKind> kind = kind_text ? ParseSpanKind(*kind_text) : std::nullopt;
  if (!kind) return std::nullopt;
  double duration = 0;
  if (const auto* d = std::get_if<double>(duration_value)) {
    duration = *d;
  } else if (const auto* i = std::get_if<int64_t>(duration_value)) {
    duration = static_cast<double>(*i);
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(duration) || duration < 0) return std::nullopt;

  Span span;
  span.trace_id = event.trace_id;
  span.span_id = event.span_id;
  span.parent_span_id = event.parent_span_id;
  span.service = event.service;
  span.instance = event.instance;
  span.name = event.message;
  span.kind = *kind;
  span.start_ns = event.ts_ns;
  span.duration_ms = duration;
  for (const auto& [k, v] : event.attrs) {
    if (k == "kind" || k == "duration_ms") continue;
    const auto* s = std::get_if<std::string>(&v);
    if (k == "name" && s) {
      span.name = *s;
    } else if (k == "status" && s) {
      span.error = EqualsLower(*s, "error");
    } else {
      span.attrs.emplace_back(k, v);
    }
  }
  return span;
}

}  // namespace hive::collector
