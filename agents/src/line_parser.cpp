#include "line_parser.h"

#include <algorithm>

#include "hive/core/text.h"

namespace hive::agent {
namespace {

// Rewrites (?<name>...) and (?P<name>...) into plain groups (std::regex has
// no named groups) and lists each capture group's name in order.
std::string StripGroupNames(std::string_view pattern, std::vector<std::string>* names) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out += c;
      out += pattern[++i];
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (c != '(') {
      out += c;
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '?') {
      size_t name_at = std::string_view::npos;
      if (pattern.substr(i + 2).starts_with("P<")) {
        name_at = i + 4;
      } else if (pattern.substr(i + 2).starts_with("<") && i + 3 < pattern.size() &&
                 pattern[i + 3] != '=' && pattern[i + 3] != '!') {
        name_at = i + 3;
      }
      const size_t close = name_at == std::string_view::npos ? name_at : pattern.find('>', name_at);
      if (close == std::string_view::npos) {
        out += c;  // (?: (?= (?! are not captures
        continue;
      }
      names->emplace_back(pattern.substr(name_at, close - name_at));
      out += '(';
      i = close;
      continue;
    }
    names->emplace_back();
    out += c;
  }
  return out;
}

Result<std::regex> Compile(std::string_view pattern, std::vector<std::string>* names) {
  const std::string plain = StripGroupNames(pattern, names);
  // std::regex reads a back-reference (\4) or a count ({4,8}) into a long
  // without an overflow check, and builds states per repetition: counts
  // over 1000 (RE2's limit too) and back-references past \999 are refused.
  const auto digits_at = [&plain](size_t at) {
    size_t n = 0;
    while (at + n < plain.size() && plain[at + n] >= '0' && plain[at + n] <= '9') ++n;
    return n;
  };
  bool in_class = false;
  for (size_t i = 0; i < plain.size(); ++i) {
    const char c = plain[i];
    if (c == '\\') {
      const size_t digits = digits_at(i + 1);
      if (digits > 3) {
        return Status::InvalidArgument("bad regular expression: back-reference \\" +
                                       plain.substr(i + 1, digits) + " is out of range");
      }
      i += digits == 0 ? 1 : digits;
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < plain.size() && plain[i + 1] == ']') ++i;
    } else if (c == '{') {
      for (size_t j = i + 1;;) {
        const size_t digits = digits_at(j);
        if (digits > 4 || (digits > 0 && std::stoi(plain.substr(j, digits)) > 1000)) {
          return Status::InvalidArgument("bad regular expression: repetition count " +
                                         plain.substr(j, digits) + " is over 1000");
        }
        j += digits;
        if (digits == 0 || j >= plain.size() || plain[j] != ',') break;
        ++j;
      }
    }
  }
  try {
    return std::regex(plain, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return Status::InvalidArgument(std::string("bad regular expression: ") + e.what());
  }
}

void AppendField(std::string& out, std::string_view key, std::string_view value) {
  out += out.size() > 1 ? "," : "";
  AppendJsonString(out, key);
  out += ':';
  AppendJsonString(out, value);
}

// key=value key2="quoted \"value\"" flag; false when no key=value pair exists.
bool LogfmtToJson(std::string_view line, std::string& out) {
  out = "{";
  bool any_pair = false;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t key_at = i;
    while (i < line.size() && line[i] != '=' && line[i] != ' ' && line[i] != '\t') ++i;
    const std::string_view key = line.substr(key_at, i - key_at);
    if (key.empty()) {
      if (i < line.size() && line[i] == '=') {
        ++i;  // a stray '='
        continue;
      }
      break;
    }
    if (i >= line.size() || line[i] != '=') {
      out += out.size() > 1 ? "," : "";
      AppendJsonString(out, key);
      out += ":true";
      continue;
    }
    ++i;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) {
          const char e = line[++i];
          value += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          value += line[i];
        }
        ++i;
      }
      ++i;  // the closing quote
    } else {
      const size_t at = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      value = line.substr(at, i - at);
    }
    AppendField(out, key, value);
    any_pair = true;
  }
  out += '}';
  return any_pair;
}

}  // namespace

Status ValidateLinePattern(std::string_view pattern, bool needs_groups) {
  std::vector<std::string> names;
  auto r = Compile(pattern, &names);
  if (!r.ok()) return r.status();
  if (needs_groups &&
      std::none_of(names.begin(), names.end(), [](const std::string& n) { return !n.empty(); })) {
    return Status::InvalidArgument(
        "has no named group like (?<message>.*): nothing would be extracted");
  }
  return Status::Ok();
}

LineParser::LineParser(const LineFormatConfig& config) : format_(config.format) {
  if (format_ == LogFormat::kRegex) {
    auto r = Compile(config.pattern, &group_names_);
    if (r.ok()) regex_ = std::move(*r);
  }
}

std::string_view LineParser::ToMappable(std::string_view line, std::string& scratch) {
  switch (format_) {
    case LogFormat::kJson:
      return line;
    case LogFormat::kLogfmt:
      if (Trim(line).starts_with("{") || !LogfmtToJson(line, scratch)) return line;
      return scratch;
    case LogFormat::kRegex: {
      std::match_results<std::string_view::const_iterator> m;
      if (!std::regex_search(line.begin(), line.end(), m, regex_)) return line;
      scratch = "{";
      for (size_t g = 0; g < group_names_.size() && g + 1 < m.size(); ++g) {
        if (group_names_[g].empty() || !m[g + 1].matched) continue;
        AppendField(scratch, group_names_[g],
                    std::string_view(&*m[g + 1].first, static_cast<size_t>(m[g + 1].length())));
      }
      scratch += '}';
      return scratch;
    }
  }
  return line;
}

MultilineJoiner::MultilineJoiner(const std::string& start_pattern, Duration timeout,
                                 size_t max_bytes)
    : timeout_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout)),
      max_bytes_(max_bytes) {
  std::vector<std::string> names;
  if (auto r = Compile(start_pattern, &names); r.ok()) start_ = std::move(*r);
}

void MultilineJoiner::Add(std::string_view line, const LineKey& key, const Emit& emit) {
  const bool starts = std::regex_search(line.begin(), line.end(), start_);
  if (pending_ && (starts || key.file_id != key_.file_id)) Flush(emit);
  last_ = std::chrono::steady_clock::now();
  if (!pending_) {
    pending_ = true;
    key_ = key;
    event_.assign(line);
    return;
  }
  key_.truncated = key_.truncated || key.truncated;
  if (event_.size() + 1 + line.size() > max_bytes_) {
    key_.truncated = true;
    const size_t room = max_bytes_ > event_.size() + 1 ? max_bytes_ - event_.size() - 1 : 0;
    if (room > 0) event_.append("\n").append(line.substr(0, room));
    return;
  }
  event_ += '\n';
  event_ += line;
}

void MultilineJoiner::FlushIfDue(std::chrono::steady_clock::time_point now, const Emit& emit) {
  if (pending_ && now >= due()) Flush(emit);
}

void MultilineJoiner::Flush(const Emit& emit) {
  if (!pending_) return;
  pending_ = false;
  emit(event_, key_);
  event_.clear();
}

}  // namespace hive::agent
