#include "line_parser.h"

#include <re2/re2.h>
#include <simdjson.h>

#include <algorithm>
#include <vector>

#include "hive/core/text.h"

namespace hive::agent {

// A user's pattern compiled with RE2, with the names of its groups and the
// submatch array every match reuses (no allocation per line).
class LinePattern {
 public:
  static Result<std::unique_ptr<LinePattern>> Compile(std::string_view pattern);

  // The named groups of the first match in `line` as a JSON object of
  // strings, into `out`; false when nothing matches.
  bool MatchFields(std::string_view line, std::string& out);
  bool Found(std::string_view text) const { return RE2::PartialMatch(Piece(text), re_); }

  bool has_names() const {
    return std::any_of(names_.begin(), names_.end(), [](const auto& n) { return !n.empty(); });
  }
  // The longest text a match may be tried on (kMatchBudget).
  size_t max_bytes() const { return max_bytes_; }

 private:
  LinePattern(const std::string& re2_pattern, const RE2::Options& options)
      : re_(re2_pattern, options) {}
  static re2::StringPiece Piece(std::string_view s) { return {s.data(), s.size()}; }

  RE2 re_;
  std::vector<std::string> names_;        // by group number; empty: unnamed
  std::vector<re2::StringPiece> groups_;  // submatches, up to the last named group
  size_t max_bytes_ = 0;
};

namespace {

constexpr std::string_view kInvalidUtf8 = "invalid UTF-8";
constexpr std::string_view kOverBudget = "line too long for the pattern's match budget";

Status Unsupported(std::string_view what) {
  return Status::InvalidArgument(std::string(what) +
                                 " is not supported: patterns are RE2, which matches in linear "
                                 "time and has no backtracking constructs");
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The end (index of '}') of a counted repetition {n}, {n,} or {n,m} at
// `at`, or npos when the '{' there is a literal. RE2 would read a count over
// its limit of 1000 as literal text, silently: refused instead.
Result<size_t> CountedRepetitionEnd(std::string_view p, size_t at) {
  size_t i = at + 1;
  for (bool first = true;; first = false) {
    const size_t digits_at = i;
    while (i < p.size() && IsDigit(p[i])) ++i;
    const std::string_view count = p.substr(digits_at, i - digits_at);
    if (first && count.empty()) return std::string_view::npos;
    if (count.size() > 4 || (!count.empty() && std::stoi(std::string(count)) > 1000)) {
      return Status::InvalidArgument("bad regular expression: repetition count " +
                                     std::string(count) + " is over 1000 (RE2's limit)");
    }
    if (!first || i >= p.size() || p[i] != ',') break;
    ++i;
  }
  return i < p.size() && p[i] == '}' ? i : std::string_view::npos;
}

// Copies the escape at p[i] ('\\'); leaves `i` on its last character.
Status CopyEscape(std::string_view p, size_t& i, std::string& out) {
  if (i + 1 >= p.size()) {
    out += p[i];  // a trailing backslash: RE2 says so
    return Status::Ok();
  }
  const char e = p[i + 1];
  if ((e >= '1' && e <= '9') || e == 'k' || e == 'g') {
    return Unsupported(std::string("back-reference \\") + e);
  }
  size_t end = i + 1;
  if (e == 'Q') {  // \Q...\E is literal text: no group or class in it
    const size_t close = p.find("\\E", i + 2);
    end = close == std::string_view::npos ? p.size() - 1 : close + 1;
  } else if ((e == 'x' || e == 'p' || e == 'P') && i + 2 < p.size() && p[i + 2] == '{') {
    const size_t close = p.find('}', i + 3);  // \x{263a}, \p{Greek}: not a repetition
    end = close == std::string_view::npos ? p.size() - 1 : close;
  }
  out.append(p.substr(i, end - i + 1));
  i = end;
  return Status::Ok();
}

// Copies the character class opening at p[i] ('['); leaves `i` on its ']'.
// Inside a class '(' and '{' are literals.
void CopyClass(std::string_view p, size_t& i, std::string& out) {
  size_t j = i + 1;
  if (j < p.size() && p[j] == '^') ++j;
  if (j < p.size() && p[j] == ']') ++j;  // a leading ']' is a literal
  while (j < p.size() && p[j] != ']') {
    if (p[j] == '\\') {
      j += 2;
    } else if (p.substr(j).starts_with("[:") && p.find(":]", j + 2) != std::string_view::npos) {
      j = p.find(":]", j + 2) + 2;  // [[:alpha:]]
    } else {
      ++j;
    }
  }
  const size_t end = std::min(j, p.size() - 1);
  out.append(p.substr(i, end - i + 1));
  i = end;
}

// Copies the "(?" at p[i]: (?<name> becomes (?P<name>; constructs RE2 does
// not have are named. Leaves `i` on the '?'.
Status CopyGroupOpen(std::string_view p, size_t& i, std::string& out) {
  const std::string_view rest = p.substr(i + 2);
  if (rest.starts_with("<=") || rest.starts_with("<!")) return Unsupported("lookbehind (?<= (?<!");
  if (rest.starts_with("=") || rest.starts_with("!")) return Unsupported("lookahead (?= (?!");
  if (rest.starts_with(">")) return Unsupported("an atomic group (?>");
  if (rest.starts_with("P=")) return Unsupported("back-reference (?P=name)");
  if (rest.starts_with("(")) return Unsupported("a conditional group (?(");
  if (rest.starts_with("R") || rest.starts_with("&") || rest.starts_with("P>") ||
      (!rest.empty() && IsDigit(rest[0])) ||
      (rest.size() > 1 && (rest[0] == '+' || rest[0] == '-') && IsDigit(rest[1]))) {
    return Unsupported("recursion (?R (?1 (?&name)");
  }
  out += rest.starts_with("<") ? "(?P" : "(?";
  ++i;
  return Status::Ok();
}

// The pattern as Debian's RE2 reads it: (?<name> is spelled (?P<name>.
// What RE2 lacks is refused here by name, rather than by RE2's terse
// "invalid perl operator".
Result<std::string> ToRe2Syntax(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 8);
  for (size_t i = 0; i < p.size(); ++i) {
    size_t quantifier_end = std::string_view::npos;
    if (p[i] == '\\') {
      HIVE_RETURN_IF_ERROR(CopyEscape(p, i, out));
    } else if (p[i] == '[') {
      CopyClass(p, i, out);
    } else if (p[i] == '(' && i + 1 < p.size() && p[i + 1] == '?') {
      HIVE_RETURN_IF_ERROR(CopyGroupOpen(p, i, out));
    } else if (p[i] == '{') {
      auto end = CountedRepetitionEnd(p, i);
      if (!end.ok()) return end.status();
      quantifier_end = *end;
      const size_t last = quantifier_end == std::string_view::npos ? i : quantifier_end;
      out.append(p.substr(i, last - i + 1));
      i = last;
    } else {
      out += p[i];
      if (p[i] == '*' || p[i] == '+' || p[i] == '?') quantifier_end = i;
    }
    if (quantifier_end != std::string_view::npos && quantifier_end + 1 < p.size() &&
        p[quantifier_end + 1] == '+') {
      return Unsupported("a possessive quantifier (*+ ++ ?+ {n}+)");
    }
  }
  return out;
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

Result<std::unique_ptr<LinePattern>> LinePattern::Compile(std::string_view pattern) {
  auto translated = ToRe2Syntax(pattern);
  if (!translated.ok()) return translated.status();
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kPatternMaxMemory);
  std::unique_ptr<LinePattern> p(new LinePattern(*translated, options));
  if (!p->re_.ok()) {
    return Status::InvalidArgument("bad regular expression (RE2 syntax): " + p->re_.error());
  }
  const int size = p->re_.ProgramSize();
  if (size > kMaxPatternInstructions) {
    return Status::InvalidArgument(
        "the pattern compiles to " + std::to_string(size) + " RE2 instructions, over the " +
        std::to_string(kMaxPatternInstructions) +
        " allowed: use smaller counted repetitions ({n,m}) or fewer alternatives");
  }
  p->max_bytes_ = static_cast<size_t>(kMatchBudget / static_cast<uint64_t>(std::max(size, 1)));
  p->names_.resize(static_cast<size_t>(p->re_.NumberOfCapturingGroups()) + 1);
  size_t last_named = 0;
  for (const auto& [index, name] : p->re_.CapturingGroupNames()) {
    p->names_[static_cast<size_t>(index)] = name;
    last_named = std::max(last_named, static_cast<size_t>(index));
  }
  p->groups_.resize(last_named + 1);
  return p;
}

bool LinePattern::MatchFields(std::string_view line, std::string& out) {
  // A match that starts at the first byte is the leftmost one, so trying
  // there first gives the same fields; log lines usually match there, and
  // an anchored search saves RE2 its backward pass for the match's start.
  const int n = static_cast<int>(groups_.size());
  if (!re_.Match(Piece(line), 0, line.size(), RE2::ANCHOR_START, groups_.data(), n) &&
      !re_.Match(Piece(line), 0, line.size(), RE2::UNANCHORED, groups_.data(), n)) {
    return false;
  }
  out = "{";
  for (size_t g = 1; g < groups_.size(); ++g) {
    // An optional group that did not take part has a null data pointer.
    if (names_[g].empty() || groups_[g].data() == nullptr) continue;
    AppendField(out, names_[g], std::string_view(groups_[g].data(), groups_[g].size()));
  }
  out += '}';
  return true;
}

Status ValidateLinePattern(std::string_view pattern, bool needs_groups) {
  auto compiled = LinePattern::Compile(pattern);
  if (!compiled.ok()) return compiled.status();
  if (needs_groups && !(*compiled)->has_names()) {
    return Status::InvalidArgument(
        "has no named group like (?<message>.*): nothing would be extracted");
  }
  return Status::Ok();
}

LineParser::LineParser(const LineFormatConfig& config) : format_(config.format) {
  if (format_ == LogFormat::kRegex) {
    if (auto p = LinePattern::Compile(config.pattern); p.ok()) pattern_ = std::move(*p);
  }
}

LineParser::~LineParser() = default;

MappableLine LineParser::ToMappable(std::string_view line, std::string& scratch) {
  switch (format_) {
    case LogFormat::kJson:
      return {line, {}};
    case LogFormat::kLogfmt:
      if (Trim(line).starts_with("{") || !LogfmtToJson(line, scratch)) return {line, {}};
      return {scratch, {}};
    case LogFormat::kRegex:
      if (pattern_ == nullptr) return {line, {}};
      if (line.size() > pattern_->max_bytes()) return {line, kOverBudget};
      if (pattern_->MatchFields(line, scratch)) return {scratch, {}};
      // RE2 reads UTF-8: '.' or \S never match a stray byte, so such a line
      // is not a plain non-match but one the pattern could not read.
      if (!simdjson::validate_utf8(line.data(), line.size())) return {line, kInvalidUtf8};
      return {line, {}};
  }
  return {line, {}};
}

MultilineJoiner::MultilineJoiner(const std::string& start_pattern, Duration timeout,
                                 size_t max_bytes)
    : timeout_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout)),
      max_bytes_(max_bytes) {
  if (auto p = LinePattern::Compile(start_pattern); p.ok()) start_ = std::move(*p);
}

MultilineJoiner::~MultilineJoiner() = default;

void MultilineJoiner::Add(std::string_view line, const LineKey& key, const Emit& emit) {
  const bool starts = start_ == nullptr || start_->Found(line.substr(0, start_->max_bytes()));
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
