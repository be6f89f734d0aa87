#include "hive/core/text.h"

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace hive {
namespace {

bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Decodes one UTF-8 code point at s[i]; invalid bytes decode as U+FFFD.
uint32_t NextCodePoint(std::string_view s, size_t& i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  int len;
  uint32_t cp;
  if (c < 0x80) {
    ++i;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  i += len;
  // Overlong forms (C0 AF for '/'), surrogates and values past U+10FFFF are
  // not UTF-8 either.
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  return cp;
}

void AppendU16Escape(std::string& out, uint32_t unit) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(unit >> shift) & 0xF]);
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return Status::InvalidArgument("empty duration");
  uint64_t bare;
  constexpr uint64_t kMaxSeconds = INT64_MAX / 1'000'000'000;
  if (ParseUint(s, &bare)) {
    if (bare > kMaxSeconds)
      return Status::InvalidArgument("duration '" + std::string(text) + "' is too long");
    return Duration(std::chrono::seconds(bare));
  }
  Duration total{0};
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (start == i) {
      return Status::InvalidArgument("bad duration '" + std::string(text) +
                                     "': expected a number like 5s, 250ms or 1m30s");
    }
    double value;
    auto [p, ec] = std::from_chars(s.data() + start, s.data() + i, value);
    if (ec != std::errc() || p != s.data() + i) {
      return Status::InvalidArgument("bad duration '" + std::string(text) + "'");
    }
    size_t unit_start = i;
    while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    double ns_per_unit;
    if (unit == "ns")
      ns_per_unit = 1;
    else if (unit == "us" || unit == "µs")
      ns_per_unit = 1e3;
    else if (unit == "ms")
      ns_per_unit = 1e6;
    else if (unit == "s")
      ns_per_unit = 1e9;
    else if (unit == "m")
      ns_per_unit = 60e9;
    else if (unit == "h")
      ns_per_unit = 3600e9;
    else if (unit == "d")
      ns_per_unit = 86400e9;
    else {
      return Status::InvalidArgument("bad duration '" + std::string(text) + "': unknown unit '" +
                                     std::string(unit) + "' (use ns, us, ms, s, m, h or d)");
    }
    double ns = value * ns_per_unit;
    if (ns >= 0x1p63)  // 2^63: past int64 nanoseconds
      return Status::InvalidArgument("duration '" + std::string(text) + "' is too long");
    // Rounded, not truncated: 2.05 * 1e9 is 2049999999.9999998 in a double.
    int64_t sum;
    if (__builtin_add_overflow(total.count(), std::llround(ns), &sum))
      return Status::InvalidArgument("duration '" + std::string(text) + "' is too long");
    total = Duration(sum);
  }
  return total;
}

std::string FormatDuration(Duration d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  if (ns % 1'000'000'000 != 0 && ns < 1'000'000'000) {
    if (ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
    if (ns % 1'000 == 0) return out + std::to_string(ns / 1'000) + "us";
    return out + std::to_string(ns) + "ns";
  }
  int64_t h = ns / 3'600'000'000'000;
  int64_t m = (ns / 60'000'000'000) % 60;
  int64_t s = (ns / 1'000'000'000) % 60;
  int64_t rest_ns = ns % 1'000'000'000;  // all of it: "1s1ns" must not read back as 1s
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s || rest_ns) {
    out += std::to_string(s);
    if (rest_ns) {
      char frac[24];
      std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(rest_ns));
      std::string f(frac);
      while (f.back() == '0') f.pop_back();
      out += f;
    }
    out += "s";
  }
  return out;
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  std::string_view s = Trim(text);
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  uint64_t n;
  if (!ParseUint(s.substr(0, i), &n)) {
    return Status::InvalidArgument("bad size '" + std::string(text) +
                                   "': expected a number like 256MiB or 10GiB");
  }
  std::string_view unit = Trim(s.substr(i));
  uint64_t mult;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KiB" || unit == "Ki")
    mult = 1ull << 10;
  else if (unit == "MiB" || unit == "Mi")
    mult = 1ull << 20;
  else if (unit == "GiB" || unit == "Gi")
    mult = 1ull << 30;
  else if (unit == "TiB" || unit == "Ti")
    mult = 1ull << 40;
  else if (unit == "KB" || unit == "kB" || unit == "K" || unit == "k")
    mult = 1000;
  else if (unit == "MB" || unit == "M")
    mult = 1000'000;
  else if (unit == "GB" || unit == "G")
    mult = 1000'000'000;
  else if (unit == "TB" || unit == "T")
    mult = 1000'000'000'000;
  else {
    return Status::InvalidArgument("bad size '" + std::string(text) + "': unknown unit '" +
                                   std::string(unit) + "' (use B, KiB, MiB, GiB, KB, MB, GB)");
  }
  if (n != 0 && mult > UINT64_MAX / n)
    return Status::InvalidArgument("size '" + std::string(text) + "' is too large");
  return n * mult;
}

void AppendRfc3339(std::string& out, TimePoint t) {
  using namespace std::chrono;
  const int64_t ns = ToUnixNanos(t);
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  // The calendar arithmetic of <chrono>: gmtime_r would take glibc's time
  // zone lock for every timestamp of every answer.
  const sys_days day = floor<days>(sys_seconds{seconds{secs}});
  const year_month_day ymd{day};
  const int64_t of_day = secs - int64_t{day.time_since_epoch().count()} * 86400;
  const int year = static_cast<int>(ymd.year());
  char buf[30];  // int64 nanoseconds span the years 1677 to 2262: always four digits
  auto put = [](char* at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      at[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  // 2026-11-22T10:00:00.123456789Z
  put(buf, year, 4);
  buf[4] = '-';
  put(buf + 5, static_cast<unsigned>(ymd.month()), 2);
  buf[7] = '-';
  put(buf + 8, static_cast<unsigned>(ymd.day()), 2);
  buf[10] = 'T';
  put(buf + 11, of_day / 3600, 2);
  buf[13] = ':';
  put(buf + 14, of_day / 60 % 60, 2);
  buf[16] = ':';
  put(buf + 17, of_day % 60, 2);
  buf[19] = '.';
  put(buf + 20, frac, 9);
  buf[29] = 'Z';
  out.append(buf, 30);
}

std::string FormatRfc3339(TimePoint t) {
  std::string out;
  AppendRfc3339(out, t);
  return out;
}

Result<TimePoint> ParseRfc3339(std::string_view s) {
  auto bad = [&] {
    return Status::InvalidArgument("bad timestamp '" + std::string(s) +
                                   "': expected RFC 3339 like 2026-11-22T10:00:00Z");
  };
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  size_t i = 19;
  int64_t frac_ns = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) {
        frac_ns = frac_ns * 10 + (s[i] - '0');
        ++digits;
      }
      ++i;
    }
    if (digits == 0) return bad();
    for (; digits < 9; ++digits) frac_ns *= 10;
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !Digits(s, i + 4, 2, &om)) {
      return bad();
    }
    offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return bad();
  }
  if (i != s.size()) return bad();
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  // A TimePoint holds int64 nanoseconds: years 1678 to 2262.
  int64_t ns;
  if (__builtin_mul_overflow(secs, int64_t{1'000'000'000}, &ns) ||
      __builtin_add_overflow(ns, frac_ns, &ns)) {
    return Status::InvalidArgument("timestamp '" + std::string(s) +
                                   "' is out of range (years 1678 to 2262)");
  }
  return FromUnixNanos(ns);
}

// The bytes a JSON string holds as they are: printable ASCII but '"' and '\\'.
constexpr std::array<bool, 256> kPlainJsonByte = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Printable ASCII other than '"' and '\\' goes out in runs: most of
    // every log line shipped or stored is written here.
    size_t run = i;
    while (run < s.size() && kPlainJsonByte[static_cast<unsigned char>(s[run])]) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
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
          if (c < 0x20) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Copy one UTF-8 sequence; replace anything malformed with U+FFFD.
    const size_t start = i;
    if (NextCodePoint(s, i) != 0xFFFD || s.substr(start, i - start) == "\xEF\xBF\xBD") {
      out.append(s.data() + start, i - start);
    } else {
      out += "\xEF\xBF\xBD";
    }
  }
  out.push_back('"');
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    if (NextCodePoint(s, i) == 0xFFFD && s.substr(start, i - start) != "\xEF\xBF\xBD") {
      return false;
    }
  }
  return true;
}

void AppendJsonNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string_view text(buf, static_cast<size_t>(end - buf));
  out += text;
  if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

void AppendPropertiesEscaped(std::string& out, std::string_view s, bool is_key) {
  size_t i = 0;
  bool leading = true;
  while (i < s.size()) {
    const uint32_t cp = NextCodePoint(s, i);
    switch (cp) {
      case '\\':
        out += "\\\\";
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
      case '\f':
        out += "\\f";
        break;
      case '=':
      case ':':
      case '#':
      case '!':
        out.push_back('\\');
        out.push_back(static_cast<char>(cp));
        break;
      case ' ':
        if (is_key || leading)
          out += "\\ ";
        else
          out.push_back(' ');
        break;
      default:
        if (cp < 0x20 || cp == 0x7F) {
          AppendU16Escape(out, cp);
        } else if (cp < 0x80) {
          out.push_back(static_cast<char>(cp));
        } else if (cp < 0x10000) {
          AppendU16Escape(out, cp);
        } else {
          const uint32_t v = cp - 0x10000;
          AppendU16Escape(out, 0xD800 + (v >> 10));
          AppendU16Escape(out, 0xDC00 + (v & 0x3FF));
        }
    }
    leading = leading && cp == ' ';
  }
}

std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendJsonString(out, s);
  return out;
}

Status CheckJsonDepth(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          return Status::InvalidArgument("JSON nested deeper than " + std::to_string(max_depth) +
                                         " levels (at byte " + std::to_string(i) + ")");
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return Status::Ok();
}

Status ValidateName(std::string_view name, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid " + std::string(what) + " name '" +
                                   std::string(name.substr(0, 80)) + "': " + std::string(why) +
                                   " (allowed: ^[a-z0-9][a-z0-9._-]{0,62}$)");
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 63) return bad("longer than 63 characters");
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name[0])) return bad("must start with a lower-case letter or digit");
  for (char c : name) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-')
      return bad("contains a character not allowed");
  }
  return Status::Ok();
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string HexEncode(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace hive
