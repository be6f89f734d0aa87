// The agent's reading of service log lines — the outside input it sees most:
// LineParser (json / logfmt / regex), MultilineJoiner and LogLineMapper, as
// the log shipper chains them. The first input byte picks the format (and a
// regex from realistic ones — the documented one among them: patterns are
// operator config, lines are not), whether lines are joined, and whether each
// line is stretched to kLongLine bytes by repeating it (lines as long as the
// ones that once overflowed std::regex's recursion; deep JSON when the line
// opens an array; the first kMaxStretchedLines lines); the rest is the log
// text, one line per '\n'.
// Invariants: logfmt and regex give a JSON object of the fields or the line
// unchanged, each joined event stays within its byte cap, and every event
// the agent ships is one NDJSON line the collector accepts as one event of
// this service.
#include "../agents/src/line_parser.h"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_check.h"
#include "hive/agent/log_event.h"
#include "hive/collector/ndjson.h"
#include "hive/core/text.h"

namespace {

constexpr const char* kPatterns[] = {
    R"(^(?<ts>\S+) \[(?P<level>\w+)\] (?:req=(?<request_id>\S+) )?(?<message>.*)$)",
    R"(^(?<ts>\d{4}-\d\d-\d\d[T ][\d:.]+)\s+(?<level>[A-Za-z]+)\s+(?<message>.*)$)",
    R"((?<level>ERROR|WARN|INFO)?[^=]*trace=(?<trace_id>[0-9a-f]+))",
    R"((?<ts>\S+) (?<level>\w+) (?<message>.*)$)",  // docs/agent.md's example
};
constexpr size_t kMaxJoinedBytes = 512;
// Stretched lines stay small enough that their event, escaped (a control
// byte takes 6), is within the collector's line limit.
constexpr size_t kLongLine = 32u << 10;
static_assert(kLongLine * 6 + 1024 < hive::collector::kMaxLineBytes);
constexpr int kMaxStretchedLines = 4;

const hive::TimePoint kNow = hive::FromUnixNanos(1'700'000'000'000'000'000);

void ShipAndCheck(hive::agent::LineParser& parser, hive::agent::LogLineMapper& mapper,
                  hive::agent::LogFormat format, std::string_view text, bool truncated) {
  std::string scratch;
  const hive::agent::MappableLine mappable = parser.ToMappable(text, scratch);
  if (!mappable.parse_error.empty()) FUZZ_CHECK(mappable.text == text);
  if (format != hive::agent::LogFormat::kJson && mappable.text.data() != text.data()) {
    auto fields = nlohmann::json::parse(mappable.text, nullptr, false);
    FUZZ_CHECK(fields.is_object());
  }
  static constexpr hive::agent::ExtraAttr kTruncated{"truncated", "true"};
  static constexpr hive::agent::ExtraAttr kStream{"stream", "\"stderr\""};
  const std::string parse_error = hive::JsonString(mappable.parse_error);
  hive::agent::ExtraAttr extra[2] = {truncated ? kTruncated : kStream};
  size_t n = 1;
  if (!mappable.parse_error.empty()) extra[n++] = {"parse_error", parse_error};
  std::string out;
  mapper.AppendEvent(mappable.text, kNow, out, std::span<const hive::agent::ExtraAttr>(extra, n));
  FUZZ_CHECK(!out.empty() && out.back() == '\n' && out.find('\n') == out.size() - 1);
  const auto parsed = hive::collector::ParseNdjsonLogs(out, kNow);
  if (parsed.rejected != 0)
    std::fprintf(stderr, "%s\n%s", parsed.errors[0].message.c_str(), out.c_str());
  FUZZ_CHECK(parsed.rejected == 0 && parsed.events.size() == 1);
  FUZZ_CHECK(parsed.events[0].service == "svc" && parsed.events[0].instance == "svc-1");
}

// `line` repeated up to kLongLine bytes.
std::string_view Stretch(std::string_view line, std::string& buf) {
  if (line.empty()) return line;
  buf.clear();
  while (buf.size() + line.size() <= kLongLine) buf += line;
  return buf;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string_view text = hive::fuzz::AsText(data + 1, size - 1);

  hive::agent::LineFormatConfig config;
  config.format = static_cast<hive::agent::LogFormat>(mode % 3);
  if (config.format == hive::agent::LogFormat::kRegex) {
    config.pattern = kPatterns[(mode / 3) % std::size(kPatterns)];
    FUZZ_CHECK(hive::agent::ValidateLinePattern(config.pattern, true).ok());
  }
  const bool join = (mode & 0x80) != 0;
  const bool stretch = (mode & 0x40) != 0;
  hive::agent::LineParser parser(config);
  hive::agent::LogLineMapper mapper("svc", "svc-1");
  hive::agent::MultilineJoiner joiner(R"(^\S)", config.multiline_timeout, kMaxJoinedBytes);
  const auto emit = [&](std::string_view event, const hive::agent::LineKey& key) {
    FUZZ_CHECK(event.size() <= kMaxJoinedBytes || event.find('\n') == std::string_view::npos);
    ShipAndCheck(parser, mapper, config.format, event, key.truncated);
  };

  std::string long_line;
  int stretched = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // A few long lines per input keep the target fast enough to explore.
    if (stretch && stretched++ < kMaxStretchedLines) line = Stretch(line, long_line);
    if (join) {
      joiner.Add(line, hive::agent::LineKey{1, 0, false}, emit);
    } else {
      ShipAndCheck(parser, mapper, config.format, line, false);
    }
  }
  joiner.Flush(emit);
  return 0;
}
