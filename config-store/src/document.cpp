// The only translation unit of the config store that uses yaml-cpp.
#include "hive/config_store/document.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "hive/core/text.h"

namespace hive::config_store {
namespace {

// Aliases let a small YAML document expand to a huge one ("billion laughs");
// no sane configuration has this many keys.
constexpr size_t kMaxYamlProperties = 100'000;

std::string At(size_t line, size_t column) {
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// The JSON number grammar; YAML numbers outside it (0x1F, .5, +1) stay
// strings, and so do numbers past a double's range (1e999): JSON readers
// refuse them, so the document could not be served.
bool IsJsonNumber(std::string_view s) {
  return !s.empty() && Value::FromStored(ValueType::kNumber, std::string(s)).ok() &&
         std::isfinite(std::strtod(std::string(s).c_str(), nullptr));
}

// The first pass over a YAML body, without building nodes: it lets the
// caller count the documents and refuses nesting past kMaxJsonDepth.
// yaml-cpp's parser recurses (a few frames per level) up to its own guard of
// 2000 levels, more than a handler thread's stack holds once frames grow (as
// under sanitizers). It reports a collection's start before it descends, so
// throwing there keeps the recursion within the limit, in this pass and in
// the YAML::Load that follows.
class DepthCheck : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Enter(mark);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Enter(mark);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void Enter(const YAML::Mark& mark) {
    if (++depth_ > kMaxJsonDepth) {
      throw YAML::ParserException(
          mark, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
  }
  size_t depth_ = 0;
};

// yaml-cpp and the .properties reader pass bytes through; JSON (what the
// API serves and the agent renders from) has no spelling for invalid UTF-8.
Status CheckUtf8(const Properties& properties) {
  for (const auto& [key, value] : properties) {
    if (value.type() == ValueType::kString && !IsValidUtf8(value.text())) {
      return Status::InvalidArgument("the value of '" + key + "' is not valid UTF-8");
    }
  }
  return Status::Ok();
}

Value YamlScalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  // yaml-cpp tags a quoted scalar "!" and a plain one "?"; an explicit
  // !!str also means a string.
  if (node.Tag() != "?") return Value::String(text);
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return Value::Null();
  }
  if (text == "true" || text == "True" || text == "TRUE") return Value::Bool(true);
  if (text == "false" || text == "False" || text == "FALSE") return Value::Bool(false);
  if (IsJsonNumber(text)) return Value::Number(text);
  return Value::String(text);
}

// Recursion is bounded by the key: each level lengthens it (an alias that
// refers to its own ancestor included), and past kMaxKeyLength it stops.
Status FlattenYaml(const YAML::Node& node, const std::string& key, Properties& out) {
  if (key.size() > kMaxKeyLength) return ValidateKey(key);
  if (out.size() > kMaxYamlProperties) {
    return Status::InvalidArgument("YAML document expands to more than " +
                                   std::to_string(kMaxYamlProperties) + " keys");
  }
  const YAML::Mark mark = node.Mark();
  const std::string where =
      mark.is_null() ? std::string() : " at " + At(mark.line + 1, mark.column + 1);
  switch (node.Type()) {
    case YAML::NodeType::Map:
      for (const auto& item : node) {
        if (!item.first.IsScalar() || item.first.Scalar().empty()) {
          const YAML::Mark km = item.first.Mark();
          return Status::InvalidArgument(
              "YAML keys must be non-empty scalars" +
              (km.is_null() ? std::string() : " (at " + At(km.line + 1, km.column + 1) + ")"));
        }
        const std::string& name = item.first.Scalar();
        HIVE_RETURN_IF_ERROR(FlattenYaml(item.second, key.empty() ? name : key + "." + name, out));
      }
      return Status::Ok();
    case YAML::NodeType::Sequence:
      for (size_t i = 0; i < node.size(); ++i) {
        HIVE_RETURN_IF_ERROR(FlattenYaml(node[i], key + "[" + std::to_string(i) + "]", out));
      }
      return Status::Ok();
    case YAML::NodeType::Undefined:
      return Status::InvalidArgument("undefined YAML node" + where);
    case YAML::NodeType::Null:
    case YAML::NodeType::Scalar:
      break;
  }
  if (Status s = ValidateKey(key); !s.ok()) return Status::InvalidArgument(s.message() + where);
  Value v =
      node.IsNull() ? (node.Tag() == "!" ? Value::String("") : Value::Null()) : YamlScalar(node);
  if (!out.emplace(key, std::move(v)).second) {
    return Status::InvalidArgument("two YAML entries flatten to the same key '" + key + "'" +
                                   where);
  }
  return Status::Ok();
}

// Appends `code` as UTF-8.
void AppendUtf8(std::string& out, uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// One character of a logical .properties line, with where it came from.
struct PosChar {
  char c;
  size_t line;
  size_t column;
};

bool IsPropertiesSpace(char c) { return c == ' ' || c == '\t' || c == '\f'; }

// Decodes the escapes of chars[begin, end) into `out`.
Status Unescape(const std::vector<PosChar>& chars, size_t begin, size_t end, std::string& out) {
  uint32_t pending_high = 0;  // a UTF-16 high surrogate waiting for its low half
  for (size_t i = begin; i < end; ++i) {
    if (chars[i].c != '\\' || i + 1 >= end) {
      out += chars[i].c;
      continue;
    }
    const char e = chars[++i].c;
    if (e != 'u') {
      switch (e) {
        case 't':
          out += '\t';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 'f':
          out += '\f';
          break;
        default:
          out += e;
          break;
      }
      continue;
    }
    uint32_t code = 0;
    for (int d = 0; d < 4; ++d) {
      if (i + 1 >= end || !std::isxdigit(static_cast<unsigned char>(chars[i + 1].c))) {
        return Status::InvalidArgument("malformed \\uXXXX escape at " +
                                       At(chars[i].line, chars[i].column));
      }
      const char h = chars[++i].c;
      code = code * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                   ? h - '0'
                                                   : std::tolower(h) - 'a' + 10);
    }
    if (code >= 0xD800 && code <= 0xDBFF) {
      pending_high = code;
      continue;
    }
    if (code >= 0xDC00 && code <= 0xDFFF && pending_high != 0) {
      code = 0x10000 + ((pending_high - 0xD800) << 10) + (code - 0xDC00);
    }
    pending_high = 0;
    AppendUtf8(out, code);
  }
  return Status::Ok();
}

}  // namespace

Status ValidateDocumentName(std::string_view app, std::string_view profile) {
  HIVE_RETURN_IF_ERROR(ValidateName(app, "application"));
  return ValidateName(profile, "profile");
}

Result<DocumentFormat> FormatForContentType(std::string_view content_type) {
  std::string type = AsciiLower(Trim(content_type.substr(0, content_type.find(';'))));
  if (type.empty() || type == "application/json") return DocumentFormat::kJson;
  if (type == "application/yaml" || type == "application/x-yaml" || type == "text/yaml" ||
      type == "text/x-yaml") {
    return DocumentFormat::kYaml;
  }
  if (type == "text/x-java-properties" || type == "text/plain") return DocumentFormat::kProperties;
  return Status::InvalidArgument(
      "unsupported Content-Type '" + std::string(content_type.substr(0, 100)) +
      "': send application/json, application/yaml (or application/x-yaml) or "
      "text/x-java-properties (or text/plain)");
}

Result<Properties> ParseDocument(DocumentFormat format, std::string_view text) {
  switch (format) {
    case DocumentFormat::kJson:
      return ParseJsonDocument(text);
    case DocumentFormat::kYaml:
      return ParseYamlDocument(text);
    case DocumentFormat::kProperties:
      return ParsePropertiesDocument(text);
  }
  return Status::Internal("unknown document format");
}

Result<Properties> ParseYamlDocument(std::string_view text) {
  YAML::Node doc;
  size_t docs = 0;
  try {
    // Counted with a parser that stops at the second document: yaml-cpp
    // 0.7's LoadAll never returns for some malformed input (a leading ',').
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    DepthCheck depth_check;
    while (docs < 2 && parser.HandleNextDocument(depth_check)) ++docs;
    if (docs == 1) doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return Status::InvalidArgument("malformed YAML: " + e.msg);
    return Status::InvalidArgument("malformed YAML at " + At(e.mark.line + 1, e.mark.column + 1) +
                                   ": " + e.msg);
  }
  if (docs > 1) {
    return Status::InvalidArgument(
        "a config document is one YAML document, not several (push each profile separately)");
  }
  Properties out;
  if (docs == 0 || doc.IsNull()) return out;
  if (!doc.IsMap()) {
    return Status::InvalidArgument("a config document must be a YAML mapping at the top level");
  }
  try {
    HIVE_RETURN_IF_ERROR(FlattenYaml(doc, "", out));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("malformed YAML: " + e.msg);
  }
  HIVE_RETURN_IF_ERROR(CheckUtf8(out));
  MarkSecrets(out);
  return out;
}

Result<Properties> ParsePropertiesDocument(std::string_view text) {
  Properties out;
  std::map<std::string, size_t> first_line;
  size_t line = 1;
  size_t pos = 0;
  while (pos < text.size()) {
    // Gather one logical line: natural lines joined where one ends in an odd
    // number of backslashes, continuation lines without their indentation.
    std::vector<PosChar> chars;
    const size_t start_line = line;
    bool comment = false;
    while (pos < text.size()) {
      size_t eol = text.find_first_of("\r\n", pos);
      if (eol == std::string_view::npos) eol = text.size();
      std::string_view natural = text.substr(pos, eol - pos);
      pos = eol;
      if (pos < text.size())
        pos += (text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ? 2 : 1;
      const size_t this_line = line++;
      size_t i = 0;
      while (i < natural.size() && IsPropertiesSpace(natural[i])) ++i;
      if (chars.empty() && i < natural.size() && (natural[i] == '#' || natural[i] == '!')) {
        comment = true;  // comments never continue
        break;
      }
      for (; i < natural.size(); ++i) {
        chars.push_back({natural[i], this_line, i + 1});
      }
      size_t backslashes = 0;
      while (backslashes < chars.size() && chars[chars.size() - 1 - backslashes].c == '\\') {
        ++backslashes;
      }
      if (backslashes % 2 == 0) break;
      chars.pop_back();
    }
    if (comment || chars.empty()) continue;

    size_t key_end = 0;
    while (key_end < chars.size()) {
      const char c = chars[key_end].c;
      if (c == '\\') {
        key_end += 2;
        continue;
      }
      if (c == '=' || c == ':' || IsPropertiesSpace(c)) break;
      ++key_end;
    }
    key_end = std::min(key_end, chars.size());
    size_t value_begin = key_end;
    while (value_begin < chars.size() && IsPropertiesSpace(chars[value_begin].c)) ++value_begin;
    if (value_begin < chars.size() &&
        (chars[value_begin].c == '=' || chars[value_begin].c == ':')) {
      ++value_begin;
      while (value_begin < chars.size() && IsPropertiesSpace(chars[value_begin].c)) ++value_begin;
    }
    std::string key;
    std::string value;
    HIVE_RETURN_IF_ERROR(Unescape(chars, 0, key_end, key));
    HIVE_RETURN_IF_ERROR(Unescape(chars, value_begin, chars.size(), value));
    const std::string where = At(chars[0].line, chars[0].column);
    if (Status s = ValidateKey(key); !s.ok()) {
      return Status::InvalidArgument(s.message() + " at " + where);
    }
    if (auto [it, inserted] = first_line.emplace(key, start_line); !inserted) {
      return Status::InvalidArgument("key '" + key + "' at " + where + " was already set at line " +
                                     std::to_string(it->second));
    }
    out.emplace(std::move(key), Value::String(std::move(value)));
  }
  HIVE_RETURN_IF_ERROR(CheckUtf8(out));
  MarkSecrets(out);
  return out;
}

}  // namespace hive::config_store
