#include "hive/collector/otlp.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "hive/core/text.h"

namespace hive::collector {
namespace {

using nlohmann::json;

// Throws nothing: every access below checks types first.
const json* Field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<const json*> ArrayField(const json& obj, const char* key, std::string_view where) {
  const json* v = Field(obj, key);
  if (v == nullptr) return static_cast<const json*>(nullptr);
  if (!v->is_array()) {
    return Status::InvalidArgument(std::string(where) + "." + key + " must be an array");
  }
  return v;
}

// An int64/uint64 field encoded as a decimal string or a JSON number.
Result<uint64_t> Uint64Field(const json& obj, const char* key) {
  const json* v = Field(obj, key);
  if (v == nullptr) return uint64_t{0};
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer() && v->get<int64_t>() >= 0)
    return static_cast<uint64_t>(v->get<int64_t>());
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    uint64_t out = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return out;
  }
  return Status::InvalidArgument(std::string("'") + key +
                                 "' must be an unsigned 64-bit integer (a decimal string)");
}

// An enum field: an integer, or the enum value's name from `names`.
Result<int> EnumField(const json& obj, const char* key,
                      const std::vector<std::string_view>& names) {
  const json* v = Field(obj, key);
  if (v == nullptr) return 0;
  if (v->is_number_integer()) return static_cast<int>(v->get<int64_t>());
  if (v->is_string()) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (v->get_ref<const std::string&>() == names[i]) return static_cast<int>(i);
    }
  }
  return Status::InvalidArgument(std::string("'") + key + "' must be an enum integer");
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

// "" when absent; InvalidArgument when not `digits` hex digits or all zero.
Result<std::string> HexId(const json& obj, const char* key, size_t digits, bool required) {
  const json* v = Field(obj, key);
  if (v == nullptr || (v->is_string() && v->get_ref<const std::string&>().empty())) {
    if (required) return Status::InvalidArgument(std::string("'") + key + "' is required");
    return std::string();
  }
  if (!v->is_string())
    return Status::InvalidArgument(std::string("'") + key + "' must be a string");
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() != digits || !IsHex(s)) {
    return Status::InvalidArgument(std::string("'") + key + "' must be " + std::to_string(digits) +
                                   " hex digits, got '" + s.substr(0, 40) + "'");
  }
  if (s.find_first_not_of('0') == std::string::npos) {
    return Status::InvalidArgument(std::string("'") + key + "' must not be all zero");
  }
  return NormalizeTraceId(s);
}

// An AnyValue as a flat attribute value; arrays, kvlists and bytes become
// their JSON text.
Result<AttrValue> AnyValueOf(const json& v) {
  if (!v.is_object()) return Status::InvalidArgument("an AnyValue must be an object");
  if (const json* s = Field(v, "stringValue"); s && s->is_string())
    return AttrValue(s->get<std::string>());
  if (const json* b = Field(v, "boolValue"); b && b->is_boolean()) return AttrValue(b->get<bool>());
  if (const json* i = Field(v, "intValue")) {
    if (i->is_number_integer()) return AttrValue(i->get<int64_t>());
    if (i->is_string()) {
      const std::string& s = i->get_ref<const std::string&>();
      int64_t out = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return AttrValue(out);
    }
    return Status::InvalidArgument("intValue must be a 64-bit integer (a decimal string)");
  }
  if (const json* d = Field(v, "doubleValue")) {
    if (d->is_number()) return AttrValue(d->get<double>());
    if (d->is_string()) {
      const std::string& s = d->get_ref<const std::string&>();
      if (s == "NaN" || s == "Infinity" || s == "-Infinity") return AttrValue(s);
    }
    return Status::InvalidArgument("doubleValue must be a number");
  }
  if (const json* b = Field(v, "bytesValue"); b && b->is_string())
    return AttrValue(b->get<std::string>());
  if (const json* a = Field(v, "arrayValue")) return AttrValue(a->dump());
  if (const json* k = Field(v, "kvlistValue")) return AttrValue(k->dump());
  return AttrValue(std::string());
}

using Attrs = std::vector<std::pair<std::string, AttrValue>>;

Status ReadAttributes(const json& obj, Attrs* out) {
  Result<const json*> list = ArrayField(obj, "attributes", "record");
  if (!list.ok()) return list.status();
  if (*list == nullptr) return Status::Ok();
  for (const json& kv : **list) {
    const json* key = Field(kv, "key");
    if (key == nullptr || !key->is_string()) {
      return Status::InvalidArgument("an attribute needs a string 'key'");
    }
    const json* value = Field(kv, "value");
    AttrValue parsed = std::string();
    if (value != nullptr) {
      Result<AttrValue> v = AnyValueOf(*value);
      if (!v.ok()) return v.status().WithContext("attribute '" + key->get<std::string>() + "'");
      parsed = std::move(*v);
    }
    const std::string& k = key->get_ref<const std::string&>();
    bool seen = false;
    for (const auto& [existing, unused] : *out) seen = seen || existing == k;
    if (!seen) out->emplace_back(k, std::move(parsed));
  }
  return Status::Ok();
}

std::string StringOf(const AttrValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return "";
}

struct Resource {
  std::string service = "unknown_service";
  std::string instance;
};

Result<Resource> ReadResource(const json& container) {
  Resource r;
  const json* resource = Field(container, "resource");
  if (resource == nullptr) return r;
  Attrs attrs;
  HIVE_RETURN_IF_ERROR(ReadAttributes(*resource, &attrs));
  std::string host;
  for (const auto& [k, v] : attrs) {
    if (k == "service.name") r.service = SanitizeServiceName(StringOf(v));
    if (k == "service.instance.id") r.instance = SanitizeServiceName(StringOf(v));
    if (k == "host.name") host = SanitizeServiceName(StringOf(v));
  }
  if (r.instance.empty()) r.instance = host;
  return r;
}

Result<Span> SpanOf(const json& s, const Resource& resource) {
  if (!s.is_object()) return Status::InvalidArgument("a span must be an object");
  Span span;
  span.service = resource.service;
  span.instance = resource.instance;
  auto trace = HexId(s, "traceId", 32, true);
  if (!trace.ok()) return trace.status();
  span.trace_id = std::move(*trace);
  auto id = HexId(s, "spanId", 16, true);
  if (!id.ok()) return id.status();
  span.span_id = std::move(*id);
  auto parent = HexId(s, "parentSpanId", 16, false);
  if (!parent.ok()) return parent.status();
  span.parent_span_id = std::move(*parent);
  if (const json* name = Field(s, "name"); name && name->is_string())
    span.name = name->get<std::string>();
  auto kind = EnumField(s, "kind",
                        {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
                         "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"});
  if (!kind.ok()) return kind.status();
  switch (*kind) {
    case 0:
    case 1:
      span.kind = SpanKind::kInternal;
      break;
    case 2:
      span.kind = SpanKind::kServer;
      break;
    case 3:
      span.kind = SpanKind::kClient;
      break;
    case 4:
      span.kind = SpanKind::kProducer;
      break;
    case 5:
      span.kind = SpanKind::kConsumer;
      break;
    default:
      return Status::InvalidArgument("'kind' " + std::to_string(*kind) + " is not a SpanKind");
  }
  auto start = Uint64Field(s, "startTimeUnixNano");
  if (!start.ok()) return start.status();
  auto end = Uint64Field(s, "endTimeUnixNano");
  if (!end.ok()) return end.status();
  if (*start == 0 || *start > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::InvalidArgument("'startTimeUnixNano' is required");
  }
  if (*end < *start) return Status::InvalidArgument("'endTimeUnixNano' is before the start");
  span.start_ns = static_cast<int64_t>(*start);
  span.duration_ms = static_cast<double>(*end - *start) / 1e6;
  if (const json* status = Field(s, "status")) {
    auto code =
        EnumField(*status, "code", {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"});
    if (!code.ok()) return code.status();
    if (*code < 0 || *code > 2) return Status::InvalidArgument("status.code is not a StatusCode");
    span.error = *code == 2;
  }
  HIVE_RETURN_IF_ERROR(ReadAttributes(s, &span.attrs));
  // Newer semantic conventions name it http.response.status_code.
  if (!span.IntAttr("http.status_code")) {
    if (auto code = span.IntAttr("http.response.status_code")) {
      span.attrs.emplace_back("http.status_code", *code);
    }
  }
  return span;
}

LogLevel LevelOfSeverity(int number, std::string_view text) {
  if (number >= 21) return LogLevel::kFatal;
  if (number >= 17) return LogLevel::kError;
  if (number >= 13) return LogLevel::kWarn;
  if (number >= 9) return LogLevel::kInfo;
  if (number >= 5) return LogLevel::kDebug;
  if (number >= 1) return LogLevel::kTrace;
  return ParseLogLevel(text).value_or(LogLevel::kInfo);
}

Result<LogEvent> LogOf(const json& r, const Resource& resource, TimePoint now) {
  if (!r.is_object()) return Status::InvalidArgument("a log record must be an object");
  LogEvent e;
  e.service = resource.service;
  e.instance = resource.instance;
  auto time = Uint64Field(r, "timeUnixNano");
  if (!time.ok()) return time.status();
  auto observed = Uint64Field(r, "observedTimeUnixNano");
  if (!observed.ok()) return observed.status();
  uint64_t ts = *time != 0 ? *time : *observed;
  if (ts > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::InvalidArgument("'timeUnixNano' is out of range");
  }
  e.ts_ns = ts != 0 ? static_cast<int64_t>(ts) : ToUnixNanos(now);
  auto severity = Uint64Field(r, "severityNumber");
  if (!severity.ok() || *severity > 24) {
    return Status::InvalidArgument("'severityNumber' must be an integer from 0 to 24");
  }
  std::string severity_text;
  if (const json* t = Field(r, "severityText"); t && t->is_string())
    severity_text = t->get<std::string>();
  e.level = LevelOfSeverity(static_cast<int>(*severity), severity_text);
  if (const json* body = Field(r, "body")) {
    Result<AttrValue> v = AnyValueOf(*body);
    if (!v.ok()) return v.status().WithContext("body");
    if (const auto* s = std::get_if<std::string>(&*v)) {
      e.message = *s;
    } else if (const auto* i = std::get_if<int64_t>(&*v)) {
      e.message = std::to_string(*i);
    } else if (const auto* d = std::get_if<double>(&*v)) {
      AppendJsonNumber(e.message, *d);
    } else {
      e.message = std::get<bool>(*v) ? "true" : "false";
    }
  }
  auto trace = HexId(r, "traceId", 32, false);
  if (!trace.ok()) return trace.status();
  e.trace_id = std::move(*trace);
  auto span = HexId(r, "spanId", 16, false);
  if (!span.ok()) return span.status();
  e.span_id = std::move(*span);
  HIVE_RETURN_IF_ERROR(ReadAttributes(r, &e.attrs));
  return e;
}

// Walks resource<X> / scope<X> / <records>, calling `each` per record.
template <typename Fn>
Status Walk(const json& request, const char* resources_key, const char* scopes_key,
            const char* records_key, Fn each) {
  Result<const json*> resources = ArrayField(request, resources_key, "request");
  if (!resources.ok()) return resources.status();
  if (*resources == nullptr) return Status::Ok();
  for (const json& rs : **resources) {
    if (!rs.is_object())
      return Status::InvalidArgument(std::string(resources_key) + " items must be objects");
    Result<Resource> resource = ReadResource(rs);
    if (!resource.ok()) return resource.status().WithContext("resource");
    Result<const json*> scopes = ArrayField(rs, scopes_key, resources_key);
    if (!scopes.ok()) return scopes.status();
    if (*scopes == nullptr) continue;
    for (const json& ss : **scopes) {
      Result<const json*> records = ArrayField(ss, records_key, scopes_key);
      if (!records.ok()) return records.status();
      if (*records == nullptr) continue;
      for (const json& record : **records) each(record, *resource);
    }
  }
  return Status::Ok();
}

Result<json> ParseRequest(std::string_view body) {
  // Array and kvlist AnyValues are kept as their JSON text (dump() recurses)
  // and a histogram bucket is copied (which recurses too): bound the nesting
  // before the tree is built.
  HIVE_RETURN_IF_ERROR(CheckJsonDepth(body));
  json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) return Status::InvalidArgument("the body is not valid JSON");
  if (!request.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  return request;
}

std::string PromName(std::string_view name, bool label) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (!label && c == ':');
    out += ok ? c : '_';
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
  return out;
}

// A double or int64 data point value (asDouble / asInt).
Result<double> PointValue(const json& p, const char* double_key, const char* int_key) {
  if (const json* d = Field(p, double_key)) {
    if (d->is_number()) return d->get<double>();
    if (d->is_string()) {
      const std::string& s = d->get_ref<const std::string&>();
      if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
      if (s == "Infinity") return std::numeric_limits<double>::infinity();
      if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    }
    return Status::InvalidArgument(std::string("'") + double_key + "' must be a number");
  }
  if (const json* i = Field(p, int_key)) {
    if (i->is_number_integer()) return static_cast<double>(i->get<int64_t>());
    if (i->is_string()) {
      const std::string& s = i->get_ref<const std::string&>();
      int64_t v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) {
        return static_cast<double>(v);
      }
    }
    return Status::InvalidArgument(std::string("'") + int_key + "' must be a 64-bit integer");
  }
  return Status::InvalidArgument("a data point needs a value");
}

std::string LabelValue(const AttrValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return FormatSampleValue(*d);
  return std::get<bool>(v) ? "true" : "false";
}

// The samples of one data point, labelled with its attributes and stamped
// with its time.
struct PointSamples {
  const std::string& family;
  Labels labels;
  Result<uint64_t> time;
  std::vector<ParsedSample> samples;

  void Add(std::string sample_name, Labels l, double value) {
    std::sort(l.begin(), l.end());
    ParsedSample ps;
    ps.name = std::move(sample_name);
    ps.family = family;
    ps.labels = std::move(l);
    ps.value = value;
    if (time.ok() && *time != 0) ps.timestamp_ms = static_cast<int64_t>(*time / 1'000'000);
    samples.push_back(std::move(ps));
  }
};

// A histogram point: cumulative _bucket samples, _sum and _count.
Status HistogramSamples(const json& p, PointSamples& out) {
  const std::string& family = out.family;
  Result<uint64_t> count = Uint64Field(p, "count");
  const json* sum = Field(p, "sum");
  const json* bounds = Field(p, "explicitBounds");
  const json* counts = Field(p, "bucketCounts");
  const size_t n_bounds = bounds && bounds->is_array() ? bounds->size() : 0;
  if (!count.ok() || (sum && !sum->is_number()) || (bounds && !bounds->is_array()) || !counts ||
      !counts->is_array() || counts->size() != n_bounds + 1) {
    return Status::InvalidArgument("histogram '" + family +
                                   "': bucketCounts must have one more entry than explicitBounds");
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= n_bounds; ++i) {
    Result<uint64_t> c = Uint64Field(json{{"c", (*counts)[i]}}, "c");
    if (!c.ok() || (i < n_bounds && !(*bounds)[i].is_number())) {
      return Status::InvalidArgument("histogram '" + family + "': bad bucket");
    }
    cumulative += *c;
    Labels l = out.labels;
    l.emplace_back("le", i < n_bounds ? FormatSampleValue((*bounds)[i].get<double>()) : "+Inf");
    out.Add(family + "_bucket", std::move(l), static_cast<double>(cumulative));
  }
  if (sum) out.Add(family + "_sum", out.labels, sum->get<double>());
  out.Add(family + "_count", out.labels, static_cast<double>(*count));
  return Status::Ok();
}

// A summary point: one sample per quantile, _sum and _count.
Status SummarySamples(const json& p, PointSamples& out) {
  const std::string& family = out.family;
  Result<uint64_t> count = Uint64Field(p, "count");
  const json* sum = Field(p, "sum");
  Result<const json*> quantiles = ArrayField(p, "quantileValues", "summary");
  if (!count.ok() || (sum && !sum->is_number()) || !quantiles.ok()) {
    return Status::InvalidArgument("summary '" + family + "': bad count, sum or quantiles");
  }
  if (*quantiles) {
    for (const json& q : **quantiles) {
      const json* quantile = Field(q, "quantile");
      const json* value = Field(q, "value");
      if (!quantile || !quantile->is_number() || !value || !value->is_number()) {
        return Status::InvalidArgument("summary '" + family + "': bad quantile");
      }
      Labels l = out.labels;
      l.emplace_back("quantile", FormatSampleValue(quantile->get<double>()));
      out.Add(family, std::move(l), value->get<double>());
    }
  }
  if (sum) out.Add(family + "_sum", out.labels, sum->get<double>());
  out.Add(family + "_count", out.labels, static_cast<double>(*count));
  return Status::Ok();
}

// The samples of one data point of `family`.
Status PointToSamples(const json& p, MetricType type, PointSamples& out) {
  Attrs attrs;
  HIVE_RETURN_IF_ERROR(ReadAttributes(p, &attrs));
  out.time = Uint64Field(p, "timeUnixNano");
  if (!out.time.ok()) return out.time.status();
  for (const auto& [k, v] : attrs) out.labels.emplace_back(PromName(k, true), LabelValue(v));
  std::sort(out.labels.begin(), out.labels.end());
  switch (type) {
    case MetricType::kHistogram:
      return HistogramSamples(p, out);
    case MetricType::kSummary:
      return SummarySamples(p, out);
    default: {
      Result<double> v = PointValue(p, "asDouble", "asInt");
      if (!v.ok()) return v.status();
      out.Add(out.family, out.labels, *v);
      return Status::Ok();
    }
  }
}

// Where a metric's data points are and what they become: its data object
// (null: a kind we do not keep), its type, its family name (a monotonic sum
// gets _total). Delta sums are refused: counted in *rejected.
const json* MetricData(const json& metric, std::string& family, MetricType& type, size_t* rejected,
                       std::string* first_error) {
  if (const json* gauge = Field(metric, "gauge")) {
    type = MetricType::kGauge;
    return gauge;
  }
  if (const json* sum = Field(metric, "sum")) {
    auto temporality =
        EnumField(*sum, "aggregationTemporality",
                  {"AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA",
                   "AGGREGATION_TEMPORALITY_CUMULATIVE"});
    const json* monotonic = Field(*sum, "isMonotonic");
    const bool is_monotonic = monotonic && monotonic->is_boolean() && monotonic->get<bool>();
    if (temporality.ok() && *temporality == 1 && is_monotonic) {
      Result<const json*> points = ArrayField(*sum, "dataPoints", "sum");
      const size_t n = points.ok() && *points ? (*points)->size() : 0;
      *rejected += n;
      if (n > 0 && first_error->empty()) *first_error = "delta sums are not supported";
      return nullptr;
    }
    type = is_monotonic ? MetricType::kCounter : MetricType::kGauge;
    if (is_monotonic && !family.ends_with("_total")) family += "_total";
    return sum;
  }
  if (const json* histogram = Field(metric, "histogram")) {
    type = MetricType::kHistogram;
    return histogram;
  }
  if (const json* summary = Field(metric, "summary")) {
    type = MetricType::kSummary;
    return summary;
  }
  return nullptr;  // exponential histograms and empty metrics carry nothing we keep
}

// The data points of one OTLP metric as samples of its family.
Status AddMetric(const json& metric, ParsedExposition* out, size_t* rejected,
                 std::string* first_error) {
  const json* name = Field(metric, "name");
  if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return Status::InvalidArgument("a metric needs a 'name'");
  }
  std::string family = PromName(name->get<std::string>(), false);
  std::string help;
  if (const json* d = Field(metric, "description"); d && d->is_string())
    help = d->get<std::string>();
  MetricType type = MetricType::kGauge;
  const json* data = MetricData(metric, family, type, rejected, first_error);
  if (data == nullptr) return Status::Ok();
  Result<const json*> points = ArrayField(*data, "dataPoints", family.c_str());
  if (!points.ok()) return points.status();
  if (*points == nullptr) return Status::Ok();
  // One name, one type: a second metric of the name with another type would
  // retype the first one's samples (a summary with _bucket series).
  if (auto it = out->families.find(family); it != out->families.end() && it->second.type != type) {
    *rejected += (*points)->size();
    if (first_error->empty()) {
      *first_error = "metric '" + family + "' was already sent as a " +
                     std::string(MetricTypeName(it->second.type));
    }
    return Status::Ok();
  }
  MetricFamily& f = out->families[family];
  f.name = family;
  f.type = type;
  f.help = help;
  for (const json& p : **points) {
    PointSamples point{family, {}, uint64_t{0}, {}};
    if (Status s = PointToSamples(p, type, point); !s.ok()) {
      ++*rejected;
      if (first_error->empty()) *first_error = s.message();
      continue;
    }
    for (ParsedSample& ps : point.samples) out->samples.push_back(std::move(ps));
  }
  return Status::Ok();
}

}  // namespace

Result<OtlpMetrics> ParseOtlpMetrics(std::string_view body) {
  Result<json> request = ParseRequest(body);
  if (!request.ok()) return request.status();
  OtlpMetrics out;
  Result<const json*> resources = ArrayField(*request, "resourceMetrics", "request");
  if (!resources.ok()) return resources.status();
  if (*resources == nullptr) return out;
  for (const json& rm : **resources) {
    if (!rm.is_object()) return Status::InvalidArgument("resourceMetrics items must be objects");
    Result<Resource> resource = ReadResource(rm);
    if (!resource.ok()) return resource.status().WithContext("resource");
    OtlpResourceMetrics r;
    r.service = resource->service;
    r.instance = resource->instance;
    Result<const json*> scopes = ArrayField(rm, "scopeMetrics", "resourceMetrics");
    if (!scopes.ok()) return scopes.status();
    if (*scopes == nullptr) continue;
    for (const json& sm : **scopes) {
      Result<const json*> metrics = ArrayField(sm, "metrics", "scopeMetrics");
      if (!metrics.ok()) return metrics.status();
      if (*metrics == nullptr) continue;
      for (const json& metric : **metrics) {
        HIVE_RETURN_IF_ERROR(AddMetric(metric, &r.exposition, &out.rejected, &out.error_message));
      }
    }
    if (!r.exposition.samples.empty()) out.resources.push_back(std::move(r));
  }
  return out;
}

Result<OtlpSpans> ParseOtlpTraces(std::string_view body) {
  Result<json> request = ParseRequest(body);
  if (!request.ok()) return request.status();
  OtlpSpans out;
  Status s = Walk(*request, "resourceSpans", "scopeSpans", "spans",
                  [&](const json& record, const Resource& resource) {
                    Result<Span> span = SpanOf(record, resource);
                    if (span.ok()) {
                      out.spans.push_back(std::move(*span));
                    } else if (++out.rejected == 1) {
                      out.error_message = span.status().message();
                    }
                  });
  if (!s.ok()) return s;
  return out;
}

Result<OtlpLogs> ParseOtlpLogs(std::string_view body, TimePoint now) {
  Result<json> request = ParseRequest(body);
  if (!request.ok()) return request.status();
  OtlpLogs out;
  Status s = Walk(*request, "resourceLogs", "scopeLogs", "logRecords",
                  [&](const json& record, const Resource& resource) {
                    Result<LogEvent> event = LogOf(record, resource, now);
                    if (event.ok()) {
                      out.events.push_back(std::move(*event));
                    } else if (++out.rejected == 1) {
                      out.error_message = event.status().message();
                    }
                  });
  if (!s.ok()) return s;
  return out;
}

std::string OtlpResponseJson(std::string_view rejected_field, size_t rejected,
                             std::string_view error_message) {
  if (rejected == 0 && error_message.empty()) return "{}";
  std::string out = "{\"partialSuccess\":{";
  AppendJsonString(out, rejected_field);
  out += ":\"" + std::to_string(rejected) + "\",\"errorMessage\":";
  AppendJsonString(out, error_message);
  out += "}}";
  return out;
}

std::string OtlpStatusJson(int grpc_code, std::string_view message) {
  std::string out = "{\"code\":" + std::to_string(grpc_code) + ",\"message\":";
  AppendJsonString(out, message);
  out += '}';
  return out;
}

std::string SanitizeServiceName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (out.size() == 63) break;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (out.empty() && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) continue;
    out += ok ? c : '-';
  }
  return out.empty() ? "unknown_service" : out;
}

}  // namespace hive::collector
