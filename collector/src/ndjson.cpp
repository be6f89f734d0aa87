#include "hive/collector/ndjson.h"

#include <simdjson.h>

#include <cstring>

#include "hive/core/json_writer.h"
#include "hive/core/text.h"

namespace hive::collector {
namespace {

namespace dom = simdjson::dom;

// What a parser holds at first; a longer line grows it.
constexpr size_t kFirstParserCapacity = 4096;

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 60;
  return "'" + std::string(s.substr(0, kMax)) + (s.size() > kMax ? "...'" : "'");
}

// A scalar JSON value as an attribute; nullopt for null, objects and arrays.
std::optional<AttrValue> ScalarAttr(dom::element value) {
  switch (value.type()) {
    case dom::element_type::STRING:
      return AttrValue(std::string(value.get_string().value_unsafe()));
    case dom::element_type::INT64:
      return AttrValue(value.get_int64().value_unsafe());
    case dom::element_type::UINT64:
      return AttrValue(static_cast<double>(value.get_uint64().value_unsafe()));
    case dom::element_type::DOUBLE:
      return AttrValue(value.get_double().value_unsafe());
    case dom::element_type::BOOL:
      return AttrValue(value.get_bool().value_unsafe());
    default:
      return std::nullopt;
  }
}

// Reads an optional string field; "" when `value` is null.
Status StringField(std::string_view key, dom::element value, std::string* out) {
  if (value.is_null()) {
    out->clear();
    return Status::Ok();
  }
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) {
    return Status::InvalidArgument("'" + std::string(key) + "' must be a string");
  }
  out->assign(s);
  return Status::Ok();
}

Status IdField(std::string_view key, dom::element value, std::string* out) {
  HIVE_RETURN_IF_ERROR(StringField(key, value, out));
  if (out->size() > kMaxIdBytes) {
    return Status::InvalidArgument("'" + std::string(key) + "' is longer than " +
                                   std::to_string(kMaxIdBytes) + " characters");
  }
  *out = NormalizeTraceId(*out);
  return Status::Ok();
}

Status NameField(std::string_view key, dom::element value, std::string* out) {
  HIVE_RETURN_IF_ERROR(StringField(key, value, out));
  if (value.is_null()) return Status::Ok();
  return ValidateName(*out, key);
}

Status TimestampField(dom::element value, int64_t* ts_ns) {
  switch (value.type()) {
    case dom::element_type::STRING: {
      auto t = ParseRfc3339(value.get_string().value_unsafe());
      if (!t.ok()) return t.status().WithContext("'ts'");
      *ts_ns = ToUnixNanos(*t);
      return Status::Ok();
    }
    case dom::element_type::INT64: {
      int64_t v = value.get_int64().value_unsafe();
      if (v < 0) return Status::InvalidArgument("'ts' must not be negative");
      *ts_ns = v;
      return Status::Ok();
    }
    case dom::element_type::UINT64:
      return Status::InvalidArgument("'ts' is out of range for nanoseconds since the epoch");
    default:
      return Status::InvalidArgument(
          "'ts' must be an RFC 3339 string or an integer of nanoseconds since the epoch");
  }
}

Status AttrsField(dom::element value, LogEvent* event) {
  if (value.is_null()) return Status::Ok();
  dom::object attrs;
  if (value.get_object().get(attrs) != simdjson::SUCCESS) {
    return Status::InvalidArgument("'attrs' must be an object");
  }
  for (dom::key_value_pair field : attrs) {
    if (field.value.is_null()) continue;
    std::optional<AttrValue> v = ScalarAttr(field.value);
    if (!v) {
      return Status::InvalidArgument("'attrs." + std::string(field.key.substr(0, 60)) +
                                     "' must be a string, number or boolean");
    }
    bool replaced = false;
    for (auto& [k, existing] : event->attrs) {
      if (k == field.key) {
        existing = std::move(*v);
        replaced = true;
        break;
      }
    }
    if (!replaced) event->attrs.emplace_back(std::string(field.key), std::move(*v));
  }
  return Status::Ok();
}

Status ParseLine(dom::parser& parser, const char* data, size_t len, TimePoint now,
                 LogEvent* event) {
  dom::element root;
  if (auto err = parser.parse(data, len, /*realloc_if_needed=*/false).get(root);
      err != simdjson::SUCCESS) {
    if (err == simdjson::DEPTH_ERROR) {
      return Status::InvalidArgument("JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                                     " levels");
    }
    return Status::InvalidArgument(std::string("invalid JSON: ") + simdjson::error_message(err));
  }
  dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return Status::InvalidArgument("not a JSON object");
  }
  bool has_ts = false;
  // Top-level scalars that are not event fields; merged into attrs at the
  // end so an explicit attrs entry of the same key wins.
  std::vector<std::pair<std::string_view, dom::element>> extra;
  for (dom::key_value_pair field : obj) {
    std::string_view key = field.key;
    dom::element value = field.value;
    if (key == "ts") {
      if (value.is_null()) continue;
      HIVE_RETURN_IF_ERROR(TimestampField(value, &event->ts_ns));
      has_ts = true;
    } else if (key == "service") {
      HIVE_RETURN_IF_ERROR(NameField(key, value, &event->service));
    } else if (key == "instance") {
      HIVE_RETURN_IF_ERROR(NameField(key, value, &event->instance));
    } else if (key == "level") {
      if (value.is_null()) continue;
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS) {
        return Status::InvalidArgument("'level' must be a string");
      }
      std::optional<LogLevel> level = ParseLogLevel(s);
      if (!level) {
        return Status::InvalidArgument(
            "'level' must be one of trace|debug|info|warn|error|fatal, got " + Quoted(s));
      }
      event->level = *level;
    } else if (key == "message") {
      HIVE_RETURN_IF_ERROR(StringField(key, value, &event->message));
    } else if (key == "trace_id") {
      HIVE_RETURN_IF_ERROR(IdField(key, value, &event->trace_id));
    } else if (key == "span_id") {
      HIVE_RETURN_IF_ERROR(IdField(key, value, &event->span_id));
    } else if (key == "parent_span_id") {
      HIVE_RETURN_IF_ERROR(IdField(key, value, &event->parent_span_id));
    } else if (key == "attrs") {
      HIVE_RETURN_IF_ERROR(AttrsField(value, event));
    } else {
      extra.emplace_back(key, value);
    }
  }
  if (!has_ts) event->ts_ns = ToUnixNanos(now);
  for (const auto& [key, value] : extra) {
    std::optional<AttrValue> v = ScalarAttr(value);
    if (!v) continue;
    bool present = false;
    for (const auto& [k, unused] : event->attrs) {
      if (k == key) {
        present = true;
        break;
      }
    }
    if (!present) event->attrs.emplace_back(std::string(key), std::move(*v));
  }
  return Status::Ok();
}

}  // namespace

std::string NormalizeTraceId(std::string_view id) {
  std::string out(id);
  for (char c : id) {
    bool hex =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
    if (!hex) return out;
  }
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

ParsedLogs ParseNdjsonLogs(std::string_view body, TimePoint now) {
  ParsedLogs out;
  // simdjson reads up to SIMDJSON_PADDING bytes past a document's end; one
  // padded copy of the body lets every line be parsed in place.
  simdjson::padded_string padded(body);
  const char* base = padded.data();
  const size_t size = padded.size();
  // Nothing walks a parsed line recursively, but every JSON body hived reads
  // has one nesting limit (docs/API.md): simdjson's own depth bound is it
  // (it counts open arrays and objects as CheckJsonDepth does). The capacity
  // grows with the lines and keeps the bound.
  dom::parser parser;
  const bool allocated = parser.allocate(kFirstParserCapacity, kMaxJsonDepth) == simdjson::SUCCESS;
  size_t line_no = 0;
  size_t pos = 0;
  auto reject = [&out](size_t line, std::string message) {
    ++out.rejected;
    if (out.errors.size() < kMaxReportedLineErrors)
      out.errors.push_back({line, std::move(message)});
  };
  while (pos < size) {
    const void* nl = std::memchr(base + pos, '\n', size - pos);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - base) : size;
    ++line_no;
    std::string_view line(base + pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) continue;
    if (line.size() > kMaxLineBytes) {
      reject(line_no, "line is " + std::to_string(line.size()) + " bytes, over the limit of " +
                          std::to_string(kMaxLineBytes));
      continue;
    }
    LogEvent event;
    Status s = allocated ? ParseLine(parser, line.data(), line.size(), now, &event)
                         : Status::Unavailable("out of memory for the JSON parser");
    if (!s.ok()) {
      reject(line_no, s.message());
      continue;
    }
    out.events.push_back(std::move(event));
  }
  return out;
}

void LineErrorsField(JsonWriter& w, const std::vector<LineError>& errors) {
  w.Key("errors").BeginArray();
  for (const LineError& error : errors) {
    w.BeginObject().Field("line", error.line).Field("message", error.message).EndObject();
  }
  w.EndArray();
}

}  // namespace hive::collector
