// The agent's reading of service log lines — the outside input it sees most:
// LineParser (json / logfmt / regex), MultilineJoiner and LogLineMapper, as
// the log shipper chains them. The first input byte picks the format (and a
// regex from realistic ones: patterns are operator config, lines are not) and
// whether lines are joined; the rest is the log text, one line per '\n'.
// Invariants: logfmt and regex give a JSON object of the fields, each joined
// event stays within its byte cap, and every event the agent ships is one
// NDJSON line the collector accepts as one event of this service.
#include "../agents/src/line_parser.h"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_check.h"
#include "hive/agent/log_event.h"
#include "hive/collector/ndjson.h"

namespace {

constexpr const char* kPatterns[] = {
    R"(^(?<ts>\S+) \[(?P<level>\w+)\] (?:req=(?<request_id>\S+) )?(?<message>.*)$)",
    R"(^(?<ts>\d{4}-\d\d-\d\d[T ][\d:.]+)\s+(?<level>[A-Za-z]+)\s+(?<message>.*)$)",
    R"((?<level>ERROR|WARN|INFO)?[^=]*trace=(?<trace_id>[0-9a-f]+))",
};
constexpr size_t kMaxJoinedBytes = 512;

const hive::TimePoint kNow = hive::FromUnixNanos(1'700'000'000'000'000'000);

void ShipAndCheck(hive::agent::LineParser& parser, hive::agent::LogLineMapper& mapper,
                  hive::agent::LogFormat format, std::string_view text, bool truncated) {
  std::string scratch;
  const std::string_view mappable = parser.ToMappable(text, scratch);
  if (format != hive::agent::LogFormat::kJson && mappable.data() != text.data()) {
    auto fields = nlohmann::json::parse(mappable, nullptr, false);
    FUZZ_CHECK(fields.is_object());
  }
  static constexpr hive::agent::ExtraAttr kTruncated{"truncated", "true"};
  static constexpr hive::agent::ExtraAttr kStream{"stream", "\"stderr\""};
  const hive::agent::ExtraAttr extra[] = {truncated ? kTruncated : kStream};
  std::string out;
  mapper.AppendEvent(mappable, kNow, out, extra);
  FUZZ_CHECK(!out.empty() && out.back() == '\n' && out.find('\n') == out.size() - 1);
  const auto parsed = hive::collector::ParseNdjsonLogs(out, kNow);
  if (parsed.rejected != 0)
    std::fprintf(stderr, "%s\n%s", parsed.errors[0].message.c_str(), out.c_str());
  FUZZ_CHECK(parsed.rejected == 0 && parsed.events.size() == 1);
  FUZZ_CHECK(parsed.events[0].service == "svc" && parsed.events[0].instance == "svc-1");
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
  hive::agent::LineParser parser(config);
  hive::agent::LogLineMapper mapper("svc", "svc-1");
  hive::agent::MultilineJoiner joiner(R"(^\S)", config.multiline_timeout, kMaxJoinedBytes);
  const auto emit = [&](std::string_view event, const hive::agent::LineKey& key) {
    FUZZ_CHECK(event.size() <= kMaxJoinedBytes || event.find('\n') == std::string_view::npos);
    ShipAndCheck(parser, mapper, config.format, event, key.truncated);
  };

  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (join) {
      joiner.Add(line, hive::agent::LineKey{1, 0, false}, emit);
    } else {
      ShipAndCheck(parser, mapper, config.format, line, false);
    }
  }
  joiner.Flush(emit);
  return 0;
}
