#include "hive/collector/prometheus_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

namespace hive::collector {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void SkipSpaces(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
}

std::string_view TakeToken(std::string_view& s) {
  SkipSpaces(s);
  size_t n = 0;
  while (n < s.size() && s[n] != ' ' && s[n] != '\t') ++n;
  std::string_view token = s.substr(0, n);
  s.remove_prefix(n);
  return token;
}

std::string_view TakeMetricName(std::string_view& s) {
  size_t n = 0;
  while (n < s.size() && (IsNameStart(s[n]) || s[n] == ':' || (n > 0 && IsDigit(s[n])))) ++n;
  std::string_view name = s.substr(0, n);
  s.remove_prefix(n);
  return name;
}

Result<std::string> UnescapeHelp(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (i + 1 == s.size()) return Status::InvalidArgument("HELP text ends in a lone backslash");
    char c = s[++i];
    if (c == '\\') {
      out += '\\';
    } else if (c == 'n') {
      out += '\n';
    } else {
      return Status::InvalidArgument(std::string("invalid escape \\") + c + " in HELP text");
    }
  }
  return out;
}

Result<double> ParseValue(std::string_view s) {
  if (s.empty()) return Status::InvalidArgument("missing sample value");
  std::string_view body = s.front() == '+' ? s.substr(1) : s;
  if (body.empty() || body.front() == '+' || (body.front() == '-' && s.front() == '+')) {
    return Status::InvalidArgument("invalid sample value '" + std::string(s.substr(0, 40)) + "'");
  }
  double v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc() || end != body.data() + body.size()) {
    return Status::InvalidArgument("invalid sample value '" + std::string(s.substr(0, 40)) + "'");
  }
  return v;
}

// Parses `{a="x",b="y"}` at the front of s (s starts at '{').
Status ParseLabels(std::string_view& s, Labels* labels) {
  s.remove_prefix(1);
  std::set<std::string> seen;
  while (true) {
    SkipSpaces(s);
    if (s.empty()) return Status::InvalidArgument("unterminated label set");
    if (s.front() == '}') {
      s.remove_prefix(1);
      break;
    }
    size_t n = 0;
    while (n < s.size() && (IsNameStart(s[n]) || (n > 0 && IsDigit(s[n])))) ++n;
    if (n == 0) {
      return Status::InvalidArgument("invalid label name at '" + std::string(s.substr(0, 20)) +
                                     "'");
    }
    std::string name(s.substr(0, n));
    s.remove_prefix(n);
    SkipSpaces(s);
    if (s.empty() || s.front() != '=') {
      return Status::InvalidArgument("expected '=' after label name '" + name + "'");
    }
    s.remove_prefix(1);
    SkipSpaces(s);
    if (s.empty() || s.front() != '"') {
      return Status::InvalidArgument("label '" + name + "' value must be a quoted string");
    }
    s.remove_prefix(1);
    std::string value;
    bool closed = false;
    while (!s.empty()) {
      char c = s.front();
      s.remove_prefix(1);
      if (c == '"') {
        closed = true;
        break;
      }
      if (c != '\\') {
        value += c;
        continue;
      }
      if (s.empty()) break;
      char e = s.front();
      s.remove_prefix(1);
      if (e == '\\' || e == '"') {
        value += e;
      } else if (e == 'n') {
        value += '\n';
      } else {
        return Status::InvalidArgument(std::string("invalid escape \\") + e + " in label '" + name +
                                       "'");
      }
    }
    if (!closed) return Status::InvalidArgument("unterminated value of label '" + name + "'");
    if (name == "__name__") {
      return Status::InvalidArgument("label __name__ is not allowed in the exposition format");
    }
    if (!seen.insert(name).second) {
      return Status::InvalidArgument("duplicate label '" + name + "'");
    }
    labels->emplace_back(std::move(name), std::move(value));
    SkipSpaces(s);
    if (!s.empty() && s.front() == ',') {
      s.remove_prefix(1);
    } else if (s.empty() || s.front() != '}') {
      return Status::InvalidArgument("expected ',' or '}' in label set");
    }
  }
  std::sort(labels->begin(), labels->end());
  return Status::Ok();
}

bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool HasLabel(const Labels& labels, std::string_view name) {
  return std::any_of(labels.begin(), labels.end(), [&](const auto& l) { return l.first == name; });
}

// The family a sample name belongs to, given the TYPE lines seen so far.
std::string FamilyOf(std::string_view name, const std::map<std::string, MetricFamily>& families) {
  for (std::string_view suffix : {"_bucket", "_count", "_sum"}) {
    if (!HasSuffix(name, suffix)) continue;
    std::string base(name.substr(0, name.size() - suffix.size()));
    auto it = families.find(base);
    if (it == families.end()) continue;
    if (it->second.type == MetricType::kHistogram ||
        (it->second.type == MetricType::kSummary && suffix != "_bucket")) {
      return base;
    }
  }
  return std::string(name);
}

Status ParseLine(std::string_view line, ParsedExposition* out, std::set<std::string>* sampled,
                 std::set<std::string>* helped, std::set<std::string>* typed,
                 std::set<std::pair<std::string, Labels>>* series) {
  if (line.front() == '#') {
    std::string_view rest = line.substr(1);
    std::string_view keyword = TakeToken(rest);
    if (keyword != "HELP" && keyword != "TYPE") return Status::Ok();  // a comment
    SkipSpaces(rest);
    std::string_view name = TakeMetricName(rest);
    if (name.empty() || (!rest.empty() && rest.front() != ' ' && rest.front() != '\t')) {
      return Status::InvalidArgument("invalid metric name in # " + std::string(keyword));
    }
    std::string family(name);
    MetricFamily& f = out->families[family];
    f.name = family;
    if (keyword == "HELP") {
      if (!helped->insert(family).second) {
        return Status::InvalidArgument("second HELP line for '" + family + "'");
      }
      if (!rest.empty()) rest.remove_prefix(1);
      Result<std::string> help = UnescapeHelp(rest);
      if (!help.ok()) return help.status();
      f.help = std::move(*help);
      return Status::Ok();
    }
    if (!typed->insert(family).second) {
      return Status::InvalidArgument("second TYPE line for '" + family + "'");
    }
    if (sampled->contains(family)) {
      return Status::InvalidArgument("TYPE line for '" + family + "' after its samples");
    }
    std::string_view type_name = TakeToken(rest);
    SkipSpaces(rest);
    std::optional<MetricType> type = ParseMetricType(type_name);
    if (!type || !rest.empty()) {
      return Status::InvalidArgument("unknown metric type '" +
                                     std::string(type_name.substr(0, 30)) +
                                     "' (counter, gauge, histogram, summary, untyped)");
    }
    f.type = *type;
    return Status::Ok();
  }

  std::string_view rest = line;
  std::string_view name = TakeMetricName(rest);
  if (name.empty()) {
    return Status::InvalidArgument("invalid metric name at '" + std::string(line.substr(0, 30)) +
                                   "'");
  }
  ParsedSample sample;
  sample.name = std::string(name);
  if (!rest.empty() && rest.front() == '{') HIVE_RETURN_IF_ERROR(ParseLabels(rest, &sample.labels));
  if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t') {
    return Status::InvalidArgument("expected a space before the value of '" + sample.name + "'");
  }
  std::string_view value_text = TakeToken(rest);
  Result<double> value = ParseValue(value_text);
  if (!value.ok()) return value.status();
  sample.value = *value;
  std::string_view ts_text = TakeToken(rest);
  if (!ts_text.empty()) {
    int64_t ts = 0;
    auto [end, ec] = std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), ts);
    if (ec != std::errc() || end != ts_text.data() + ts_text.size()) {
      return Status::InvalidArgument("invalid timestamp '" + std::string(ts_text.substr(0, 30)) +
                                     "' (integer milliseconds)");
    }
    sample.timestamp_ms = ts;
  }
  SkipSpaces(rest);
  if (!rest.empty()) {
    return Status::InvalidArgument("unexpected text after the sample: '" +
                                   std::string(rest.substr(0, 30)) + "'");
  }
  sample.family = FamilyOf(sample.name, out->families);
  MetricFamily& f = out->families[sample.family];
  f.name = sample.family;
  if (f.type == MetricType::kHistogram && HasSuffix(sample.name, "_bucket") &&
      !HasLabel(sample.labels, "le")) {
    return Status::InvalidArgument("histogram bucket '" + sample.name + "' has no 'le' label");
  }
  if (f.type == MetricType::kSummary && sample.name == sample.family &&
      !HasLabel(sample.labels, "quantile")) {
    return Status::InvalidArgument("summary sample '" + sample.name + "' has no 'quantile' label");
  }
  if (!series->insert({sample.name, sample.labels}).second) {
    return Status::InvalidArgument("duplicate sample for series '" + sample.name + "'");
  }
  sampled->insert(sample.family);
  out->samples.push_back(std::move(sample));
  return Status::Ok();
}

void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kUntyped:
      return "untyped";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
  }
  return "untyped";
}

std::optional<MetricType> ParseMetricType(std::string_view text) {
  for (MetricType t : {MetricType::kUntyped, MetricType::kCounter, MetricType::kGauge,
                       MetricType::kHistogram, MetricType::kSummary}) {
    if (text == MetricTypeName(t)) return t;
  }
  return std::nullopt;
}

bool IsValidMetricName(std::string_view name) {
  std::string_view rest = name;
  return !TakeMetricName(rest).empty() && rest.empty();
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsNameStart(c) || IsDigit(c); });
}

Result<ParsedExposition> ParsePrometheusText(std::string_view text) {
  ParsedExposition out;
  std::set<std::string> sampled, helped, typed;
  std::set<std::pair<std::string, Labels>> series;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    // Every trailing CR: one left in a HELP text would be written back as a
    // line ending and read back without it.
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view trimmed = line;
    SkipSpaces(trimmed);
    if (trimmed.empty()) continue;
    Status s = ParseLine(trimmed, &out, &sampled, &helped, &typed, &series);
    if (!s.ok()) {
      return Status::InvalidArgument("line " + std::to_string(line_no) + ": " + s.message());
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, ec == std::errc() ? end : buf);
}

void AppendSampleLine(std::string& out, std::string_view name, const Labels& labels, double value,
                      std::optional<int64_t> timestamp_ms) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out += ',';
      out += labels[i].first;
      out += "=\"";
      AppendEscaped(out, labels[i].second, true);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += FormatSampleValue(value);
  if (timestamp_ms) {
    out += ' ';
    out += std::to_string(*timestamp_ms);
  }
  out += '\n';
}

void AppendFamilyHeader(std::string& out, const MetricFamily& family) {
  if (!family.help.empty()) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    AppendEscaped(out, family.help, false);
    out += '\n';
  }
  out += "# TYPE ";
  out += family.name;
  out += ' ';
  out += MetricTypeName(family.type);
  out += '\n';
}

}  // namespace hive::collector
