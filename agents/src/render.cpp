#include "hive/agent/render.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "hive/core/text.h"

namespace hive::agent {
namespace {

// The value as JSON (also valid YAML flow syntax).
void AppendJsonValue(std::string& out, const PropertyValue& v) {
  std::visit(
      [&out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>)
          out += "null";
        else if constexpr (std::is_same_v<T, bool>)
          out += x ? "true" : "false";
        else if constexpr (std::is_same_v<T, int64_t>)
          out += std::to_string(x);
        else if constexpr (std::is_same_v<T, double>)
          AppendJsonNumber(out, x);
        else if constexpr (std::is_same_v<T, std::string>)
          AppendJsonString(out, x);
        else
          out += x.text;
      },
      v);
}

// The value as the text a .properties or .env reader hands the service.
std::string PlainText(const PropertyValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (std::holds_alternative<std::monostate>(v)) return "";
  if (const auto* j = std::get_if<JsonText>(&v)) return j->text;
  std::string out;
  AppendJsonValue(out, v);
  return out;
}

std::string RenderJson(const Properties& props) {
  if (props.empty()) return "{}\n";
  std::string out = "{\n";
  bool first = true;
  for (const auto& [k, v] : props) {
    if (!first) out += ",\n";
    first = false;
    out += "  ";
    AppendJsonString(out, k);
    out += ": ";
    AppendJsonValue(out, v);
  }
  out += "\n}\n";
  return out;
}

bool IsPlainYamlKey(std::string_view k) {
  if (k.empty()) return false;
  const char c0 = k.front();
  if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_')) return false;
  for (char c : k) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-')) {
      return false;
    }
  }
  std::string lower(k);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Words YAML 1.1 readers would turn into booleans or null.
  for (std::string_view word : {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}) {
    if (lower == word) return false;
  }
  return true;
}

std::string RenderYaml(const Properties& props) {
  if (props.empty()) return "{}\n";
  std::string out;
  for (const auto& [k, v] : props) {
    // A JSON string literal is a valid YAML double-quoted scalar.
    if (IsPlainYamlKey(k))
      out += k;
    else
      AppendJsonString(out, k);
    out += ": ";
    AppendJsonValue(out, v);
    out += '\n';
  }
  return out;
}

std::string RenderPropertiesFile(const Properties& props) {
  std::string out;
  for (const auto& [k, v] : props) {
    AppendPropertiesEscaped(out, k, /*is_key=*/true);
    out += '=';
    AppendPropertiesEscaped(out, PlainText(v), /*is_key=*/false);
    out += '\n';
  }
  return out;
}

std::string EnvName(std::string_view key) {
  std::string out;
  for (char c : key) {
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const bool ok = (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_';
    out.push_back(ok ? u : '_');
  }
  if (out.empty() || (out.front() >= '0' && out.front() <= '9')) out.insert(0, "_");
  return out;
}

bool IsBareEnvValue(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '/' || c == ':' || c == '@' || c == '%' ||
                    c == '+' || c == ',' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Bare when harmless; single quotes (literal everywhere: shells, docker
// compose, dotenv) when possible; else double quotes with escapes.
void AppendEnvValue(std::string& out, std::string_view v) {
  if (IsBareEnvValue(v)) {
    out += v;
    return;
  }
  bool single_ok = true;
  for (char c : v) {
    if (c == '\'' || static_cast<unsigned char>(c) < 0x20 || c == 0x7F) single_ok = false;
  }
  if (single_ok) {
    out += '\'';
    out += v;
    out += '\'';
    return;
  }
  out += '"';
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '$':
        out += "\\$";
        break;
      case '`':
        out += "\\`";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out.push_back(c);
    }
  }
  out += '"';
}

std::string RenderEnv(const Properties& props) {
  std::string out;
  for (const auto& [k, v] : props) {
    out += EnvName(k);
    out += '=';
    AppendEnvValue(out, PlainText(v));
    out += '\n';
  }
  return out;
}

}  // namespace

std::string RenderProperties(ConfigFileFormat format, const Properties& properties) {
  switch (format) {
    case ConfigFileFormat::kJson:
      return RenderJson(properties);
    case ConfigFileFormat::kYaml:
      return RenderYaml(properties);
    case ConfigFileFormat::kProperties:
      return RenderPropertiesFile(properties);
    case ConfigFileFormat::kEnv:
      return RenderEnv(properties);
  }
  return RenderJson(properties);
}

Result<Properties> PropertiesFromJson(std::string_view json) {
  // Nested values are kept as their text, written by the recursive json::dump.
  if (Status depth = CheckJsonDepth(json); !depth.ok()) {
    return Status::InvalidArgument("properties: " + depth.message());
  }
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("properties must be a JSON object");
  }
  Properties out;
  for (const auto& [k, v] : j.items()) {
    PropertyValue pv;
    if (v.is_null())
      pv = std::monostate{};
    else if (v.is_boolean())
      pv = v.get<bool>();
    else if (v.is_number_integer() && !v.is_number_unsigned())
      pv = v.get<int64_t>();
    else if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX))
        pv = static_cast<int64_t>(u);
      else
        pv = static_cast<double>(u);
    } else if (v.is_number_float())
      pv = v.get<double>();
    else if (v.is_string())
      pv = v.get<std::string>();
    else
      pv = JsonText{v.dump()};
    out.emplace(k, std::move(pv));
  }
  return out;
}

}  // namespace hive::agent
