#include "hive/agent/log_event.h"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "hive/core/text.h"

namespace hive::agent {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr int kMaxFlattenDepth = 32;
constexpr std::string_view kParseErrorAttr = "parse_error";
constexpr std::string_view kJsonTooDeep = "JSON nested deeper than 64 levels";
constexpr std::string_view kInvalidUtf8 = "invalid UTF-8";
static_assert(kMaxJsonDepth == 64, "kJsonTooDeep names the limit");
// The collector refuses a line whose trace_id, span_id or parent_span_id is
// longer (collector/include/hive/collector/ndjson.h kMaxIdBytes); a longer
// value stays in attrs instead of costing the whole line.
constexpr size_t kMaxIdBytes = 128;

// Alias groups, in order of preference within each group.
enum Group { kTs, kLevel, kMessage, kTrace, kSpan, kParent, kTraceparent, kGroups };
constexpr std::array<std::array<std::string_view, 7>, kGroups> kAliases = {{
    {"ts", "time", "timestamp", "@timestamp"},
    {"level", "severity", "lvl"},
    {"message", "msg"},
    {"trace_id", "traceId", "trace.id", "correlation_id", "correlationId", "x-correlation-id",
     "request_id"},
    {"span_id", "spanId"},
    {"parent_span_id", "parentSpanId"},
    {"traceparent"},
}};

bool FindAlias(std::string_view key, int* group, int* index) {
  for (int g = 0; g < kGroups; ++g) {
    for (int i = 0; i < static_cast<int>(kAliases[g].size()); ++i) {
      if (!kAliases[g][i].empty() && kAliases[g][i] == key) {
        *group = g;
        *index = i;
        return true;
      }
    }
  }
  return false;
}

// The value as JSON text for attrs; nullopt for null (dropped).
std::optional<std::string> AttrJson(element v) {
  std::string out;
  switch (v.type()) {
    case element_type::STRING:
      AppendJsonString(out, std::string_view(v.get_string().value_unsafe()));
      break;
    case element_type::INT64:
      out = std::to_string(v.get_int64().value_unsafe());
      break;
    case element_type::UINT64:
      out = std::to_string(v.get_uint64().value_unsafe());
      break;
    case element_type::DOUBLE:
      AppendJsonNumber(out, v.get_double().value_unsafe());
      break;
    case element_type::BOOL:
      out = v.get_bool().value_unsafe() ? "true" : "false";
      break;
    case element_type::NULL_VALUE:
      return std::nullopt;
    case element_type::ARRAY:
    case element_type::OBJECT:
      AppendJsonString(out, simdjson::to_string(v));
      break;
  }
  return out;
}

// The value as plain text (IDs, messages): strings as they are, the rest as JSON.
std::string PlainText(element v) {
  switch (v.type()) {
    case element_type::STRING:
      return std::string(v.get_string().value_unsafe());
    case element_type::INT64:
      return std::to_string(v.get_int64().value_unsafe());
    case element_type::UINT64:
      return std::to_string(v.get_uint64().value_unsafe());
    default:
      return simdjson::to_string(v);
  }
}

// Epoch numbers are told apart by magnitude: seconds, ms, us or ns.
std::optional<int64_t> EpochToNanos(double v) {
  if (!std::isfinite(v) || v < 0) return std::nullopt;
  double ns;
  if (v < 1e11)
    ns = v * 1e9;
  else if (v < 1e14)
    ns = v * 1e6;
  else if (v < 1e17)
    ns = v * 1e3;
  else
    ns = v;
  if (ns > 9.2e18) return std::nullopt;
  return static_cast<int64_t>(ns);
}

std::optional<int64_t> ParseTs(element v) {
  switch (v.type()) {
    case element_type::INT64: {
      // Integers stay exact: seconds, ms, us or ns by magnitude.
      const int64_t i = v.get_int64().value_unsafe();
      if (i < 0) return std::nullopt;
      const int64_t scale = i < 100'000'000'000           ? 1'000'000'000
                            : i < 100'000'000'000'000     ? 1'000'000
                            : i < 100'000'000'000'000'000 ? 1'000
                                                          : 1;
      int64_t ns;
      if (__builtin_mul_overflow(i, scale, &ns)) return std::nullopt;  // past 2262
      return ns;
    }
    case element_type::UINT64:
      return std::nullopt;
    case element_type::DOUBLE:
      return EpochToNanos(v.get_double().value_unsafe());
    case element_type::STRING: {
      std::string_view s = v.get_string().value_unsafe();
      double d;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec == std::errc() && p == s.data() + s.size()) return EpochToNanos(d);
      auto t = ParseRfc3339(s);
      // The collector takes no time before 1970, as for the numbers above.
      if (!t.ok() || ToUnixNanos(*t) < 0) return std::nullopt;
      return ToUnixNanos(*t);
    }
    default:
      return std::nullopt;
  }
}

std::optional<std::string_view> LevelFromNumber(double n) {
  if (n < 10) {  // syslog severities 0 (emergency) .. 7 (debug)
    if (n <= 2) return "fatal";
    if (n <= 3) return "error";
    if (n <= 4) return "warn";
    if (n <= 6) return "info";
    return "debug";
  }
  if (n <= 10) return "trace";  // pino / bunyan numbers
  if (n <= 20) return "debug";
  if (n <= 30) return "info";
  if (n <= 40) return "warn";
  if (n <= 50) return "error";
  return "fatal";
}

std::optional<std::string_view> NormalizeLevel(element v) {
  switch (v.type()) {
    case element_type::INT64:
      return LevelFromNumber(static_cast<double>(v.get_int64().value_unsafe()));
    case element_type::UINT64:
      return LevelFromNumber(static_cast<double>(v.get_uint64().value_unsafe()));
    case element_type::DOUBLE:
      return LevelFromNumber(v.get_double().value_unsafe());
    case element_type::STRING:
      break;
    default:
      return std::nullopt;
  }
  std::string s(Trim(v.get_string().value_unsafe()));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "trace" || s == "trc" || s == "verbose" || s == "finest" || s == "finer") return "trace";
  if (s == "debug" || s == "dbg" || s == "fine") return "debug";
  if (s == "info" || s == "inf" || s == "information" || s == "informational" || s == "notice") {
    return "info";
  }
  if (s == "warn" || s == "warning" || s == "wrn") return "warn";
  if (s == "error" || s == "err" || s == "eror") return "error";
  if (s == "fatal" || s == "critical" || s == "crit" || s == "panic" || s == "dpanic" ||
      s == "emerg" || s == "emergency" || s == "alert" || s == "severe") {
    return "fatal";
  }
  return std::nullopt;
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

// W3C: version "00", 32-hex trace id, 16-hex parent id, 2-hex flags; the
// all-zero ids are invalid.
bool ParseTraceparent(std::string_view tp, std::string* trace_id, std::string* span_id) {
  tp = Trim(tp);
  if (tp.size() != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return false;
  const std::string_view version = tp.substr(0, 2), trace = tp.substr(3, 32),
                         span = tp.substr(36, 16), flags = tp.substr(53, 2);
  if (version != "00" || !IsHex(trace) || !IsHex(span) || !IsHex(flags)) return false;
  if (trace.find_first_not_of('0') == std::string_view::npos ||
      span.find_first_not_of('0') == std::string_view::npos) {
    return false;
  }
  *trace_id = std::string(trace);
  *span_id = std::string(span);
  for (char& c : *trace_id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : *span_id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return true;
}

}  // namespace

struct LogLineMapper::Impl {
  std::string service;
  std::string instance;
  simdjson::dom::parser parser;
  std::string padded;  // the line copied with simdjson's padding

  // Per line.
  std::array<std::array<std::optional<element>, 7>, kGroups> found;
  std::vector<std::pair<std::string, std::string>> attrs;  // key, JSON value

  void SetAttr(std::string key, std::string json) {
    for (auto& [k, v] : attrs) {
      if (k == key) {
        v = std::move(json);
        return;
      }
    }
    attrs.emplace_back(std::move(key), std::move(json));
  }

  void AddAttr(std::string key, element v) {
    if (auto json = AttrJson(v)) SetAttr(std::move(key), std::move(*json));
  }

  void Flatten(element obj, const std::string& prefix, int depth) {
    const simdjson::dom::object fields = obj.get_object().value_unsafe();
    for (auto field : fields) {
      std::string key = prefix + std::string(field.key);
      if (field.value.type() == element_type::OBJECT && depth < kMaxFlattenDepth) {
        Flatten(field.value, key + ".", depth + 1);
      } else {
        AddAttr(std::move(key), field.value);
      }
    }
  }

  // Moves a nested value that flattening put into attrs under `key` (such as
  // ECS's {"trace":{"id":...}}) into the alias slot, if that slot is empty.
  void PromoteFlattened(std::string_view key, int group, int index, element root) {
    if (found[group][index]) return;
    size_t dot = key.find('.');
    auto parent = root.at_key(key.substr(0, dot));
    if (parent.error() || parent.value_unsafe().type() != element_type::OBJECT) return;
    auto child = parent.value_unsafe().at_key(key.substr(dot + 1));
    if (child.error()) return;
    found[group][index] = child.value_unsafe();
    std::erase_if(attrs, [&](const auto& kv) { return kv.first == key; });
  }

  // Index of the first alias present in `group`, or -1.
  int First(int group) const {
    for (int i = 0; i < static_cast<int>(found[group].size()); ++i) {
      if (found[group][i]) return i;
    }
    return -1;
  }

  // Every present alias of `group` except `used` goes to attrs under its own name.
  void RestToAttrs(int group, int used) {
    for (int i = 0; i < static_cast<int>(found[group].size()); ++i) {
      if (i != used && found[group][i]) AddAttr(std::string(kAliases[group][i]), *found[group][i]);
    }
  }

  // First alias of `group` whose value is a usable ID (non-empty string or integer).
  std::optional<std::string> TakeId(int group) {
    int used = -1;
    std::string id;
    for (int i = 0; i < static_cast<int>(found[group].size()) && used < 0; ++i) {
      if (!found[group][i]) continue;
      element v = *found[group][i];
      if (v.type() == element_type::STRING || v.type() == element_type::INT64 ||
          v.type() == element_type::UINT64) {
        id = PlainText(v);
        if (!id.empty() && id.size() <= kMaxIdBytes) used = i;
      }
    }
    RestToAttrs(group, used);
    if (used < 0) return std::nullopt;
    return id;
  }

  void AppendHead(std::string& out, int64_t ts_ns, std::string_view level) {
    out += "{\"ts\":";
    out += std::to_string(ts_ns);
    out += ",\"service\":";
    AppendJsonString(out, service);
    out += ",\"instance\":";
    AppendJsonString(out, instance);
    out += ",\"level\":\"";
    out += level;
    out += '"';
  }

  // `parse_error` (may be empty) goes to attrs unless `extra` has one already.
  void AppendPlain(std::string_view line, TimePoint read_time, std::span<const ExtraAttr> extra,
                   std::string_view parse_error, std::string& out) {
    AppendHead(out, ToUnixNanos(read_time), "info");
    out += ",\"message\":";
    AppendJsonString(out, line);
    bool first = true;
    auto attr = [&](std::string_view key, auto&& append_value) {
      out += first ? ",\"attrs\":{" : ",";
      first = false;
      AppendJsonString(out, key);
      out += ':';
      append_value();
    };
    for (const auto& e : extra) {
      if (e.key == kParseErrorAttr) parse_error = {};
      attr(e.key, [&] { out += e.json; });
    }
    if (!parse_error.empty()) attr(kParseErrorAttr, [&] { AppendJsonString(out, parse_error); });
    out += first ? "}\n" : "}}\n";
  }

  void AppendMapped(element root, TimePoint read_time, std::span<const ExtraAttr> extra,
                    std::string& out) {
    for (auto& g : found) g.fill(std::nullopt);
    attrs.clear();
    for (const auto& e : extra) SetAttr(std::string(e.key), std::string(e.json));
    const simdjson::dom::object fields = root.get_object().value_unsafe();
    for (auto field : fields) {
      int group, index;
      if (FindAlias(field.key, &group, &index)) {
        found[group][index] = field.value;
      } else if (field.key == "attrs" && field.value.type() == element_type::OBJECT) {
        Flatten(field.value, "", 1);
      } else if (field.value.type() == element_type::OBJECT) {
        Flatten(field.value, std::string(field.key) + ".", 1);
      } else {
        AddAttr(std::string(field.key), field.value);
      }
    }
    PromoteFlattened("trace.id", kTrace, 2, root);
    PromoteFlattened("span.id", kSpan, 0, root);

    int64_t ts_ns = ToUnixNanos(read_time);
    int ts_used = -1;
    for (int i = 0; i < static_cast<int>(found[kTs].size()) && ts_used < 0; ++i) {
      if (!found[kTs][i]) continue;
      if (auto ns = ParseTs(*found[kTs][i])) {
        ts_ns = *ns;
        ts_used = i;
      }
    }
    RestToAttrs(kTs, ts_used);

    std::string_view level = "info";
    int level_used = -1;
    for (int i = 0; i < static_cast<int>(found[kLevel].size()) && level_used < 0; ++i) {
      if (!found[kLevel][i]) continue;
      if (auto l = NormalizeLevel(*found[kLevel][i])) {
        level = *l;
        level_used = i;
      }
    }
    RestToAttrs(kLevel, level_used);

    std::optional<std::string> message;
    const int msg_used = First(kMessage);
    if (msg_used >= 0) message = PlainText(*found[kMessage][msg_used]);
    RestToAttrs(kMessage, msg_used);

    std::string tp_trace, tp_span;
    bool tp_ok = false;
    if (found[kTraceparent][0] && found[kTraceparent][0]->type() == element_type::STRING) {
      tp_ok = ParseTraceparent(found[kTraceparent][0]->get_string().value_unsafe(), &tp_trace,
                               &tp_span);
    }
    RestToAttrs(kTraceparent, tp_ok ? 0 : -1);
    std::optional<std::string> trace_id = TakeId(kTrace);
    std::optional<std::string> span_id = TakeId(kSpan);
    std::optional<std::string> parent_id = TakeId(kParent);
    if (tp_ok) {
      // The W3C id is the preferred correlation ID; keep a differing alias visible.
      if (trace_id && *trace_id != tp_trace) SetAttr("trace_id", JsonString(*trace_id));
      trace_id = tp_trace;
      if (!span_id) span_id = tp_span;
    }

    AppendHead(out, ts_ns, level);
    if (message) {
      out += ",\"message\":";
      AppendJsonString(out, *message);
    }
    auto append_id = [&out](std::string_view name, const std::optional<std::string>& id) {
      if (!id) return;
      out += ",\"";
      out += name;
      out += "\":";
      AppendJsonString(out, *id);
    };
    append_id("trace_id", trace_id);
    append_id("span_id", span_id);
    append_id("parent_span_id", parent_id);
    if (!attrs.empty()) {
      out += ",\"attrs\":{";
      bool first = true;
      for (const auto& [k, v] : attrs) {
        if (!first) out += ',';
        first = false;
        AppendJsonString(out, k);
        out += ':';
        out += v;
      }
      out += '}';
    }
    out += "}\n";
  }
};

LogLineMapper::LogLineMapper(std::string service, std::string instance)
    : impl_(std::make_unique<Impl>()) {
  impl_->service = std::move(service);
  impl_->instance = std::move(instance);
  // Flattening and nested values written back as text walk the document
  // recursively: simdjson's own parse (iterative) refuses nesting past
  // kMaxJsonDepth — the bound CheckJsonDepth applies, to the level — so no
  // document deeper than that is walked, without a second pass over every
  // line (CheckJsonDepth cost 12% of a JSON line's mapping).
  // A small first capacity: simdjson grows it to the longest line it meets
  // (64 KiB up front cost ~1 MB per mapper, and the intake makes one per request).
  if (impl_->parser.allocate(1024, kMaxJsonDepth) != simdjson::SUCCESS) {
    throw std::bad_alloc();
  }
}

LogLineMapper::~LogLineMapper() = default;

std::string_view LogLineMapper::AppendEvent(std::string_view line, TimePoint read_time,
                                            std::string& out, std::span<const ExtraAttr> extra) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  std::string_view trimmed = Trim(line);
  if (trimmed.empty() || trimmed.front() != '{') {
    impl_->AppendPlain(line, read_time, extra, {}, out);
    return {};
  }
  auto& buf = impl_->padded;
  if (buf.size() < line.size() + simdjson::SIMDJSON_PADDING) {
    buf.resize(line.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(buf.data(), line.data(), line.size());
  element root;
  const simdjson::error_code error = impl_->parser.parse(buf.data(), line.size(), false).get(root);
  if (error != simdjson::SUCCESS || root.type() != element_type::OBJECT) {
    // Not JSON is plain text; JSON too deep or with bytes that are not
    // UTF-8 is a line the parser could not read.
    const std::string_view why = error == simdjson::DEPTH_ERROR  ? kJsonTooDeep
                                 : error == simdjson::UTF8_ERROR ? kInvalidUtf8
                                                                 : std::string_view();
    impl_->AppendPlain(line, read_time, extra, why, out);
    return why;
  }
  impl_->AppendMapped(root, read_time, extra, out);
  return {};
}

}  // namespace hive::agent
